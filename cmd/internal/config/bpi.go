package config

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// BPI configures DOCSIS BPI+ downstream encryption (package bpi): the
// agent reads the Ethernet frames going down to subscribers on
// DownstreamInterface, encrypts each under the keys of the modem its
// destination address lives behind (from the location table), and sends
// them as DOCSIS MAC frames on RFInterface, where it also answers the
// modems' Key Requests.
type BPI struct {
	Enabled bool `json:"enabled"`
	// DownstreamInterface is where the card's forwarding hands the frames
	// for subscribers (the far end of a veth or a TAP); every frame that
	// arrives on it is encrypted and sent, or dropped.
	DownstreamInterface string `json:"downstream_interface,omitempty"`
	// RFInterface carries the DOCSIS MAC frames (EtherType 0x88B5); its MTU
	// must be at least 1533.
	RFInterface string `json:"rf_interface,omitempty"`
	// Suite is the data encryption of the keys the agent generates.
	Suite BPISuite `json:"suite,omitempty"`
	// TEKLifetime and TEKGrace drive the built-in key manager: each SA's
	// older key is used until it expires, and the next key is generated a
	// grace time after that.
	TEKLifetime Duration `json:"tek_lifetime,omitzero"`
	TEKGrace    Duration `json:"tek_grace,omitzero"`
	// A frame to an address the table does not know is dropped and starts
	// a leasequery for it: at most one per address per LeasequeryHoldoff,
	// at most LeasequeryPerSecond in all.
	LeasequeryHoldoff   Duration   `json:"leasequery_holdoff,omitzero"`
	LeasequeryPerSecond int        `json:"leasequery_per_second,omitempty"`
	Modems              []BPIModem `json:"modems,omitempty"`
}

// BPIModem is one modem's privacy configuration.
type BPIModem struct {
	MAC  MAC `json:"mac"`
	SAID int `json:"said"` // primary SAID, 1-16383
	// PrivacyDisabled sends the modem's traffic in clear, without a
	// privacy extended header.
	PrivacyDisabled bool `json:"privacy_disabled,omitempty"`
	// AuthKey (hex, 20 bytes) and AuthKeySeq are the modem's provisioned
	// authorization key, from which the Key Replies it asks for are signed
	// and its keys wrapped. Without it the modem cannot fetch keys over
	// the RF link.
	AuthKey    string `json:"auth_key,omitempty"`
	AuthKeySeq int    `json:"auth_key_seq,omitempty"`
	// Keys, when set, are the SA's keys instead of generated ones.
	Keys *BPIKeys `json:"keys,omitempty"`
}

// BPIKeys are statically configured keys of one SA.
type BPIKeys struct {
	Older *BPITEK `json:"older,omitempty"`
	Newer *BPITEK `json:"newer,omitempty"`
}

// BPITEK is one traffic encryption key, key and CBC-IV in hex.
type BPITEK struct {
	Seq     int       `json:"seq"` // 0-15
	Key     string    `json:"key"`
	IV      string    `json:"iv"`
	Expires time.Time `json:"expires"` // RFC 3339
}

// BPISuite names a BPI+ data encryption suite.
type BPISuite string

const (
	SuiteAES128CBC BPISuite = "aes-128-cbc" // the default
	SuiteDES56CBC  BPISuite = "des-56-cbc"
)

func (s *BPISuite) UnmarshalText(b []byte) error {
	return oneOf((*string)(s), b, string(SuiteAES128CBC), string(SuiteDES56CBC))
}

// KeyLen is the key and IV length of the suite in bytes.
func (s BPISuite) KeyLen() int {
	if s == SuiteDES56CBC {
		return 8
	}
	return 16
}

// BPI defaults. The TEK lifetime is RFC 4131's
// docsBpi2CmtsDefaultTEKLifetime (DEFVAL 43200). UNVERIFIED: the grace
// default (3600 s) is bpi.DefaultTEKGrace; the MIB gives no default and no
// public implementation settles one (see bpi.DefaultTEKGrace).
const (
	DefaultTEKLifetime         = 43200 * time.Second
	DefaultTEKGrace            = 3600 * time.Second
	DefaultLeasequeryHoldoff   = 10 * time.Second
	DefaultLeasequeryPerSecond = 20
	// BPIAuthKeyLen is the length of an authorization key (bpkm.AKLen).
	BPIAuthKeyLen = 20
)

func (b *BPI) setDefaults() {
	if !b.Enabled {
		return // a disabled section stays as written (and absent when empty)
	}
	if b.Suite == "" {
		b.Suite = SuiteAES128CBC
	}
	if b.TEKLifetime == 0 {
		b.TEKLifetime = Duration(DefaultTEKLifetime)
	}
	if b.TEKGrace == 0 {
		b.TEKGrace = Duration(DefaultTEKGrace)
	}
	if b.LeasequeryHoldoff == 0 {
		b.LeasequeryHoldoff = Duration(DefaultLeasequeryHoldoff)
	}
	if b.LeasequeryPerSecond == 0 {
		b.LeasequeryPerSecond = DefaultLeasequeryPerSecond
	}
}

