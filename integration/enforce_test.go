package integration

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
	"github.com/leaseguard/leaseguard/nft/nfttest"
)

// Where the enforcement test's flows go: a sink on the server for
// upstream flows, one on each client for downstream ones.
const (
	upPort   = 9000
	downPort = 9001
	every    = 20 * time.Millisecond // each flow's packet interval
)

// enforceConfig turns enforcement on in a lab configuration: forwarding,
// generous leasequery filters (the test's spoofer must not starve the
// legitimate queries), debug logs for the nft subsystem.
func enforceConfig(cfg map[string]any) {
	cfg["enforcement"] = topo.Enforcement()
	cfg["log"] = map[string]any{"level": "info", "subsystems": map[string]any{"nft": "debug"}}
}

// TestEnforcement tells issue 4's story against ISC dhcpd and real
// clients, with a spoofer sending throughout:
//
//	cable port sub0: alice (dhclient), mallory (udhcpc; injects a spoofed
//	  source address and alice's address with her own MAC)
//	dsl port sub1:   bob (udhcpc, 15 s leases), carol (dhclient; injects
//	  alice's address and MAC on the wrong port, later silent)
//
// Legitimate traffic passes both ways with no ARP request from the card
// towards a subscriber; the three spoofs are dropped, counted, and
// refused after a leasequery; a plain restart and a reboot (the kernel's
// rules, routes and neighbours wiped, forwarding off) never let a spoofed
// packet through, and after the reboot alice's upstream flow and carol's
// downstream one come back through leasequery; with the agent dead, bob's
// traffic stops when his lease ends.
func TestEnforcement(t *testing.T) {
	lab.Need(t, "dhcpd", "dhclient", "udhcpc", "nft")
	c := topo.Build(t, nil, topo.Options{ClientsPerPort: 2})
	c.NoRPFilter()
	c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{Lease: time.Minute}))
	bin, cfgPath := topo.Binary(t), c.LabConfig(enforceConfig)
	agent := c.StartAgent(bin, cfgPath)
	server := c.Layout.Servers[0]

	alice, mallory := c.Ports[0].Clients[0], c.Ports[0].Clients[1]
	bob, carol := c.Ports[1].Clients[0], c.Ports[1].Clients[1]
	dhA := alice.Dhclient("dhclient-alice", topo.DhclientOptions{})
	udM := mallory.Udhcpc("udhcpc-mallory")
	udB := bob.Udhcpc("udhcpc-bob", "-x", "lease:15")
	dhC := carol.Dhclient("dhclient-carol", topo.DhclientOptions{})
	aliceIP, bobIP, carolIP := bound(t, dhA.WaitBound), bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(udB) }), bound(t, dhC.WaitBound)
	bound(t, func() (netip.Addr, error) { return topo.WaitUdhcpc(udM) })

	up := flows{nfttest.ListenFlows(t, c.Server, upPort)}
	downA, downC := flows{nfttest.ListenFlows(t, alice.NS, downPort)}, flows{nfttest.ListenFlows(t, carol.NS, downPort)}
	arps := []*nfttest.ARPWatch{nfttest.WatchARP(t, alice.NS, "eth0"), nfttest.WatchARP(t, carol.NS, "eth0")}
	nfttest.SendEvery(t, alice.NS, netip.AddrPortFrom(server, upPort), "alice", every)
	nfttest.SendEvery(t, bob.NS, netip.AddrPortFrom(server, upPort), "bob", every)
	nfttest.SendEvery(t, c.Server, netip.AddrPortFrom(aliceIP, downPort), "to-alice", every)
	nfttest.SendEvery(t, c.Server, netip.AddrPortFrom(carolIP, downPort), "to-carol", every)

	t.Run("legitimate traffic passes both ways", func(t *testing.T) {
		up.waitMore(t, "alice", 0)
		up.waitMore(t, "bob", 0)
		downA.waitMore(t, "to-alice", 0)
		downC.waitMore(t, "to-carol", 0)
	})

	sub0, sub1 := nfttest.InterfaceMAC(t, c.Card, "sub0"), nfttest.InterfaceMAC(t, c.Card, "sub1")
	spoofs := []spoof{
		{"spoofed source address", mallory, nfttest.UDPFrame(mallory.MAC, sub0, netip.MustParseAddr("192.168.10.250"), server, 40000, upPort, []byte("spoof-ip"))},
		{"alice's address, mallory's MAC", mallory, nfttest.UDPFrame(mallory.MAC, sub0, aliceIP, server, 40000, upPort, []byte("spoof-mac"))},
		{"alice's address and MAC on the DSL port", carol, nfttest.UDPFrame(alice.MAC, sub1, aliceIP, server, 40000, upPort, []byte("spoof-moved"))},
	}
	for _, s := range spoofs {
		nfttest.InjectEvery(t, s.from.NS, s.from.Iface, s.frame, every)
	}
	t.Run("spoofs are dropped, counted and refused after a leasequery", func(t *testing.T) {
		waitUntil(t, "ipv4_source drops on both ports", func() bool {
			return nftCounter(t, c.Card, "ipv4_source_sub0") >= 20 && nftCounter(t, c.Card, "ipv4_source_sub1") >= 10
		})
		waitUntil(t, "three sources refused", func() bool { return stat(t, agent, "Enforcement", "Verify", "Refused") >= 3 })
		if n := stat(t, agent, "Enforcement", "Verify", "Confirmed"); n != 0 {
			t.Errorf("%v spoofed sources confirmed", n)
		}
		up.noSpoof(t)
	})

	t.Run("a plain restart keeps everything passing and nothing spoofed", func(t *testing.T) {
		agent.Kill()
		up.waitMore(t, "alice", up.count("alice")) // passing with the agent dead
		agent = c.StartAgent(bin, cfgPath)
		if n := stat(t, agent, "Enforcement", "Enforce", "CarriedIn"); n < 4 {
			t.Errorf("carried over %v elements, want the 4 clients'", n)
		}
		waitUntil(t, "carried elements confirmed", func() bool {
			return stat(t, agent, "Enforcement", "Enforce", "Carried") == 0
		})
		up.waitMore(t, "alice", up.count("alice"))
		up.waitMore(t, "bob", up.count("bob"))
		downC.waitMore(t, "to-carol", downC.count("to-carol"))
		// A legitimate source dropped across the swap would have been
		// reported and confirmed by a leasequery: none was.
		if n := stat(t, agent, "Enforcement", "Verify", "Confirmed"); n != 0 {
			t.Errorf("%v legitimate sources were dropped and recovered across the restart", n)
		}
		up.noSpoof(t)
	})

	t.Run("after a reboot flows come back through leasequery, spoofs never pass", func(t *testing.T) {
		dhC.Signal(syscall.SIGKILL) // carol falls silent; her address stays
		agent.Kill()
		c.WipeCard()
		start := time.Now()
		agent = c.StartAgent(bin, cfgPath)
		a0, c0 := up.count("alice"), downC.count("to-carol")
		up.waitMore(t, "alice", a0)
		upstream := time.Since(start)
		downC.waitMore(t, "to-carol", c0)
		t.Logf("after the reboot: alice's upstream flow back in %v, carol's downstream flow in %v (agent start included)",
			upstream.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		if n := stat(t, agent, "Enforcement", "Verify", "Recovered"); n < 1 {
			t.Errorf("no destination recovered by leasequery (%v)", n)
		}
		up.noSpoof(t)
	})

	t.Run("no ARP request towards a subscriber", func(t *testing.T) {
		for _, w := range arps {
			req := w.Frames(func(a nfttest.ARP) bool {
				return a.Op == nfttest.ARPRequest && (a.EthSrc.String() == sub0.String() || a.EthSrc.String() == sub1.String())
			})
			if len(req) > 0 {
				t.Errorf("the card asked down a port: %v", req)
			}
		}
	})

	t.Run("with the agent dead, an expired lease stops passing", func(t *testing.T) {
		// A renewal by unicast to the server: the relay relays it (with
		// option 82) and gleans the answer; the kernel must not forward
		// it as well.
		waitUntil(t, "bob bound", func() bool { _, ok := findBinding(t, agent, bobIP); return ok })
		leases := strings.Count(udB.Output(), "obtained")
		udB.Signal(syscall.SIGUSR1)
		waitUntil(t, "bob's renewal relayed and answered, not forwarded", func() bool {
			return nftIPCounter(t, c.Card, "forwarded_dhcp_sub1") >= 1 && strings.Count(udB.Output(), "obtained") > leases
		})
		udB.Signal(syscall.SIGKILL) // no more renewals; the address stays
		b, _ := findBinding(t, agent, bobIP)
		agent.Kill()
		up.waitMore(t, "bob", up.count("bob"))           // still passing with the agent dead
		<-time.After(time.Until(b.Expiry) + time.Second) // the kernel's clock is under test
		passed, drops := up.count("bob"), nftCounter(t, c.Card, "ipv4_source_sub1")
		waitUntil(t, "bob's packets dropped", func() bool { return nftCounter(t, c.Card, "ipv4_source_sub1") >= drops+10 })
		if n := up.count("bob"); n != passed {
			t.Errorf("%d of bob's packets passed after his lease ended at %v", n-passed, b.Expiry)
		}
		up.noSpoof(t)
	})
}

