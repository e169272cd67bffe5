// Package bpilab builds the BPI+ lab of the end-to-end test and the demo
// on a topo.Concentrator: a cable card with two ports, an emulated modem
// (with its BPKM keyer) in each port's access namespace, the RF plant
// joining them to the card, and the downstream veth the card routes the
// CPEs' traffic into:
//
//	server --up0--> card: a /32 per CPE into ds0 --ds1--> leaseguard BPI --rf0--> RF plant (br0)
//	                                                      a<P> rf0: modem P's emulator --> br0 --> its CPEs
//
// It also sends the CPEs numbered datagrams from the server and reads
// everything on the plant. What a run asserts or prints stays with the
// test and the demo.
package bpilab

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/integration/topo"
)

// Card is the cable card: two ports, a modem behind each.
const Card = `{
  "relay_id": "card-7",
  "upstream": { "interface": "up0", "address": "10.0.0.2" },
  "servers": ["10.0.0.1"],
  "subscriber_networks": ["192.168.10.0/24", "192.168.20.0/24"],
  "ports": [
    { "name": "cable1/0/0", "interface": "sub0", "kind": "cable", "gateway": "192.168.10.1", "modem": "00:10:95:00:00:01" },
    { "name": "cable1/0/1", "interface": "sub1", "kind": "cable", "gateway": "192.168.20.1", "modem": "00:10:95:00:00:02" }
  ],
  "leasequery": { "max_outstanding": 100, "request": [51, 58, 59, 91, 92, 82] }
}`

// FirstSAID is the primary SAID of the first port's modem; the next
// port's modem has the next.
const FirstSAID = 101

// CPEPort is the UDP port the CPEs receive the traffic on.
const CPEPort = 5000

// Options shape the lab's keys and traffic.
type Options struct {
	TEKLifetime time.Duration // how long a TEK lives
	TEKGrace    time.Duration // the card's and the modems' margin before a key expires
	// LeasequeryHoldoff is the agent's bpi leasequery_holdoff; 0 leaves
	// the agent's default.
	LeasequeryHoldoff time.Duration
	// Marker is in every datagram Traffic sends: the Spy counts the frames
	// in which it shows, as it must not on the RF link.
	Marker []byte
}

// Lab is a built BPI+ lab. Its modems are defined but not started.
type Lab struct {
	*topo.Concentrator
	Opts   Options
	CMTS   net.HardwareAddr // the card's rf0, where the modems send BPKM
	Plant  *lab.NS          // the RF plant's switch, its bridge br0
	Modems []*Modem         // one per port, in port order
	t      lab.TB
}

// Build creates the Card's topology with two clients per port, the RF
// plant and the downstream veth, and defines a modem per port.
func Build(t lab.TB, o Options) *Lab {
	t.Helper()
	l := &Lab{Concentrator: topo.Build(t, []byte(Card), topo.Options{ClientsPerPort: 2}), Opts: o, t: t}
	l.buildPlant()
	for i, p := range l.Ports {
		mac, err := net.ParseMAC(p.Layout.Modem)
		if err != nil {
			t.Fatalf("bpilab: port %s: modem %q: %v", p.Layout.Name, p.Layout.Modem, err)
		}
		l.Modems = append(l.Modems, &Modem{SAID: uint16(FirstSAID + i), MAC: mac,
			AK: bytes.Repeat([]byte{byte(0x41 + i)}, bpkm.AKLen), port: p})
	}
	return l
}

// buildPlant adds the RF plant (a switch joining the card's rf0 and each
// access namespace's rf0, MTU 1600) and the downstream veth ds0 -> ds1 in
// the card, without IPv6 so that the kernel does not talk on it.
func (l *Lab) buildPlant() {
	l.t.Helper()
	sw := l.Lab.Switch("rf")
	sw.Attach(l.Card, "rf0")
	for _, p := range l.Ports {
		sw.Attach(p.Access, "rf0")
		p.Access.MustIP("link", "set", "rf0", "mtu", "1600")
	}
	l.Card.MustIP("link", "set", "rf0", "mtu", "1600")
	for i := range len(l.Ports) + 1 {
		sw.NS().MustIP("link", "set", fmt.Sprintf("p%d", i+1), "mtu", "1600")
	}
	sw.NS().MustIP("link", "set", "br0", "mtu", "1600")
	l.Card.MustIP("link", "add", "ds0", "type", "veth", "peer", "name", "ds1")
	for _, knob := range []string{"net.ipv6.conf.ds0.disable_ipv6=1", "net.ipv6.conf.ds1.disable_ipv6=1", "net.ipv4.ip_forward=1"} {
		l.Card.MustExec("sysctl", "-qw", knob)
	}
	l.Card.MustIP("link", "set", "ds0", "up")
	l.Card.MustIP("link", "set", "ds1", "up")
	l.Card.WaitOperUp("ds0")
	if err := l.Card.Do(func() error {
		ifi, err := net.InterfaceByName("rf0")
		if err == nil {
			l.CMTS = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		l.t.Fatalf("bpilab: card rf0: %v", err)
	}
	l.Plant = sw.NS()
}

// Section is the agent's bpi configuration: BPI+ on ds1 -> rf0 with the
// lab's modems and keys.
func (l *Lab) Section() map[string]any {
	var ms []any
	for _, m := range l.Modems {
		ms = append(ms, map[string]any{"mac": m.MAC.String(), "said": m.SAID, "auth_key": hex.EncodeToString(m.AK)})
	}
	s := map[string]any{"enabled": true, "downstream_interface": "ds1", "rf_interface": "rf0",
		"tek_lifetime": l.Opts.TEKLifetime.String(), "tek_grace": l.Opts.TEKGrace.String(), "modems": ms}
	if l.Opts.LeasequeryHoldoff != 0 {
		s["leasequery_holdoff"] = l.Opts.LeasequeryHoldoff.String()
	}
	return s
}

// AgentConfig writes the lab configuration (topo's LabConfig) with the
// bpi section and returns its path.
func (l *Lab) AgentConfig() string {
	return l.LabConfig(func(cfg map[string]any) { cfg["bpi"] = l.Section() })
}

// ifaceByName is the interface named name in the calling namespace; one
// that does not exist makes the Listen it is passed to fail naming it.
func ifaceByName(name string) *net.Interface {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return &net.Interface{Name: name}
	}
	return ifi
}
