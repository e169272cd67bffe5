package relay

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform"
)

// serviceLab is a Service over fakes: three ports, the upstream socket and
// one gateway listener, a real location table.
type serviceLab struct {
	svc      *Service
	ports    []*platform.FakePort
	up, gw   *platform.FakeUpstream
	table    *location.Table
	mu       sync.Mutex
	noted    []netip.Addr
	cancel   context.CancelFunc
	finished chan error
}

func newServiceLab(t *testing.T, cfg Config) *serviceLab {
	t.Helper()
	l := &serviceLab{
		up:    &platform.FakeUpstream{Local: netip.AddrPortFrom(upstream, 67)},
		gw:    &platform.FakeUpstream{Local: netip.AddrPortFrom(gwCable, 67)},
		table: location.New(location.Config{}),
	}
	var conns []platform.PortConn
	for i, pc := range cfg.Ports {
		fp := &platform.FakePort{PortName: pc.Interface, PortIndex: 10 + i, PortMAC: [6]byte{2, 0, 0, 0, 1, byte(i)}}
		l.ports = append(l.ports, fp)
		conns = append(conns, fp)
	}
	svc, err := NewService(ServiceConfig{
		Relay: newRelay(t, cfg), Ports: conns, Upstream: l.up, Listeners: []platform.UpstreamConn{l.gw},
		Table: l.table, Now: func() time.Time { return t0 },
		NoteLease: func(ip netip.Addr) { l.mu.Lock(); l.noted = append(l.noted, ip); l.mu.Unlock() },
	})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	l.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.finished = cancel, make(chan error, 1)
	go func() { l.finished <- svc.Run(ctx) }()
	<-svc.Ready()
	t.Cleanup(func() {
		cancel()
		if err := <-l.finished; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	})
	return l
}

func (l *serviceLab) fromClient(port int, dst netip.Addr, payload []byte) {
	mac := [6]byte(client)
	if dst == bcastIP {
		mac = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	}
	l.ports[port].Deliver(l.svc, platform.ClientFrame{SrcMAC: [6]byte(client), DstMAC: mac, SrcIP: zero, DstIP: dst, Payload: payload})
}

func TestServiceRelaysAndGleans(t *testing.T) {
	l := newServiceLab(t, testConfig())

	l.fromClient(portCable, bcastIP, discover(1).bytes())
	sent := l.up.Sent()
	if len(sent) != 2 || sent[0].To != netip.AddrPortFrom(server1, 67) || sent[1].To != netip.AddrPortFrom(server2, 67) {
		t.Fatalf("DHCPDISCOVER went to %v, want both servers", sent)
	}
	if got, _ := parse(t, sent[0].Data).Option(lq.OptAgentInfo); string(got) != string(cableOpt82) {
		t.Errorf("relayed option 82 = %x, want %x", got, cableOpt82)
	}

	if c := l.up.Deliver(reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes(), fromServer); c != platform.RelayReply {
		t.Fatalf("offer classified as %v", c)
	}
	if f := l.ports[portCable].Sent(); len(f) != 1 || f[0].Dst != toClient {
		t.Fatalf("offer frames %v, want one to %v", f, toClient)
	}

	// A leasequery answer heard upstream goes to the leasequery handler,
	// never to a subscriber.
	if c := l.up.Deliver(reply(lq.LeaseActive, 1, upstream, leased, cableOpt82).bytes(), fromServer); c != platform.LeasequeryReply {
		t.Fatalf("DHCPLEASEACTIVE classified as %v", c)
	}
	if f := l.ports[portCable].Sent(); len(f) != 1 {
		t.Errorf("a leasequery reply reached port %s: %d frames", l.ports[portCable].Name(), len(f))
	}

	l.fromClient(portCable, bcastIP, dhcpRequest(2, leased).bytes())
	l.gw.Deliver(reply(lq.Ack, 2, gwCable, leased, cableOpt82).bytes(), fromServer) // through the gateway's socket
	b, ok := l.table.ByIP(leased)
	if !ok || b.Port != "cable1/0/0" || b.Modem.String() != modem.String() || string(b.VendorClass) != "udhcp 1.35.0" {
		t.Fatalf("table after DHCPACK: %+v, %v", b, ok)
	}
	if len(l.noted) != 1 || l.noted[0] != leased {
		t.Errorf("NoteLease calls %v, want [%v]", l.noted, leased)
	}

	rel := msg{op: lq.BootRequest, typ: lq.Release, xid: 3, chaddr: client, ciaddr: leased,
		opts: []lq.Option{{Code: lq.OptClientID, Data: append([]byte{1}, client...)}}}
	l.fromClient(portCable, server1, rel.bytes())
	if _, ok := l.table.ByIP(leased); ok {
		t.Error("binding still in the table after DHCPRELEASE")
	}
	st := l.svc.Stats()
	if st.Gleans[location.ResultAdded] != 1 || st.Gleans[location.ResultRemoved] != 1 || st.ToClients != 2 || st.ToServers != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestServicePortSendFailure: a port whose socket fails is counted and
// does not stop the relay for the other ports.
func TestServicePortSendFailure(t *testing.T) {
	l := newServiceLab(t, testConfig())
	l.ports[portCable].SendErr = errors.New("link down")
	l.up.Deliver(reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes(), fromServer)
	l.up.Deliver(reply(lq.Offer, 2, gwDSL, netip.MustParseAddr("192.168.20.9"), dslOpt82).bytes(), fromServer)
	if n := len(l.ports[portDSL].Sent()); n != 1 {
		t.Errorf("dsl port sent %d frames, want 1", n)
	}
	if st := l.svc.Stats(); st.SendErrors != 1 {
		t.Errorf("SendErrors = %d, want 1", st.SendErrors)
	}
}

func TestNewServiceNeedsEveryPort(t *testing.T) {
	_, err := NewService(ServiceConfig{Relay: newRelay(t, testConfig()), Upstream: &platform.FakeUpstream{},
		Ports: []platform.PortConn{&platform.FakePort{PortName: "sub0"}}})
	if err == nil || err.Error() != "relay service: port dsl1/1: no socket on interface sub1" {
		t.Errorf("NewService: %v", err)
	}
}
