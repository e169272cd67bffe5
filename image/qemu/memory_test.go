package qemu

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/board"
	"github.com/leaseguard/leaseguard/image"
)

// bulkBindings is how many leases dhcpd holds for the loaded measurement.
const bulkBindings = 10000

// bulkPrefix is the subscriber network of those leases: a /18, 16,382
// host addresses, so the sweep also asks about 6,382 free ones.
var bulkPrefix = netip.MustParsePrefix("10.66.0.0/18")

// sweepTimeout bounds the start-up sweep of the bulk prefix under TCG.
const sweepTimeout = 15 * time.Minute

// BenchmarkGuestRSS measures the memory of leaseguard (board init with
// the agent in the same process) in each QEMU board's guest, side by side
// in one run: idle (the board's image as built, agent ready, no binding)
// and holding bulkBindings bindings (the image with the board's agent
// configuration plus bulkPrefix as a subscriber network and a start-up
// sweep, learning dhcpd's leases by leasequery; each one is programmed
// into nftables with its route and neighbour). It reports VmRSS and VmHWM
// from /proc/PID/status, read on the console shell, and the sweep's
// seconds.
//
//	go test -run '^$' -bench GuestRSS -benchtime 1x -timeout 60m ./image/qemu/
func BenchmarkGuestRSS(b *testing.B) {
	for _, p := range qemuProfiles(b) {
		// Per board, so that one board's missing image skips that board only.
		b.Run(p.Name, func(b *testing.B) { benchmarkGuestRSS(b, p, NeedImages(b, repoRoot, p)) })
	}
}

func benchmarkGuestRSS(b *testing.B, p board.Profile, im Images) {
	b.Run("idle", func(b *testing.B) {
		var rss, hwm float64
		for b.Loop() {
			g := startGuest(b, p, im.Kernel, im.Image)
			g.checkReady()
			g.checkAgent()
			if err := g.cli.Login(g.agent.RelayID+"> ", bootTimeout); err != nil {
				b.Fatal(err)
			}
			r, h := g.agentMemory()
			rss, hwm = rss+r, hwm+h
			g.vm.Stop()
		}
		n := float64(b.N)
		b.ReportMetric(rss/n, "kB-RSS")
		b.ReportMetric(hwm/n, "kB-HWM")
	})
	b.Run(fmt.Sprintf("%d-bindings", bulkBindings), func(b *testing.B) {
		var rss, hwm, sweep float64
		for b.Loop() {
			r, h, s := measureBulk(b, p, im)
			rss, hwm, sweep = rss+r, hwm+h, sweep+s
		}
		n := float64(b.N)
		b.ReportMetric(rss/n, "kB-RSS")
		b.ReportMetric(hwm/n, "kB-HWM")
		b.ReportMetric(sweep/n, "s-sweep")
	})
}

// sweepDoneRE is the agent's log line for the bulk prefix's sweep: the
// last one, since the agent sweeps its subscriber networks in order.
var sweepDoneRE = regexp.MustCompile(`msg="leasequery sweep done" [^\r\n]*?prefix=` + regexp.QuoteMeta(bulkPrefix.String()) +
	` active=(\d+) unassigned=(\d+) unknown=(\d+) failed=(\d+)`)

// measureBulk boots p with the bulk configuration against a dhcpd
// holding bulkBindings leases for p's ports and returns the agent's
// VmRSS and VmHWM in kB once every lease is in its table and nftables,
// and the seconds from the agent's readiness to the sweep's end.
func measureBulk(b *testing.B, p board.Profile, im Images) (rss, hwm, sweep float64) {
	a, err := os.ReadFile(agentConfigPath(repoRoot, p.Name))
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := bulkAgentConfig(a)
	if err != nil {
		b.Fatal(err)
	}
	initrd := filepath.Join(b.TempDir(), "initramfs.cpio")
	if err := image.WithFiles(initrd, im.Image, map[string][]byte{"etc/leaseguard/agent.json": cfg}); err != nil {
		b.Fatal(err)
	}
	g := startGuest(b, p, im.Kernel, initrd)
	pl, err := planRelay(p, g.agent)
	if err != nil {
		b.Fatal(err)
	}
	// dhcpd first: the sweep starts as soon as the agent is ready.
	extra := fmt.Sprintf("subnet %v netmask %s { range %v %v; }\n", bulkPrefix.Addr(), mask(bulkPrefix),
		bulkPrefix.Addr().Next(), lastHost(bulkPrefix))
	g.startDHCPD(pl, extra, bulkLeases(time.Now(), pl))
	g.checkReady()
	ready, err := g.vm.Console.Seen(agentRE, bootTimeout)
	if err != nil || ready.Groups[0] != `msg="agent ready"` {
		b.Fatalf("agent not ready: %v %v", ready.Groups, err)
	}
	done, err := g.vm.Console.Seen(sweepDoneRE, sweepTimeout)
	if err != nil {
		b.Fatal(err)
	}
	if done.Groups[1] != strconv.Itoa(bulkBindings) || done.Groups[4] != "0" {
		b.Fatalf("sweep of %v: %s, want active=%d failed=0", bulkPrefix, done.Groups[0], bulkBindings)
	}
	if err := g.cli.Login(g.agent.RelayID+"> ", bootTimeout); err != nil {
		b.Fatal(err)
	}
	n, err := parseCountersBindings(g.cliRun("show counters"))
	if err != nil || n != bulkBindings {
		b.Fatalf("show counters: %d bindings (%v), want %d", n, err, bulkBindings)
	}
	g.waitAllowed(bulkBindings, sweepTimeout)
	rss, hwm = g.agentMemory()
	g.vm.Stop()
	return rss, hwm, (done.At - ready.At).Seconds()
}

