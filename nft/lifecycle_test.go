package nft_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// TestElementExpiresWithoutAgent programs a binding with a 2 s lease and
// closes the applier: the kernel alone must stop the traffic at expiry.
func TestElementExpiresWithoutAgent(t *testing.T) {
	g := newGuard(t, 1)
	s := g.tp.Subs[0]
	sink := nfttest.Listen(t, g.tp.Card, "0.0.0.0:9000")
	e := g.binding(0, 2*time.Second)
	g.rebuild(t, e)
	g.k.Close()
	s.Inject(t, s.UDP(s.IP, s.MAC, s.Gateway, 1000, 9000, "before expiry"))
	sink.Wait(t, "before expiry", hang)

	// The kernel's clock is what is under test: nothing signals the
	// expiry, so wait for it (plus a jiffy or two of slack).
	<-time.After(time.Until(e.Expires) + 50*time.Millisecond)
	before := g.counters(t)
	s.Inject(t, s.UDP(s.IP, s.MAC, s.Gateway, 1000, 9000, "after expiry"))
	g.waitDelta(t, before, map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1, id("p1", nft.Reported): 1})
	if sink.Count("after expiry") != 0 {
		t.Error("traffic passed after the lease expired")
	}
}

// TestRebuildUnderTraffic replaces the table over and over while a
// subscriber sends spoofed frames and bound ones: no spoofed frame may ever
// arrive, and no bound one may be lost (each bound frame is awaited before
// the next round, so a socket overflow cannot hide or fake a loss).
func TestRebuildUnderTraffic(t *testing.T) {
	g := newGuard(t, 1)
	s := g.tp.Subs[0]
	sink := nfttest.Listen(t, g.tp.Card, "0.0.0.0:9000")
	bound := g.binding(0, time.Hour)
	g.rebuild(t, bound)

	const rebuilds = 100
	var done atomic.Int32
	go func() {
		for range rebuilds {
			if err := g.k.Rebuild(g.cfg, []nft.Element{bound}, time.Now()); err != nil {
				t.Errorf("Rebuild: %v", err)
				break
			}
		}
		done.Store(1)
	}()
	rounds := 0
	for ; done.Load() == 0; rounds++ {
		s.Inject(t, s.UDP(unbound, s.MAC, s.Gateway, 1000, 9000, fmt.Sprintf("S%d", rounds)))
		s.Inject(t, s.UDP(s.IP, strangeMAC, s.Gateway, 1000, 9000, fmt.Sprintf("M%d", rounds)))
		s.Inject(t, s.UDP(s.IP, s.MAC, s.Gateway, 1000, 9000, fmt.Sprintf("L%d", rounds)))
		sink.Wait(t, fmt.Sprintf("L%d", rounds), hang)
	}
	for tag := range sink.Tags() {
		if tag[0] != 'L' {
			t.Errorf("spoofed frame %s passed during a Rebuild", tag)
		}
	}
	t.Logf("%d rounds of 3 frames during %d rebuilds", rounds, rebuilds)
	if rounds < 20 {
		t.Errorf("only %d rounds overlapped %d rebuilds: the test exercised little", rounds, rebuilds)
	}
}

var timeoutOf = regexp.MustCompile(`"p1" \. ([0-9.]+) \. [0-9a-f:]+ timeout ([0-9hms]+)`)

// allowedTimeouts lists the allowed set: address -> programmed timeout.
func allowedTimeouts(t *testing.T, g *guard) map[string]string {
	t.Helper()
	out := g.tp.Card.MustExec("nft", "list", "set", "netdev", nft.DefaultTable, nft.AllowedSet)
	m := map[string]string{}
	for _, sub := range timeoutOf.FindAllStringSubmatch(out, -1) {
		m[sub[1]] = sub[2]
	}
	return m
}

// TestApply adds, renews, shortens and deletes a binding incrementally,
// deletes missing and expired elements, and recovers from a table removed
// behind its back; with renewals as plain adds (this kernel updates
// timeouts) and as upserts (what older kernels need).
func TestApply(t *testing.T) {
	for _, upsert := range []bool{false, true} {
		t.Run(fmt.Sprintf("upsert=%v", upsert), func(t *testing.T) { testApply(t, upsert) })
	}
}

