package qemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/board"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// guestAgent is the part of a board's agent configuration (the image's
// /etc/leaseguard/agent.json, staged from image/boards/NAME/agent.json)
// that the relay step builds its network from. The agent parses the whole
// file strictly; this reads only these fields.
type guestAgent struct {
	RelayID  string `json:"relay_id"`
	Upstream struct {
		Interface string     `json:"interface"`
		Address   netip.Addr `json:"address"`
	} `json:"upstream"`
	Servers []netip.Addr `json:"servers"`
	Ports   []struct {
		Name      string     `json:"name"`
		Interface string     `json:"interface"`
		Gateway   netip.Addr `json:"gateway"`
		CircuitID string     `json:"circuit_id"`
	} `json:"ports"`
	Console struct {
		Device string `json:"device"`
		Baud   int    `json:"baud"`
	} `json:"console"`
}

// agentConfigPath is where a board's agent configuration is in the tree.
func agentConfigPath(root, boardName string) string {
	return filepath.Join(root, "image/boards", boardName, "agent.json")
}

func loadGuestAgent(path string) (guestAgent, error) {
	var a guestAgent
	b, err := os.ReadFile(path)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// relayPlan is the relay step's network: dhcpd on the upstream port's
// wire answering on the server address the agent relays to, and one DHCP
// client on each subscriber port's wire.
type relayPlan struct {
	ServerPort string       // the upstream port, whose peer runs dhcpd
	Server     netip.Prefix // dhcpd's address: the agent's first server, on the upstream network
	Upstream   netip.Addr   // the card's upstream address: dhcpd's route to the subscribers
	RelayID    string       // option 82 relay-id (sub-option 12) the agent inserts
	Clients    []clientPlan
}

// clientPlan is one subscriber port's client and what dhcpd must store.
type clientPlan struct {
	Port      string       // the subscriber port, whose peer runs the client
	Name      string       // the agent's name of the port, in its table
	Network   netip.Prefix // the port's subscriber network
	Giaddr    netip.Addr   // the port's gateway, the relay's giaddr
	Lease     netip.Addr   // the one address dhcpd offers on this network
	CircuitID string       // option 82 circuit-id the agent inserts
}

// planRelay derives the relay step's network from the board profile and
// its agent configuration. The DHCP server's address comes from the
// agent's configuration, never from the port addresses: the agent sends
// relayed requests to exactly that address.
func planRelay(p board.Profile, a guestAgent) (relayPlan, error) {
	var pl relayPlan
	up, upNet, ok := portWithAddr(p, board.Upstream, a.Upstream.Interface, a.Upstream.Address)
	if !ok {
		return pl, fmt.Errorf("agent upstream %s %v: not an address of an upstream port of board %s", a.Upstream.Interface, a.Upstream.Address, p.Name)
	}
	if len(a.Servers) == 0 {
		return pl, fmt.Errorf("agent servers: none configured")
	}
	srv := a.Servers[0]
	if !upNet.Contains(srv) || srv == a.Upstream.Address || srv == upNet.Masked().Addr() {
		return pl, fmt.Errorf("agent servers[0] %v: not a free host address of %s's network %v", srv, up, upNet.Masked())
	}
	pl.ServerPort, pl.Server, pl.Upstream = up, netip.PrefixFrom(srv, upNet.Bits()), a.Upstream.Address
	pl.RelayID = a.RelayID
	for i, ap := range a.Ports {
		c, err := planClient(p, ap.Interface, ap.Gateway)
		if err != nil {
			return pl, fmt.Errorf("agent ports[%d]: %w", i, err)
		}
		c.Name, c.CircuitID = ap.Name, ap.CircuitID
		if c.CircuitID == "" {
			c.CircuitID = ap.Name // the agent's default
		}
		pl.Clients = append(pl.Clients, c)
	}
	if len(pl.Clients) == 0 {
		return pl, fmt.Errorf("agent ports: none configured")
	}
	return pl, nil
}

// planClient places one port's client: the lease is the gateway's fourth
// successor (beyond the addresses the ping step gives the peers).
func planClient(p board.Profile, iface string, gw netip.Addr) (clientPlan, error) {
	port, n, ok := portWithAddr(p, board.Subscriber, iface, gw)
	if !ok {
		return clientPlan{}, fmt.Errorf("interface %s gateway %v: not an address of a subscriber port of board %s", iface, gw, p.Name)
	}
	lease := gw.Next().Next().Next().Next()
	if !n.Contains(lease) {
		return clientPlan{}, fmt.Errorf("interface %s: network %v has no room for a lease after %v", iface, n.Masked(), gw)
	}
	return clientPlan{Port: port, Network: n.Masked(), Giaddr: gw, Lease: lease}, nil
}

// portWithAddr finds the profile port of role r named iface that is
// assigned addr, and returns its name and the assigned prefix.
func portWithAddr(p board.Profile, r board.Role, iface string, addr netip.Addr) (string, netip.Prefix, bool) {
	for _, port := range p.PortsWithRole(r) {
		for _, a := range port.Addrs {
			if port.Name == iface && a.Addr() == addr {
				return port.Name, a, true
			}
		}
	}
	return "", netip.Prefix{}, false
}

// dhcpdConf serves one address per subscriber network, to relayed
// requests only (the server's own network has no range).
func (pl relayPlan) dhcpdConf() string {
	var b strings.Builder
	b.WriteString("ddns-update-style none;\ndefault-lease-time 600;\nmax-lease-time 600;\nping-check false;\nallow leasequery;\n")
	fmt.Fprintf(&b, "subnet %v netmask %s {}\n", pl.Server.Masked().Addr(), mask(pl.Server))
	for _, c := range pl.Clients {
		fmt.Fprintf(&b, "subnet %v netmask %s { range %v %v; option routers %v; }\n",
			c.Network.Addr(), mask(c.Network), c.Lease, c.Lease, c.Giaddr)
	}
	return b.String()
}

func mask(p netip.Prefix) string {
	m := make([]byte, 4)
	for i := range p.Bits() {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4([4]byte(m)).String()
}

// udhcpcScript configures the lease, so that a renewal is a unicast from
// the client's kernel UDP socket through its router, the port's gateway.
const udhcpcScript = `#!/bin/sh
case "$1" in
bound|renew)
  ip -4 addr replace "$ip/$mask" dev "$interface"
  [ -n "$router" ] && ip -4 route replace default via "${router%% *}" dev "$interface"
  ;;
esac
exit 0
`

// checkRelay: a DHCP client on each subscriber port's wire gets a lease
// from ISC dhcpd on the upstream wire, relayed by the agent in the guest
// (dhcpd logs the acknowledgement "via" the port's giaddr), and dhcpd's
// lease file holds the option 82 the guest inserted. Then each client
// renews by unicast to the server: a datagram from a kernel UDP socket,
// whose checksum the client's veth leaves to offload, so it enters the
// guest through tap and virtio-net unfinished (CHECKSUM_PARTIAL), which
// the port reader must accept.
func (g *guest) checkRelay() {
	lab.Need(g.t, "dhcpd", "udhcpc")
	pl, err := planRelay(g.p, g.agent)
	if err != nil {
		g.t.Fatal(err)
	}
	for _, c := range pl.Clients {
		g.card.Peers[c.Port].MustIP("addr", "flush", "dev", "eth0")
	}
	dhcpd := g.startDHCPD(pl, "", "")
	script := filepath.Join(g.t.TempDir(), "udhcpc.sh")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		g.t.Fatal(err)
	}
	clients := make([]*lab.Proc, len(pl.Clients))
	g.macs = map[string]string{}
	for i, c := range pl.Clients {
		g.macs[c.Port] = g.clientMAC(c.Port)
		clients[i] = g.card.Peers[c.Port].Start("udhcpc-"+c.Port, "udhcpc", "-f", "-i", "eth0", "-s", script, "-t", "10", "-T", "2", "-A", "1")
	}
	g.waitClients(pl, dhcpd, "lease", func(i int) error {
		return clients[i].WaitFor("lease of "+pl.Clients[i].Lease.String()+" obtained", 2*commandTimeout)
	})
	g.checkStoredOption82(pl, dhcpd)
	g.relayed = pl
	g.waitClients(pl, dhcpd, "unicast renewal", func(i int) error {
		return topo.RenewByUnicast(clients[i], pl.Server.Addr().String(), pl.Clients[i].Lease, 2*commandTimeout)
	})
}

// startDHCPD starts dhcpd on the upstream wire for pl, with extra
// configuration and a lease file: it owns the address the agent relays
// to (replacing the one an earlier step may have given the peer) and
// routes the plan's subscriber networks through the card.
func (g *guest) startDHCPD(pl relayPlan, extraConf, leases string) *lab.DHCPD {
	server := g.card.Peers[pl.ServerPort]
	server.MustIP("addr", "flush", "dev", "eth0")
	server.Addr("eth0", pl.Server.String())
	for _, c := range pl.Clients {
		server.MustIP("route", "add", c.Network.String(), "via", pl.Upstream.String())
	}
	return server.StartDHCPD("dhcpd", pl.dhcpdConf()+extraConf, leases, "eth0")
}

// waitClients runs wait for every client at once and fails the step,
// with what dhcpd and the guest's sockets say, if any of them failed.
func (g *guest) waitClients(pl relayPlan, dhcpd *lab.DHCPD, what string, wait func(i int) error) {
	errs := make([]error, len(pl.Clients))
	var wg sync.WaitGroup
	for i := range pl.Clients {
		wg.Go(func() { errs[i] = wait(i) })
	}
	wg.Wait()
	for i, c := range pl.Clients {
		if errs[i] != nil {
			g.t.Errorf("%s on %s: %v", what, c.Port, errs[i])
		}
	}
	if g.t.Failed() {
		g.t.Fatalf("dhcpd:\n%s\nguest:\n%s", dhcpd.Output(),
			g.run("cat /proc/net/arp /proc/net/packet /proc/net/udp /proc/net/dev"))
	}
}

// checkStoredOption82: dhcpd acknowledged each lease via the port's
// giaddr and stored the circuit-id the guest inserted with it.
func (g *guest) checkStoredOption82(pl relayPlan, dhcpd *lab.DHCPD) {
	leases, err := dhcpd.Leases()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, c := range pl.Clients {
		if want := fmt.Sprintf("DHCPACK on %v to ", c.Lease); !ackedVia(dhcpd.Output(), want, c.Giaddr) {
			g.t.Errorf("dhcpd did not log %q ... via %v:\n%s", want, c.Giaddr, dhcpd.Output())
		}
		block := leaseBlock(leases, c.Lease)
		// dhcpd 4.4 has no name for RFC 6925's relay-id (sub-option 12).
		wants := []string{fmt.Sprintf("option agent.circuit-id %q;", c.CircuitID)}
		if pl.RelayID != "" {
			wants = append(wants, fmt.Sprintf("option agent.unknown-12 %q;", pl.RelayID))
		}
		for _, want := range wants {
			if !strings.Contains(block, want) {
				g.t.Errorf("dhcpd's lease of %v lacks %s:\n%s", c.Lease, want, block)
			}
		}
	}
}

func ackedVia(log, ack string, giaddr netip.Addr) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ack) && strings.HasSuffix(strings.TrimSpace(line), "via "+giaddr.String()) {
			return true
		}
	}
	return false
}

