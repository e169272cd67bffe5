package main

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
	"github.com/leaseguard/leaseguard/nft/nfttest"
)

// The enforcement story's flows: every 20 ms, to a sink on the server
// (upstream) or on a client (downstream).
const (
	flowEvery  = 20 * time.Millisecond
	flowUp     = 9000
	flowDown   = 9001
	enfTimeout = 30 * time.Second // bounds a wait in the demo
)

// enfLab is the enforcement story's lab.
type enfLab struct {
	d                          *demo
	c                          *topo.Concentrator
	bin, cfg                   string
	agent                      *topo.Agent
	up, downCarol              *nfttest.FlowSink
	alice, mallory, bob, carol *topo.Client
	aliceIP, bobIP, carolIP    netip.Addr
	carolDH, bobUD             *lab.Proc
}

// enforceStory tells issue 4's story from step n on and returns the next
// step's number: a card verifying sources and forwarding per modem, three
// kinds of spoofing sent without pause, a restart and a reboot of the
// card recovered through leasequery with no spoofed packet passing, and a
// lease that ends with the agent dead.
func enforceStory(d *demo, n int) int {
	lab.Need(d, "dhcpd", "dhclient", "udhcpc", "nft")
	e := &enfLab{d: d, bin: d.binary}
	e.setUp(n)
	e.spoof(n + 1)
	e.restart(n + 2)
	e.reboot(n + 3)
	e.expire(n + 4)
	fmt.Printf("\n   spoofed datagrams that reached the server in the whole story: %d\n", e.spoofed())
	return n + 5
}

func (e *enfLab) setUp(n int) {
	step("%d. A card enforcing source-address verification (nftables), per-modem routes and neighbours, leasequery on unknown traffic", n)
	e.c = topo.Build(e.d, nil, topo.Options{ClientsPerPort: 2})
	c := e.c
	c.NoRPFilter() // only leaseguard drops spoofs here
	c.StartDHCPD(c.DHCPDConf(topo.DHCPDOptions{Lease: time.Minute}))
	e.cfg = c.LabConfig(func(cfg map[string]any) {
		cfg["enforcement"] = topo.Enforcement()
		cfg["log"] = map[string]any{"level": "warn", "subsystems": map[string]any{"agent": "info", "nft": "info"}}
	})
	e.agent = c.StartAgent(e.bin, e.cfg)
	enfRun(c.Card, "nft", "list", "chain", "netdev", "leaseguard", "v4_sub0")
	enfRun(c.Card, "nft", "list", "chain", "ip", "leaseguard", "dst_check")

	e.alice, e.mallory = c.Ports[0].Clients[0], c.Ports[0].Clients[1]
	e.bob, e.carol = c.Ports[1].Clients[0], c.Ports[1].Clients[1]
	fmt.Println("   cable1/0/0 (sub0): alice, mallory    dsl1/1 (sub1): bob (15 s leases), carol")
	start := time.Now()
	e.aliceIP = e.lease(e.alice.Dhclient("dhclient-alice", topo.DhclientOptions{}).WaitBound)
	mal := e.mallory.Udhcpc("udhcpc-mallory")
	e.lease(func() (netip.Addr, error) { return topo.WaitUdhcpc(mal) })
	e.bobUD = e.bob.Udhcpc("udhcpc-bob", "-x", "lease:15")
	e.bobIP = e.lease(func() (netip.Addr, error) { return topo.WaitUdhcpc(e.bobUD) })
	dh := e.carol.Dhclient("dhclient-carol", topo.DhclientOptions{})
	e.carolDH = dh.Proc
	e.carolIP = e.lease(dh.WaitBound)
	fmt.Printf("   4 leases in %v: alice %v, bob %v, carol %v\n", time.Since(start).Round(time.Millisecond), e.aliceIP, e.bobIP, e.carolIP)

	server := c.Layout.Servers[0]
	e.up = nfttest.ListenFlows(e.d, c.Server, flowUp)
	downAlice := nfttest.ListenFlows(e.d, e.alice.NS, flowDown)
	e.downCarol = nfttest.ListenFlows(e.d, e.carol.NS, flowDown)
	start = time.Now()
	nfttest.SendEvery(e.d, e.alice.NS, netip.AddrPortFrom(server, flowUp), "alice", flowEvery)
	nfttest.SendEvery(e.d, e.bob.NS, netip.AddrPortFrom(server, flowUp), "bob", flowEvery)
	nfttest.SendEvery(e.d, c.Server, netip.AddrPortFrom(e.aliceIP, flowDown), "to-alice", flowEvery)
	nfttest.SendEvery(e.d, c.Server, netip.AddrPortFrom(e.carolIP, flowDown), "to-carol", flowEvery)
	e.up.WaitMore(e.d, "alice", 0, enfTimeout)
	downAlice.WaitMore(e.d, "to-alice", 0, enfTimeout)
	e.downCarol.WaitMore(e.d, "to-carol", 0, enfTimeout)
	fmt.Printf("   flows both ways (alice -> server, server -> alice, server -> carol) passing within %v\n", time.Since(start).Round(time.Millisecond))
	enfRun(c.Card, "nft", "list", "set", "netdev", "leaseguard", "allowed4")
	enfRun(c.Card, "ip", "route", "show", "proto", "108")
	enfRun(c.Card, "ip", "neigh", "show", "nud", "permanent")
}

