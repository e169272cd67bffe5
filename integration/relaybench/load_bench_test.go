// Package relaybench measures leaseguard's relay against ISC dhcrelay in
// one topology and one run: offered load stepped up to saturation,
// delivered share, relay CPU per relayed packet and latency through the
// relay.
//
//	go test -run '^$' -bench RelayLoad -benchtime 1x ./integration/relaybench
//
// LEASEGUARD_RELAYBENCH_RATES (e.g. "10000 40000") and
// LEASEGUARD_RELAYBENCH_SECONDS (default 3) change the steps.
//
// One run on this 2-core VM (2026-11-28), 3 s steps, load average
// 1.2-1.7 (mostly the run itself: two generators, the sink and the relay
// share the cores):
//
//	offered   delivered %        relay CPU µs/pkt      p50 µs        p99 µs
//	pps       dhcrelay  lg       dhcrelay  lg  ratio   dhcrelay lg   dhcrelay lg
//	 10000    100       100      21.3  13.0  0.61      207   161      640   522
//	 20000    100       100      19.3   9.7  0.50      257   212     1514  1133
//	 40000     99.2     100      17.4   6.6  0.38      705   260    15041  1467
//	 60000     83.9     100      16.0   5.2  0.32     6217   301    13756  2401
//	 80000     72.6     100      13.1   4.3  0.33     5866   344    11800  2843
//	100000     62.8     100      13.1   4.1  0.31     4810   483    17410  6044
//	120000     60.0     100      13.1   3.7  0.28     4277   623    10442  5449
//
// Saturated (LEASEGUARD_RELAYBENCH_RATES="160000 200000", the generators
// then compete for the cores too): dhcrelay delivers 66-72k pps,
// leaseguard 126-158k (about 2.2x). The platform's recvmmsg/sendmmsg are
// raw system calls (RawSyscall6), which keeps the Go scheduler's sysmon
// from retaking the P around every batch: that cut leaseguard's CPU per
// packet about 40% at 10-20k pps.
package relaybench

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
	"github.com/leaseguard/leaseguard/platform"
)

func TestMain(m *testing.M) {
	code := m.Run()
	topo.RemoveBinary()
	os.Exit(code)
}

var defaultRates = []int{10000, 20000, 40000, 60000, 80000, 100000, 120000}

// BenchmarkRelayLoad runs, in the example configuration's topology (a
// cable and a DSL port, one generator behind each, offering half the load
// each), at every offered load ISC dhcrelay (daemonized: `dhcrelay -4 -a
// -id sub0 -id sub1 -iu up0 SERVER`) and then `leaseguard agent`. The sink is a UDP socket on the server's :67 in the server
// namespace. Per step it reports:
//
//	delivered-%        relayed DHCPDISCOVERs that reached the sink
//	delivered-pps      their rate
//	relay-cpu-µs/pkt   the relay process's utime+stime (/proc/PID/stat) per relayed packet
//	p50-µs, p99-µs     generator-to-sink latency of the relayed packets
//	loadavg            the machine's 1-minute load average after the step
func BenchmarkRelayLoad(b *testing.B) {
	lab.Need(b, "dhcrelay")
	c := topo.Build(b, nil, topo.Options{})
	sink := startSink(b, c)
	relays := []struct {
		name  string
		start func() (pid int, stop func())
	}{
		{"dhcrelay", func() (int, func()) { return startDhcrelay(b, c) }},
		{"leaseguard", func() (int, func()) { return startLeaseguard(b, c) }},
	}
	// Each offered load runs both relays back to back, so that a change in
	// the machine's other load biases neither.
	step := uint32(0)
	for _, rate := range rates() {
		for _, r := range relays {
			pid, stop := r.start()
			step++
			b.Run(fmt.Sprintf("offered=%d/%s", rate, r.name), func(b *testing.B) {
				runStep(b, c, sink, pid, rate, step)
			})
			stop()
		}
	}
	out, _ := os.ReadFile("/proc/loadavg")
	b.Logf("load average during the run: %s", strings.TrimSpace(string(out)))
}

func rates() []int {
	f := strings.Fields(os.Getenv("LEASEGUARD_RELAYBENCH_RATES"))
	if len(f) == 0 {
		return defaultRates
	}
	var out []int
	for _, s := range f {
		var r int
		fmt.Sscan(s, &r)
		out = append(out, r)
	}
	return out
}

func stepDuration() time.Duration {
	var s int
	fmt.Sscan(os.Getenv("LEASEGUARD_RELAYBENCH_SECONDS"), &s)
	if s <= 0 {
		s = 3
	}
	return time.Duration(s) * time.Second
}

