package nft_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/nft/nfttest"
)

var (
	trustedMAC = net.HardwareAddr{2, 0xaa, 0, 0, 0, 1}
	strangeMAC = net.HardwareAddr{2, 0, 0, 0, 0x99, 0x99}
	probeMAC   = net.HardwareAddr{2, 0, 0, 0, 0x77, 0x77}
	unbound    = netip.MustParseAddr("10.0.1.99")
	zero       = netip.IPv4Unspecified()
	bcast      = netip.MustParseAddr("255.255.255.255")
)

const hang = 5 * time.Second // bounds waits; asserts nothing about speed

// guard is a topology whose card runs the ruleset.
type guard struct {
	tp  *nfttest.Topology
	k   *nft.Kernel
	cfg nft.Config
}

func newGuard(t *testing.T, subscribers int) *guard {
	t.Helper()
	g := &guard{tp: nfttest.New(t, subscribers)}
	g.k = kernelIn(t, g.tp.Card)
	for _, s := range g.tp.Subs {
		g.cfg.Ports = append(g.cfg.Ports, nft.Port{Name: s.Port, RelayAddr: s.Gateway})
	}
	g.cfg.NFLogGroup = 7
	g.cfg.TrustedMACs = []net.HardwareAddr{trustedMAC}
	return g
}

// binding is subscriber i's own (port, IP, MAC) with a lease of d.
func (g *guard) binding(i int, d time.Duration) nft.Element {
	s := g.tp.Subs[i]
	return nft.Element{Port: s.Port, IP: s.IP, MAC: s.MAC, Expires: time.Now().Add(d)}
}

