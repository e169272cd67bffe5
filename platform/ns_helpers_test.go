package platform

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNS runs fn inside ns, failing the test on error.
func inNS(t testing.TB, ns *lab.NS, fn func() error) {
	t.Helper()
	if err := ns.Do(fn); err != nil {
		t.Fatalf("in %s: %v", ns.Name, err)
	}
}

// pinned runs fn inside ns on one OS thread pinned to one CPU, so that the
// frames it writes into a veth are processed in order (each CPU has its
// own receive backlog).
func pinned(t testing.TB, ns *lab.NS, fn func() error) {
	t.Helper()
	inNS(t, ns, func() error {
		var old unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err != nil {
			return err
		}
		var one unix.CPUSet
		for cpu := range 1024 {
			if old.IsSet(cpu) {
				one.Set(cpu)
				break
			}
		}
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return err
		}
		defer unix.SchedSetaffinity(0, &old)
		return fn()
	})
}

// openPort opens a port inside ns, closed when the test ends.
func openPort(t testing.TB, ns *lab.NS, cfg PortConfig) *Port {
	t.Helper()
	var p *Port
	inNS(t, ns, func() (err error) { p, err = OpenPort(cfg); return err })
	t.Cleanup(func() { p.Close() })
	return p
}

// runLoop runs fn(ctx) in a goroutine until the test ends.
func runLoop(t testing.TB, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("loop ended: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// rawSocket opens a packet socket on ifname inside ns for protocol (0 to
// only send), closed when the test ends.
func rawSocket(t testing.TB, ns *lab.NS, ifname string, protocol int) *packet.Conn {
	t.Helper()
	var c *packet.Conn
	inNS(t, ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, protocol, nil)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// macOf returns the Ethernet address of ifname inside ns.
func macOf(t testing.TB, ns *lab.NS, ifname string) [6]byte {
	t.Helper()
	var mac [6]byte
	inNS(t, ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = [6]byte(ifi.HardwareAddr)
		}
		return err
	})
	return mac
}

// writeFrame writes one whole Ethernet frame on c.
func writeFrame(t testing.TB, c *packet.Conn, frame []byte) {
	t.Helper()
	if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(frame[:6])}); err != nil {
		t.Fatalf("write frame: %v", err)
	}
}

var _ = runtime.GOOS

// timeAfter bounds a wait; it asserts nothing about speed.
func timeAfter() <-chan time.Time { return time.After(hang) }

// veth is lab.Veth that also waits until both ends are operationally up.
// Right after `ip link set up` a veth transmits through the noop qdisc,
// which drops silently, until the kernel's link watcher has run; a frame
// written in that window vanishes.
func veth(t testing.TB, l *lab.Lab, a *lab.NS, aIf string, b *lab.NS, bIf string) {
	t.Helper()
	l.Veth(a, aIf, b, bIf)
	waitOperUp(t, a, aIf)
	waitOperUp(t, b, bIf)
}

// waitOperUp waits for ifname in ns to report operstate UP, which the
// kernel announces after attaching the real qdisc.
func waitOperUp(t testing.TB, ns *lab.NS, ifname string) {
	t.Helper()
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	inNS(t, ns, func() error {
		return netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true})
	})
	for {
		select {
		case u := <-updates:
			if u.Attrs().Name == ifname && u.Attrs().OperState == netlink.OperUp {
				return
			}
		case <-timeAfter():
			t.Fatalf("%s in %s not up", ifname, ns.Name)
		}
	}
}
