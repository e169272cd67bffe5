package nft_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// sendUDP sends one datagram carrying tag from a socket in ns.
func sendUDP(t testing.TB, ns *lab.NS, dst netip.AddrPort, tag string) {
	t.Helper()
	err := ns.Do(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(tag))
		return err
	})
	if err != nil {
		t.Fatalf("send %q to %v from %s: %v", tag, dst, ns.Name, err)
	}
}

// waitStats polls Stats until done holds (nothing signals counter
// updates); hang bounds it.
func waitStats(t testing.TB, k *nft.Kernel, what string, done func(nft.Stats) bool) nft.Stats {
	t.Helper()
	deadline := time.Now().Add(hang)
	for {
		st, err := k.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if done(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %+v", what, hang, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDownstream: traffic from upstream towards a bound subscriber passes;
// towards an unknown address of a subscriber net it is dropped before
// routing (no ARP request down the port), counted, and reported once to
// NFLOG as a destination; the card's own address passes; an Apply adding
// a binding for the address lets it through, one deleting it stops it.
func TestDownstream(t *testing.T) {
	g := newGuard(t, 1)
	s := g.tp.Subs[0]
	g.cfg.SubscriberNets = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}
	unknown := netip.MustParseAddr("10.0.1.99")
	s.NS.Addr("eth0", unknown.String()+"/24")
	g.tp.Card.MustIP("neigh", "replace", s.IP.String(), "lladdr", s.MAC.String(), "dev", s.Port, "nud", "permanent")
	g.rebuild(t, g.binding(0, time.Hour))
	reports := readReports(t, g)
	subSink := nfttest.Listen(t, s.NS, "0.0.0.0:9000")
	cardSink := nfttest.Listen(t, g.tp.Card, s.Gateway.String()+":9000")
	arp := nfttest.WatchARP(t, s.NS, "eth0")

	sendUDP(t, g.tp.Up, netip.AddrPortFrom(s.IP, 9000), "bound")
	subSink.Wait(t, "bound", hang)
	sendUDP(t, g.tp.Up, netip.AddrPortFrom(s.Gateway, 9000), "card")
	cardSink.Wait(t, "card", hang)
	for range 3 {
		sendUDP(t, g.tp.Up, netip.AddrPortFrom(unknown, 9000), "unknown")
	}
	st := waitStats(t, g.k, "3 unknown-destination drops", func(st nft.Stats) bool { return st.UnknownDestination.Packets == 3 })
	if st.ReportedDestination.Packets != 1 || st.UnknownDst != 1 {
		t.Errorf("reported %d, unknown destinations held %d; want 1, 1", st.ReportedDestination.Packets, st.UnknownDst)
	}
	select {
	case r := <-reports:
		if !r.Downstream || r.Destination != unknown {
			t.Errorf("report %+v, want a downstream one for %v", r, unknown)
		}
	case <-time.After(hang):
		t.Fatal("no NFLOG report of the unknown destination")
	}

	// After Sync the watcher has seen every frame the card sent down the
	// port before it.
	inj, err := nfttest.OpenInjector(g.tp.Card, s.Port)
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	arp.Sync(t, inj, s.GatewayMAC)
	if reqs := arp.Frames(func(a nfttest.ARP) bool { return a.Op == nfttest.ARPRequest && a.TargetIP == unknown }); len(reqs) > 0 {
		t.Errorf("the card asked for the unknown address down the port: %v", reqs)
	}

	g.tp.Card.MustIP("neigh", "replace", unknown.String(), "lladdr", s.MAC.String(), "dev", s.Port, "nud", "permanent")
	moved := nft.Element{Port: s.Port, IP: unknown, MAC: s.MAC, Expires: time.Now().Add(time.Hour)}
	if err := g.k.Apply([]nft.Element{moved}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, g.tp.Up, netip.AddrPortFrom(unknown, 9000), "now bound")
	subSink.Wait(t, "now bound", hang)
	if err := g.k.Apply(nil, []nft.Element{moved}, time.Now()); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, g.tp.Up, netip.AddrPortFrom(unknown, 9000), "unbound again")
	waitStats(t, g.k, "a fourth drop", func(st nft.Stats) bool { return st.UnknownDestination.Packets == 4 })
	if n := subSink.Count("unknown") + subSink.Count("unbound again"); n != 0 {
		t.Errorf("%d datagrams to the unknown address arrived", n)
	}
}

// TestForwardedDHCPDropped: client DHCP from a bound subscriber towards an
// upstream server is not forwarded (the relay handles it), while its other
// traffic to the same host is.
func TestForwardedDHCPDropped(t *testing.T) {
	g := newGuard(t, 1)
	s := g.tp.Subs[0]
	g.cfg.DropForwardedDHCP = true
	g.rebuild(t, g.binding(0, time.Hour))
	up67 := nfttest.Listen(t, g.tp.Up, "0.0.0.0:67")
	up9000 := nfttest.Listen(t, g.tp.Up, "0.0.0.0:9000")
	s.Inject(t, s.UDP(s.IP, s.MAC, nfttest.UpstreamIP, 68, 67, "renewal"))
	s.Inject(t, s.UDP(s.IP, s.MAC, nfttest.UpstreamIP, 68, 9000, "control"))
	up9000.Wait(t, "control", hang)
	st := waitStats(t, g.k, "a forwarded-DHCP drop", func(st nft.Stats) bool { return st.ForwardedDHCP[s.Port].Packets == 1 })
	if up67.Count("renewal") != 0 {
		t.Error("the renewal was forwarded")
	}
	if st.UnknownDestination.Packets != 0 || st.Counters[id(s.Port, nft.ReasonIPv4Source)].Packets != 0 {
		t.Errorf("other drops: %+v", st)
	}
}

// readReports reads the guard's NFLOG group until the test ends.
func readReports(t *testing.T, g *guard) <-chan nflog.Report {
	t.Helper()
	f, err := g.tp.Card.Fd()
	if err != nil {
		t.Fatal(err)
	}
	r, err := nflog.Listen(nflog.Config{Group: g.cfg.NFLogGroup, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan nflog.Report, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func(rep nflog.Report) { out <- rep }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("nflog Run: %v", err)
		}
		r.Close()
		f.Close()
	})
	return out
}
