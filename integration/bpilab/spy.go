package bpilab

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/rflink"
)

// Spy reads everything on the RF plant: which SAIDs and key sequences the
// data frames carry, and whether any data went in clear.
type Spy struct {
	mu     sync.Mutex
	marker []byte
	seen   Seen
	seqs   map[uint16]map[uint8]bool
	last   map[uint16][]byte
}

// Seen is what a Spy has counted so far.
type Seen struct {
	Frames    map[uint16]int // encrypted data frames per SAID
	Clear     int            // data frames without privacy
	Malformed int            // frames that do not parse as a downstream PDU
	Marked    int            // frames in which the traffic's Marker shows
	Mgmt      int            // MAC management frames (BPKM)
	Example   []byte         // the first 32 bytes of the first encrypted frame
}

// StartSpy reads the plant until the lab's cleanup.
func (l *Lab) StartSpy() *Spy {
	l.t.Helper()
	s := &Spy{marker: l.Opts.Marker, seen: Seen{Frames: map[uint16]int{}},
		seqs: map[uint16]map[uint8]bool{}, last: map[uint16][]byte{}}
	var conn *rflink.Conn
	if err := l.Plant.Do(func() (err error) {
		conn, err = rflink.Listen(ifaceByName("br0"))
		return err
	}); err != nil {
		l.t.Fatalf("bpilab: RF spy: %v", err)
	}
	done := make(chan struct{})
	l.t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := conn.ReadDOCSIS(buf)
			if err != nil {
				return // closed at cleanup
			}
			s.see(buf[:n])
		}
	}()
	return s
}

func (s *Spy) see(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.marker) > 0 && bytes.Contains(frame, s.marker) {
		s.seen.Marked++
	}
	if frame[0]>>6 == bpi.FCTypeMACSpecific {
		s.seen.Mgmt++
		return
	}
	d, err := bpi.ParseDownstream(frame)
	switch {
	case err != nil:
		s.seen.Malformed++
	case !d.Encrypted():
		s.seen.Clear++
	default:
		said := d.Privacy.SAID
		s.seen.Frames[said]++
		if s.seqs[said] == nil {
			s.seqs[said] = map[uint8]bool{}
		}
		s.seqs[said][d.Privacy.KeySeq] = true
		s.last[said] = append(s.last[said][:0], frame...)
		if s.seen.Example == nil {
			s.seen.Example = append([]byte(nil), frame[:min(len(frame), 32)]...)
		}
	}
}

// Seen returns a copy of the counts.
func (s *Spy) Seen() Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.seen
	c.Frames = maps.Clone(s.seen.Frames)
	return c
}

// Seqs returns the key sequences seen so far per SAID, sorted.
func (s *Spy) Seqs() map[uint16][]uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint16][]uint8{}
	for said, set := range s.seqs {
		out[said] = slices.Sorted(maps.Keys(set))
	}
	return out
}

// LastFor returns the last encrypted frame for said (nil: none yet).
func (s *Spy) LastFor(said uint16) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.last[said]...)
}

func (s *Spy) String() string {
	seen := s.Seen()
	return fmt.Sprintf("SAIDs and key sequences %v, clear %d, plaintext %d, malformed %d, management %d",
		s.Seqs(), seen.Clear, seen.Marked, seen.Malformed, seen.Mgmt)
}
