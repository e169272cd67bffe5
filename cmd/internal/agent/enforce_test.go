package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
)

// testEnforcer is an enforcer of the example configuration over a fake
// applier and forwarder.
func testEnforcer(t *testing.T, a *Agent, applier nft.Applier, fw forwarder) *enforcer {
	t.Helper()
	ncfg, err := nftConfig(a.cfg).Validate()
	if err != nil {
		t.Fatal(err)
	}
	e := a.newEnforcer(ncfg, applier, fw)
	e.now = time.Now
	e.confirm = nil
	return e
}

// TestEnforcerFollowsTable: confirmed bindings are programmed with their
// route and neighbour, hints and bindings of unknown ports are not; a
// renewal re-applies only the element, a move replaces element and route,
// a removal withdraws both; a burst is one transaction.
func TestEnforcerFollowsTable(t *testing.T) { synctest.Test(t, testEnforcerFollowsTable) }

func testEnforcerFollowsTable(t *testing.T) {
	a, _ := enfAgent(t)
	f, fw := &nft.Fake{}, newFakeForwarder()
	upsert(t, a.table, gleaned("192.168.10.100", macA, cablePort, time.Hour))
	hint := gleaned("192.168.10.101", macB, cablePort, time.Hour)
	hint.Source = location.Snapshot
	upsert(t, a.table, hint)
	upsert(t, a.table, gleaned("192.168.10.102", macB, "elsewhere", time.Hour))
	e := testEnforcer(t, a, f, fw)
	stop := runTask(t, e)
	defer stop()
	<-e.Ready()
	want := []string{"sub0 192.168.10.100 02:00:00:00:00:0a"}
	if diff := cmp.Diff(want, elementsOf(f)); diff != "" {
		t.Fatalf("programmed at start (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, fw.list()); diff != "" {
		t.Fatalf("forwarding at start (-want +got):\n%s", diff)
	}

	renewed := gleaned("192.168.10.100", macA, cablePort, 2*time.Hour)
	upsert(t, a.table, renewed)
	settle()
	els := f.Elements(time.Now())
	if len(els) != 1 || !els[0].Expires.Equal(renewed.Expiry.Truncate(time.Second)) || fw.adds != 1 {
		t.Errorf("after a renewal: elements %v, forwarding adds %d (want 1: unchanged)", els, fw.adds)
	}

	upsert(t, a.table, gleaned("192.168.10.100", macB, dslPort, time.Hour))
	settle()
	want = []string{"sub1 192.168.10.100 02:00:00:00:00:0b"}
	if diff := cmp.Diff(want, elementsOf(f)); diff != "" {
		t.Errorf("after a move (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, fw.list()); diff != "" {
		t.Errorf("forwarding after a move (-want +got):\n%s", diff)
	}

	before := f.StatsAt(time.Now()).Programming.Applies
	for i := range 500 {
		upsert(t, a.table, gleaned(fmt.Sprintf("192.168.20.%d", i%250+1), macA, dslPort, time.Duration(i+1)*time.Minute))
	}
	a.table.Remove(location.Removal{IP: netip.MustParseAddr("192.168.10.100"), Reason: location.Released}, time.Now())
	settle()
	st := e.Stats()
	if got := f.StatsAt(time.Now()).Programming.Applies - before; got != 1 {
		t.Errorf("a burst of 501 events took %d transactions, want 1", got)
	}
	if len(f.Elements(time.Now())) != 250 || len(fw.list()) != 250 || st.Programmed != 250 {
		t.Errorf("after the burst: %d elements, %d routes, %d programmed; want 250", len(f.Elements(time.Now())), len(fw.list()), st.Programmed)
	}
	if st.Added != 250 || st.Withdrawn != 1 || st.Renewed != 1 || st.Moved != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestEnforcerCarriesOverARestart: a restarted enforcer builds its first
// ruleset from the table and the elements the previous process left
// (each keeping its lifetime); those the servers refute are withdrawn,
// confirmed ones pass to the table's binding; after a reboot (nothing in
// the kernel) nothing is carried.
func TestEnforcerCarriesOverARestart(t *testing.T) { synctest.Test(t, testEnforcerCarriesOverARestart) }

func testEnforcerCarriesOverARestart(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("192.168.10.100"), netip.MustParseAddr("192.168.10.101"), netip.MustParseAddr("192.168.10.102")}
	f := &nft.Fake{}
	old := []nft.Element{
		{Port: cableIface, IP: ips[0], MAC: macA, Expires: time.Now().Add(time.Hour)},
		{Port: cableIface, IP: ips[1], MAC: macB, Expires: time.Now().Add(time.Hour)},
		{Port: dslIface, IP: ips[2], MAC: macB, Expires: time.Now().Add(time.Minute)},
		{Port: "gone0", IP: netip.MustParseAddr("192.168.10.103"), MAC: macB, Expires: time.Now().Add(time.Hour)},
	}
	if err := f.Rebuild(nft.Config{Table: nft.DefaultTable, Ports: []nft.Port{{Name: cableIface}, {Name: dslIface}, {Name: "gone0"}}}, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, _ := enfAgent(t)
	upsert(t, a.table, gleaned(ips[0].String(), macA, cablePort, 2*time.Hour)) // gleaned since the restart
	e := testEnforcer(t, a, f, newFakeForwarder())
	got := make(chan map[netip.Addr]programmed, 1)
	e.confirm = func(_ context.Context, carried map[netip.Addr]programmed) { got <- carried }
	stop := runTask(t, e)
	defer stop()
	<-e.Ready()
	carried := <-got
	if len(carried) != 2 || !carried[ips[1]].carried || !carried[ips[2]].carried {
		t.Fatalf("carried %v, want %v and %v", carried, ips[1], ips[2])
	}
	want := []string{"sub0 192.168.10.100 02:00:00:00:00:0a", "sub0 192.168.10.101 02:00:00:00:00:0b", "sub1 192.168.10.102 02:00:00:00:00:0b"}
	if diff := cmp.Diff(want, elementsOf(f)); diff != "" {
		t.Fatalf("first ruleset (-want +got):\n%s", diff)
	}
	if el := f.Elements(time.Now()); !expiryOf(el, ips[2]).Equal(old[2].Expires) {
		t.Errorf("carried element expires %v, want its old %v", expiryOf(el, ips[2]), old[2].Expires)
	}

	upsert(t, a.table, gleaned(ips[1].String(), macB, cablePort, 3*time.Hour)) // what a confirming answer writes
	e.outcomes <- carryOutcome{ip: ips[1], verdict: carryConfirmed}
	e.outcomes <- carryOutcome{ip: ips[2], verdict: carryRefuted}
	settle()
	want = want[:2]
	if diff := cmp.Diff(want, elementsOf(f)); diff != "" {
		t.Errorf("after the verdicts (-want +got):\n%s", diff)
	}
	if st := e.Stats(); st.Carried != 0 || st.CarriedIn != 4 || st.CarryConfirmed != 1 || st.CarryRefuted != 1 {
		t.Errorf("stats %+v", st)
	}

	f.Wipe() // a reboot: the kernel forgot everything
	b, _ := enfAgent(t)
	e2 := testEnforcer(t, b, f, newFakeForwarder())
	stop2 := runTask(t, e2)
	defer stop2()
	<-e2.Ready()
	if st := e2.Stats(); st.CarriedIn != 0 || len(f.Elements(time.Now())) != 0 {
		t.Errorf("after a reboot: %+v, elements %v", st, f.Elements(time.Now()))
	}
}

func expiryOf(els []nft.Element, ip netip.Addr) time.Time {
	for _, e := range els {
		if e.IP == ip {
			return e.Expires
		}
	}
	return time.Time{}
}

// TestEnforcerReconcilesForwarding: at start, our routes that no binding
// backs (or that point elsewhere) are removed, matching ones kept, missing
// ones added.
func TestEnforcerReconcilesForwarding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := enfAgent(t)
		upsert(t, a.table, gleaned("192.168.10.100", macA, cablePort, time.Hour))
		upsert(t, a.table, gleaned("192.168.10.101", macA, cablePort, time.Hour))
		fw := newFakeForwarder(
			fwd.Binding{Port: cableIface, IP: netip.MustParseAddr("192.168.10.100"), MAC: macA}, // kept
			fwd.Binding{Port: dslIface, IP: netip.MustParseAddr("192.168.10.101"), MAC: macA},   // wrong port
			fwd.Binding{Port: dslIface, IP: netip.MustParseAddr("192.168.20.9"), MAC: macB},     // stale
		)
		e := testEnforcer(t, a, &nft.Fake{}, fw)
		stop := runTask(t, e)
		defer stop()
		<-e.Ready()
		want := []string{"sub0 192.168.10.100 02:00:00:00:00:0a", "sub0 192.168.10.101 02:00:00:00:00:0a"}
		if diff := cmp.Diff(want, fw.list()); diff != "" {
			t.Errorf("routes (-want +got):\n%s", diff)
		}
		if fw.adds != 1 || fw.removes != 2 {
			t.Errorf("%d adds, %d removes; want 1, 2", fw.adds, fw.removes)
		}
	})
}

