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
	t    *testing.T
	p    board.Profile
	vm   *VM
	card *Card
	// relayed is what checkRelay set up: dhcpd and a leased client on
	// every subscriber port.
	relayed relayPlan
}

// TestBoot boots each QEMU board's image with its NICs on taps in a lab
// namespace, checks what the appliance does before the agent runs, then
// relays DHCP through the agent in the guest (relay_test.go). The agent's
// next end-to-end steps (glean, nftables, spoof block, guest reboot and
// leasequery recovery, state over the CLI serial port) slot in below.
func TestBoot(t *testing.T) {
	for _, p := range qemuProfiles(t) {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			im := NeedImages(t, repoRoot, p)
			lab.SkipUnlessRoot(t)
			l := lab.New(t)
			card := NewCard(l, p)
			vm := Boot(t, Config{
				Profile: p, Kernel: im.Kernel, Initrd: im.Image,
				Netns: card.NS.Name, Taps: card.Taps,
				CLISocket: filepath.Join(t.TempDir(), "cli.sock"),
				Append:    []string{"leaseguard.shell=1"},
			})
			g := &guest{t: t, p: p, vm: vm, card: card}
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
				{"CLI serial port", (*guest).checkCLIPort},
				{"relay DHCP through the guest", (*guest).checkRelay},
				{"leased source passes, unleased dropped", (*guest).checkEnforcement},
				// Next, with the agent's features: the table over the CLI
				// serial port, guest reboot and leasequery recovery.
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

// checkReady waits for leaseguard's readiness line and checks it names the
// board, its modules and every port's NIC by MAC.
func (g *guest) checkReady() {
	m, err := g.vm.Console.WaitFor(readyRE, bootTimeout)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Logf("measure: %s ready %.1f s after QEMU start", g.p.Name, m.At.Seconds())
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
// arguments; its idle RSS is measured here.
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
	if rss := regexp.MustCompile(`VmRSS:\s+(\d+ kB)`).FindStringSubmatch(status); rss != nil {
		g.t.Logf("measure: %s leaseguard idle RSS %s", g.p.Name, rss[1])
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

// checkCLIPort: the CLI serial device exists in the guest and QEMU's end
// of it accepts a connection. (The CLI itself comes with the agent.)
func (g *guest) checkCLIPort() {
	out := g.run("ls /dev/" + g.p.CLI.Device)
	if !strings.Contains(out, g.p.CLI.Device) || strings.Contains(out, "no such") {
		g.t.Errorf("guest has no /dev/%s: %q", g.p.CLI.Device, out)
	}
	c, err := g.vm.DialCLI(10 * time.Second)
	if err != nil {
		g.t.Fatalf("CLI socket: %v", err)
	}
	c.Close()
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
