package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/platform"
)

// The real peer: Debian's ISC dhcpd in a namespace, a veth away from the
// card's namespace, with activeLeases leases in a /18 (the rest of its
// range is free: UNASSIGNED).
const (
	peerGiaddr   = "10.20.0.2"
	peerServer   = "10.20.0.1"
	peerSubnet   = "10.30.0.0/18"
	activeLeases = 10000
)

type peer struct {
	dhcpd  *lab.DHCPD
	up     *platform.Upstream
	tr     *platform.LeasequeryTransport
	server netip.Addr

	mu     sync.Mutex
	runner *engine.Runner // of the sweep under way
	blast  *blaster       // of the ceiling measurement under way
}

// HandleReply passes the upstream's leasequery answers to the current
// Runner or blaster: the socket takes one handler for its lifetime.
func (p *peer) HandleReply(from netip.Addr, r lq.Reply) {
	p.mu.Lock()
	run, bl := p.runner, p.blast
	p.mu.Unlock()
	if run != nil {
		run.HandleReply(from, r)
	}
	if bl != nil {
		bl.answer(r.XID)
	}
}

func startPeer(t testing.TB) *peer {
	t.Helper()
	l := lab.New(t)
	lab.Need(t, "dhcpd")
	card, srv := l.NS("card"), l.NS("srv")
	l.Veth(card, "up0", srv, "eth0")
	card.Addr("up0", peerGiaddr+"/24")
	srv.Addr("eth0", peerServer+"/24")
	conf := `allow leasequery;
default-lease-time 3600;
max-lease-time 7200;
subnet 10.20.0.0 netmask 255.255.255.0 { }
subnet 10.30.0.0 netmask 255.255.192.0 { range 10.30.0.1 10.30.63.254; }
`
	p := &peer{dhcpd: srv.StartDHCPD("dhcpd", conf, leases(time.Now()), "eth0"), server: netip.MustParseAddr(peerServer)}
	err := card.Do(func() (err error) {
		p.up, err = platform.ListenUpstream(platform.UpstreamConfig{Addr: netip.MustParseAddr(peerGiaddr), Device: "up0"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.tr = platform.NewLeasequeryTransport(p.up, nil)
	if err := p.tr.Attach(p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.up.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("upstream: %v", err)
		}
		p.up.Close()
	})
	return p
}

// leases renders activeLeases active leases, with option 82, from 10.30.0.1.
func leases(now time.Time) string {
	var b strings.Builder
	for i := range activeLeases {
		ip := netip.AddrFrom4([4]byte{10, 30, byte((i + 1) >> 8), byte(i + 1)})
		fmt.Fprintf(&b, "lease %v {\n  starts epoch %d;\n  ends epoch %d;\n  cltt epoch %d;\n", ip, now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix(), now.Add(-time.Minute).Unix())
		fmt.Fprintf(&b, "  binding state active;\n  next binding state free;\n  hardware ethernet 02:00:00:%02x:%02x:%02x;\n", i>>16, i>>8&0xff, i&0xff)
		fmt.Fprintf(&b, "  option agent.circuit-id \"cable1/0/%d\";\n  option agent.remote-id 00:10:95:%02x:%02x:%02x;\n}\n", i%16, i>>16, i>>8&0xff, i&0xff)
	}
	return b.String()
}

type sweepRun struct {
	progress      engine.SweepProgress
	took          time.Duration
	stats         engine.RunnerStats
	dhcpdCPU      time.Duration
	clientCPU     time.Duration
	maxWindowSeen float64
}

// sweep runs a fresh engine with window cap maxWindow over the /18.
func (p *peer) sweep(t testing.TB, maxWindow int) sweepRun {
	t.Helper()
	e, err := engine.New(engine.Config{
		Servers:            []netip.Addr{p.server},
		SubscriberPrefixes: []netip.Prefix{netip.MustParsePrefix(peerSubnet)},
		MaxWindow:          maxWindow, InitialWindow: min(32, maxWindow),
	}, rand.New(rand.NewPCG(1, 2)).Float64)
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.NewRunner(e, engine.RunnerConfig{Transport: p.tr})
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.runner = r
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	}()
	<-r.Ready()

	var run sweepRun
	dhcpd0, client0 := procCPU(t, p.dhcpd.Pid()), selfCPU()
	start := time.Now()
	run.progress, err = r.Sweep(ctx, netip.MustParsePrefix(peerSubnet), nil, func(engine.SweepProgress) {
		run.maxWindowSeen = max(run.maxWindowSeen, r.Stats().Servers[0].Window)
	})
	if err != nil {
		t.Fatal(err)
	}
	run.took = time.Since(start)
	run.dhcpdCPU, run.clientCPU = procCPU(t, p.dhcpd.Pid())-dhcpd0, selfCPU()-client0
	run.stats = r.Stats()
	return run
}

// TestSweepRealDHCPD sweeps a /18 (10,000 active leases, 6,382 free
// addresses) of a real dhcpd with the window allowed up to the RFC's 200:
// every address must be answered.
func TestSweepRealDHCPD(t *testing.T) {
	if testing.Short() {
		t.Skip("sweeps a real dhcpd")
	}
	p := startPeer(t)
	run := p.sweep(t, engine.RFCMaxWindow)
	got := run.progress
	t.Logf("%d addresses in %v (%.0f/s): %+v; retransmitted %d, loss events %d, window max %.0f end %.0f; dhcpd %v CPU, client %v CPU",
		got.Total, run.took.Round(time.Millisecond), float64(got.Done)/run.took.Seconds(), got,
		run.stats.Retransmitted, run.stats.LossEvents, run.maxWindowSeen, run.stats.Servers[0].Window, run.dhcpdCPU, run.clientCPU)
	want := engine.SweepProgress{Total: 16382, Submitted: 16382, Done: 16382, Active: activeLeases, Unassigned: 16382 - activeLeases}
	if got != want {
		t.Errorf("sweep %+v, want %+v", got, want)
	}
}

// BenchmarkSweepRealDHCPD sweeps the /18 once per iteration at several
// window caps, reporting answers/s, retransmitted share, and CPU per answer
// of dhcpd beside that of this whole client (engine, codec, socket).
func BenchmarkSweepRealDHCPD(b *testing.B) {
	p := startPeer(b)
	for _, w := range []int{32, 50, 64, 100, 200} {
		b.Run("cap"+strconv.Itoa(w), func(b *testing.B) {
			var answers, retrans int
			var took, dcpu, ccpu time.Duration
			for range b.N {
				run := p.sweep(b, w)
				if run.progress.Failed != 0 {
					b.Fatalf("%d unanswered", run.progress.Failed)
				}
				answers += run.progress.Done
				retrans += int(run.stats.Retransmitted)
				took += run.took
				dcpu += run.dhcpdCPU
				ccpu += run.clientCPU
			}
			b.ReportMetric(float64(answers)/took.Seconds(), "answers/s")
			b.ReportMetric(100*float64(retrans)/float64(answers), "%retransmitted")
			b.ReportMetric(float64(dcpu.Microseconds())/float64(answers), "dhcpd-µs/answer")
			b.ReportMetric(float64(ccpu.Microseconds())/float64(answers), "client-µs/answer")
		})
	}
}

// procCPU is the user+system CPU time of process pid.
func procCPU(t testing.TB, pid int) time.Duration {
	user, sys, err := lab.ProcessCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	return user + sys
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
