package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/agent"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/agentops"
	"github.com/leaseguard/leaseguard/integration/lab"
)

// The heap lab mirrors the QEMU guest of image/qemu's BenchmarkGuestRSS:
// the board's two ports, their /24s and a /18 of 10,000 leases that a
// start-up sweep learns, enforcement with forwarding, a snapshot, the
// operations layer and the API (no console: the host has no serial port).
const (
	heapBindings = 10_000
	heapDirEnv   = "LEASEGUARD_AGENT_HEAP_DIR"
	// heapProfileEnv, when set in the parent's environment, names a
	// directory that receives idle.pprof and swept.pprof (inuse_space):
	//
	//	go tool pprof -top -base DIR/idle.pprof DIR/swept.pprof
	heapProfileEnv = "LEASEGUARD_AGENT_HEAP_PROFILE"
	heapRelayID    = "lab-lc0"
	heapModeEnv    = "LEASEGUARD_AGENT_HEAP_MODE" // idle or swept
)

var heapBulk = netip.MustParsePrefix("10.66.0.0/18")

func heapAgentJSON(dir string, sweep bool) string {
	return fmt.Sprintf(`{
  "relay_id": %q,
  "upstream": { "interface": "up0", "address": "10.65.0.2" },
  "servers": ["10.65.0.1"],
  "subscriber_networks": ["10.64.0.0/24", "10.64.1.0/24", %q],
  "ports": [
    { "name": "lab-lc0/sub0", "interface": "sub0", "kind": "ethernet", "gateway": "10.64.0.1" },
    { "name": "lab-lc0/sub1", "interface": "sub1", "kind": "ethernet", "gateway": "10.64.1.1" }
  ],
  "leasequery": { "sweep_on_start": %t },
  "enforcement": { "enabled": true, "forwarding": true },
  "snapshot": { "path": %q },
  "api": { "socket": %q },
  "log": { "level": "info" }
}`, heapRelayID, heapBulk, sweep, filepath.Join(dir, "bindings.snap"), filepath.Join(dir, "api.sock"))
}

const heapDHCPD = `ddns-update-style none;
default-lease-time 600;
max-lease-time 600;
ping-check false;
allow leasequery;
subnet 10.65.0.0 netmask 255.255.255.0 {}
subnet 10.64.0.0 netmask 255.255.255.0 { range 10.64.0.10 10.64.0.10; option routers 10.64.0.1; }
subnet 10.64.1.0 netmask 255.255.255.0 { range 10.64.1.10 10.64.1.10; option routers 10.64.1.1; }
subnet 10.66.0.0 netmask 255.255.192.0 { range 10.66.0.1 10.66.63.254; }
`

// heapLeases are heapBindings active leases from the /18's first host,
// alternately behind each port, with the option 82 the card inserts.
func heapLeases(now time.Time) string {
	var s strings.Builder
	ip := heapBulk.Addr()
	for i := range heapBindings {
		ip = ip.Next()
		fmt.Fprintf(&s, "lease %v {\n  starts epoch %d;\n  ends epoch %d;\n  cltt epoch %d;\n", ip,
			now.Add(-time.Hour).Unix(), now.Add(2*time.Hour).Unix(), now.Add(-time.Minute).Unix())
		fmt.Fprintf(&s, "  binding state active;\n  next binding state free;\n  hardware ethernet 02:00:00:%02x:%02x:%02x;\n",
			i>>16, i>>8&0xff, i&0xff)
		fmt.Fprintf(&s, "  option agent.circuit-id \"lab-lc0/sub%d\";\n  option agent.unknown-12 %q;\n}\n", i%2, heapRelayID)
	}
	return s.String()
}