// TestEnforcerRefreshesBeforeTheCap: an element whose lease outlives the
// nftables timeout cap is re-applied before the cap runs out, so it never
// times out under a live lease.
func TestEnforcerRefreshesBeforeTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := enfAgent(t)
		f := &nft.Fake{}
		e := testEnforcer(t, a, f, nil)
		e.cfg.MaxTimeout = time.Minute
		upsert(t, a.table, gleaned("192.168.10.100", macA, cablePort, time.Hour))
		stop := runTask(t, e)
		defer stop()
		<-e.Ready()
		ip := netip.MustParseAddr("192.168.10.100")
		for range 10 { // ten minutes: ten caps
			time.Sleep(time.Minute)
			settle()
			if !f.Allows(cableIface, ip, macA, time.Now()) {
				t.Fatalf("element timed out at %v under a one-hour lease", time.Now())
			}
		}
		if st := e.Stats(); st.Refreshed < 10 {
			t.Errorf("refreshed %d times in 10 minutes with a 1-minute cap", st.Refreshed)
		}
	})
}

// TestEnforcerRebuildsAfterAFailure: a refused transaction leaves the
// kernel's state unknown; the enforcer rebuilds the whole table (retrying
// until it succeeds).
func TestEnforcerRebuildsAfterAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := enfAgent(t)
		f := &nft.Fake{}
		e := testEnforcer(t, a, f, nil)
		stop := runTask(t, e)
		defer stop()
		<-e.Ready()
		f.SetErr(errors.New("ENOBUFS"))
		upsert(t, a.table, gleaned("192.168.10.100", macA, cablePort, time.Hour))
		settle()
		f.SetErr(nil)
		time.Sleep(retryRebuild)
		settle()
		if !f.Allows(cableIface, netip.MustParseAddr("192.168.10.100"), macA, time.Now()) {
			t.Error("binding not programmed after the rebuild")
		}
		if st := e.Stats(); st.ApplyFailures < 2 || st.Rebuilds != 2 {
			t.Errorf("stats %+v: want the failed apply, a failed rebuild, then a second rebuild", st)
		}
	})
}

