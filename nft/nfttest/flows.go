package nfttest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// FlowSink counts the datagrams arriving at one UDP port of a namespace
// by payload: each flow sends its name.
type FlowSink struct {
	conn    net.PacketConn
	mu      sync.Mutex
	n       map[string]int
	last    map[string]time.Time
	changed chan struct{} // closed and replaced on every datagram
}

// ListenFlows opens a flow sink on port of every address in ns, closed
// when t ends.
func ListenFlows(t lab.TB, ns *lab.NS, port int) *FlowSink {
	t.Helper()
	s := &FlowSink{n: map[string]int{}, last: map[string]time.Time{}, changed: make(chan struct{})}
	err := ns.Do(func() error {
		var err error
		s.conn, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("flow sink in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { s.conn.Close() })
	go s.read()
	return s
}

func (s *FlowSink) read() {
	b := make([]byte, 256)
	for {
		n, _, err := s.conn.ReadFrom(b)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.n[string(b[:n])]++
		s.last[string(b[:n])] = time.Now()
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// Count is how many datagrams of flow name arrived so far.
func (s *FlowSink) Count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[name]
}

// Last is when the latest datagram of name arrived (zero: none yet).
func (s *FlowSink) Last(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[name]
}

// WaitMore waits until more than than datagrams of name arrived; timeout
// bounds a hang and asserts nothing about speed.
func (s *FlowSink) WaitMore(t lab.TB, name string, than int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		n, changed := s.n[name], s.changed
		s.mu.Unlock()
		if n > than {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("flow %q: no more than %d datagrams within %v", name, than, timeout)
		}
	}
}

// SendEvery sends name to dst from a socket in ns (its own stack) every
// interval until t ends; send errors (no route yet) are ignored.
func SendEvery(t lab.TB, ns *lab.NS, dst netip.AddrPort, name string, interval time.Duration) {
	t.Helper()
	var conn *net.UDPConn
	err := ns.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", nil)
		return err
	})
	if err != nil {
		t.Fatalf("sender in %s: %v", ns.Name, err)
	}
	Every(t, interval, func() { conn.WriteToUDPAddrPort([]byte(name), dst) })
	t.Cleanup(func() { conn.Close() })
}

// InjectEvery sends frame out of ifname in ns (AF_PACKET, bypassing the
// stack) every interval until t ends.
func InjectEvery(t lab.TB, ns *lab.NS, ifname string, frame []byte, interval time.Duration) {
	t.Helper()
	inj, err := OpenInjector(ns, ifname)
	if err != nil {
		t.Fatalf("%v", err)
	}
	Every(t, interval, func() { inj.Send(frame) })
	t.Cleanup(func() { inj.Close() })
}

// Every runs f every interval on a goroutine of its own until t ends.
func Every(t lab.TB, interval time.Duration, f func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				f()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