// BenchmarkAgentHeap measures the agent's memory holding 10,000 bindings
// learnt by its start-up sweep, as in the QEMU guest: the whole agent with
// the operations layer and the API, in a process of its own inside a card
// namespace (the nftables applier and /proc/sys must see the card), real
// ISC dhcpd answering. One process runs idle (no sweep); another sweeps at
// start and is measured once the sweep task has ended and the enforcer
// has programmed every binding. It reports, per binding, the growth of
// the live heap (HeapAlloc after a GC) and of HeapInuse from the idle
// agent to the swept one; in kB, VmRSS idle and swept, swept after a
// further debug.FreeOSMemory (what the runtime could still return), the
// live heap and the heap the runtime holds (HeapSys - HeapReleased);
// and the agent's own release after the sweep (ms-release).
//
//	go test -run '^$' -bench AgentHeap -benchtime 1x ./cmd/internal/agent/
func BenchmarkAgentHeap(b *testing.B) {
	if dir := os.Getenv(heapDirEnv); dir != "" {
		heapChild(b, dir, os.Getenv(heapModeEnv))
		return
	}
	lab.Need(b, "nft", "ip", "dhcpd")
	l := lab.New(b)
	card, srv, far := l.NS("card"), l.NS("srv"), l.NS("far")
	l.Veth(card, "up0", srv, "eth0")
	l.Veth(card, "sub0", far, "c0")
	l.Veth(card, "sub1", far, "c1")
	card.Addr("up0", "10.65.0.2/24")
	card.Addr("sub0", "10.64.0.1/24")
	card.Addr("sub1", "10.64.1.1/24")
	srv.Addr("eth0", "10.65.0.1/24")
	srv.StartDHCPD("dhcpd", heapDHCPD, heapLeases(time.Now()), "eth0")
	sums := map[string]float64{}
	for b.Loop() {
		wipeCard(b, card)
		idle := runHeapChild(b, card, l.Dir(), "idle")
		wipeCard(b, card)
		swept := runHeapChild(b, card, l.Dir(), "swept")
		n := float64(heapBindings)
		for k, v := range map[string]float64{
			"live-B/binding":    (swept["live"] - idle["live"]) / n,
			"inuse-B/binding":   (swept["inuse"] - idle["inuse"]) / n,
			"kB-RSS-idle":       idle["rss"],
			"kB-RSS-swept":      swept["rss"],
			"kB-RSS-freed":      swept["rss-freed"],
			"kB-live-idle":      idle["live"] / 1024,
			"kB-live-swept":     swept["live"] / 1024,
			"kB-heapheld-swept": swept["held"] / 1024,
			"ms-release":        swept["release-ms"],
		} {
			sums[k] += v
		}
	}
	for k, v := range sums {
		b.ReportMetric(v/float64(b.N), k)
	}
}

// wipeCard removes what an earlier run programmed, as a reboot would:
// every run starts from an empty kernel, nothing carried over.
func wipeCard(b *testing.B, card *lab.NS) {
	card.Exec("nft", "delete", "table", "netdev", "leaseguard")
	card.Exec("nft", "delete", "table", "ip", "leaseguard")
	card.MustIP("route", "flush", "proto", "108")
	for _, p := range []string{"sub0", "sub1"} {
		card.MustIP("neigh", "flush", "dev", p, "nud", "all")
	}
}

var heapMetricRE = regexp.MustCompile(`(?m)^heap-metric (\S+) (\S+)$`)