// lease waits for a client's address.
func (e *enfLab) lease(wait func() (netip.Addr, error)) netip.Addr {
	ip, err := wait()
	if err != nil {
		e.d.Fatalf("lease: %v", err)
	}
	return ip
}

func (e *enfLab) spoof(n int) {
	step("%d. Spoofers send without pause from now on (every %v each): a made-up source, alice's address with mallory's MAC, alice's address and MAC on the DSL port", n, flowEvery)
	c, server := e.c, e.c.Layout.Servers[0]
	sub0, sub1 := nfttest.InterfaceMAC(e.d, c.Card, "sub0"), nfttest.InterfaceMAC(e.d, c.Card, "sub1")
	for _, s := range []struct {
		from  *topo.Client
		frame []byte
	}{
		{e.mallory, nfttest.UDPFrame(e.mallory.MAC, sub0, netip.MustParseAddr("192.168.10.250"), server, 40000, flowUp, []byte("spoof-ip"))},
		{e.mallory, nfttest.UDPFrame(e.mallory.MAC, sub0, e.aliceIP, server, 40000, flowUp, []byte("spoof-mac"))},
		{e.carol, nfttest.UDPFrame(e.alice.MAC, sub1, e.aliceIP, server, 40000, flowUp, []byte("spoof-moved"))},
	} {
		nfttest.InjectEvery(e.d, s.from.NS, s.from.Iface, s.frame, flowEvery)
	}
	sent := time.Now()
	e.waitStat("three spoofed sources refused", 3, "Enforcement", "Verify", "Refused")
	time.Sleep(2 * time.Second) // let the spoofers run: a demo, not a test
	per := int(time.Since(sent) / flowEvery)
	fmt.Printf("   in %v each spoofer sent about %d datagrams; reached the server: spoof-ip %d, spoof-mac %d, spoof-moved %d\n",
		time.Since(sent).Round(100*time.Millisecond), per, e.up.Count("spoof-ip"), e.up.Count("spoof-mac"), e.up.Count("spoof-moved"))
	fmt.Printf("   dropped by the ruleset: ipv4_source_sub0 %d, ipv4_source_sub1 %d; reported to the agent (once per source per 30 s): %d\n",
		topo.NFTCounter(e.d, c.Card, "netdev", "ipv4_source_sub0"), topo.NFTCounter(e.d, c.Card, "netdev", "ipv4_source_sub1"),
		topo.NFTCounter(e.d, c.Card, "netdev", "reported_sub0")+topo.NFTCounter(e.d, c.Card, "netdev", "reported_sub1"))
	fmt.Printf("   the agent asked the server about each reported source: refused %v, confirmed %v (none: the server places alice on sub0 with her own MAC)\n",
		e.stat("Enforcement", "Verify", "Refused"), e.stat("Enforcement", "Verify", "Confirmed"))
}

func (e *enfLab) restart(n int) {
	step("%d. The agent is killed (kill -9) and restarted: no reboot, the kernel keeps the ruleset", n)
	e.agent.Kill()
	down := time.Now()
	before := e.up.Count("alice")
	e.agent = e.c.StartAgent(e.bin, e.cfg)
	ready := time.Since(down)
	during := e.up.Count("alice") - before
	e.waitStat("carried elements confirmed", 0, "Enforcement", "Enforce", "Carried")
	fmt.Printf("   agent back in %v; %d of alice's datagrams passed meanwhile (the kernel enforced without the agent)\n", ready.Round(time.Millisecond), during)
	fmt.Printf("   the new agent read %v elements back from the kernel and built its first table from them in one transaction;\n",
		e.stat("Enforcement", "Enforce", "CarriedIn"))
	fmt.Printf("   leasequery then confirmed %v of them; legitimate sources dropped and recovered across the restart: %v; spoofed passed: %d\n",
		e.stat("Enforcement", "Enforce", "CarryConfirmed"), e.stat("Enforcement", "Verify", "Confirmed"), e.spoofed())
}

