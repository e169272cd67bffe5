package enforcebench

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/leaseguard/leaseguard/platform/fwd"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The data-plane lab: subscribers behind the card's port p1 (10.40.0.0/15,
// room for 100,000 bindings), a sink upstream behind up0.
var (
	subBase  = netip.MustParseAddr("10.40.0.10")
	subNet   = netip.MustParsePrefix("10.40.0.0/15")
	gateway  = netip.MustParseAddr("10.40.0.1")
	cardUp   = netip.MustParseAddr("198.51.100.1")
	sinkAddr = netip.MustParseAddr("198.51.100.2")
)

const (
	flows      = 10      // distinct sources (and destinations) in the traffic
	perRound   = 100_000 // frames sent per benchmark iteration
	sinkPort   = 9000
	bigBinding = 100_000
)

// dataplane is the lab: card, a subscriber namespace on p1, a sink on up0;
// both ends drop what reaches them in netdev ingress (counted by the
// interface's receive counter first), so only the card forwards.
type dataplane struct {
	card, sub, sink *lab.NS
	k               *nft.Kernel
	fw              *fwd.Programmer
	cfg             nft.Config
	subMAC, p1MAC   net.HardwareAddr
	upMAC           net.HardwareAddr
	links           map[*lab.NS]*vnl.Handle
}

func newDataplane(b *testing.B) *dataplane {
	b.Helper()
	lab.Need(b, "nft")
	l := lab.New(b)
	d := &dataplane{card: l.NS("card"), sub: l.NS("sub"), sink: l.NS("sink"), links: map[*lab.NS]*vnl.Handle{}}
	l.Veth(d.card, "p1", d.sub, "eth0")
	l.Veth(d.card, "up0", d.sink, "eth0")
	d.card.Addr("p1", netip.PrefixFrom(gateway, subNet.Bits()).String())
	d.card.Addr("up0", cardUp.String()+"/24")
	d.sink.Addr("eth0", sinkAddr.String()+"/24")
	for _, s := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv4.conf.p1.rp_filter=0", "net.ipv4.conf.up0.rp_filter=0"} {
		d.card.MustExec("sysctl", "-qw", s)
	}
	for _, ns := range []*lab.NS{d.sub, d.sink} {
		ns.MustExec("nft", "add table netdev end; add chain netdev end in { type filter hook ingress device eth0 priority 0; policy drop; }")
	}
	d.subMAC = nfttest.InterfaceMAC(b, d.sub, "eth0")
	d.p1MAC = nfttest.InterfaceMAC(b, d.card, "p1")
	d.upMAC = nfttest.InterfaceMAC(b, d.card, "up0")
	d.card.MustIP("neigh", "replace", sinkAddr.String(), "lladdr", nfttest.InterfaceMAC(b, d.sink, "eth0").String(), "dev", "up0", "nud", "permanent")
	f, err := d.card.Fd()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	d.k = nft.NewKernel(nft.KernelOptions{NetNS: int(f.Fd())})
	b.Cleanup(func() { d.k.Close() })
	if d.fw, err = fwd.New(fwd.Config{NetNS: int(f.Fd())}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.fw.Close() })
	d.handle(b, d.sub)
	d.handle(b, d.sink)
	d.cfg = nft.Config{Ports: []nft.Port{{Name: "p1", RelayAddr: gateway}}, NFLogGroup: 7,
		SubscriberNets: []netip.Prefix{subNet}, DropForwardedDHCP: true}
	return d
}

// bindings are subscribers 0..n-1 with hour-long leases.
func bindings(n int) ([]nft.Element, []fwd.Binding) {
	els, fws := make([]nft.Element, n), make([]fwd.Binding, n)
	for i := range n {
		ip, mac := source(subBase, i)
		els[i] = nft.Element{Port: "p1", IP: ip, MAC: mac, Expires: time.Now().Add(time.Hour)}
		fws[i] = fwd.Binding{Port: "p1", IP: ip, MAC: mac}
	}
	return els, fws
}

// program sets the card up with n bindings (n < 0: no ruleset at all, the
// routes and neighbours of the flows only).
func (d *dataplane) program(b *testing.B, n int) {
	b.Helper()
	d.card.Exec("nft", "delete", "table", "netdev", nft.DefaultTable)
	d.card.Exec("nft", "delete", "table", "ip", nft.DefaultTable)
	d.card.MustIP("route", "flush", "proto", fmt.Sprint(fwd.DefaultProtocol))
	d.card.MustIP("neigh", "flush", "dev", "p1", "nud", "all")
	els, fws := bindings(max(n, flows))
	if err := d.fw.Add(fws); err != nil {
		b.Fatal(err)
	}
	if n < 0 {
		return
	}
	if err := d.k.Rebuild(d.cfg, els, time.Now()); err != nil {
		b.Fatal(err)
	}
}

// rxPackets is an interface's receive counter in ns.
func (d *dataplane) rxPackets(b *testing.B, ns *lab.NS, ifname string) uint64 {
	b.Helper()
	l, err := d.links[ns].LinkByName(ifname)
	if err != nil {
		b.Fatal(err)
	}
	return l.Attrs().Statistics.RxPackets
}

// handle opens an rtnetlink handle in ns for the whole benchmark.
func (d *dataplane) handle(b *testing.B, ns *lab.NS) {
	b.Helper()
	f, err := ns.Fd()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	h, err := vnl.NewHandleAt(netns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	d.links[ns] = h
}

// BenchmarkForwarding sends 100,000 frames per iteration through the
// card as fast as one sender can, upstream (subscribers to the sink:
// verified in netdev ingress against the allowed set) and downstream (sink
// to subscribers: the bound set checked before routing, /32 routes and
// permanent neighbours), with the card programmed three ways in one run:
// plain forwarding (no ruleset), 10 bindings, 100,000 bindings. The
// traffic is the same 10 flows each time. Reports forwarded frames per
// second (fwd-pps) and the share delivered.
func BenchmarkForwarding(b *testing.B) {
	d := newDataplane(b)
	var up, down [][]byte
	for i := range flows {
		ip, mac := source(subBase, i)
		up = append(up, udpFrame(mac, d.p1MAC, ip, sinkAddr, sinkPort, i))
		down = append(down, udpFrame(nfttest.InterfaceMAC(b, d.sink, "eth0"), d.upMAC, sinkAddr, ip, sinkPort, i))
	}
	upGen, downGen := openGenerator(b, d.sub, "eth0", up), openGenerator(b, d.sink, "eth0", down)
	for _, v := range []struct {
		name     string
		bindings int
	}{{"plain-forwarding", -1}, {"bindings=10", flows}, {"bindings=100000", bigBinding}} {
		d.program(b, v.bindings)
		for _, dir := range []struct {
			name     string
			gen      *generator
			rxNS     *lab.NS
			attempts int
		}{{"up", upGen, d.sink, 0}, {"down", downGen, d.sub, 0}} {
			b.Run(v.name+"/"+dir.name, func(b *testing.B) {
				var got uint64
				var took time.Duration
				for range b.N {
					rx0 := d.rxPackets(b, dir.rxNS, "eth0")
					start := time.Now()
					dir.gen.send(perRound)
					took += time.Since(start)
					got += d.rxPackets(b, dir.rxNS, "eth0") - rx0
				}
				b.ReportMetric(float64(got)/took.Seconds(), "fwd-pps")
				b.ReportMetric(100*float64(got)/float64(b.N*perRound), "%delivered")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
