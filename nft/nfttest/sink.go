package nfttest

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// Sink counts the UDP payloads (tags) arriving at one address in a
// namespace, and remembers when each tag last arrived.
type Sink struct {
	conn net.PacketConn

	mu      sync.Mutex
	got     map[string]int
	last    map[string]time.Time
	changed chan struct{} // closed and replaced on every datagram
}

// Listen opens a sink on addr ("0.0.0.0:67", "10.0.1.1:9000") inside ns,
// closed when the test ends.
func Listen(t lab.TB, ns *lab.NS, addr string) *Sink {
	t.Helper()
	s := &Sink{got: map[string]int{}, last: map[string]time.Time{}, changed: make(chan struct{})}
	err := ns.Do(func() error {
		var err error
		s.conn, err = net.ListenPacket("udp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("sink %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { s.conn.Close() })
	go s.read()
	return s
}

func (s *Sink) read() {
	b := make([]byte, 2048)
	for {
		n, _, err := s.conn.ReadFrom(b)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.got[string(b[:n])]++
		s.last[string(b[:n])] = time.Now()
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// Count is how many datagrams carried tag so far.
func (s *Sink) Count(tag string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[tag]
}

// Tags returns a copy of every tag received, with counts.
func (s *Sink) Tags() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

// Wait blocks until a datagram carrying tag arrived; the timeout bounds a
// hang and asserts nothing about speed.
func (s *Sink) Wait(t lab.TB, tag string, timeout time.Duration) {
	t.Helper()
	if !s.waitMore(tag, 0, timeout) {
		t.Fatalf("sink %v: no datagram %q within %v (got %v)", s.conn.LocalAddr(), tag, timeout, s.Tags())
	}
}

// WaitMore waits until more than than datagrams carrying tag arrived;
// timeout bounds a hang and asserts nothing about speed.
func (s *Sink) WaitMore(t lab.TB, tag string, than int, timeout time.Duration) {
	t.Helper()
	if !s.waitMore(tag, than, timeout) {
		t.Fatalf("flow %q: no more than %d datagrams within %v", tag, than, timeout)
	}
}

// Last is when the latest datagram carrying tag arrived (zero: none yet).
func (s *Sink) Last(tag string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[tag]
}

// waitMore reports whether more than than datagrams carrying tag arrived
// before the timeout.
func (s *Sink) waitMore(tag string, than int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		n, changed := s.got[tag], s.changed
		s.mu.Unlock()
		if n > than {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}
