package relay

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform"
)

// downSummary is what a test checks of a server-side Decision.
type downSummary struct {
	Verdict Verdict
	Reason  Reason
	Port    int
	Dst     platform.Destination
	Has82   bool
	Opt82   []byte
	Glean   GleanKind
}

func summarizeDown(t *testing.T, d Decision) downSummary {
	t.Helper()
	s := downSummary{Verdict: d.Verdict, Reason: d.Reason, Glean: d.Glean.Kind}
	if d.Verdict != ToClient {
		return s
	}
	s.Port, s.Dst = d.Port, d.Dst
	if v, ok := parse(t, d.Msg).Option(lq.OptAgentInfo); ok {
		s.Has82, s.Opt82 = true, bytes.Clone(v)
	}
	return s
}

var (
	fromServer = netip.AddrPortFrom(server1, 67)
	leased     = netip.MustParseAddr("192.168.10.50")
	zero       = netip.IPv4Unspecified()
	toClient   = platform.Destination{MAC: [6]byte(client), IP: leased}
)

func TestFromServer(t *testing.T) {
	withFlags := func(m msg, f uint16) msg { m.flags = f; return m }
	foreignRelay := cat(sub(1, []byte("cable1/0/0")), sub(12, []byte("card-8")))
	tests := []struct {
		name  string
		cfg   func(*Config)
		first *ClientMsg // relayed before the reply
		msg   msg
		raw   []byte
		want  downSummary
	}{
		{name: "offer unicast to chaddr at yiaddr, option 82 stripped", msg: reply(lq.Offer, 1, gwCable, leased, cableOpt82),
			want: downSummary{Verdict: ToClient, Port: portCable, Dst: toClient}},
		{name: "offer with the broadcast flag", msg: withFlags(reply(lq.Offer, 1, gwCable, leased, cableOpt82), 0x8000),
			want: downSummary{Verdict: ToClient, Port: portCable, Dst: platform.Broadcast()}},
		{name: "dsl port found by circuit", msg: reply(lq.Offer, 1, gwDSL, netip.MustParseAddr("192.168.20.9"), dslOpt82),
			want: downSummary{Verdict: ToClient, Port: portDSL, Dst: platform.Destination{MAC: [6]byte(client), IP: netip.MustParseAddr("192.168.20.9")}}},
		{name: "ack gleans", msg: reply(lq.Ack, 1, gwCable, leased, cableOpt82),
			want: downSummary{Verdict: ToClient, Port: portCable, Dst: toClient, Glean: Bind}},
		{name: "nak is broadcast and unbinds the requested address",
			first: &ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(9, leased).bytes()},
			msg:   reply(lq.Nak, 9, gwCable, zero, cableOpt82),
			want:  downSummary{Verdict: ToClient, Port: portCable, Dst: platform.Broadcast(), Glean: Unbind}},
		{name: "nak to an unremembered request unbinds nothing", msg: reply(lq.Nak, 9, gwCable, zero, cableOpt82),
			want: downSummary{Verdict: ToClient, Port: portCable, Dst: platform.Broadcast()}},
		{name: "leasequery reply never reaches a subscriber", msg: reply(lq.LeaseActive, 1, upstream, zero, cableOpt82),
			want: downSummary{Verdict: Drop, Reason: LeasequeryReply}},
		{name: "unknown circuit", msg: reply(lq.Offer, 1, gwCable, leased, sub(1, []byte("cable9/9/9"))),
			want: downSummary{Verdict: Drop, Reason: UnknownCircuit}},
		{name: "our circuit, another card's relay-id", msg: reply(lq.Offer, 1, gwCable, leased, foreignRelay),
			want: downSummary{Verdict: Drop, Reason: ForeignRelayID}},
		{name: "our circuit, no relay-id", msg: reply(lq.Offer, 1, gwCable, leased, sub(1, []byte("cable1/0/0"))),
			want: downSummary{Verdict: Drop, Reason: ForeignRelayID}},
		{name: "without a configured relay-id the circuit suffices", cfg: func(c *Config) { c.RelayID = nil },
			msg:  reply(lq.Offer, 1, gwCable, leased, sub(1, []byte("cable1/0/0"))),
			want: downSummary{Verdict: ToClient, Port: portCable, Dst: toClient}},
		{name: "giaddr not ours", msg: reply(lq.Offer, 1, netip.MustParseAddr("192.168.99.1"), leased, cableOpt82),
			want: downSummary{Verdict: Drop, Reason: WrongGIAddr}},
		{name: "giaddr of another port", msg: reply(lq.Offer, 1, gwDSL, leased, cableOpt82),
			want: downSummary{Verdict: Drop, Reason: WrongGIAddr}},
		{name: "no option 82 and no remembered request", msg: reply(lq.Offer, 1, gwCable, leased, nil),
			want: downSummary{Verdict: Drop, Reason: UnknownCircuit}},
		{name: "server that does not echo option 82: routed by the remembered request",
			first: &ClientMsg{Port: portDSL, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(9, leased).bytes()},
			msg:   reply(lq.Ack, 9, gwDSL, leased, nil),
			want:  downSummary{Verdict: ToClient, Port: portDSL, Dst: toClient, Glean: Bind}},
		{name: "trusted keep: routed by memory, the downstream agent's option 82 left in",
			cfg: func(c *Config) { c.Ports[portTrusted].Policy = PolicyKeep },
			first: &ClientMsg{Port: portTrusted, Broadcast: true, DstIP: bcastIP, Payload: func() []byte {
				m := discover(11)
				m.opts = append(m.opts, lq.Option{Code: lq.OptAgentInfo, Data: sub(1, []byte("dslam-9"))})
				return m.bytes()
			}()},
			msg:  reply(lq.Offer, 11, upstream, leased, sub(1, []byte("dslam-9"))),
			want: downSummary{Verdict: ToClient, Port: portTrusted, Dst: toClient, Has82: true, Opt82: sub(1, []byte("dslam-9"))}},
		{name: "a foreign option 82 is not routed by memory of a request we tagged",
			first: &ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: discover(12).bytes()},
			msg:   reply(lq.Offer, 12, gwCable, leased, sub(1, []byte("other"))),
			want:  downSummary{Verdict: Drop, Reason: UnknownCircuit}},
		{name: "a request handed in as a reply", msg: discover(1), want: downSummary{Verdict: Drop, Reason: WrongOp}},
		{name: "a server DHCPINFORM", msg: msg{op: lq.BootReply, typ: lq.Inform, giaddr: gwCable, chaddr: client},
			want: downSummary{Verdict: Drop, Reason: MessageType}},
		{name: "garbage", raw: []byte{2, 1, 6}, want: downSummary{Verdict: Drop, Reason: Malformed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			r := newRelay(t, cfg)
			if tt.first != nil {
				if d := r.FromClient(t0, *tt.first, buf()); d.Verdict != ToServers {
					t.Fatalf("setup: client message not relayed: %v", d.Reason)
				}
			}
			in := tt.raw
			if in == nil {
				in = tt.msg.bytes()
			}
			d := r.FromServer(t0.Add(time.Second), fromServer, in, buf())
			if diff := cmp.Diff(tt.want, summarizeDown(t, d), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAckBinding checks every field a relayed DHCPACK puts in the table.
func TestAckBinding(t *testing.T) {
	r := newRelay(t, testConfig())
	req := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(9, leased).bytes()}
	if d := r.FromClient(t0, req, buf()); d.Verdict != ToServers {
		t.Fatalf("request not relayed: %v", d.Reason)
	}
	now := t0.Add(2 * time.Second)
	d := r.FromServer(now, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), 67), reply(lq.Ack, 9, gwCable, leased, cableOpt82).bytes(), buf())
	ai, err := lq.ParseAgentInfo(cableOpt82)
	if err != nil {
		t.Fatal(err)
	}
	want := location.Binding{
		Binding: lq.Binding{
			IP: leased, HType: 1, HWAddr: client, ClientID: append([]byte{1}, client...),
			Expiry: now.Add(time.Hour), T1: now.Add(30 * time.Minute), T2: now.Add(3150 * time.Second),
			LastTransaction: now, AgentInfo: ai, VendorClass: []byte("udhcp 1.35.0"), Server: server1,
		},
		Port: "cable1/0/0", CircuitID: []byte("cable1/0/0"), Modem: modem, Source: location.Gleaned,
	}
	if diff := cmp.Diff(Glean{Kind: Bind, Binding: want}, d.Glean, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("glean (-want +got):\n%s", diff)
	}
	if d.Msg == nil || bytes.Contains(d.Msg, []byte("cable1/0/0")) {
		t.Error("option 82 not stripped from the DHCPACK")
	}
}

