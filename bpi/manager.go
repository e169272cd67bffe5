package bpi

import (
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultTEKGrace is how long after the older TEK expires the Manager
// keeps it before generating the next key. Frames encrypted just before
// the switch are still accepted, and modems that fetch keys up to a grace
// time before expiry see a consistent pair. RFC 4131's
// docsBpi2CmTEKGraceTime has a range (1-302399 s, checked in a rendering
// of DOCS-IETF-BPI2-MIB) but no DEFVAL: the CM's value comes from its
// configuration file. UNVERIFIED: 3600 s as the BPI+ default, from memory;
// check CM-SP-SECv3.1. Nothing public settles it: Wireshark's DOCSIS
// dissectors name config TLV 17.6 (TEK Grace Time) without a default, and
// the one public table with defaults found (awksedgreep/bindocsis, a TLV
// reference document, unreviewed) says 600 s, which disagrees with ours.
const DefaultTEKGrace = 3600 * time.Second

// ManagerConfig configures the built-in key manager.
type ManagerConfig struct {
	Suite       Suite         // default AES-128-CBC
	TEKLifetime time.Duration // default DefaultTEKLifetime (RFC 4131)
	Grace       time.Duration // default DefaultTEKGrace
	Rand        io.Reader     // default crypto/rand.Reader
	Sinks       []KeySink     // receive every new key pair, in order
}

// Manager generates the TEKs of SAs and rolls them over as time passes:
// each SA has an older and a newer key, the newer expiring one lifetime
// after the older. It is safe for concurrent use. Time is a parameter:
// callers drive it with Advance.
type Manager struct {
	cfg ManagerConfig
	mu  sync.Mutex
	sas map[uint16]*SA
}

// NewManager returns a Manager with defaults filled in.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Suite == 0 {
		cfg.Suite = SuiteAES128CBC
	}
	if cfg.Suite.KeyLen() == 0 {
		return nil, fmt.Errorf("key manager: %v: %w", cfg.Suite, ErrUnsupportedSuite)
	}
	if cfg.TEKLifetime == 0 {
		cfg.TEKLifetime = DefaultTEKLifetime
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultTEKGrace
	}
	if cfg.TEKLifetime <= 2*cfg.Grace {
		// RFC 4131: the TEK lifetime must exceed twice the grace time.
		return nil, fmt.Errorf("key manager: TEK lifetime %v must exceed twice the grace time %v", cfg.TEKLifetime, cfg.Grace)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Manager{cfg: cfg, sas: make(map[uint16]*SA)}, nil
}

// Start creates SA said at now with fresh keys (older sequence 0, newer 1)
// and hands them to the sinks. Starting an existing SA replaces its keys.
func (m *Manager) Start(said uint16, now time.Time) error {
	older, err := m.newTEK(0, now.Add(m.cfg.TEKLifetime))
	if err != nil {
		return fmt.Errorf("SAID %d: %w", said, err)
	}
	newer, err := m.newTEK(1, older.Expires.Add(m.cfg.TEKLifetime))
	if err != nil {
		return fmt.Errorf("SAID %d: %w", said, err)
	}
	return m.install(&SA{SAID: said, Older: older, Newer: newer})
}

// Stop forgets SA said.
func (m *Manager) Stop(said uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sas, said)
}

// SA returns the current keys of SA said.
func (m *Manager) SA(said uint16) (*SA, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sa, ok := m.sas[said]
	return sa, ok
}

// Advance rolls over every SA whose older key expired at least a grace
// time before now: the newer becomes the older, and a new newer key with
// the next sequence number (15 wraps to 0) expires one lifetime after it.
// It returns when Advance next has work to do (zero with no SAs).
func (m *Manager) Advance(now time.Time) (next time.Time, err error) {
	for _, said := range m.saids() {
		sa, ok := m.SA(said)
		for ok && !now.Before(sa.Older.Expires.Add(m.cfg.Grace)) {
			if sa, err = m.roll(sa); err != nil {
				return time.Time{}, err
			}
		}
		if ok {
			if at := sa.Older.Expires.Add(m.cfg.Grace); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	return next, nil
}

func (m *Manager) roll(sa *SA) (*SA, error) {
	newer, err := m.newTEK(NextSeq(sa.Newer.Seq), sa.Newer.Expires.Add(m.cfg.TEKLifetime))
	if err != nil {
		return nil, fmt.Errorf("SAID %d rollover: %w", sa.SAID, err)
	}
	next := &SA{SAID: sa.SAID, Older: sa.Newer, Newer: newer}
	return next, m.install(next)
}

func (m *Manager) saids() []uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]uint16, 0, len(m.sas))
	for said := range m.sas {
		out = append(out, said)
	}
	return out
}

func (m *Manager) install(sa *SA) error {
	m.mu.Lock()
	m.sas[sa.SAID] = sa
	m.mu.Unlock()
	for i, s := range m.cfg.Sinks {
		if err := s.SetTEKs(sa.SAID, sa.Older, sa.Newer); err != nil {
			return fmt.Errorf("SAID %d: key sink %d: %w", sa.SAID, i, err)
		}
	}
	return nil
}

func (m *Manager) newTEK(seq uint8, expires time.Time) (*TEK, error) {
	n := m.cfg.Suite.KeyLen()
	buf := make([]byte, 2*n)
	if _, err := io.ReadFull(m.cfg.Rand, buf); err != nil {
		return nil, fmt.Errorf("TEK %d: random key: %w", seq, err)
	}
	if m.cfg.Suite == SuiteDES56CBC {
		setDESParity(buf[:n])
	}
	return NewTEK(m.cfg.Suite, buf[:n], buf[n:], seq, expires)
}

// setDESParity sets odd parity in each key byte's low bit, as DES keys
// carry (crypto/des ignores the parity bits; peers may check them).
func setDESParity(k []byte) {
	for i, b := range k {
		b &^= 1
		ones := 0
		for x := b; x != 0; x >>= 1 {
			ones += int(x & 1)
		}
		if ones%2 == 0 {
			b |= 1
		}
		k[i] = b
	}
}
