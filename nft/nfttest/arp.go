package nfttest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/mdlayher/packet"
)

// ARP is one ARP frame seen on an interface.
type ARP struct {
	EthSrc    net.HardwareAddr
	Op        uint16
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetIP  netip.Addr
}

func (a ARP) String() string {
	return fmt.Sprintf("op %d from %v: sender %v %v, target %v", a.Op, a.EthSrc, a.SenderMAC, a.SenderIP, a.TargetIP)
}

// ARPWatch records the ARP frames an interface sends and receives.
type ARPWatch struct {
	conn *packet.Conn

	mu      sync.Mutex
	frames  []ARP
	changed chan struct{}
}

// WatchARP opens an ARP packet socket on ifname inside ns, closed when the
// test ends.
func WatchARP(t lab.TB, ns *lab.NS, ifname string) *ARPWatch {
	t.Helper()
	w := &ARPWatch{changed: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		w.conn, err = packet.Listen(ifi, packet.Raw, 0x0806, nil)
		return err
	})
	if err != nil {
		t.Fatalf("ARP watch on %s in %s: %v", ifname, ns.Name, err)
	}
	t.Cleanup(func() { w.conn.Close() })
	go w.read()
	return w
}

func (w *ARPWatch) read() {
	b := make([]byte, 1514)
	for {
		n, _, err := w.conn.ReadFrom(b)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n < 14+28 {
			continue
		}
		f, a := b[:n], b[14:n]
		arp := ARP{
			EthSrc:    append(net.HardwareAddr(nil), f[6:12]...),
			Op:        binary.BigEndian.Uint16(a[6:]),
			SenderMAC: append(net.HardwareAddr(nil), a[8:14]...),
			SenderIP:  netip.AddrFrom4([4]byte(a[14:18])),
			TargetIP:  netip.AddrFrom4([4]byte(a[24:28])),
		}
		w.mu.Lock()
		w.frames = append(w.frames, arp)
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// Frames returns the frames seen so far that match (nil matches all).
func (w *ARPWatch) Frames(match func(ARP) bool) []ARP {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ARP
	for _, f := range w.frames {
		if match == nil || match(f) {
			out = append(out, f)
		}
	}
	return out
}

// Wait blocks until a frame matching match was seen and returns it; the
// timeout bounds a hang.
func (w *ARPWatch) Wait(t lab.TB, match func(ARP) bool, timeout time.Duration) ARP {
	t.Helper()
	return w.waitFrom(t, 0, match, timeout)
}

// waitFrom is Wait considering only frames from index start on.
func (w *ARPWatch) waitFrom(t lab.TB, start int, match func(ARP) bool, timeout time.Duration) ARP {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		changed, frames := w.changed, w.frames[start:]
		w.mu.Unlock()
		for _, f := range frames {
			if match(f) {
				return f
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no matching ARP frame within %v; seen: %v", timeout, w.Frames(nil))
		}
	}
}

// syncTarget is the target address of Sync's marker frame (TEST-NET-1).
var syncTarget = netip.MustParseAddr("192.0.2.254")

// Sync sends a marker ARP frame with inj, which must reach the watched
// interface, and waits until the watcher has read it: every frame that
// reached the interface before the marker has then been recorded.
func (w *ARPWatch) Sync(t lab.TB, inj *Injector, src net.HardwareAddr) {
	t.Helper()
	w.mu.Lock()
	start := len(w.frames)
	w.mu.Unlock()
	marker := ARPFrame(src, Broadcast, ARPRequest, src, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), syncTarget)
	if err := inj.Send(marker); err != nil {
		t.Fatalf("ARP watch sync: %v", err)
	}
	w.waitFrom(t, start, func(a ARP) bool { return a.TargetIP == syncTarget && a.SenderIP.IsUnspecified() }, 5*time.Second)
}
