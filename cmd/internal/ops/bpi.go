package ops

import (
	"bytes"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
)

// BPI is DOCSIS BPI+ downstream encryption's state: what it runs on, its
// counters since the last clear and every modem it keys.
type BPI struct {
	DownstreamInterface string `json:"downstream_interface"`
	RFInterface         string `json:"rf_interface"`
	Suite               string `json:"suite"` // of the generated keys
	TEKLifetimeSeconds  int64  `json:"tek_lifetime_s"`
	TEKGraceSeconds     int64  `json:"tek_grace_s"`
	// Since is when the counters were last cleared (zero: never).
	Since    time.Time   `json:"since,omitzero"`
	Counters BPICounters `json:"counters"`
	Modems   []BPIModem  `json:"modems"` // in MAC order
}

// BPICounters are the BPI task's totals: downstream frames by what
// became of them, and BPKM key management on the RF link.
type BPICounters struct {
	Frames          uint64          `json:"frames"`           // read from the downstream interface
	Pairs           uint64          `json:"pairs"`            // of those, pairs sent together
	Encrypted       uint64          `json:"encrypted"`        // sent under a TEK
	Clear           uint64          `json:"clear"`            // sent in clear: privacy disabled
	UnknownLocation uint64          `json:"unknown_location"` // dropped: no binding with a modem
	NoKey           uint64          `json:"no_key"`           // dropped: no valid TEK (never sent in clear)
	NoDestination   uint64          `json:"no_destination"`   // dropped: no IP destination
	LinkErrors      uint64          `json:"link_errors"`      // the RF link refused the frame
	KeyRequests     uint64          `json:"key_requests"`     // BPKM Key Requests received
	KeyReplies      uint64          `json:"key_replies"`
	KeyRejects      uint64          `json:"key_rejects"`
	KeyErrors       uint64          `json:"key_errors"` // not answered, or the answer not sent
	KeyPairs        uint64          `json:"key_pairs"`  // installed: one per SA at start, one per rollover
	UpstreamOther   uint64          `json:"upstream_other"`
	Leasequeries    BPILeasequeries `json:"leasequeries"`
}

// BPILeasequeries count the leasequeries that frames to unknown
// destinations started.
type BPILeasequeries struct {
	Triggered     uint64 `json:"triggered"`      // admitted and queued
	Held          uint64 `json:"held"`           // asked within the holdoff
	RateLimited   uint64 `json:"rate_limited"`   // over leasequery_per_second
	QueueFull     uint64 `json:"queue_full"`     // admitted, but the queue was full
	NotSubscriber uint64 `json:"not_subscriber"` // outside the subscriber networks
	InTable       uint64 `json:"in_table"`       // the table knew it by then
	Active        uint64 `json:"active"`
	NotActive     uint64 `json:"not_active"` // unassigned or unknown
	Failed        uint64 `json:"failed"`
}

// BPI modem states.
const (
	BPIEncrypting = "encrypting" // a key is valid: frames go under Current
	BPIClear      = "clear"      // privacy disabled: frames go in clear
	BPINoKey      = "no_key"     // privacy enabled, no valid key: frames are dropped
)

// BPIModem is one modem's privacy.
type BPIModem struct {
	MAC     string `json:"mac"`
	SAID    int    `json:"said"` // primary SAID
	Privacy bool   `json:"privacy"`
	// Keys says where the SA's keys come from: generated (the key
	// manager), configured (bpi.modems[].keys) or none (privacy off).
	Keys string `json:"keys"`
	// AuthKey: an authorization key is provisioned, so the modem can
	// fetch its keys by Key Request.
	AuthKey bool   `json:"auth_key"`
	State   string `json:"state"`
	// Current is the key downstream frames are encrypted with now (the
	// older while it is valid, then the newer); Next the SA's other key
	// still valid, the one that takes over when Current expires.
	Current *BPITEK `json:"current,omitempty"`
	Next    *BPITEK `json:"next,omitempty"`
	// Subscribers are the bindings behind the modem; Ports the configured
	// ports naming it as their modem.
	Subscribers int      `json:"subscribers"`
	Ports       []string `json:"ports,omitempty"`
}

// BPITEK is one traffic encryption key: its 4-bit sequence number and the
// end of its lifetime (never the key itself).
type BPITEK struct {
	Seq     int       `json:"seq"`
	Expires time.Time `json:"expires"`
}

func errBPIOff() *Error {
	return errorf(Unavailable, "", "BPI+ is not running (bpi.enabled is false)")
}