func TestNakRemoval(t *testing.T) {
	r := newRelay(t, testConfig())
	r.FromClient(t0, ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(9, leased).bytes()}, buf())
	d := r.FromServer(t0, fromServer, reply(lq.Nak, 9, gwCable, zero, cableOpt82).bytes(), buf())
	want := location.Removal{IP: leased, Reason: location.Nak, HWAddr: client, ClientID: append([]byte{1}, client...)}
	if diff := cmp.Diff(want, d.Glean.Removal, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("removal (-want +got):\n%s", diff)
	}
}

// TestRequestMemoryBounded: the memory keeps the newest requests and
// forgets those older than its TTL.
func TestRequestMemoryBounded(t *testing.T) {
	cfg := testConfig()
	cfg.RecentRequests, cfg.RequestTTL = 2, 10*time.Second
	r := newRelay(t, cfg)
	for xid := uint32(1); xid <= 3; xid++ {
		r.FromClient(t0, ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(xid, leased).bytes()}, buf())
	}
	if n := r.requests.len(); n != 2 {
		t.Errorf("remembered %d requests, want 2", n)
	}
	vendor := func(now time.Time, xid uint32) string {
		d := r.FromServer(now, fromServer, reply(lq.Ack, xid, gwCable, leased, cableOpt82).bytes(), buf())
		return string(d.Glean.Binding.VendorClass)
	}
	if got := vendor(t0, 1); got != "" {
		t.Errorf("xid 1 (overwritten): vendor class %q, want none", got)
	}
	if got := vendor(t0, 3); got != "udhcp 1.35.0" {
		t.Errorf("xid 3: vendor class %q, want udhcp 1.35.0", got)
	}
	if got := vendor(t0.Add(11*time.Second), 2); got != "" {
		t.Errorf("xid 2 after the TTL: vendor class %q, want none", got)
	}
}

