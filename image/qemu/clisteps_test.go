package qemu

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/board"
)

// The boot test's view of the guest through the agent's serial console
// CLI: what an operator at the card's second UART would type.

// cli runs a command on the guest's CLI and fails the test if it fails.
func (g *guest) cliRun(line string) string {
	g.t.Helper()
	out, err := g.cli.Run(line, commandTimeout)
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

func (g *guest) showBindings() shownBindings {
	g.t.Helper()
	b, err := parseBindings(g.cliRun("show bindings"))
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

func (g *guest) showNft() shownNft {
	g.t.Helper()
	n, err := parseNft(g.cliRun("show nft"))
	if err != nil {
		g.t.Fatal(err)
	}
	return n
}

// checkCLILogin: the agent's console greets on the board's CLI port,
// logs in on Return with the relay-id as its prompt, and its table is
// empty: nothing leased yet, or everything lost in a reboot.
func (g *guest) checkCLILogin() {
	if err := g.cli.Login(g.agent.RelayID+"> ", bootTimeout); err != nil {
		g.t.Fatal(err)
	}
	if b := g.showBindings(); b.Total != 0 || len(b.Rows) != 0 {
		g.t.Errorf("show bindings on boot %d: %+v, want an empty table", g.boots, b)
	}
}

// checkGleaned: `show bindings` lists each relayed client's lease with
// its MAC on its port, gleaned by the relay, and nothing else.
func (g *guest) checkGleaned() { g.checkBindings("gleaned") }

// checkBindings checks the CLI's table against the relayed clients,
// each with source.
func (g *guest) checkBindings(source string) {
	b := g.showBindings()
	var want, got []shownBinding
	for _, c := range g.relayed.Clients {
		w := shownBinding{IP: c.Lease, MAC: g.macs[c.Port], Port: c.Name, Source: source}
		want = append(want, w)
		if r, ok := b.row(c.Lease); ok {
			got = append(got, r)
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		g.t.Errorf("show bindings on boot %d (-want +got):\n%s", g.boots, diff)
	}
	if b.Total != len(want) {
		g.t.Errorf("show bindings on boot %d: %d bindings in all, want %d: %+v", g.boots, b.Total, len(want), b.Rows)
	}
}

// clientMAC is the MAC of eth0 in a port's peer namespace.
func (g *guest) clientMAC(port string) string {
	var mac string
	err := g.card.Peers[port].Do(func() error {
		ifc, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		mac = ifc.HardwareAddr.String()
		return nil
	})
	if err != nil {
		g.t.Fatalf("port %s: client MAC: %v", port, err)
	}
	return mac
}

// TestAgentConsoleOnCLIPort: each QEMU board's agent serves its console
// on the profile's CLI port, at its baud, with the relay-id the boot
// test expects as prompt. No QEMU needed.
func TestAgentConsoleOnCLIPort(t *testing.T) {
	for _, p := range qemuProfiles(t) {
		t.Run(p.Name, func(t *testing.T) {
			a, err := loadGuestAgent(agentConfigPath(repoRoot, p.Name))
			if err != nil {
				t.Fatal(err)
			}
			want := board.Serial{Device: p.CLI.Device, Baud: p.CLI.Baud}
			if got := (board.Serial{Device: a.Console.Device, Baud: a.Console.Baud}); got != want {
				t.Errorf("agent console %+v, want the board's CLI port %+v", got, want)
			}
			if a.RelayID == "" || a.RelayID != p.RelayID {
				t.Errorf("agent relay_id %q, want the board's %q (the console prompt)", a.RelayID, p.RelayID)
			}
		})
	}
}