// leaseBlock returns the last lease statement for ip in a dhcpd lease file.
func leaseBlock(file string, ip netip.Addr) string {
	all := regexp.MustCompile(`(?s)lease `+regexp.QuoteMeta(ip.String())+` \{.*?\n\}`).FindAllString(file, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// TestRelayPlan: the relay step's dhcpd takes the server address of the
// board's agent configuration (the guest relays to it and nowhere else;
// a server peer on the port's address + 1 left every relayed DISCOVER
// waiting on ARP for 10.65.0.1), and configurations that cannot be
// planned are refused naming the field. No QEMU needed.
func TestRelayPlan(t *testing.T) {
	for _, p := range qemuProfiles(t) {
		t.Run(p.Name, func(t *testing.T) {
			a, err := loadGuestAgent(agentConfigPath(repoRoot, p.Name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := planRelay(p, a)
			if err != nil {
				t.Fatal(err)
			}
			want := relayPlan{
				ServerPort: "up0", Server: netip.MustParsePrefix("10.65.0.1/24"), Upstream: netip.MustParseAddr("10.65.0.2"),
				RelayID: a.RelayID,
				Clients: []clientPlan{
					{Port: "sub0", Name: a.RelayID + "/sub0", Network: netip.MustParsePrefix("10.64.0.0/24"), Giaddr: netip.MustParseAddr("10.64.0.1"),
						Lease: netip.MustParseAddr("10.64.0.5"), CircuitID: a.RelayID + "/sub0"},
					{Port: "sub1", Name: a.RelayID + "/sub1", Network: netip.MustParsePrefix("10.64.1.0/24"), Giaddr: netip.MustParseAddr("10.64.1.1"),
						Lease: netip.MustParseAddr("10.64.1.5"), CircuitID: a.RelayID + "/sub1"},
				},
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if got.Server.Addr() != a.Servers[0] {
				t.Errorf("dhcpd address %v, want the agent's server %v", got.Server.Addr(), a.Servers[0])
			}
		})
	}
}

func TestRelayPlanRefuses(t *testing.T) {
	p := qemuProfiles(t)[0]
	good, err := loadGuestAgent(agentConfigPath(repoRoot, p.Name))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*guestAgent)
		wantErr string
	}{
		{"server outside the upstream network", func(a *guestAgent) { a.Servers[0] = netip.MustParseAddr("10.66.0.1") }, "servers[0] 10.66.0.1"},
		{"server is the card", func(a *guestAgent) { a.Servers[0] = a.Upstream.Address }, "servers[0] 10.65.0.2"},
		{"no server", func(a *guestAgent) { a.Servers = nil }, "servers: none"},
		{"upstream not a port address", func(a *guestAgent) { a.Upstream.Address = netip.MustParseAddr("10.65.0.9") }, "upstream up0 10.65.0.9"},
		{"gateway not the port's address", func(a *guestAgent) { a.Ports[1].Gateway = netip.MustParseAddr("10.64.1.7") }, "ports[1]: interface sub1 gateway 10.64.1.7"},
		{"upstream used as a subscriber port", func(a *guestAgent) { a.Ports[0].Interface = "up0" }, "ports[0]: interface up0"},
		{"no ports", func(a *guestAgent) { a.Ports = nil }, "ports: none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := clone(t, good)
			tt.edit(&a)
			_, err := planRelay(p, a)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("planRelay error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDHCPDConf(t *testing.T) {
	pl := relayPlan{Server: netip.MustParsePrefix("10.65.0.1/24"), Clients: []clientPlan{
		{Network: netip.MustParsePrefix("10.64.0.0/20"), Giaddr: netip.MustParseAddr("10.64.0.1"), Lease: netip.MustParseAddr("10.64.0.5")},
	}}
	want := `ddns-update-style none;
default-lease-time 600;
max-lease-time 600;
ping-check false;
allow leasequery;
subnet 10.65.0.0 netmask 255.255.255.0 {}
subnet 10.64.0.0 netmask 255.255.240.0 { range 10.64.0.5 10.64.0.5; option routers 10.64.0.1; }
`
	if diff := cmp.Diff(want, pl.dhcpdConf()); diff != "" {
		t.Errorf("dhcpd.conf (-want +got):\n%s", diff)
	}
}

// clone deep-copies a through JSON, so a case's edit leaves the others'.
func clone(t *testing.T, a guestAgent) guestAgent {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var c guestAgent
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}
