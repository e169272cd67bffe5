package agent

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// spoofLog records what the spoof hook hears.
type spoofLog struct {
	mu  sync.Mutex
	got []string
}

func (s *spoofLog) hook(iface string, ip netip.Addr, mac net.HardwareAddr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, iface+" "+ip.String()+" "+mac.String())
}

func (s *spoofLog) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func source(iface, ip string, mac net.HardwareAddr) nflog.Report {
	return nflog.Report{Source: nflog.Source{Port: iface, IP: netip.MustParseAddr(ip), MAC: mac}}
}

// TestVerifierJudgesSources: a source the servers place on its own port
// with its own MAC is confirmed (the binding is in the table); a spoofed
// address, a right address with the wrong MAC and a right address and
// MAC on another port stay dropped and reach the spoof hook; a cached
// answer is installed; an unanswered query is counted apart; a trusted
// MAC is not asked about.
func TestVerifierJudgesSources(t *testing.T) { synctest.Test(t, testVerifierJudgesSources) }

func testVerifierJudgesSources(t *testing.T) {
	a, cfg := enfAgent(t)
	cfg.Enforcement.TrustedMACs = append(cfg.Enforcement.TrustedMACs, []byte{2, 0xaa, 0, 0, 0, 1})
	dsl, cable := a.relay.Ports().Port(1).AgentInfo, a.relay.Ports().Port(0).AgentInfo
	legit, cached := netip.MustParseAddr("192.168.20.100"), netip.MustParseAddr("192.168.10.100")
	q := &fakeQuerier{onResult: a.onResult, answers: map[netip.Addr]engine.Result{
		legit:                                 active(legit, macA, dsl, time.Hour),
		cached:                                active(cached, macA, cable, time.Hour),
		netip.MustParseAddr("192.168.20.150"): {Type: lq.LeaseUnknown},
	}}
	c := q.answers[cached]
	c.Cached = true
	q.answers[cached] = c
	reports := &fakeReports{deliver: make(chan func(nflog.Report), 1)}
	v := a.newVerifier(reports)
	v.query = q
	spoofed := &spoofLog{}
	v.setSpoof(spoofed.hook)
	stop := runTask(t, v)
	defer stop()
	deliver := <-reports.deliver

	for _, r := range []nflog.Report{
		source(dslIface, "192.168.20.100", macA),                        // legitimate: confirmed
		source(dslIface, "192.168.20.150", macB),                        // an address nobody leased
		source(cableIface, "192.168.10.100", macA),                      // legitimate, from the cache
		source(dslIface, "192.168.20.170", macB),                        // no server answers
		source(dslIface, "192.168.20.180", []byte{2, 0xaa, 0, 0, 0, 1}), // trusted
	} {
		deliver(r)
	}
	synctest.Wait()
	for _, r := range []nflog.Report{
		source(dslIface, "192.168.20.100", macB),   // right address, wrong MAC
		source(cableIface, "192.168.20.100", macA), // right address and MAC, wrong port
	} {
		deliver(r)
	}
	synctest.Wait()

	want := VerifyStats{Sources: 7, Trusted: 1, Confirmed: 2, Refused: 3, Unanswered: 1}
	if diff := cmp.Diff(want, v.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	wantSpoof := []string{"sub0 192.168.20.100 02:00:00:00:00:0a", "sub1 192.168.20.100 02:00:00:00:00:0b",
		"sub1 192.168.20.150 02:00:00:00:00:0b", "sub1 192.168.20.170 02:00:00:00:00:0b"}
	if diff := cmp.Diff(wantSpoof, slices.Sorted(slices.Values(spoofed.list()))); diff != "" {
		t.Errorf("spoof hook (-want +got):\n%s", diff)
	}
	for _, ip := range []netip.Addr{legit, cached} {
		if b, ok := a.table.ByIP(ip); !ok || b.Source != location.Leasequery || b.HWAddr.String() != macA.String() {
			t.Errorf("table binding of %v: %+v, %v", ip, b, ok)
		}
	}
}

// TestVerifierFilters: per port, per_port_queries per interval are asked
// about and the rest refused (and reported as spoofs); unknown
// destinations share one rate; a destination the servers place on one of
// our ports becomes a binding.
func TestVerifierFilters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, cfg := enfAgent(t)
		cfg.Enforcement.PerPortQueries, cfg.Enforcement.PerPortInterval, cfg.Enforcement.DownstreamPerSec = 2, 0, 1
		dsl := a.relay.Ports().Port(1).AgentInfo
		down := netip.MustParseAddr("192.168.20.120")
		q := &fakeQuerier{onResult: a.onResult, answers: map[netip.Addr]engine.Result{down: active(down, macA, dsl, time.Hour)}}
		reports := &fakeReports{deliver: make(chan func(nflog.Report), 1)}
		v := a.newVerifier(reports)
		v.query = q
		spoofed := &spoofLog{}
		v.setSpoof(spoofed.hook)
		stop := runTask(t, v)
		defer stop()
		deliver := <-reports.deliver
		for i := range 4 {
			deliver(source(dslIface, netip.AddrFrom4([4]byte{192, 168, 20, byte(200 + i)}).String(), macB))
		}
		deliver(source(cableIface, "192.168.10.200", macB))
		deliver(nflog.Report{Downstream: true, Destination: down})
		deliver(nflog.Report{Downstream: true, Destination: netip.MustParseAddr("192.168.20.121")})
		synctest.Wait()
		st := v.Stats()
		if st.Sources != 5 || st.Destinations != 2 || st.Filtered != 3 || st.Recovered != 1 || st.Unanswered != 3 {
			t.Errorf("stats %+v: want 5 sources, 2 destinations, 3 filtered, 1 recovered, 3 unanswered", st)
		}
		if n := len(q.queried()); n != 4 {
			t.Errorf("%d queries, want 4 (2 on sub1, 1 on sub0, 1 destination): %v", n, q.queried())
		}
		if n := len(spoofed.list()); n != 5 {
			t.Errorf("spoof hook heard %d sources, want 5 (2 filtered, 3 unanswered): %v", n, spoofed.list())
		}
		if b, ok := a.table.ByIP(down); !ok || b.Port != dslPort {
			t.Errorf("destination %v: %+v, %v", down, b, ok)
		}
	})
}
