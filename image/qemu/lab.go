package qemu

import (
	"github.com/leaseguard/leaseguard/board"
	"github.com/leaseguard/leaseguard/integration/lab"
)

// Card is the network around a guest line card: QEMU runs in NS, each
// port's NIC is a tap there, bridged to a veth whose other end is eth0 of
// the port's peer namespace (subscribers' clients, or the DHCP servers'
// side for an upstream port).
type Card struct {
	NS    *lab.NS
	Taps  map[string]string  // port name -> tap in NS
	Peers map[string]*lab.NS // port name -> namespace on the port's wire
}

// NewCard builds the card's namespace and one peer namespace per port.
func NewCard(l *lab.Lab, p board.Profile) *Card {
	c := &Card{NS: l.NS("card"), Taps: map[string]string{}, Peers: map[string]*lab.NS{}}
	for _, port := range p.Ports {
		tap, br, veth := "t-"+port.Name, "b-"+port.Name, "v-"+port.Name
		c.NS.MustIP("tuntap", "add", "dev", tap, "mode", "tap")
		c.NS.MustIP("link", "add", br, "type", "bridge")
		c.NS.MustIP("link", "set", tap, "master", br)
		peer := l.NS("p-" + port.Name)
		l.Veth(c.NS, veth, peer, "eth0")
		c.NS.MustIP("link", "set", veth, "master", br)
		for _, dev := range []string{tap, br} {
			c.NS.MustIP("link", "set", dev, "up")
		}
		c.Taps[port.Name], c.Peers[port.Name] = tap, peer
	}
	return c
}