func testApply(t *testing.T, upsert bool) {
	g := newGuard(t, 1)
	g.k = kernelWith(t, g.tp.Card, nft.KernelOptions{ForceUpsert: upsert})
	s := g.tp.Subs[0]
	sink := nfttest.Listen(t, g.tp.Card, "0.0.0.0:9000")
	if err := g.k.Apply([]nft.Element{g.binding(0, time.Hour)}, nil, time.Now()); !errors.Is(err, nft.ErrNotBuilt) {
		t.Fatalf("Apply before Rebuild = %v, want ErrNotBuilt", err)
	}
	g.rebuild(t)
	// Every Apply gets the now its elements' expiries were computed from,
	// so the programmed timeouts are exact.
	var now time.Time
	apply := func(adds, deletes []nft.Element) {
		t.Helper()
		if err := g.k.Apply(adds, deletes, now); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	now = time.Now()
	e := nft.Element{Port: "p1", IP: s.IP, MAC: s.MAC, Expires: now.Add(10 * time.Second)}
	apply([]nft.Element{e}, nil)
	s.Inject(t, s.UDP(s.IP, s.MAC, s.Gateway, 1000, 9000, "added"))
	sink.Wait(t, "added", hang)
	for _, renew := range []struct {
		lease time.Duration
		nft   string
	}{{time.Hour, "1h"}, {20 * time.Second, "20s"}} {
		now = time.Now()
		e.Expires = now.Add(renew.lease)
		apply([]nft.Element{e}, nil)
		if got, want := allowedTimeouts(t, g), (map[string]string{"10.0.1.10": renew.nft}); !cmp.Equal(want, got) {
			t.Errorf("after renewal to %v: timeouts %v, want %v", renew.lease, got, want)
		}
	}
	apply(nil, []nft.Element{e})
	before := g.counters(t)
	s.Inject(t, s.UDP(s.IP, s.MAC, s.Gateway, 1000, 9000, "deleted"))
	g.waitDelta(t, before, map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1, id("p1", nft.Reported): 1})

	// Missing, then expired in the kernel: neither aborts the batch.
	apply(nil, []nft.Element{e})
	now = time.Now()
	short := nft.Element{Port: "p1", IP: netip.MustParseAddr("10.0.1.20"), MAC: strangeMAC, Expires: now.Add(time.Millisecond)}
	apply([]nft.Element{short}, nil)
	<-time.After(20 * time.Millisecond) // let the kernel expire it
	now = time.Now()
	other := nft.Element{Port: "p1", IP: netip.MustParseAddr("10.0.1.21"), MAC: strangeMAC, Expires: now.Add(time.Hour)}
	apply([]nft.Element{other}, []nft.Element{short})
	if got := allowedTimeouts(t, g); !cmp.Equal(map[string]string{"10.0.1.21": "1h"}, got) {
		t.Errorf("after deleting an expired element: %v, want only 10.0.1.21", got)
	}

	st, err := g.k.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Allowed != 1 || st.Programming.Applies != 7 || st.Programming.Failures != 0 || (upsert && st.Programming.TimeoutUpdate) {
		t.Errorf("Stats: allowed %d, programming %+v; want 1 allowed, 7 applies, 0 failures", st.Allowed, st.Programming)
	}
	t.Logf("kernel replaces timeouts on add: %v", st.Programming.TimeoutUpdate)

	// Someone deletes the table: Apply fails, the connection is re-dialled
	// and a Rebuild restores service.
	g.tp.Card.MustExec("nft", "delete", "table", "netdev", nft.DefaultTable)
	if err := g.k.Apply([]nft.Element{e}, nil, time.Now()); err == nil {
		t.Fatal("Apply into a deleted table succeeded")
	}
	g.rebuild(t, g.binding(0, time.Hour))
	s.Inject(t, s.UDP(s.IP, s.MAC, s.Gateway, 1000, 9000, "restored"))
	sink.Wait(t, "restored", hang)
	if st, _ := g.k.Stats(); st.Programming.Failures != 1 || !strings.Contains(st.Programming.LastError, "no such file") {
		t.Errorf("after a refused Apply: %+v", st.Programming)
	}
}