// BPI returns BPI+'s state, counters since the last clear, and its modems.
func (o *Ops) BPI() (BPI, error) {
	if o.deps.BPI == nil {
		return BPI{}, errBPIOff()
	}
	cfg := o.Config().Config
	c := cfg.BPI
	v := BPI{DownstreamInterface: c.DownstreamInterface, RFInterface: c.RFInterface, Suite: string(c.Suite),
		TEKLifetimeSeconds: int64(time.Duration(c.TEKLifetime) / time.Second),
		TEKGraceSeconds:    int64(time.Duration(c.TEKGrace) / time.Second),
		Modems:             o.bpiModems(cfg, o.now())}
	counters := o.bpiCounters()
	v.Counters = *counters
	o.baseMu.Lock()
	v.Since = o.baseline.at
	o.baseMu.Unlock()
	return v, nil
}

// BPIModem returns one modem's privacy.
func (o *Ops) BPIModem(mac net.HardwareAddr) (BPIModem, error) {
	if o.deps.BPI == nil {
		return BPIModem{}, errBPIOff()
	}
	want := mac.String()
	for _, m := range o.bpiModems(o.Config().Config, o.now()) {
		if m.MAC == want {
			return m, nil
		}
	}
	return BPIModem{}, errorf(NotFound, "modem", "no BPI modem %v (not in bpi.modems)", mac)
}

// bpiCounters returns the counters since the last clear; nil when BPI is
// off.
func (o *Ops) bpiCounters() *BPICounters {
	if o.deps.BPI == nil {
		return nil
	}
	c := o.deps.BPI.BPIStats()
	o.baseMu.Lock()
	defer o.baseMu.Unlock()
	if b := o.baseline.counters.BPI; b != nil {
		subtract(&c, *b)
	}
	return &c
}

func (o *Ops) bpiModems(cfg *config.Config, now time.Time) []BPIModem {
	states := o.deps.BPI.BPIModems()
	slices.SortFunc(states, func(a, b BPIModemState) int { return bytes.Compare(a.Modem.MAC, b.Modem.MAC) })
	configured := map[string]config.BPIModem{}
	for _, m := range cfg.BPI.Modems {
		configured[string(m.MAC)] = m
	}
	out := make([]BPIModem, 0, len(states))
	for _, st := range states {
		m := bpiModemOf(st, configured[string(st.Modem.MAC)], now)
		m.Subscribers = len(o.deps.Table.ByModem(st.Modem.MAC))
		for _, p := range cfg.Ports {
			if bytes.Equal(p.Modem, st.Modem.MAC) {
				m.Ports = append(m.Ports, p.Name)
			}
		}
		out = append(out, m)
	}
	return out
}

func bpiModemOf(st BPIModemState, c config.BPIModem, now time.Time) BPIModem {
	m := BPIModem{MAC: st.Modem.MAC.String(), SAID: int(st.Modem.PrimarySAID), Privacy: st.Modem.BPIEnabled,
		AuthKey: c.AuthKey != "", Keys: "generated"}
	cur, next := currentTEKs(st.SA, now)
	m.Current, m.Next = tekOf(cur), tekOf(next)
	switch {
	case !st.Modem.BPIEnabled:
		m.State, m.Keys = BPIClear, "none"
	case cur == nil:
		m.State = BPINoKey
	default:
		m.State = BPIEncrypting
	}
	if m.Privacy && c.Keys != nil {
		m.Keys = "configured"
	}
	return m
}

// currentTEKs are the key the SA encrypts with at now and its other key
// if that is still valid.
func currentTEKs(sa *bpi.SA, now time.Time) (cur, next *bpi.TEK) {
	if sa == nil {
		return nil, nil
	}
	cur = sa.Downstream(now)
	next = sa.Newer
	if cur == sa.Newer {
		next = sa.Older
	}
	if cur == nil || next == nil || !next.ValidAt(now) {
		return cur, nil
	}
	return cur, next
}

func tekOf(k *bpi.TEK) *BPITEK {
	if k == nil {
		return nil
	}
	return &BPITEK{Seq: int(k.Seq), Expires: k.Expires}
}

