package qemu

import (
	"net/netip"
	"strconv"
)

// checkEnforcement (the boards' agent.json enable enforcement): every
// client that leased through the relay reaches its gateway from its
// leased address, and `show nft` counts one allowed element per client;
// from an address the first client did not lease, over the same wire to
// the same neighbour, it does not, and the port's ipv4_source drop
// counter on the CLI rises by what was sent; the leased address still
// passes afterwards.
func (g *guest) checkEnforcement() {
	for _, c := range g.relayed.Clients {
		g.pingGateway(c, c.Lease, true)
	}
	before := g.showNft()
	if before.Allowed != len(g.relayed.Clients) {
		g.t.Errorf("show nft on boot %d: %d allowed, want one per leased client (%d)", g.boots, before.Allowed, len(g.relayed.Clients))
	}
	c := g.relayed.Clients[0]
	client := g.card.Peers[c.Port]
	// Another address of the client's, and the gateway's MAC pinned, so
	// that the spoofed pings leave as the leased ones did, without an ARP.
	spoofed := c.Lease.Next()
	client.MustIP("addr", "replace", spoofed.String()+"/32", "dev", "eth0")
	client.MustIP("neigh", "replace", c.Giaddr.String(), "lladdr", g.portMAC(c.Port), "dev", "eth0", "nud", "permanent")
	sent := g.pingGateway(c, spoofed, false)
	after := g.showNft()
	key := c.Port + " ipv4_source"
	if rose := after.Drops[key] - before.Drops[key]; rose < uint64(sent) || sent == 0 {
		g.t.Errorf("show nft on boot %d: %s drops %d -> %d after %d spoofed pings from %v; want a rise of at least %d",
			g.boots, key, before.Drops[key], after.Drops[key], sent, spoofed, sent)
	}
	g.pingGateway(c, c.Lease, true)
}

// pingGateway pings c's gateway from src in c's namespace and checks
// whether it was answered; it returns how many echo requests left.
// Pings repeat once a second until a reply or the deadline: a binding
// reaches nftables a moment after its lease or leasequery answer; a
// spoofed source gets 3 seconds.
func (g *guest) pingGateway(c clientPlan, src netip.Addr, wantReply bool) int {
	g.t.Helper()
	deadline := "20"
	if !wantReply {
		deadline = "3"
	}
	out, err := g.card.Peers[c.Port].Exec("ping", "-c", "1", "-w", deadline, "-I", src.String(), c.Giaddr.String())
	switch {
	case wantReply && err != nil:
		g.t.Errorf("boot %d, port %s: ping %v from the leased %v unanswered: %v\n%s", g.boots, c.Port, c.Giaddr, src, err, out)
	case !wantReply && err == nil:
		g.t.Errorf("boot %d, port %s: ping %v from the unleased %v answered:\n%s", g.boots, c.Port, c.Giaddr, src, out)
	}
	return transmitted(out)
}

// transmitted reads "N packets transmitted" from ping's summary.
func transmitted(pingOut string) int {
	m := transmittedRE.FindStringSubmatch(pingOut)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkDownstream: the DHCP server's namespace, on the upstream wire,
// reaches every leased client through the card: the guest forwards to
// the client by the binding's /32 route and permanent neighbour, and the
// client's answer passes the port's source check on its way back.
func (g *guest) checkDownstream() {
	for _, c := range g.relayed.Clients {
		g.pingClient(c)
	}
}

// pingClient pings c's lease from the server's namespace.
func (g *guest) pingClient(c clientPlan) {
	g.t.Helper()
	server := g.card.Peers[g.relayed.ServerPort]
	if out, err := server.Exec("ping", "-c", "1", "-w", "20", c.Lease.String()); err != nil {
		g.t.Errorf("boot %d: ping %v (port %s) from the server %v unanswered: %v\n%s", g.boots, c.Lease, c.Port, g.relayed.Server.Addr(), err, out)
	}
}

// portMAC is the MAC of a port's NIC in the guest (the profile matches
// the QEMU boards' NICs by MAC).
func (g *guest) portMAC(name string) string {
	for _, p := range g.p.Ports {
		if p.Name == name && p.NIC.MAC != "" {
			return p.NIC.MAC
		}
	}
	g.t.Fatalf("port %s has no MAC in profile %s", name, g.p.Name)
	return ""
}
