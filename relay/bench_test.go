package relay

import (
	"context"
	"net/netip"
	"testing"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/platform"
)

// The relay's hot path: a broadcast DHCPDISCOVER up (parse, hops, giaddr,
// option 82) and a DHCPOFFER down (circuit lookup, strip, destination).
// Run with -benchmem: both must report 0 allocs/op. The end-to-end rate
// against ISC dhcrelay is in integration/relaybench.

func BenchmarkFromClientDiscover(b *testing.B) {
	r := newRelay(b, testConfig())
	m := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: discover(1).bytes()}
	scratch := buf()
	b.ReportAllocs()
	for b.Loop() {
		if d := r.FromClient(t0, m, scratch); d.Verdict != ToServers {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkFromClientRequest(b *testing.B) {
	r := newRelay(b, testConfig())
	m := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(1, leased).bytes()}
	scratch := buf()
	b.ReportAllocs()
	for b.Loop() {
		if d := r.FromClient(t0, m, scratch); d.Verdict != ToServers {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkFromServerOffer(b *testing.B) {
	r := newRelay(b, testConfig())
	in := reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes()
	scratch := buf()
	b.ReportAllocs()
	for b.Loop() {
		if d := r.FromServer(t0, fromServer, in, scratch); d.Verdict != ToClient {
			b.Fatal(d.Reason)
		}
	}
}

// nullUpstream sends nowhere, so that the service benchmark measures the
// relay and not a fake's copying.
type nullUpstream struct{ platform.Demux }

func (*nullUpstream) LocalAddr() netip.AddrPort              { return netip.AddrPortFrom(upstream, 67) }
func (*nullUpstream) Send(to netip.AddrPort, b []byte) error { return nil }
func (u *nullUpstream) Handle(c platform.UpstreamClass, h platform.UpstreamHandler) error {
	return u.Demux.Handle(c, h)
}

type nullPort struct{ name string }

func (p nullPort) Name() string                                        { return p.name }
func (p nullPort) Index() int                                          { return 1 }
func (p nullPort) MAC() [6]byte                                        { return [6]byte{2} }
func (p nullPort) Send(dst platform.Destination, payload []byte) error { return nil }

// BenchmarkServiceDiscover is the whole handler a port calls per frame.
func BenchmarkServiceDiscover(b *testing.B) {
	ports := []platform.PortConn{nullPort{"sub0"}, nullPort{"sub1"}, nullPort{"sub2"}}
	svc, err := NewService(ServiceConfig{Relay: newRelay(b, testConfig()), Ports: ports, Upstream: &nullUpstream{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.Run(ctx)
	<-svc.Ready()
	f := platform.ClientFrame{DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, DstIP: bcastIP, Payload: discover(1).bytes()}
	b.ReportAllocs()
	for b.Loop() {
		svc.HandleClient(ports[0], f)
	}
	if st := svc.Stats(); st.ToServers == 0 || len(st.Dropped) != 0 {
		b.Fatalf("stats %+v", st)
	}
}
