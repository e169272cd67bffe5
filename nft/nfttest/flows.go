package nfttest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// FlowSink is a Sink on one UDP port of every address of a namespace,
// counting continuous flows by payload: each flow sends its name.
type FlowSink = Sink

// ListenFlows opens a flow sink on port of every address in ns, closed
// when t ends.
func ListenFlows(t lab.TB, ns *lab.NS, port int) *FlowSink {
	t.Helper()
	return Listen(t, ns, fmt.Sprintf("0.0.0.0:%d", port))
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