// TestNftConfigFromExample: one chain per port interface with its gateway,
// the subscriber networks checked downstream, forwarded DHCP dropped
// (renewals are relayed), the per-port report rate that of the filter
// (10 per 10 s: 1 a second, bursts of 10).
func TestNftConfigFromExample(t *testing.T) {
	_, cfg := enfAgent(t)
	got := nftConfig(cfg)
	want := nft.Config{Table: "leaseguard", NFLogGroup: 7, DropForwardedDHCP: true,
		Ports:          []nft.Port{{Name: "sub0", RelayAddr: netip.MustParseAddr("192.168.10.1")}, {Name: "sub1", RelayAddr: netip.MustParseAddr("192.168.20.1")}},
		SubscriberNets: []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24"), netip.MustParsePrefix("192.168.20.0/24")},
		UnknownRate:    1, UnknownBurst: 10, DownstreamRate: 100, DownstreamBurst: 100}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("nft config (-want +got):\n%s", diff)
	}
	cfg.Relay.Renewals = "route"
	if nftConfig(cfg).DropForwardedDHCP {
		t.Error("forwarded DHCP dropped with renewals routed")
	}
}

// TestConfirmCarried: a carried address the servers place where it was
// is confirmed; UNASSIGNED or active on another port refutes it; no
// answer leaves it unanswered.
func TestConfirmCarried(t *testing.T) {
	a, _ := enfAgent(t)
	cable, dsl := a.relay.Ports().Port(0).AgentInfo, a.relay.Ports().Port(1).AgentInfo
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	carried := map[netip.Addr]programmed{}
	for _, s := range []string{"192.168.10.100", "192.168.10.101", "192.168.10.102", "192.168.10.103"} {
		carried[ip(s)] = programmed{iface: cableIface, mac: [6]byte(macA), carried: true}
	}
	q := &fakeQuerier{onResult: a.onResult, answers: map[netip.Addr]engine.Result{
		ip("192.168.10.100"): active(ip("192.168.10.100"), macA, cable, time.Hour),
		ip("192.168.10.101"): {Type: lq.LeaseUnassigned, Binding: lq.Binding{IP: ip("192.168.10.101")}},
		ip("192.168.10.103"): active(ip("192.168.10.103"), macA, dsl, time.Hour),
	}}
	out := make(chan carryOutcome, len(carried))
	confirmCarried(context.Background(), q, a.onResult, a.table, interfaces(a.cfg), carried, out)
	close(out)
	got := map[string]carryVerdict{}
	for o := range out {
		got[o.ip.String()] = o.verdict
	}
	want := map[string]carryVerdict{"192.168.10.100": carryConfirmed, "192.168.10.101": carryRefuted,
		"192.168.10.102": carryUnanswered, "192.168.10.103": carryRefuted}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}
