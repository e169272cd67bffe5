package nfttest

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/mdlayher/packet"
)

// Addresses of the upstream side: the card's up0 and the upstream namespace.
var (
	CardUpAddr  = netip.MustParseAddr("198.51.100.1")
	UpstreamIP  = netip.MustParseAddr("198.51.100.2")
	upstreamNet = "198.51.100.0/24"
)

// Topology is a line card namespace with subscriber namespaces behind veth
// ports p1..pN and an upstream namespace behind up0; the card forwards.
type Topology struct {
	Lab  *lab.Lab
	Card *lab.NS
	Up   *lab.NS
	Subs []*Subscriber
}

// Subscriber is the namespace behind one card port. Subscriber i (from 1)
// is 10.0.i.10 with MAC 02:00:00:00:0i:10 on its eth0; the card is 10.0.i.1
// on port pi.
type Subscriber struct {
	NS         *lab.NS
	Port       string // the card's interface facing the subscriber
	IP         netip.Addr
	MAC        net.HardwareAddr
	Gateway    netip.Addr       // the card's address on Port
	GatewayMAC net.HardwareAddr // Port's MAC

	once sync.Once
	inj  *Injector
	err  error
}

// New builds a topology with n subscribers (n < 200).
func New(t lab.TB, n int) *Topology {
	t.Helper()
	l := lab.New(t)
	tp := &Topology{Lab: l, Card: quiet(t, l.NS("card")), Up: quiet(t, l.NS("up"))}
	l.Veth(tp.Card, "up0", tp.Up, "eth0")
	tp.Card.Addr("up0", CardUpAddr.String()+"/24")
	tp.Up.Addr("eth0", UpstreamIP.String()+"/24")
	tp.Up.MustIP("route", "add", "10.0.0.0/16", "via", CardUpAddr.String())
	tp.Card.MustExec("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0")
	for i := 1; i <= n; i++ {
		tp.Subs = append(tp.Subs, tp.addSubscriber(t, i))
	}
	return tp
}

func (tp *Topology) addSubscriber(t lab.TB, i int) *Subscriber {
	t.Helper()
	s := &Subscriber{
		NS:      quiet(t, tp.Lab.NS(fmt.Sprintf("sub%d", i))),
		Port:    fmt.Sprintf("p%d", i),
		IP:      netip.AddrFrom4([4]byte{10, 0, byte(i), 10}),
		MAC:     net.HardwareAddr{2, 0, 0, 0, byte(i), 0x10},
		Gateway: netip.AddrFrom4([4]byte{10, 0, byte(i), 1}),
	}
	tp.Lab.Veth(tp.Card, s.Port, s.NS, "eth0")
	s.NS.MustIP("link", "set", "eth0", "address", s.MAC.String())
	s.NS.Addr("eth0", s.IP.String()+"/24")
	s.NS.MustIP("route", "add", "default", "via", s.Gateway.String())
	tp.Card.Addr(s.Port, s.Gateway.String()+"/24")
	s.GatewayMAC = InterfaceMAC(t, tp.Card, s.Port)
	t.Cleanup(s.Close)
	return s
}

// quiet disables IPv6 in ns before any interface exists, so no router
// solicitation or MLD report disturbs the drop counters of a test.
func quiet(t lab.TB, ns *lab.NS) *lab.NS {
	t.Helper()
	ns.MustExec("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	return ns
}

// InterfaceMAC returns the MAC of ifname in ns.
func InterfaceMAC(t lab.TB, ns *lab.NS, ifname string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", ifname, ns.Name, err)
	}
	return mac
}

// Inject sends frame as is out of the subscriber's eth0 (an AF_PACKET
// socket opened once inside the subscriber namespace).
func (s *Subscriber) Inject(t lab.TB, frame []byte) {
	t.Helper()
	if err := s.TryInject(frame); err != nil {
		t.Fatalf("inject into %s: %v", s.NS.Name, err)
	}
}

// TryInject is Inject returning the error, for use off the test goroutine.
func (s *Subscriber) TryInject(frame []byte) error {
	s.once.Do(func() { s.inj, s.err = OpenInjector(s.NS, "eth0") })
	if s.err != nil {
		return s.err
	}
	return s.inj.Send(frame)
}

// UDP returns a frame from (src, mac) to dst:dport through the card port,
// carrying tag.
func (s *Subscriber) UDP(src netip.Addr, mac net.HardwareAddr, dst netip.Addr, sport, dport uint16, tag string) []byte {
	return UDPFrame(mac, s.GatewayMAC, src, dst, sport, dport, []byte(tag))
}

// Close releases the injection socket.
func (s *Subscriber) Close() {
	if s.inj != nil {
		s.inj.Close()
	}
}

// Injector sends raw Ethernet frames out of an interface.
type Injector struct {
	c *packet.Conn
}

// OpenInjector opens an AF_PACKET socket on ifname inside ns; the caller
// closes it.
func OpenInjector(ns *lab.NS, ifname string) (*Injector, error) {
	var inj Injector
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		inj.c, err = packet.Listen(ifi, packet.Raw, 0, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("injector on %s in %s: %w", ifname, ns.Name, err)
	}
	return &inj, nil
}

// Send writes frame as is.
func (inj *Injector) Send(frame []byte) error {
	_, err := inj.c.WriteTo(frame, &packet.Addr{HardwareAddr: frame[0:6]})
	return err
}

// Close releases the socket.
func (inj *Injector) Close() error { return inj.c.Close() }