func (e *enfLab) reboot(n int) {
	step("%d. The card reboots: rules, routes and neighbours gone, forwarding off; the agent starts with an empty table. Carol stays silent", n)
	c := e.c
	e.carolDH.Signal(syscall.SIGKILL) // carol keeps her address and sends nothing
	e.agent.Kill()
	c.WipeCard()
	start := time.Now()
	e.agent = c.StartAgent(e.bin, e.cfg)
	ready := time.Since(start)
	a0, c0 := e.up.Count("alice"), e.downCarol.Count("to-carol")
	e.up.WaitMore(e.d, "alice", a0, enfTimeout)
	alice := time.Since(start)
	e.downCarol.WaitMore(e.d, "to-carol", c0, enfTimeout)
	carol := time.Since(start)
	fmt.Printf("   agent ready %v after start (ruleset built, forwarding turned on)\n", ready.Round(time.Millisecond))
	fmt.Printf("   alice's upstream flow back after %v: her first packet was dropped and reported, a leasequery placed her on sub0\n", alice.Round(time.Millisecond))
	fmt.Printf("   carol's downstream flow back after %v: traffic towards her unknown address was dropped before routing (no ARP),\n", carol.Round(time.Millisecond))
	fmt.Printf("   reported, and a leasequery gave her binding: a /32 route and a permanent neighbour\n")
	fmt.Printf("   sources confirmed %v, refused %v; destinations recovered %v; spoofed passed: %d\n",
		e.stat("Enforcement", "Verify", "Confirmed"), e.stat("Enforcement", "Verify", "Refused"),
		e.stat("Enforcement", "Verify", "Recovered"), e.spoofed())
	enfRun(c.Card, "ip", "route", "show", "proto", "108")
}

func (e *enfLab) expire(n int) {
	step("%d. The agent dies for good and bob's lease runs out: the kernel stops his traffic at the lease's end by itself", n)
	leases := strings.Count(e.bobUD.Output(), "obtained")
	e.bobUD.Signal(syscall.SIGUSR1) // a unicast renewal: relayed (and gleaned), not forwarded
	deadline := time.Now().Add(enfTimeout)
	for strings.Count(e.bobUD.Output(), "obtained") == leases && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling a demo, not a test
	}
	fmt.Printf("   bob renewed by unicast: relayed by leaseguard; copies dropped instead of forwarded: %d\n",
		topo.NFTCounter(e.d, e.c.Card, "ip", "forwarded_dhcp_sub1"))
	end := e.leaseEnd(e.bobIP)
	e.bobUD.Signal(syscall.SIGKILL) // nobody renews; bob keeps his address and keeps sending
	e.agent.Kill()
	fmt.Printf("   agent killed at %s; bob's lease ends at %s\n", time.Now().Format("15:04:05.000"), end.Format("15:04:05"))
	time.Sleep(time.Until(end) + time.Second) // the kernel's clock at work: a demo, not a test
	n, drops := e.up.Count("bob"), topo.NFTCounter(e.d, e.c.Card, "netdev", "ipv4_source_sub1")
	time.Sleep(time.Second)
	fmt.Printf("   bob's last datagram reached the server at %s; a second later: %d more of his arrived, sub1's drop counter grew by %d (bob's and carol's spoofs)\n",
		e.up.Last("bob").Format("15:04:05.000"), e.up.Count("bob")-n, topo.NFTCounter(e.d, e.c.Card, "netdev", "ipv4_source_sub1")-drops)
}

// leaseEnd is when the agent's binding of ip expires.
func (e *enfLab) leaseEnd(ip netip.Addr) time.Time {
	b, ok, err := e.agent.Binding(ip)
	if err != nil {
		e.d.Fatalf("table: %v", err)
	}
	if !ok {
		e.d.Fatalf("no binding of %v", ip)
	}
	return b.Expiry
}

func (e *enfLab) spoofed() int {
	return e.up.Count("spoof-ip") + e.up.Count("spoof-mac") + e.up.Count("spoof-moved")
}

// stat reads a number from the agent's stats by its JSON path.
func (e *enfLab) stat(path ...string) float64 {
	f, err := e.agent.Stat(path...)
	if err != nil {
		e.d.Fatalf("%v", err)
	}
	return f
}

// waitStat polls the agent's stats until path reaches want (0: falls to
// zero).
func (e *enfLab) waitStat(what string, want float64, path ...string) {
	deadline := time.Now().Add(enfTimeout)
	for time.Now().Before(deadline) {
		v := e.stat(path...)
		if (want == 0 && v == 0) || (want > 0 && v >= want) {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling a demo, not a test
	}
	e.d.Fatalf("%s: not within %v", what, enfTimeout)
}

// enfRun prints a command run in ns and its output (cut).
func enfRun(ns *lab.NS, prog string, args ...string) {
	fmt.Printf("$ %s %s\n", prog, strings.Join(args, " "))
	out, err := ns.Exec(prog, args...)
	if err != nil {
		out += err.Error() + "\n"
	}
	fmt.Print(enfIndent(cut(out, 16, 4)))
}

func enfIndent(s string) string {
	if s == "" {
		return s
	}
	return "   " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n   ") + "\n"
}