func (g *guard) rebuild(t testing.TB, elems ...nft.Element) {
	t.Helper()
	if err := g.k.Rebuild(g.cfg, elems, time.Now()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
}

func (g *guard) counters(t testing.TB) map[nft.CounterID]nft.Counter {
	t.Helper()
	st, err := g.k.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st.Counters
}

// delta is the packets each counter gained since before.
func delta(before, after map[nft.CounterID]nft.Counter) map[nft.CounterID]uint64 {
	out := map[nft.CounterID]uint64{}
	for id, c := range after {
		if d := c.Packets - before[id].Packets; d != 0 {
			out[id] = d
		}
	}
	return out
}

// waitDelta polls the counters until they gained exactly want since before.
func (g *guard) waitDelta(t testing.TB, before map[nft.CounterID]nft.Counter, want map[nft.CounterID]uint64) {
	t.Helper()
	deadline := time.Now().Add(hang)
	tick := time.NewTicker(5 * time.Millisecond) // nothing signals counter updates: poll
	defer tick.Stop()
	for {
		got := delta(before, g.counters(t))
		if cmp.Equal(want, got, cmpopts.EquateEmpty()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters gained (-want +got):\n%s", cmp.Diff(want, got, cmpopts.EquateEmpty()))
		}
		<-tick.C
	}
}

func id(port string, r nft.Reason) nft.CounterID { return nft.CounterID{Port: port, Reason: r} }

// TestVerification sends legitimate and spoofed traffic from subscriber
// namespaces into the card's ports: what passes arrives at a socket, what
// is dropped shows in exactly the counters expected and never arrives.
func TestVerification(t *testing.T) {
	g := newGuard(t, 2)
	s1, s2 := g.tp.Subs[0], g.tp.Subs[1]
	g.rebuild(t, g.binding(0, time.Hour), g.binding(1, time.Hour))
	card9000 := nfttest.Listen(t, g.tp.Card, "0.0.0.0:9000")
	card67 := nfttest.Listen(t, g.tp.Card, "0.0.0.0:67")
	up67 := nfttest.Listen(t, g.tp.Up, "0.0.0.0:67")
	arp1 := nfttest.WatchARP(t, s1.NS, "eth0")

	tests := []struct {
		name  string
		from  *nfttest.Subscriber
		frame []byte
		sink  *nfttest.Sink // where a passing frame's tag arrives; nil for ARP
		pass  bool
		drops map[nft.CounterID]uint64
	}{
		{name: "bound source", from: s1, sink: card9000, pass: true,
			frame: s1.UDP(s1.IP, s1.MAC, s1.Gateway, 1000, 9000, "bound source")},
		{name: "spoofed source IP", from: s1, sink: card9000,
			frame: s1.UDP(unbound, s1.MAC, s1.Gateway, 1000, 9000, "spoofed source IP"),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1, id("p1", nft.Reported): 1}},
		{name: "spoofed source IP again, not reported twice", from: s1, sink: card9000,
			frame: s1.UDP(unbound, s1.MAC, s1.Gateway, 1000, 9000, "spoofed again"),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1}},
		{name: "bound IP with another MAC", from: s1, sink: card9000,
			frame: s1.UDP(s1.IP, strangeMAC, s1.Gateway, 1000, 9000, "wrong MAC"),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1, id("p1", nft.Reported): 1}},
		{name: "bound IP and MAC on the other port", from: s2, sink: card9000,
			frame: s2.UDP(s1.IP, s1.MAC, s2.Gateway, 1000, 9000, "other port"),
			drops: map[nft.CounterID]uint64{id("p2", nft.ReasonIPv4Source): 1, id("p2", nft.Reported): 1}},
		{name: "trusted MAC", from: s1, sink: card9000, pass: true,
			frame: s1.UDP(netip.MustParseAddr("192.0.2.50"), trustedMAC, s1.Gateway, 1000, 9000, "trusted")},
		{name: "DHCP to broadcast", from: s1, sink: card67, pass: true,
			frame: nfttest.UDPFrame(probeMAC, nfttest.Broadcast, zero, bcast, 68, 67, []byte("dhcp broadcast"))},
		{name: "DHCP to the relay", from: s1, sink: card67, pass: true,
			frame: s1.UDP(netip.MustParseAddr("10.0.1.98"), probeMAC, s1.Gateway, 68, 67, "dhcp relay")},
		{name: "DHCP upstream from a bound source (control)", from: s1, sink: up67, pass: true,
			frame: s1.UDP(s1.IP, s1.MAC, nfttest.UpstreamIP, 68, 67, "dhcp upstream bound")},
		{name: "DHCP upstream from an unbound source", from: s1, sink: up67,
			frame: s1.UDP(netip.MustParseAddr("10.0.1.98"), probeMAC, nfttest.UpstreamIP, 68, 67, "dhcp upstream spoofed"),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Source): 1, id("p1", nft.Reported): 1}},
		{name: "DHCP upstream from 0.0.0.0", from: s1, sink: up67,
			frame: s1.UDP(zero, probeMAC, nfttest.UpstreamIP, 68, 67, "dhcp upstream zero"),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonIPv4Unspecified): 1}},
		{name: "IPv6", from: s1,
			frame: append(etherHeader(s1.MAC, s1.GatewayMAC, 0x86dd), make([]byte, 40)...),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonIPv6): 1}},
		{name: "other ethertype", from: s1,
			frame: append(etherHeader(s1.MAC, s1.GatewayMAC, 0x88b5), make([]byte, 46)...),
			drops: map[nft.CounterID]uint64{id("p1", nft.ReasonOther): 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := g.counters(t)
			tt.from.Inject(t, tt.frame)
			if tt.pass {
				tt.sink.Wait(t, string(tt.frame[14+20+8:]), hang)
			}
			g.waitDelta(t, before, tt.drops)
			if !tt.pass && tt.sink != nil {
				if tag := string(tt.frame[14+20+8:]); tt.sink.Count(tag) != 0 {
					t.Errorf("dropped frame %q arrived", tag)
				}
			}
		})
	}

	t.Run("ARP from the binding is answered", func(t *testing.T) {
		before := g.counters(t)
		s1.Inject(t, nfttest.ARPFrame(s1.MAC, nfttest.Broadcast, nfttest.ARPRequest, s1.MAC, s1.IP, make(net.HardwareAddr, 6), s1.Gateway))
		arp1.Wait(t, func(a nfttest.ARP) bool { return a.Op == nfttest.ARPReply && a.TargetIP == s1.IP }, hang)
		g.waitDelta(t, before, nil)
	})
	t.Run("ARP probe passes and is answered", func(t *testing.T) {
		before := g.counters(t)
		s1.Inject(t, nfttest.ARPFrame(probeMAC, nfttest.Broadcast, nfttest.ARPRequest, probeMAC, zero, make(net.HardwareAddr, 6), s1.Gateway))
		arp1.Wait(t, func(a nfttest.ARP) bool { return a.Op == nfttest.ARPReply && a.TargetIP == zero }, hang)
		g.waitDelta(t, before, nil)
	})
	arpSpoofs := []struct {
		name           string
		ethSrc, sender net.HardwareAddr
		reported       uint64
	}{
		// (p1, s1.IP, strangeMAC) was reported by the IPv4 case above:
		// ARP and IPv4 share the de-duplication set.
		{"ARP claiming a bound IP from another MAC", strangeMAC, strangeMAC, 0},
		{"ARP whose sender MAC differs from the Ethernet source", s1.MAC, strangeMAC, 1},
	}
	for _, tt := range arpSpoofs {
		t.Run(tt.name, func(t *testing.T) {
			before := g.counters(t)
			s1.Inject(t, nfttest.ARPFrame(tt.ethSrc, nfttest.Broadcast, nfttest.ARPRequest, tt.sender, s1.IP, make(net.HardwareAddr, 6), s1.Gateway))
			want := map[nft.CounterID]uint64{id("p1", nft.ReasonARPSource): 1}
			if tt.reported > 0 {
				want[id("p1", nft.Reported)] = tt.reported
			}
			g.waitDelta(t, before, want)
			if neigh := g.tp.Card.MustIP("neigh", "show", s1.IP.String(), "dev", "p1"); strings.Contains(neigh, strangeMAC.String()) {
				t.Errorf("card's neighbour entry poisoned: %s", neigh)
			}
		})
	}
}

func etherHeader(src, dst net.HardwareAddr, ethertype uint16) []byte {
	return append(append(append([]byte(nil), dst...), src...), byte(ethertype>>8), byte(ethertype))
}
