// Package topo builds the access-concentrator topology of an agent
// configuration in network namespaces, for the end-to-end tests, the demo,
// the enforcement tests and the QEMU tests:
//
//	clients --(access ns: a bridge, the "modem")-- card ns --- server ns
//	c<P>-<N> eth0        a<P> br0               sub<P> | up0    eth0 (dhcpd)
//
// The card namespace has the upstream interface and one interface per
// configured port, with the port's gateway address; that is where
// leaseguard (or a reference relay) runs. The server namespace has the
// first configured server's address and routes to every subscriber
// network through the card. A port with one client links it to the card
// directly; with more, an access namespace bridges them, as a cable modem
// bridges its CPEs.
//
// The topology is read from the JSON of an agent configuration
// (docs/agent.example.json by default), without the config package:
// only the fields that shape the network are read.
package topo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// Layout is what a topology needs of an agent configuration.
type Layout struct {
	Upstream struct {
		Interface string     `json:"interface"`
		Address   netip.Addr `json:"address"`
	} `json:"upstream"`
	Servers    []netip.Addr   `json:"servers"`
	Subscriber []netip.Prefix `json:"subscriber_networks"`
	Ports      []PortLayout   `json:"ports"`
}

// PortLayout is one configured subscriber port.
type PortLayout struct {
	Name      string     `json:"name"`
	Interface string     `json:"interface"`
	Kind      string     `json:"kind"`
	Gateway   netip.Addr `json:"gateway"`
	Modem     string     `json:"modem"`
	RemoteID  string     `json:"remote_id"`
	CircuitID string     `json:"circuit_id"`
}

// ExampleConfig returns docs/agent.example.json, the configuration the
// tests and the demo start from.
func ExampleConfig() ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	return os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "agent.example.json"))
}

// ReadLayout reads the network shape of an agent configuration.
func ReadLayout(config []byte) (Layout, error) {
	var l Layout
	if err := json.Unmarshal(config, &l); err != nil {
		return l, fmt.Errorf("topo: %w", err)
	}
	if len(l.Servers) == 0 || len(l.Ports) == 0 || !l.Upstream.Address.Is4() {
		return l, fmt.Errorf("topo: config needs an upstream address, a server and ports")
	}
	return l, nil
}

// Prefix returns the subscriber network containing the port's gateway,
// or the gateway's /24 when none does.
func (l Layout) Prefix(p PortLayout) netip.Prefix {
	for _, s := range l.Subscriber {
		if s.Contains(p.Gateway) {
			return s
		}
	}
	return netip.PrefixFrom(p.Gateway, 24).Masked()
}

// Options shape a topology beyond its configuration.
type Options struct {
	// ClientsPerPort is how many client namespaces each port has; 0 means 1.
	ClientsPerPort int
}

// Concentrator is a built topology.
type Concentrator struct {
	t      lab.TB
	Lab    *lab.Lab
	Layout Layout
	Config []byte // the configuration it was built from
	Server *lab.NS
	Card   *lab.NS
	Ports  []*Port
	// APISocket is the management API socket of the configuration
	// LabConfig wrote last.
	APISocket string
}

// Port is one subscriber port's side of the topology.
type Port struct {
	Layout  PortLayout
	Prefix  netip.Prefix
	Access  *lab.NS // the bridge namespace; nil with a single client
	Clients []*Client
}

// Client is one subscriber host.
type Client struct {
	NS    *lab.NS
	Iface string // "eth0"
	MAC   net.HardwareAddr
	Port  *Port
	c     *Concentrator
}

// Build creates the topology of config (nil: the example configuration).
func Build(t lab.TB, config []byte, opts Options) *Concentrator {
	t.Helper()
	if config == nil {
		var err error
		if config, err = ExampleConfig(); err != nil {
			t.Fatalf("%v", err)
		}
	}
	layout, err := ReadLayout(config)
	if err != nil {
		t.Fatalf("%v", err)
	}
	l := lab.New(t)
	c := &Concentrator{t: t, Lab: l, Layout: layout, Config: config, Server: l.NS("srv"), Card: l.NS("card")}
	up := layout.Upstream
	l.Veth(c.Card, up.Interface, c.Server, "eth0")
	c.Card.Addr(up.Interface, netip.PrefixFrom(up.Address, 24).String())
	c.Server.Addr("eth0", netip.PrefixFrom(layout.Servers[0], 24).String())
	for i, pl := range layout.Ports {
		c.Ports = append(c.Ports, c.buildPort(i, pl, max(opts.ClientsPerPort, 1)))
		c.Server.MustIP("route", "add", c.Ports[i].Prefix.String(), "via", up.Address.String())
	}
	return c
}

// buildPort links n clients to the card's port interface.
func (c *Concentrator) buildPort(i int, pl PortLayout, n int) *Port {
	p := &Port{Layout: pl, Prefix: c.Layout.Prefix(pl)}
	l := c.Lab
	if n == 1 {
		cl := c.newClient(p, i, 0)
		l.Veth(c.Card, pl.Interface, cl.NS, cl.Iface)
		cl.setMAC()
	} else {
		p.Access = l.NS(fmt.Sprintf("a%d", i))
		l.Veth(c.Card, pl.Interface, p.Access, "card")
		p.Access.MustIP("link", "add", "br0", "type", "bridge")
		p.Access.MustIP("link", "set", "card", "master", "br0")
		p.Access.MustIP("link", "set", "br0", "up")
		for j := range n {
			cl := c.newClient(p, i, j)
			port := fmt.Sprintf("c%d", j)
			l.Veth(p.Access, port, cl.NS, cl.Iface)
			p.Access.MustIP("link", "set", port, "master", "br0")
			cl.setMAC()
		}
	}
	c.Card.Addr(pl.Interface, netip.PrefixFrom(pl.Gateway, p.Prefix.Bits()).String())
	return p
}

func (c *Concentrator) newClient(p *Port, i, j int) *Client {
	cl := &Client{NS: c.Lab.NS(fmt.Sprintf("c%d-%d", i, j)), Iface: "eth0", Port: p, c: c,
		MAC: net.HardwareAddr{0x02, 0x00, 0x00, byte(i), 0x00, byte(j + 1)}}
	p.Clients = append(p.Clients, cl)
	return cl
}

// setMAC gives the client its deterministic address (locally
// administered: 02:00:00:PORT:00:N).
func (cl *Client) setMAC() {
	cl.NS.MustIP("link", "set", cl.Iface, "down")
	cl.NS.MustIP("link", "set", cl.Iface, "address", cl.MAC.String())
	cl.NS.MustIP("link", "set", cl.Iface, "up")
}

// Clients returns every client, port by port.
func (c *Concentrator) Clients() []*Client {
	var out []*Client
	for _, p := range c.Ports {
		out = append(out, p.Clients...)
	}
	return out
}
