// Package modem emulates the privacy side of a DOCSIS cable modem for tests
// and the demo: it reads DOCSIS MAC frames off the virtual RF link, keeps
// those for its own primary SAID, decrypts them with its own keys only,
// checks the PDU CRC and delivers the Ethernet frames to its CPEs.
package modem

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/leaseguard/leaseguard/bpi"
)

// Sentinel errors for frames the modem does not deliver.
var (
	// ErrNotOurSAID: the frame is encrypted for another modem's SA.
	ErrNotOurSAID = errors.New("frame is for another SAID")
	// ErrNotForCPE: a clear frame whose destination is none of our CPEs.
	ErrNotForCPE = errors.New("clear frame not for one of our CPEs")
)

// Config describes one emulated modem.
type Config struct {
	MAC         net.HardwareAddr
	PrimarySAID uint16
	// CPEs are the MACs behind the modem; clear frames to other unicast
	// MACs are not delivered. Empty: deliver every clear frame.
	CPEs []net.HardwareAddr
}

// Stats counts what the modem did with the frames it read.
type Stats struct {
	Delivered  atomic.Uint64 // decrypted, CRC good, handed to the CPE side
	Clear      atomic.Uint64 // of Delivered: received in clear
	NotOurSAID atomic.Uint64 // encrypted for another SA: ignored
	CRCErrors  atomic.Uint64 // our SAID, but the CRC failed after decryption
	NoKey      atomic.Uint64 // our SAID, but a key sequence we do not hold
	BadFrame   atomic.Uint64 // header, HCS or PDU malformed
	NotForCPE  atomic.Uint64 // clear, to a MAC that is none of our CPEs
	CPEErrors  atomic.Uint64 // the CPE side refused a frame
	Mgmt       atomic.Uint64 // MAC management frames (BPKM), not data: see Keyer
}

// Modem is an emulated cable modem. SetTEKs and Receive may be called
// concurrently.
type Modem struct {
	cfg   Config
	mu    sync.RWMutex
	keys  bpi.SA   // the pair the CMTS last handed us
	prev  *bpi.TEK // the older key of the pair before, see SetTEKs
	Stats Stats
}

// New returns a modem without keys.
func New(cfg Config) (*Modem, error) {
	if len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("modem %v: not a 6-byte MAC", cfg.MAC)
	}
	if cfg.PrimarySAID == 0 || cfg.PrimarySAID > bpi.MaxSAID {
		return nil, fmt.Errorf("modem %v: primary SAID %d outside 1-%d", cfg.MAC, cfg.PrimarySAID, bpi.MaxSAID)
	}
	return &Modem{cfg: cfg, keys: bpi.SA{SAID: cfg.PrimarySAID}}, nil
}

var _ bpi.KeySink = (*Modem)(nil)

// SetTEKs installs the modem's key pair. Keys for any SAID but the modem's
// own are refused: the modem never holds another modem's keys.
//
// The older key of the replaced pair stays usable until the next
// replacement when its sequence number is not reused by the new pair, so
// frames encrypted just before a rollover and still in flight are not lost.
func (m *Modem) SetTEKs(said uint16, older, newer *bpi.TEK) error {
	if said != m.cfg.PrimarySAID {
		return fmt.Errorf("modem %v: keys for SAID %d, ours is %d", m.cfg.MAC, said, m.cfg.PrimarySAID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prev = m.keys.Older
	m.keys = bpi.SA{SAID: said, Older: older, Newer: newer}
	if m.prev != nil && m.keys.BySeq(m.prev.Seq) != nil {
		m.prev = nil
	}
	return nil
}

// Keys returns the key pair the modem holds (for tests and the demo, to
// show what it can and cannot decrypt).
func (m *Modem) Keys() bpi.SA {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.keys
}

func (m *Modem) keyBySeq(seq uint8) *bpi.TEK {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if k := m.keys.BySeq(seq); k != nil {
		return k
	}
	if m.prev != nil && m.prev.Seq == seq {
		return m.prev
	}
	return nil
}

// Receive processes one DOCSIS MAC frame from the RF link, decrypting it in
// place, and returns the Ethernet frame to deliver (aliasing frame) and
// whether it came encrypted. Frames not delivered are counted in Stats.
func (m *Modem) Receive(frame []byte) (eth []byte, encrypted bool, err error) {
	eth, encrypted, err = m.receive(frame)
	m.count(err)
	return eth, encrypted, err
}

func (m *Modem) receive(frame []byte) ([]byte, bool, error) {
	d, err := bpi.ParseDownstream(frame)
	if err != nil {
		return nil, false, err
	}
	if !d.Encrypted() {
		eth, err := d.Open(nil)
		if err == nil && !m.forCPE(eth[:6]) {
			return nil, false, fmt.Errorf("destination %v: %w", net.HardwareAddr(eth[:6]), ErrNotForCPE)
		}
		return eth, false, err
	}
	if d.Privacy.SAID != m.cfg.PrimarySAID {
		return nil, true, fmt.Errorf("SAID %d: %w", d.Privacy.SAID, ErrNotOurSAID)
	}
	tek := m.keyBySeq(d.Privacy.KeySeq)
	if tek == nil {
		return nil, true, fmt.Errorf("SAID %d key sequence %d: %w", d.Privacy.SAID, d.Privacy.KeySeq, bpi.ErrNoKey)
	}
	eth, err := d.Open(tek)
	return eth, true, err
}

// forCPE reports whether a clear frame to da is ours to deliver: group
// addresses always, unicast only to our CPEs.
func (m *Modem) forCPE(da []byte) bool {
	if da[0]&1 == 1 || len(m.cfg.CPEs) == 0 {
		return true
	}
	for _, c := range m.cfg.CPEs {
		if string(c) == string(da) {
			return true
		}
	}
	return false
}

func (m *Modem) count(err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrNotOurSAID):
		m.Stats.NotOurSAID.Add(1)
	case errors.Is(err, ErrNotForCPE):
		m.Stats.NotForCPE.Add(1)
	case errors.Is(err, bpi.ErrCRC):
		m.Stats.CRCErrors.Add(1)
	case errors.Is(err, bpi.ErrNoKey):
		m.Stats.NoKey.Add(1)
	default:
		m.Stats.BadFrame.Add(1)
	}
}