// runHeapChild runs this benchmark again in card, where heapChild
// measures an agent in mode (idle or swept), and returns what it printed.
func runHeapChild(b *testing.B, card *lab.NS, dir, mode string) map[string]float64 {
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", card.Name, os.Args[0],
		"-test.run=^$", "-test.bench=^"+regexp.QuoteMeta(b.Name())+"$", "-test.benchtime=1x", "-test.count=1")
	cmd.Env = append(os.Environ(), heapDirEnv+"="+dir, heapModeEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	ms := heapMetricRE.FindAllStringSubmatch(string(out), -1)
	if err != nil || len(ms) == 0 {
		b.Fatalf("%s agent in namespace %s: %v\n%s", mode, card.Name, err, out)
	}
	got := map[string]float64{}
	for _, m := range ms {
		got[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	return got
}

// releaseRE is the agent's log line once it returned the sweep's memory.
var releaseRE = regexp.MustCompile(`msg="memory returned to the system after the start-up sweep"[^\n]*? took=(\S+)`)

// heapChild runs the agent in this process (inside the card): idle, it
// is measured once ready; swept, once its start-up sweep has ended (the
// agent logged its memory release) and every binding is programmed. It
// prints the metrics for the parent.
func heapChild(b *testing.B, dir, mode string) {
	if os.Getenv(heapProfileEnv) != "" {
		// Every allocation, for exact bytes by site; the profiler's own
		// tables then inflate the RSS figures of this run.
		runtime.MemProfileRate = 1
	}
	js := heapAgentJSON(dir, mode == "swept")
	path := filepath.Join(dir, "agent.json")
	os.Remove(filepath.Join(dir, "bindings.snap"))
	if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse([]byte(js))
	if err != nil {
		b.Fatal(err)
	}
	logs := &logWatch{re: releaseRE, seen: make(chan []string, 1)}
	a := startHeapAgent(b, cfg, path, ops.NewLogs(logs, cfg.Log))
	if mode == "swept" {
		var m []string
		select {
		case m = <-logs.seen:
		case <-time.After(3 * time.Minute):
			b.Fatal("no memory release logged 3 minutes after the start-up sweep began")
		}
		took, err := time.ParseDuration(m[1])
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("heap-metric release-ms %g\n", took.Seconds()*1000)
		waitProgrammed(b, a, heapBindings)
	}
	s := measure(b, mode)
	debug.FreeOSMemory()
	for name, v := range map[string]float64{"live": float64(s.HeapAlloc), "inuse": float64(s.HeapInuse),
		"held": float64(s.HeapSys - s.HeapReleased), "rss": s.rss, "rss-freed": vmRSS(b)} {
		fmt.Printf("heap-metric %s %g\n", name, v)
	}
}

// startHeapAgent opens and wires the agent as `leaseguard agent` does and
// runs it until the benchmark ends; it returns once the agent is ready.
func startHeapAgent(b *testing.B, cfg *config.Config, path string, logs *ops.Logs) *agent.Agent {
	a, err := agent.New(cfg, agent.Options{Logs: logs})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Open(); err != nil {
		b.Fatal(err)
	}
	o, err := agentops.Wire(a, cfg, agentops.Options{Logs: logs, ConfigPath: path})
	if err != nil {
		b.Fatal(err)
	}
	a.OnLeasequery(o.ObserveLeasequery)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case <-a.Ready():
	case err := <-done:
		b.Fatalf("agent: %v", err)
	}
	return a
}

// logWatch is the agent's log output: it sends the submatches of the
// first line matching re to seen, and discards the rest.
type logWatch struct {
	re   *regexp.Regexp
	seen chan []string
}

func (w *logWatch) Write(p []byte) (int, error) {
	if m := w.re.FindSubmatch(p); m != nil {
		out := make([]string, len(m))
		for i := range m {
			out[i] = string(m[i])
		}
		select {
		case w.seen <- out:
		default:
		}
	}
	return len(p), nil
}

type heapState struct {
	runtime.MemStats
	rss float64 // kB
}

// measure reads the process's memory as it stands (RSS first: the GC
// does not shrink it), then the live heap after a collection, and
// writes the inuse profile when heapProfileEnv asks for it.
func measure(b *testing.B, name string) heapState {
	var s heapState
	s.rss = vmRSS(b)
	runtime.GC()
	runtime.ReadMemStats(&s.MemStats)
	if dir := os.Getenv(heapProfileEnv); dir != "" {
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// waitProgrammed waits until the enforcer has programmed n addresses (its
// bursts follow the table's events). Nothing signals that from outside
// the package: the counters are polled.
func waitProgrammed(b *testing.B, a *agent.Agent, n int) {
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		st := a.Stats()
		if st.Table.Bindings == n && st.Enforcement.Enforce.Programmed == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d bindings, %d programmed after 2 minutes, want %d", st.Table.Bindings, st.Enforcement.Enforce.Programmed, n)
		}
	}
}

// vmRSS is the process's resident set in kB.
func vmRSS(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("/proc/self/status: no VmRSS")
	return 0
}