// waitAllowed asks `show nft` until the allowed set holds n elements:
// the enforcer programs the sweep's bindings in bursts after the table
// has them. Each round trip on the serial console paces the next.
func (g *guest) waitAllowed(n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		nft := g.showNft()
		if nft.Allowed == n {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("show nft: %d allowed after %v, want %d", nft.Allowed, timeout, n)
		}
	}
}

var vmRE = regexp.MustCompile(`(?m)^(VmRSS|VmHWM):\s+(\d+) kB`)

// agentMemory reads VmRSS and VmHWM (kB) of leaseguard, u-root's uinit
// (board init runs the agent in its own process).
func (g *guest) agentMemory() (rss, hwm float64) {
	m := regexp.MustCompile(`(?m)^(\d+)\s*$`).FindStringSubmatch(g.run("pidof uinit"))
	if m == nil {
		g.t.Fatal("pidof uinit: no pid")
	}
	got := map[string]float64{}
	for _, f := range vmRE.FindAllStringSubmatch(g.run("cat /proc/"+m[1]+"/status"), -1) {
		got[f[1]], _ = strconv.ParseFloat(f[2], 64)
	}
	if got["VmRSS"] == 0 || got["VmHWM"] == 0 {
		g.t.Fatalf("/proc/%s/status has no VmRSS and VmHWM", m[1])
	}
	return got["VmRSS"], got["VmHWM"]
}

// bulkAgentConfig is the board's agent configuration with bulkPrefix
// as a subscriber network and a start-up sweep; other fields are kept
// as they are (the agent parses the file strictly).
func bulkAgentConfig(board []byte) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(board, &cfg); err != nil {
		return nil, err
	}
	nets, _ := cfg["subscriber_networks"].([]any)
	cfg["subscriber_networks"] = append(nets, bulkPrefix.String())
	lq, _ := cfg["leasequery"].(map[string]any)
	if lq == nil {
		lq = map[string]any{}
	}
	lq["sweep_on_start"] = true
	cfg["leasequery"] = lq
	return json.MarshalIndent(cfg, "", "  ")
}

// bulkLeases renders bulkBindings active leases from bulkPrefix's first
// host address, alternately behind each of the plan's ports, with the
// option 82 the guest's relay inserts (circuit-id and relay-id).
func bulkLeases(now time.Time, pl relayPlan) string {
	var s strings.Builder
	ip := bulkPrefix.Addr()
	for i := range bulkBindings {
		ip = ip.Next()
		c := pl.Clients[i%len(pl.Clients)]
		fmt.Fprintf(&s, "lease %v {\n  starts epoch %d;\n  ends epoch %d;\n  cltt epoch %d;\n", ip,
			now.Add(-time.Hour).Unix(), now.Add(2*time.Hour).Unix(), now.Add(-time.Minute).Unix())
		fmt.Fprintf(&s, "  binding state active;\n  next binding state free;\n  hardware ethernet 02:00:00:%02x:%02x:%02x;\n",
			i>>16, i>>8&0xff, i&0xff)
		fmt.Fprintf(&s, "  option agent.circuit-id %q;\n  option agent.unknown-12 %q;\n}\n", c.CircuitID, pl.RelayID)
	}
	return s.String()
}

// lastHost is the highest host address of p (below its broadcast).
func lastHost(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= 1<<(32-p.Bits()) - 1
	n--
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func TestLastHost(t *testing.T) {
	for p, want := range map[string]string{"10.66.0.0/18": "10.66.63.254", "10.64.1.0/24": "10.64.1.254", "10.0.0.0/8": "10.255.255.254"} {
		if got := lastHost(netip.MustParsePrefix(p)); got.String() != want {
			t.Errorf("lastHost(%s) = %v, want %s", p, got, want)
		}
	}
}

// TestBulkAgentConfig: the bulk configuration is the board's with the
// bulk prefix and the sweep added, every other field kept.
func TestBulkAgentConfig(t *testing.T) {
	got, err := bulkAgentConfig([]byte(`{"relay_id": "r", "subscriber_networks": ["10.64.0.0/24"], "leasequery": {"retries": 3}}`))
	if err != nil {
		t.Fatal(err)
	}
	var cfg any
	if err := json.Unmarshal(got, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"relay_id": "r", "subscriber_networks": []any{"10.64.0.0/24", bulkPrefix.String()},
		"leasequery": map[string]any{"retries": 3.0, "sweep_on_start": true}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("bulk config (-want +got):\n%s", diff)
	}
}