// runStep offers rate packets per second for the step's duration, split
// over the ports' generators, and reports what the sink saw.
func runStep(b *testing.B, c *topo.Concentrator, s *sink, pid, rate int, step uint32) {
	clients := c.Clients()
	perGen := rate / len(clients)
	count := int(float64(perGen) * stepDuration().Seconds())
	s.reset(step)
	cpu0 := procCPU(b, pid)
	b.ResetTimer()
	var wg sync.WaitGroup
	sent := make([]int, len(clients))
	for i, cl := range clients {
		wg.Go(func() { sent[i] = runGenerator(b, cl, perGen, count, step) })
	}
	wg.Wait()
	s.drain()
	b.StopTimer()
	cpu := procCPU(b, pid) - cpu0
	got, lat := s.result()
	offered := 0
	for _, n := range sent {
		offered += n
	}
	if got == 0 {
		b.Fatalf("nothing relayed of %d offered", offered)
	}
	b.ReportMetric(100*float64(got)/float64(offered), "delivered-%")
	b.ReportMetric(float64(got)/stepDuration().Seconds(), "delivered-pps")
	b.ReportMetric(float64(cpu.Microseconds())/float64(got), "relay-cpu-µs/pkt")
	b.ReportMetric(percentile(lat, 50), "p50-µs")
	b.ReportMetric(percentile(lat, 99), "p99-µs")
	b.ReportMetric(loadAverage(), "loadavg")
}

// loadAverage is the machine's 1-minute load average: the benchmark shares
// two cores with other work, and says how much there was.
func loadAverage() float64 {
	var l float64
	out, _ := os.ReadFile("/proc/loadavg")
	fmt.Sscan(string(out), &l)
	return l
}

// runGenerator runs the generator helper in the client's namespace and
// returns how many frames it sent.
func runGenerator(b *testing.B, cl *topo.Client, rate, count int, step uint32) int {
	exe, err := os.Executable()
	if err != nil {
		b.Error(err)
		return 0
	}
	cmd := cl.NS.Command(exe, "-test.run=^TestHelperGenerate$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %d", genEnv, cl.Iface, rate, count, step))
	out, err := cmd.CombinedOutput()
	var sent int
	if _, serr := fmt.Sscanf(string(out), "sent %d", &sent); err != nil || serr != nil {
		b.Errorf("generator: %v %v: %s", err, serr, out)
	}
	return sent
}

func percentile(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return float64(lat[min(len(lat)-1, len(lat)*p/100)].Nanoseconds()) / 1e3
}

// procCPU is the utime+stime of a process.
func procCPU(b *testing.B, pid int) time.Duration {
	user, sys, err := lab.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return user + sys
}

// sink counts the relayed DHCPDISCOVERs of the current step and their
// latency from the generator's stamp.
type sink struct {
	mu      sync.Mutex
	step    uint32
	lat     []time.Duration
	last    time.Time
	arrived chan struct{}
}

func startSink(b *testing.B, c *topo.Concentrator) *sink {
	s := &sink{arrived: make(chan struct{}, 1)}
	var u *platform.Upstream
	err := c.Server.Do(func() (err error) {
		u, err = platform.ListenUpstream(platform.UpstreamConfig{Addr: c.Layout.Servers[0], Batch: 64, ReadBuffer: 8 << 20})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	u.Handle(platform.UpstreamRequest, s.handle)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done; u.Close() })
	return s
}

func (s *sink) handle(m []byte, _ netip.AddrPort) {
	now := monoNow()
	if len(m) < offSName+16 {
		return
	}
	sent := int64(binary.BigEndian.Uint64(m[offSName:]))
	step := binary.BigEndian.Uint32(m[offSName+8:])
	s.mu.Lock()
	if step == s.step {
		s.lat = append(s.lat, time.Duration(now-sent))
		s.last = time.Now()
	}
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

func (s *sink) reset(step uint32) {
	s.mu.Lock()
	s.step, s.lat, s.last = step, s.lat[:0], time.Now()
	s.mu.Unlock()
}

// drain waits until nothing of the step has arrived for 300 ms: the
// relay's queue has emptied (or what is left was dropped).
func (s *sink) drain() {
	const quiet = 300 * time.Millisecond
	for {
		s.mu.Lock()
		idle := time.Since(s.last)
		s.mu.Unlock()
		if idle >= quiet {
			return
		}
		select {
		case <-s.arrived:
		case <-time.After(quiet - idle):
		}
	}
}

func (s *sink) result() (int, []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lat), slices.Clone(s.lat)
}

// startDhcrelay runs ISC dhcrelay daemonized in the card namespace.
func startDhcrelay(b *testing.B, c *topo.Concentrator) (int, func()) {
	pidFile := c.Lab.Dir() + "/dhcrelay.pid"
	args := []string{"-4", "-a", "-pf", pidFile}
	for _, p := range c.Ports {
		args = append(args, "-id", p.Layout.Interface)
	}
	args = append(args, "-iu", c.Layout.Upstream.Interface, c.Layout.Servers[0].String())
	if out, err := c.Card.Exec("dhcrelay", args...); err != nil {
		b.Fatalf("dhcrelay: %v\n%s", err, out)
	}
	var pid int
	data, err := os.ReadFile(pidFile)
	if _, serr := fmt.Sscan(string(data), &pid); err != nil || serr != nil {
		b.Fatalf("dhcrelay pid file: %v %v", err, serr)
	}
	return pid, func() { kill(pid) }
}

// startLeaseguard runs `leaseguard agent` on the example configuration.
func startLeaseguard(b *testing.B, c *topo.Concentrator) (int, func()) {
	a := c.StartAgent(topo.Binary(b), c.LabConfig(nil))
	return a.Pid(), a.Stop
}

// kill stops a daemon that is not our child and waits until it is gone.
func kill(pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	for range 300 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}
