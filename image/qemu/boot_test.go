package qemu

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/board"
	"github.com/leaseguard/leaseguard/integration/lab"
)

// repoRoot is where the build outputs are, seen from this package.
const repoRoot = "../.."

// Generous bounds for a hang under software emulation on a loaded
// machine; they assert nothing about speed.
const (
	bootTimeout    = 4 * time.Minute
	commandTimeout = 60 * time.Second
)

var readyRE = regexp.MustCompile(`leaseguard: board (\S+) ready: (\d+) modules \[([^\]]*)\] nics \[([^\]]*)\]`)

func qemuProfiles(t testing.TB) []board.Profile {
	t.Helper()
	ps, err := board.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var out []board.Profile
	for _, p := range ps {
		if strings.HasPrefix(p.Name, "qemu-") {
			out = append(out, p)
		}
	}
	return out
}

// guest is a booted line card and its network, for the boot test's steps.
type guest struct {
	t     testing.TB
	p     board.Profile
	agent guestAgent // the image's agent.json
	cfg   Config     // how it boots; a reboot restarts QEMU on the same taps
	vm    *VM
	cli   *CLI // the agent's serial console, on the board's CLI port
	boots int
	card  *Card
	// relayed is what checkRelay set up: dhcpd and a leased client on
	// every subscriber port; macs are the clients' MACs by port.
	relayed relayPlan
	macs    map[string]string
}

// TestBoot boots each QEMU board's image with its NICs on taps in a lab
// namespace, checks what the appliance does before the agent runs, then
// relays DHCP through the agent in the guest (relay_test.go), checks the
// guest's table and nftables state on its serial console CLI and the
// enforcement from the wires (enforce_test.go), reboots the guest and
// checks that the agent recovers every binding by leasequery when its
// clients' traffic flows again (reboot_test.go).
func TestBoot(t *testing.T) {
	for _, p := range qemuProfiles(t) {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			im := NeedImages(t, repoRoot, p)
			g := startGuest(t, p, im.Kernel, im.Image)
			steps := []struct {
				name string
				run  func(*guest)
			}{
				{"ready line", (*guest).checkReady},
				{"leaseguard is the uinit", (*guest).checkUinit},
				{"modules loaded", (*guest).checkModules},
				{"NICs renamed", (*guest).checkNICs},
				{"agent ready", (*guest).checkAgent},
				{"upstream peer reaches the card", (*guest).checkUpstreamPeer},
				{"CLI login, empty table", (*guest).checkCLILogin},
				{"relay DHCP through the guest", (*guest).checkRelay},
				{"CLI shows the gleaned bindings", (*guest).checkGleaned},
				{"leased sources pass, unleased dropped and counted", (*guest).checkEnforcement},
				{"upstream reaches the leased clients through the card", (*guest).checkDownstream},
				{"guest reboot", (*guest).reboot},
				{"ready line after the reboot", (*guest).checkReady},
				{"agent ready after the reboot", (*guest).checkAgent},
				{"CLI login, empty table after the reboot", (*guest).checkCLILogin},
				{"bindings recovered by leasequery on traffic", (*guest).checkRecovery},
				{"leased sources pass, unleased dropped and counted after the reboot", (*guest).checkEnforcement},
			}
			for _, s := range steps {
				s.run(g)
				if t.Failed() {
					t.Fatalf("step %q failed", s.name)
				}
			}
		})
	}
}

// startGuest builds a card's network in a new lab and boots initrd on
// it with the console shell, for tests and benchmarks that run as root.
func startGuest(t testing.TB, p board.Profile, kernel, initrd string) *guest {
	t.Helper()
	lab.SkipUnlessRoot(t)
	a, err := loadGuestAgent(agentConfigPath(repoRoot, p.Name))
	if err != nil {
		t.Fatal(err)
	}
	card := NewCard(lab.New(t), p)
	g := &guest{t: t, p: p, agent: a, card: card, cfg: Config{
		Profile: p, Kernel: kernel, Initrd: initrd,
		Netns: card.NS.Name, Taps: card.Taps,
		Append: []string{"leaseguard.shell=1"},
	}}
	g.boot()
	return g
}

// boot starts QEMU (again, after a reboot) and connects to the CLI port
// at once, so that the console's greeting is not missed. Failures log
// the CLI transcript beside the kernel console's.
func (g *guest) boot() {
	g.boots++
	g.cfg.CLISocket = filepath.Join(g.t.TempDir(), "cli.sock")
	g.vm = Boot(g.t, g.cfg)
	cli, err := OpenCLI(g.vm, commandTimeout)
	if err != nil {
		g.t.Fatalf("CLI port: %v", err)
	}
	g.cli = cli
	boot := g.boots
	g.t.Cleanup(func() {
		cli.Close()
		if g.t.Failed() {
			g.t.Logf("CLI transcript of %s, boot %d:\n%s", g.p.Name, boot, cli.Console.Transcript())
		}
	})
}