// TestLargeBatches programs more elements than one netlink element list can
// carry: nothing may be lost silently.
func TestLargeBatches(t *testing.T) {
	g := newGuard(t, 1)
	elems := func(from, n int) []nft.Element {
		var out []nft.Element
		for i := from; i < from+n; i++ {
			out = append(out, nft.Element{Port: "p1", IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}),
				MAC: net.HardwareAddr{2, 1, 0, 0, byte(i >> 8), byte(i)}, Expires: time.Now().Add(time.Hour)})
		}
		return out
	}
	g.rebuild(t, elems(0, 3000)...)
	if err := g.k.Apply(elems(3000, 2500), elems(0, 1000), time.Now()); err != nil {
		t.Fatal(err)
	}
	held, err := g.k.CountElements(nft.AllowedSet)
	if err != nil {
		t.Fatal(err)
	}
	st, err := g.k.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if held != 4500 || st.Allowed != 4500 {
		t.Errorf("allowed set holds %d elements, Stats says %d; want 4500", held, st.Allowed)
	}
}

// TestUnknownSourceReportedOnce sends several frames from each of three
// unknown sources (two IPv4, one ARP) and reads the NFLOG group with
// platform/nflog: exactly one report per source.
func TestUnknownSourceReportedOnce(t *testing.T) {
	g := newGuard(t, 1)
	s := g.tp.Subs[0]
	g.rebuild(t, g.binding(0, time.Hour))
	f, err := g.tp.Card.Fd()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := nflog.Listen(nflog.Config{Group: g.cfg.NFLogGroup, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	a, b, c := netip.MustParseAddr("10.0.1.50"), netip.MustParseAddr("10.0.1.51"), netip.MustParseAddr("10.0.1.52")
	before := g.counters(t)
	for range 5 {
		s.Inject(t, s.UDP(a, s.MAC, s.Gateway, 1000, 9000, "a"))
		s.Inject(t, s.UDP(b, strangeMAC, s.Gateway, 1000, 9000, "b"))
		s.Inject(t, nfttest.ARPFrame(probeMAC, nfttest.Broadcast, nfttest.ARPRequest, probeMAC, c, make(net.HardwareAddr, 6), s.Gateway))
	}
	// Reports are queued in the packet path before the drop is counted,
	// so once the counters show every frame, every report is readable.
	g.waitDelta(t, before, map[nft.CounterID]uint64{
		id("p1", nft.ReasonIPv4Source): 10, id("p1", nft.ReasonARPSource): 5, id("p1", nft.Reported): 3,
	})
	var got []string
	for {
		r.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		pkts, err := r.Read()
		if nflog.IsTimeout(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			src, err := p.Source()
			if err != nil {
				t.Fatalf("report %+v: %v", p, err)
			}
			got = append(got, fmt.Sprintf("%s %v %v", src.Port, src.IP, src.MAC))
		}
	}
	sort.Strings(got)
	want := []string{
		fmt.Sprintf("p1 %v %v", a, s.MAC),
		fmt.Sprintf("p1 %v %v", b, strangeMAC),
		fmt.Sprintf("p1 %v %v", c, probeMAC),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

// TestRebuildWithMissingPort asks for a port that does not exist yet.
// Kernels before 6.16 refuse the whole transaction, and the previous rules
// must stay; newer ones accept the chain and hook the port when it
// appears, which must then be guarded from its first frame.
func TestRebuildWithMissingPort(t *testing.T) {
	g := newGuard(t, 1)
	s := g.tp.Subs[0]
	g.rebuild(t, g.binding(0, time.Hour))
	late := g.cfg
	late.Ports = append(late.Ports, nft.Port{Name: "late0"})
	if err := g.k.Rebuild(late, []nft.Element{g.binding(0, time.Hour)}, time.Now()); err != nil {
		t.Logf("refused: %v", err)
		before := g.counters(t)
		s.Inject(t, s.UDP(unbound, s.MAC, s.Gateway, 1000, 9000, "spoofed"))
		g.waitDelta(t, before, map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1, id("p1", nft.Reported): 1})
		return
	}
	t.Log("accepted: the kernel hooks late0 when it appears")
	g.tp.Lab.Veth(g.tp.Card, "late0", s.NS, "eth1")
	inj, err := nfttest.OpenInjector(s.NS, "eth1")
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	before := g.counters(t)
	frame := nfttest.UDPFrame(strangeMAC, nfttest.InterfaceMAC(t, g.tp.Card, "late0"), unbound, s.Gateway, 1000, 9000, []byte("late"))
	if err := inj.Send(frame); err != nil {
		t.Fatal(err)
	}
	g.waitDelta(t, before, map[nft.CounterID]uint64{id("late0", nft.ReasonIPv4Source): 1, id("late0", nft.Reported): 1})
}