// collectBPI writes BPI+'s counters as they are, and its modems by
// state; nothing when BPI+ is off.
func (o *Ops) collectBPI(s *metrics.Set) {
	if o.deps.BPI == nil {
		return
	}
	c := o.deps.BPI.BPIStats()
	s.Counter("leaseguard_bpi_frames_total", "Downstream frames read from the BPI downstream interface.").Add(float64(c.Frames))
	s.Counter("leaseguard_bpi_frame_pairs_total", "Of the downstream frames, pairs encrypted together (a second frame was already queued).").Add(float64(c.Pairs))
	sent := s.Counter("leaseguard_bpi_frames_sent_total", "Downstream frames sent on the RF link, by privacy (clear: privacy disabled for the modem).")
	sent.Add(float64(c.Encrypted), "privacy", "encrypted")
	sent.Add(float64(c.Clear), "privacy", "clear")
	d := s.Counter("leaseguard_bpi_frames_dropped_total", "Downstream frames not sent, by reason (unknown_location: no binding with a modem, a leasequery is started; no_key: no valid TEK, never sent in clear; link_error: the RF link refused it).")
	d.Add(float64(c.UnknownLocation), "reason", "unknown_location")
	d.Add(float64(c.NoKey), "reason", "no_key")
	d.Add(float64(c.NoDestination), "reason", "no_destination")
	d.Add(float64(c.LinkErrors), "reason", "link_error")
	k := s.Counter("leaseguard_bpi_key_messages_total", "BPKM key management on the RF link: Key Requests received, Key Replies and Key Rejects sent.")
	k.Add(float64(c.KeyRequests), "type", "request")
	k.Add(float64(c.KeyReplies), "type", "reply")
	k.Add(float64(c.KeyRejects), "type", "reject")
	s.Counter("leaseguard_bpi_key_errors_total", "Key Requests not answered (unknown modem or authorization key, bad digest) or whose answer could not be sent.").Add(float64(c.KeyErrors))
	s.Counter("leaseguard_bpi_key_pairs_total", "TEK pairs the key manager installed: one per generated SA at start, then one per rollover.").Add(float64(c.KeyPairs))
	s.Counter("leaseguard_bpi_upstream_other_total", "Frames read on the RF link other than Key Requests.").Add(float64(c.UpstreamOther))
	collectBPILeasequeries(s, c.Leasequeries)
	now := o.now()
	modems := o.deps.BPI.BPIModems()
	states := map[string]int{BPIEncrypting: 0, BPIClear: 0, BPINoKey: 0}
	for _, st := range modems {
		states[bpiModemOf(st, config.BPIModem{}, now).State]++
	}
	g := s.Gauge("leaseguard_bpi_modems", "Modems BPI+ keys, by state (no_key: privacy enabled but no valid key, their frames are dropped).")
	for _, state := range []string{BPIEncrypting, BPIClear, BPINoKey} {
		g.Add(float64(states[state]), "state", state)
	}
	collectTEKSecondsLeft(s, modems, now)
}

// collectTEKSecondsLeft writes how long each modem's keys have left: the
// current key and the next, for the modems with keys (configured modems
// only, so the labels stay as few as bpi.modems).
func collectTEKSecondsLeft(s *metrics.Set, modems []BPIModemState, now time.Time) {
	modems = slices.Clone(modems)
	slices.SortFunc(modems, func(a, b BPIModemState) int { return bytes.Compare(a.Modem.MAC, b.Modem.MAC) })
	g := s.Gauge("leaseguard_bpi_tek_seconds_left", "Seconds until each modem's traffic encryption keys expire: current (frames go under it now) and next (takes over when current expires); modems without a valid key have none.")
	for _, st := range modems {
		if !st.Modem.BPIEnabled {
			continue
		}
		cur, next := currentTEKs(st.SA, now)
		mac, said := st.Modem.MAC.String(), strconv.Itoa(int(st.Modem.PrimarySAID))
		for _, k := range []struct {
			tek  *bpi.TEK
			name string
		}{{cur, "current"}, {next, "next"}} {
			if k.tek != nil {
				g.Add(k.tek.Expires.Sub(now).Seconds(), "modem", mac, "said", said, "tek", k.name)
			}
		}
	}
}

func collectBPILeasequeries(s *metrics.Set, l BPILeasequeries) {
	t := s.Counter("leaseguard_bpi_leasequery_triggers_total", "Frames to unknown destinations that asked for a leasequery, by result (triggered: queued; the rest not asked).")
	t.Add(float64(l.Triggered), "result", "triggered")
	t.Add(float64(l.Held), "result", "held")
	t.Add(float64(l.RateLimited), "result", "rate_limited")
	t.Add(float64(l.QueueFull), "result", "queue_full")
	t.Add(float64(l.NotSubscriber), "result", "not_subscriber")
	r := s.Counter("leaseguard_bpi_leasequery_results_total", "Leasequeries BPI+ started, by result (in_table: known by the time a worker looked, not asked).")
	r.Add(float64(l.InTable), "result", "in_table")
	r.Add(float64(l.Active), "result", "active")
	r.Add(float64(l.NotActive), "result", "not_active")
	r.Add(float64(l.Failed), "result", "failed")
}
