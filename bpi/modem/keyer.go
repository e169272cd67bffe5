package modem

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
)

// Keyer defaults.
const (
	// DefaultKeyRetry is how long the keyer waits for a Key Reply before
	// asking again. UNVERIFIED: within RFC 4131's docsBpi2CmOpWaitTimeout
	// range (1-10 s); the spec's default is not checked (the one public
	// table of defaults found, awksedgreep/bindocsis, unreviewed, gives the
	// Operational Wait Timeout 10 s; a shorter retry only asks sooner).
	DefaultKeyRetry = time.Second
)

// KeyerConfig configures a modem's side of the TEK exchange.
type KeyerConfig struct {
	Modem *Modem       // receives the keys
	AK    bpkm.AuthKey // the provisioned authorization key
	Suite bpi.Suite    // default AES-128-CBC
	// CMTS is the destination of Key Requests; nil means broadcast (the
	// emulator has not learnt the CMTS's address from ranging).
	CMTS net.HardwareAddr
	// Grace is how long before its newer key expires the modem asks for
	// the next pair (the CM's TEK grace time); default bpi.DefaultTEKGrace.
	// The CMTS's TEK lifetime must exceed its own grace plus this one, or
	// the modem asks before the CMTS has the next key.
	Grace time.Duration
	Retry time.Duration // default DefaultKeyRetry
	// Identity, when set, is sent as the full CM-Identification (serial
	// number, manufacturer ID, MAC address, RSA public key) in every Key
	// Request, as a real modem's is; its MAC must be the modem's. Nil:
	// the MAC address alone, which our key server also accepts.
	Identity *bpkm.CMIdentity
}

// KeyerStats counts the keyer's exchanges.
type KeyerStats struct {
	Requests atomic.Uint64 // Key Requests sent
	Replies  atomic.Uint64 // Key Replies verified and installed
	Rejects  atomic.Uint64 // Key Rejects
	Errors   atomic.Uint64 // BPKM-RSPs for us that failed to verify or install
}

// Keyer is the modem's TEK state machine, reduced to what the emulator
// needs: it asks for its primary SA's keys when it has none, again a grace
// time before its newer key expires, and whenever told to (Rekey); it
// installs the keys of the Key Replies addressed to it into the modem.
// It does no I/O and reads no clock: Poll says what to send when, and
// HandleFrame takes the frames the Runner reads. Safe for concurrent use.
type Keyer struct {
	cfg    KeyerConfig
	client *bpkm.KeyClient
	keyed  chan struct{}
	kick   chan struct{}
	Stats  KeyerStats

	mu       sync.Mutex
	due      time.Time // the next Key Request; zero: at the next Poll
	newest   time.Time // expiry of the newer key of the last reply
	id       uint8
	gotFirst bool
	replied  chan struct{} // closed at the next installed reply
}

// NewKeyer returns a keyer that will ask for keys at its first Poll.
func NewKeyer(cfg KeyerConfig) (*Keyer, error) {
	if cfg.Modem == nil {
		return nil, errors.New("keyer: no modem")
	}
	if cfg.Suite == 0 {
		cfg.Suite = bpi.SuiteAES128CBC
	}
	if cfg.CMTS == nil {
		cfg.CMTS = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	if cfg.Grace == 0 {
		cfg.Grace = bpi.DefaultTEKGrace
	}
	if cfg.Retry == 0 {
		cfg.Retry = DefaultKeyRetry
	}
	k := &Keyer{cfg: cfg, keyed: make(chan struct{}), kick: make(chan struct{}, 1), replied: make(chan struct{})}
	m := cfg.Modem.cfg
	client, err := bpkm.NewKeyClient(m.MAC, m.PrimarySAID, cfg.Suite, cfg.AK, keySink{k})
	if err != nil {
		return nil, err
	}
	if cfg.Identity != nil {
		if err := client.SetIdentity(*cfg.Identity); err != nil {
			return nil, fmt.Errorf("keyer: %w", err)
		}
	}
	k.client = client
	return k, nil
}

// keySink sees the keys on their way into the modem, for the schedule.
type keySink struct{ k *Keyer }

func (s keySink) SetTEKs(said uint16, older, newer *bpi.TEK) error {
	if err := s.k.cfg.Modem.SetTEKs(said, older, newer); err != nil {
		return err
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	s.k.newest = time.Time{}
	for _, t := range []*bpi.TEK{older, newer} {
		if t != nil && t.Expires.After(s.k.newest) {
			s.k.newest = t.Expires
		}
	}
	return nil
}

// Poll returns the Key Request to send at now, as a DOCSIS MAC frame, if
// one is due, and when to poll next.
func (k *Keyer) Poll(now time.Time) (frame []byte, next time.Time, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Before(k.due) {
		return nil, k.due, nil
	}
	k.id++
	k.due = now.Add(k.cfg.Retry) // unless a reply comes first
	req, err := k.client.Request(k.id)
	if err != nil {
		return nil, k.due, err
	}
	m := k.cfg.Modem.cfg
	frame, err = bpkm.AppendMgmtFrame(nil, bpkm.Mgmt{DA: k.cfg.CMTS, SA: m.MAC, Version: bpkm.MgmtVersion,
		Type: bpkm.TypeBPKMReq, Payload: req})
	if err != nil {
		return nil, k.due, err
	}
	k.Stats.Requests.Add(1)
	return frame, k.due, nil
}

// HandleFrame takes a MAC management frame read off the RF link at now.
// It reports whether the frame was a BPKM-RSP addressed to this modem;
// the error says why such a reply installed no keys.
func (k *Keyer) HandleFrame(frame []byte, now time.Time) (bool, error) {
	m, err := bpkm.ParseMgmtFrame(frame)
	if err != nil || m.Type != bpkm.TypeBPKMRsp || string(m.DA) != string(k.cfg.Modem.cfg.MAC) {
		return false, nil
	}
	err = k.client.HandleReply(m.Payload, now)
	switch {
	case errors.Is(err, bpkm.ErrKeyReject):
		k.Stats.Rejects.Add(1)
	case err != nil:
		k.Stats.Errors.Add(1)
	default:
		k.Stats.Replies.Add(1)
		k.scheduleRekey(now)
	}
	k.wake()
	if err != nil {
		return true, fmt.Errorf("modem %v: %w", k.cfg.Modem.cfg.MAC, err)
	}
	return true, nil
}

// scheduleRekey sets the next request a grace time before the newer key
// expires, but not sooner than a retry interval: a reply whose newer key
// is already within the grace time (the CMTS has not rolled yet) must not
// make the modem ask in a tight loop.
func (k *Keyer) scheduleRekey(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.due = k.newest.Add(-k.cfg.Grace)
	if earliest := now.Add(k.cfg.Retry); k.due.Before(earliest) {
		k.due = earliest
	}
	if !k.gotFirst {
		k.gotFirst = true
		close(k.keyed)
	}
	close(k.replied)
	k.replied = make(chan struct{})
}

// Replied returns a channel closed when the next Key Reply is installed.
func (k *Keyer) Replied() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.replied
}

// Rekey makes the next Poll send a Key Request, as a modem does when it
// re-registers (after the CMTS restarted with new keys, for one).
func (k *Keyer) Rekey() {
	k.mu.Lock()
	k.due = time.Time{}
	k.mu.Unlock()
	k.wake()
}

// Keyed is closed once the first Key Reply has been installed.
func (k *Keyer) Keyed() <-chan struct{} { return k.keyed }

// Wake receives when the schedule may have changed (a reply, a Rekey).
func (k *Keyer) Wake() <-chan struct{} { return k.kick }

func (k *Keyer) wake() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}