// checkReady waits for leaseguard's readiness line and checks it names the
// board, its modules and every port's NIC by MAC.
func (g *guest) checkReady() {
	m, err := g.vm.Console.WaitFor(readyRE, bootTimeout)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Logf("measure: %s boot %d ready %.1f s after QEMU start", g.p.Name, g.boots, m.At.Seconds())
	if m.Groups[1] != g.p.Name {
		g.t.Errorf("ready line names board %s, want %s", m.Groups[1], g.p.Name)
	}
	if got := strings.Fields(m.Groups[3]); !slices.Equal(got, g.p.Modules) {
		g.t.Errorf("ready line modules %v, want %v", got, g.p.Modules)
	}
	for _, port := range g.p.Ports {
		if want := port.Name + "=" + port.NIC.MAC; !strings.Contains(m.Groups[4], want) {
			g.t.Errorf("ready line nics [%s], want %s", m.Groups[4], want)
		}
	}
}

// run waits for the console shell's prompt, types cmd and returns what
// it printed, up to a marker. The marker is typed with an empty "" inside,
// so the terminal's echo of the command line does not match it.
func (g *guest) run(cmd string) string {
	g.t.Helper()
	if _, err := g.vm.Console.WaitFor(promptRE, commandTimeout); err != nil {
		g.t.Fatalf("console shell prompt: %v", err)
	}
	n := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	if err := g.vm.Console.Send(fmt.Sprintf(`%s; echo END""%s`, cmd, n)); err != nil {
		g.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)END""` + n + `\r?\n(.*?)END` + n)
	m, err := g.vm.Console.WaitFor(re, commandTimeout)
	if err != nil {
		g.t.Fatalf("console command %q: %v", cmd, err)
	}
	return strings.ReplaceAll(m.Groups[1], "\r", "")
}

var promptRE = regexp.MustCompile(`(?m)^# `)

// checkUinit: leaseguard runs as u-root's uinit (/bin/uinit is a link to
// /bin/leaseguard), a child of init (pid 1), with the board's init
// arguments.
func (g *guest) checkUinit() {
	// Agent log lines may interleave with command output on the console:
	// pick the answers out by shape.
	out := g.run("pidof uinit")
	m := regexp.MustCompile(`(?m)^(\d+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		g.t.Fatalf("pidof uinit = %q, want one pid", out)
	}
	pid := m[1]
	if exe := g.run("readlink /proc/" + pid + "/exe"); !regexp.MustCompile(`(?m)^/bin/leaseguard\s*$`).MatchString(exe) {
		g.t.Errorf("uinit runs %q, want /bin/leaseguard", exe)
	}
	cmdline := strings.ReplaceAll(g.run("cat /proc/"+pid+"/cmdline"), "\x00", " ")
	if want := "board init --board " + g.p.Name; !strings.Contains(cmdline, want) {
		g.t.Errorf("leaseguard cmdline %q, want it to contain %q", cmdline, want)
	}
	status := g.run("cat /proc/" + pid + "/status")
	if !regexp.MustCompile(`(?m)^PPid:\s+1$`).MatchString(status) {
		g.t.Errorf("leaseguard is not a child of init:\n%s", status)
	}
}

// checkModules: every module of the profile is in the guest's /proc/modules.
func (g *guest) checkModules() {
	loaded := map[string]bool{}
	for _, line := range strings.Split(g.run("cat /proc/modules"), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			loaded[f[0]] = true
		}
	}
	for _, m := range g.p.Modules {
		if !loaded[strings.ReplaceAll(m, "-", "_")] {
			g.t.Errorf("module %s not in the guest's /proc/modules (%d loaded)", m, len(loaded))
		}
	}
}

// checkNICs: each port's interface exists under its name with its MAC.
func (g *guest) checkNICs() {
	for _, port := range g.p.Ports {
		out := g.run("cat /sys/class/net/" + port.Name + "/address")
		if mac := regexp.MustCompile(`(?m)^([0-9a-f:]{17})\s*$`).FindStringSubmatch(out); mac == nil || mac[1] != port.NIC.MAC {
			g.t.Errorf("guest %s: address file says %q, want MAC %s", port.Name, out, port.NIC.MAC)
		}
	}
}

// checkUpstreamPeer: from each upstream port's peer namespace, the guest
// answers a ping on the port's address, across tap and bridge. (On the
// subscriber ports enforcement drops a peer's address until it is leased:
// checkRelay and checkEnforcement cross those wires.)
func (g *guest) checkUpstreamPeer() {
	for _, port := range g.p.PortsWithRole(board.Upstream) {
		for _, a := range port.Addrs {
			peerAddr := a.Addr().Next()
			peer := g.card.Peers[port.Name]
			peer.Addr("eth0", fmt.Sprintf("%s/%d", peerAddr, a.Bits()))
			if out, err := peer.Exec("ping", "-c", "1", "-w", "20", a.Addr().String()); err != nil {
				g.t.Errorf("port %s: ping %s from %s: %v\n%s", port.Name, a.Addr(), peer.Name, err, out)
			}
		}
	}
}

// agentRE matches the agent's readiness log line, or board init's line
// saying the agent stopped (a configuration or start-up error, then idle
// or a restart).
var agentRE = regexp.MustCompile(`msg="agent ready"|leaseguard: board \S+: agent [^\r\n]*`)

// checkAgent: the agent board init started is ready (every task, the
// ports' packet sockets among them), not stopped on an error.
func (g *guest) checkAgent() {
	m, err := g.vm.Console.Seen(agentRE, bootTimeout)
	if err != nil {
		g.t.Fatal(err)
	}
	if m.Groups[0] != `msg="agent ready"` {
		g.t.Fatalf("the agent is not running: %s", m.Groups[0])
	}
}
