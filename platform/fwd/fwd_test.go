package fwd_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/leaseguard/leaseguard/platform/fwd"
	"golang.org/x/sys/unix"
)

// programmerIn returns a Programmer for ns, closed with the test.
func programmerIn(t testing.TB, ns *lab.NS) *fwd.Programmer {
	t.Helper()
	f, err := ns.Fd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := fwd.New(fwd.Config{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		f.Close()
	})
	return p
}

func binding(port, ip string, last byte) fwd.Binding {
	return fwd.Binding{Port: port, IP: netip.MustParseAddr(ip), MAC: net.HardwareAddr{2, 0, 0, 0, 0xee, last}}
}

var equateAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestAddRemoveOwned installs bindings on two ports, reads them back with
// ip(8) and Owned, removes them twice, and reports a missing port per
// binding without failing the others.
func TestAddRemoveOwned(t *testing.T) {
	tp := nfttest.New(t, 2)
	p := programmerIn(t, tp.Card)
	bs := []fwd.Binding{binding("p1", "10.0.1.50", 1), binding("p1", "10.0.1.51", 2), binding("p2", "10.0.2.50", 3)}
	if err := p.Add(bs); err != nil {
		t.Fatalf("Add: %v", err)
	}
	routes := tp.Card.MustIP("-4", "route", "show", "proto", "108")
	for _, want := range []string{"10.0.1.50 dev p1 scope link", "10.0.1.51 dev p1 scope link", "10.0.2.50 dev p2 scope link"} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes lack %q:\n%s", want, routes)
		}
	}
	neigh := tp.Card.MustIP("-4", "neigh", "show", "nud", "permanent")
	for _, want := range []string{"10.0.1.50 dev p1 lladdr 02:00:00:00:ee:01 PERMANENT", "10.0.2.50 dev p2 lladdr 02:00:00:00:ee:03 PERMANENT"} {
		if !strings.Contains(neigh, want) {
			t.Errorf("neighbours lack %q:\n%s", want, neigh)
		}
	}
	owned, err := p.Owned()
	if err != nil {
		t.Fatal(err)
	}
	sortBindings := cmpopts.SortSlices(func(a, b fwd.Binding) bool { return a.IP.Less(b.IP) })
	if diff := cmp.Diff(bs, owned, equateAddr, sortBindings); diff != "" {
		t.Errorf("Owned (-want +got):\n%s", diff)
	}
	// Adding again replaces. A subscriber moving to p2 is added there,
	// then removed from p1: the route follows, p1's neighbour goes.
	if err := p.Add(bs[:1]); err != nil {
		t.Errorf("Add again: %v", err)
	}
	moved := bs[0]
	moved.Port = "p2"
	if err := p.Add([]fwd.Binding{moved}); err != nil {
		t.Fatalf("Add on the new port: %v", err)
	}
	if err := p.Remove(bs[:1]); err != nil {
		t.Fatalf("Remove from the old port: %v", err)
	}
	if route := tp.Card.MustIP("-4", "route", "show", moved.IP.String()); !strings.Contains(route, "dev p2") {
		t.Errorf("route after the move: %q, want dev p2", route)
	}
	if neigh := tp.Card.MustIP("-4", "neigh", "show", moved.IP.String()); strings.Contains(neigh, "dev p1") || !strings.Contains(neigh, "dev p2") {
		t.Errorf("neighbours after the move: %q, want only p2's", neigh)
	}
	bs[0] = moved
	// Removing twice is quiet.
	for range 2 {
		if err := p.Remove(bs); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	if owned, err := p.Owned(); err != nil || len(owned) != 0 {
		t.Errorf("Owned after Remove = %v, %v; want none", owned, err)
	}
	if neigh := tp.Card.MustIP("-4", "neigh", "show", "nud", "permanent"); neigh != "" {
		t.Errorf("neighbours left after Remove:\n%s", neigh)
	}

	err = p.Add([]fwd.Binding{binding("p9", "10.0.9.50", 9), binding("p1", "10.0.1.52", 4)})
	var errs *fwd.Errors
	if !errors.As(err, &errs) || len(errs.Failed) != 1 || errs.Failed[0].Binding.Port != "p9" || errs.Failed[0].Op != "resolve" {
		t.Fatalf("Add with a missing port = %v, want one resolve failure for p9", err)
	}
	if owned, _ := p.Owned(); len(owned) != 1 || owned[0].IP != netip.MustParseAddr("10.0.1.52") {
		t.Errorf("the good binding next to a bad one was not installed: %v", owned)
	}
	// A kernel refusal is tied to its binding: a route via a port that is down.
	tp.Card.MustIP("link", "set", "p2", "down")
	err = p.Add([]fwd.Binding{binding("p2", "10.0.2.60", 5)})
	if !errors.As(err, &errs) || !errors.Is(err, unix.ENETDOWN) || errs.Failed[0].Op != "route add" {
		t.Errorf("route via a down port: %v, want route add failing with ENETDOWN", err)
	}
}

// TestNoARPTowardsProgrammedSubscriber pings from the card to two addresses
// of the subscriber: one left to ARP (the control: the watcher sees its
// request) and one programmed by fwd, which must go out with no ARP request.
func TestNoARPTowardsProgrammedSubscriber(t *testing.T) {
	lab.Need(t, "ping")
	tp := nfttest.New(t, 1)
	s := tp.Subs[0]
	programmed := netip.MustParseAddr("10.0.1.11")
	s.NS.Addr("eth0", programmed.String()+"/24")
	watch := nfttest.WatchARP(t, s.NS, "eth0")
	inj, err := nfttest.OpenInjector(tp.Card, s.Port)
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	fromCard := func(target netip.Addr) func(nfttest.ARP) bool {
		return func(a nfttest.ARP) bool {
			return a.Op == nfttest.ARPRequest && a.EthSrc.String() == s.GatewayMAC.String() && a.TargetIP == target
		}
	}

	tp.Card.MustExec("ping", "-c1", "-W2", s.IP.String())
	watch.Wait(t, fromCard(s.IP), 5*time.Second) // control: unprogrammed, the card ARPs

	p := programmerIn(t, tp.Card)
	if err := p.Add([]fwd.Binding{{Port: s.Port, IP: programmed, MAC: s.MAC}}); err != nil {
		t.Fatal(err)
	}
	tp.Card.MustExec("ping", "-c2", "-i0.2", "-W2", programmed.String())
	watch.Sync(t, inj, s.GatewayMAC)
	if got := watch.Frames(fromCard(programmed)); len(got) != 0 {
		t.Errorf("card sent ARP requests for a programmed subscriber: %v", got)
	}
}