func TestPortMapBind(t *testing.T) {
	r := newRelay(t, testConfig())
	ai, _ := lq.ParseAgentInfo(dslOpt82)
	b, ok := r.Ports().Bind(lq.Binding{IP: netip.MustParseAddr("192.168.20.9"), AgentInfo: ai}, location.Leasequery)
	if !ok || b.Port != "dsl1/1" || string(b.CircuitID) != "dsl1/1" || b.Modem != nil || b.Source != location.Leasequery {
		t.Errorf("Bind(dsl option 82) = %+v, %v; want port dsl1/1", b, ok)
	}
	ai, _ = lq.ParseAgentInfo(cableOpt82)
	if b, ok := r.Ports().Bind(lq.Binding{AgentInfo: ai}, location.Leasequery); !ok || !bytes.Equal(b.Modem, modem) {
		t.Errorf("Bind(cable option 82) = %+v, %v; want modem %v", b, ok, modem)
	}
	ai, _ = lq.ParseAgentInfo(cat(sub(1, []byte("dsl1/1")), sub(12, []byte("card-8"))))
	if _, ok := r.Ports().Bind(lq.Binding{AgentInfo: ai}, location.Leasequery); ok {
		t.Error("Bind placed another card's circuit on this card")
	}
	if _, ok := r.Ports().Bind(lq.Binding{}, location.Leasequery); ok {
		t.Error("Bind placed a binding without option 82")
	}
}
