package qemu

// checkEnforcement (the boards' agent.json enable enforcement): the
// client that leased through the relay reaches its gateway from its
// leased address, which the guest's nftables allows; from an address it
// did not lease, over the same wire to the same neighbour, it does not.
//
// The guest's drop counter (ipv4_source on the port) would be direct
// evidence, but the agent's API does not serve its nftables state yet
// (`leaseguard ctl nft`: "enforcement is not running ... no nftables
// applier"); the differential pings are what the test can see.
func (g *guest) checkEnforcement() {
	c := g.relayed.Clients[0]
	client := g.card.Peers[c.Port]
	// Pings repeat once a second until a reply or the deadline: the
	// binding reaches nftables a moment after the lease.
	if out, err := client.Exec("ping", "-c", "1", "-w", "20", c.Giaddr.String()); err != nil {
		g.t.Fatalf("port %s: leased %v cannot ping its gateway %v: %v\n%s", c.Port, c.Lease, c.Giaddr, err, out)
	}
	// Another address of the client's, and the gateway's MAC pinned, so
	// that the spoofed ping leaves as the leased one did, without an ARP.
	spoofed := c.Lease.Next()
	client.Addr("eth0", spoofed.String()+"/32")
	client.MustIP("neigh", "replace", c.Giaddr.String(), "lladdr", g.portMAC(c.Port), "dev", "eth0", "nud", "permanent")
	if out, err := client.Exec("ping", "-c", "1", "-w", "3", "-I", spoofed.String(), c.Giaddr.String()); err == nil {
		g.t.Errorf("port %s: ping from the unleased %v answered:\n%s", c.Port, spoofed, out)
	}
	if out, err := client.Exec("ping", "-c", "1", "-w", "20", "-I", c.Lease.String(), c.Giaddr.String()); err != nil {
		g.t.Errorf("port %s: leased %v cannot ping its gateway after the spoofed ping: %v\n%s", c.Port, c.Lease, err, out)
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