func (c *Config) validateBPI(bad badFunc) {
	b := c.BPI
	if !b.Enabled {
		return
	}
	c.validateBPIInterfaces(bad)
	// RFC 4131 ranges: docsBpi2CmtsDefaultTEKLifetime 1-604800 s,
	// docsBpi2CmTEKGraceTime 1-302399 s.
	if b.TEKLifetime < Duration(time.Second) || b.TEKLifetime > Duration(604800*time.Second) {
		bad("bpi.tek_lifetime", "%v is outside 1s-168h (RFC 4131)", time.Duration(b.TEKLifetime))
	}
	if b.TEKGrace < Duration(time.Second) || b.TEKGrace > Duration(302399*time.Second) {
		bad("bpi.tek_grace", "%v is outside 1s-83h59m59s (RFC 4131)", time.Duration(b.TEKGrace))
	} else if b.TEKLifetime <= 2*b.TEKGrace {
		bad("bpi.tek_grace", "%v must be less than half of tek_lifetime %v, or modems ask for keys the manager has not made yet",
			time.Duration(b.TEKGrace), time.Duration(b.TEKLifetime))
	}
	if b.LeasequeryHoldoff < Duration(time.Second) || b.LeasequeryHoldoff > Duration(time.Hour) {
		bad("bpi.leasequery_holdoff", "%v is outside 1s-1h", time.Duration(b.LeasequeryHoldoff))
	}
	if b.LeasequeryPerSecond < 1 || b.LeasequeryPerSecond > 1000 {
		bad("bpi.leasequery_per_second", "%d is outside 1-1000", b.LeasequeryPerSecond)
	}
	c.validateBPIModems(bad)
}

func (c *Config) validateBPIInterfaces(bad badFunc) {
	used := map[string]string{c.Upstream.Interface: "the upstream interface"}
	for i, p := range c.Ports {
		used[p.Interface] = fmt.Sprintf("the interface of ports[%d]", i)
	}
	for _, f := range []struct{ field, name string }{
		{"bpi.downstream_interface", c.BPI.DownstreamInterface}, {"bpi.rf_interface", c.BPI.RFInterface},
	} {
		switch {
		case f.name == "" || len(f.name) > 15 || strings.ContainsAny(f.name, " /"):
			bad(f.field, "%q is not a Linux interface name (1-15 characters, no '/' or space)", f.name)
		case used[f.name] != "":
			bad(f.field, "%q is %s", f.name, used[f.name])
		default:
			used[f.name] = "bpi." + strings.TrimPrefix(f.field, "bpi.")
		}
	}
}

func (c *Config) validateBPIModems(bad badFunc) {
	macs, saids := map[string]int{}, map[int]int{}
	for i, m := range c.BPI.Modems {
		f := fmt.Sprintf("bpi.modems[%d]", i)
		if m.MAC.IsZero() {
			bad(f+".mac", "required")
		} else if j, dup := macs[string(m.MAC)]; dup {
			bad(f+".mac", "%v is also bpi.modems[%d]", macString(m.MAC), j)
		}
		macs[string(m.MAC)] = i
		if m.SAID < 1 || m.SAID > 16383 {
			bad(f+".said", "%d is outside 1-16383 (a 14-bit primary SAID)", m.SAID)
		} else if j, dup := saids[m.SAID]; dup {
			bad(f+".said", "%d is also the SAID of bpi.modems[%d]", m.SAID, j)
		}
		saids[m.SAID] = i
		if m.AuthKey != "" {
			if k, err := hex.DecodeString(m.AuthKey); err != nil || len(k) != BPIAuthKeyLen {
				bad(f+".auth_key", "not %d bytes of hex", BPIAuthKeyLen)
			}
		}
		if m.AuthKeySeq < 0 || m.AuthKeySeq > 15 {
			bad(f+".auth_key_seq", "%d is outside 0-15", m.AuthKeySeq)
		}
		if m.Keys != nil {
			c.validateBPIKeys(bad, f+".keys", *m.Keys)
		}
	}
	for i, p := range c.Ports {
		if _, ok := macs[string(p.Modem)]; p.Kind == Cable && !p.Modem.IsZero() && !ok {
			bad(fmt.Sprintf("ports[%d].modem", i), "%v has no entry in bpi.modems: its subscribers' downstream traffic would all be dropped", macString(p.Modem))
		}
	}
}

func (c *Config) validateBPIKeys(bad badFunc, f string, k BPIKeys) {
	if k.Older == nil && k.Newer == nil {
		bad(f, "needs an older or a newer key")
	}
	n := c.BPI.Suite.KeyLen()
	for _, t := range []struct {
		name string
		tek  *BPITEK
	}{{"older", k.Older}, {"newer", k.Newer}} {
		if t.tek == nil {
			continue
		}
		tf := f + "." + t.name
		if t.tek.Seq < 0 || t.tek.Seq > 15 {
			bad(tf+".seq", "%d is outside 0-15", t.tek.Seq)
		}
		if b, err := hex.DecodeString(t.tek.Key); err != nil || len(b) != n {
			bad(tf+".key", "not %d bytes of hex (suite %s)", n, c.BPI.Suite)
		}
		if b, err := hex.DecodeString(t.tek.IV); err != nil || len(b) != n {
			bad(tf+".iv", "not %d bytes of hex (suite %s)", n, c.BPI.Suite)
		}
		if t.tek.Expires.IsZero() {
			bad(tf+".expires", "required (RFC 3339 time)")
		}
	}
	if k.Older != nil && k.Newer != nil && k.Older.Seq == k.Newer.Seq {
		bad(f+".newer.seq", "%d is also the older key's: a modem could not tell them apart", k.Newer.Seq)
	}
}

// macString formats a configured MAC address.
func macString(m MAC) string { b, _ := m.MarshalText(); return string(b) }