// spoof is a frame a client injects continuously.
type spoof struct {
	name  string
	from  *topo.Client
	frame []byte
}

// hang bounds a wait for something to happen in the enforcement test.
const enforceWait = 20 * time.Second

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(enforceWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, enforceWait)
		}
		time.Sleep(20 * time.Millisecond) // nothing signals these conditions: poll
	}
}

func nftCounter(t *testing.T, ns *lab.NS, name string) int {
	t.Helper()
	return topo.NFTCounter(t, ns, "netdev", name)
}

func nftIPCounter(t *testing.T, ns *lab.NS, name string) int {
	t.Helper()
	return topo.NFTCounter(t, ns, "ip", name)
}

// stat reads a counter from the agent's stats by its JSON path.
func stat(t *testing.T, a *topo.Agent, path ...string) float64 {
	t.Helper()
	f, err := a.Stat(path...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// findBinding returns the agent's binding of ip.
func findBinding(t *testing.T, a *topo.Agent, ip netip.Addr) (topo.Binding, bool) {
	t.Helper()
	b, ok, err := a.Binding(ip)
	if err != nil {
		t.Fatal(err)
	}
	return b, ok
}

// noSpoof fails the test if any spoofed datagram arrived at sink.
func noSpoof(t *testing.T, sink *nfttest.FlowSink) {
	t.Helper()
	for _, name := range []string{"spoof-ip", "spoof-mac", "spoof-moved"} {
		if n := sink.Count(name); n != 0 {
			t.Errorf("%d spoofed datagrams %q arrived upstream", n, name)
		}
	}
}

// flows adapts a FlowSink to the test's bound.
type flows struct{ *nfttest.FlowSink }

func (f flows) count(name string) int { return f.Count(name) }

func (f flows) waitMore(t *testing.T, name string, than int) {
	t.Helper()
	f.WaitMore(t, name, than, enforceWait)
}

func (f flows) noSpoof(t *testing.T) {
	t.Helper()
	noSpoof(t, f.FlowSink)
}
