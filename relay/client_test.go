package relay

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
)

// upSummary is what a test checks of a client-side Decision.
type upSummary struct {
	Verdict Verdict
	Reason  Reason
	Servers []netip.AddrPort
	GIAddr  netip.Addr
	Hops    uint8
	Opt82   []byte // nil: none
	Glean   GleanKind
}

func summarizeUp(t *testing.T, d Decision) upSummary {
	t.Helper()
	s := upSummary{Verdict: d.Verdict, Reason: d.Reason, Servers: d.Servers, Glean: d.Glean.Kind}
	if d.Verdict != ToServers {
		return s
	}
	p := parse(t, d.Msg)
	s.GIAddr, s.Hops = p.GIAddr(), p.Hops()
	if v, ok := p.Option(lq.OptAgentInfo); ok {
		s.Opt82 = bytes.Clone(v)
	}
	return s
}

var (
	both = []netip.AddrPort{netip.AddrPortFrom(server1, 67), netip.AddrPortFrom(server2, 67)}
	only = func(a netip.Addr) []netip.AddrPort { return []netip.AddrPort{netip.AddrPortFrom(a, 67)} }
)

func TestFromClient(t *testing.T) {
	foreign82 := []lq.Option{{Code: lq.OptAgentInfo, Data: sub(1, []byte("dslam-9"))}}
	withOpts := func(m msg, o []lq.Option) msg { m.opts = append(m.opts, o...); return m }
	withHops := func(m msg, h uint8) msg { m.hops = h; return m }
	withGI := func(m msg, a string) msg { m.giaddr = netip.MustParseAddr(a); return m }
	trustedOpt82 := cat(sub(1, []byte("trunk")), sub(5, []byte{192, 168, 30, 0}), sub(12, []byte("card-7")))
	tests := []struct {
		name   string
		cfg    func(*Config)
		port   int
		bcast  bool
		dst    netip.Addr
		msg    msg
		raw    []byte // instead of msg
		want   upSummary
		sameAs bool // the relayed message equals the input apart from giaddr, hops and 82
	}{
		{name: "cable discover", port: portCable, bcast: true, dst: bcastIP, msg: discover(1), sameAs: true,
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwCable, Hops: 1, Opt82: cableOpt82}},
		{name: "dsl discover", port: portDSL, bcast: true, dst: bcastIP, msg: discover(1), sameAs: true,
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwDSL, Hops: 1, Opt82: dslOpt82}},
		{name: "link selection: giaddr is the upstream address", port: portTrusted, bcast: true, dst: bcastIP, msg: discover(1),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: upstream, Hops: 1, Opt82: trustedOpt82}},
		{name: "server-id override", cfg: func(c *Config) { c.ServerIDOverride = true }, port: portDSL, bcast: true, dst: bcastIP, msg: discover(1),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwDSL, Hops: 1,
				Opt82: cat(sub(1, []byte("dsl1/1")), sub(2, []byte("line-0042")), sub(11, []byte{192, 168, 20, 1}), sub(12, []byte("card-7")))}},
		{name: "no relay-id configured", cfg: func(c *Config) { c.RelayID = nil }, port: portDSL, bcast: true, dst: bcastIP, msg: discover(1),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwDSL, Hops: 1, Opt82: cat(sub(1, []byte("dsl1/1")), sub(2, []byte("line-0042")))}},
		{name: "subscriber-id", cfg: func(c *Config) { c.Ports[portDSL].SubscriberID = "sub-1"; c.RelayID = nil }, port: portDSL, bcast: true, dst: bcastIP, msg: discover(1),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwDSL, Hops: 1,
				Opt82: cat(sub(1, []byte("dsl1/1")), sub(2, []byte("line-0042")), sub(6, []byte("sub-1")))}},
		{name: "hops below the limit", port: portCable, bcast: true, dst: bcastIP, msg: withHops(discover(1), 9),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwCable, Hops: 10, Opt82: cableOpt82}},
		{name: "hops at the limit", port: portCable, bcast: true, dst: bcastIP, msg: withHops(discover(1), 10),
			want: upSummary{Verdict: Drop, Reason: HopLimit}},
		{name: "untrusted port: client option 82", port: portCable, bcast: true, dst: bcastIP, msg: withOpts(discover(1), foreign82),
			want: upSummary{Verdict: Drop, Reason: ClientOption82}},
		{name: "untrusted port: client giaddr", port: portDSL, bcast: true, dst: bcastIP, msg: withGI(discover(1), "172.16.0.1"),
			want: upSummary{Verdict: Drop, Reason: ClientGIAddr}},
		{name: "trusted replace", port: portTrusted, bcast: true, dst: bcastIP, msg: withOpts(discover(1), foreign82),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: upstream, Hops: 1, Opt82: trustedOpt82}},
		{name: "trusted keep", cfg: func(c *Config) { c.Ports[portTrusted].Policy = PolicyKeep }, port: portTrusted, bcast: true, dst: bcastIP,
			msg:  withOpts(discover(1), foreign82),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: upstream, Hops: 1, Opt82: sub(1, []byte("dslam-9"))}},
		{name: "trusted drop", cfg: func(c *Config) { c.Ports[portTrusted].Policy = PolicyDrop }, port: portTrusted, bcast: true, dst: bcastIP,
			msg: withOpts(discover(1), foreign82), want: upSummary{Verdict: Drop, Reason: ClientOption82}},
		{name: "trusted: downstream relay's giaddr kept, nothing added", port: portTrusted, msg: withHops(withGI(discover(1), "172.16.0.1"), 1), dst: upstream,
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: netip.MustParseAddr("172.16.0.1"), Hops: 2}},
		{name: "renewal unicast to a server", port: portDSL, dst: server2, msg: dhcpRequest(2, netip.MustParseAddr("192.168.20.50")),
			want: upSummary{Verdict: ToServers, Servers: only(server2), GIAddr: gwDSL, Hops: 1, Opt82: dslOpt82}},
		{name: "renewal unicast to an unconfigured server", port: portDSL, dst: netip.MustParseAddr("10.9.9.9"), msg: dhcpRequest(2, netip.MustParseAddr("192.168.20.50")),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwDSL, Hops: 1, Opt82: dslOpt82}},
		{name: "route renewals: unicast to a server left to the kernel", cfg: func(c *Config) { c.Renewals = RouteRenewals },
			port: portDSL, dst: server1, msg: dhcpRequest(2, netip.MustParseAddr("192.168.20.50")),
			want: upSummary{Verdict: Drop, Reason: LeftToKernel}},
		{name: "route renewals: unicast to our gateway (server-id override) is relayed", cfg: func(c *Config) { c.Renewals = RouteRenewals },
			port: portDSL, dst: gwDSL, msg: dhcpRequest(2, netip.MustParseAddr("192.168.20.50")),
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwDSL, Hops: 1, Opt82: dslOpt82}},
		{name: "release unicast to its server: relayed and unbinds", port: portDSL, dst: server1,
			msg:  msg{op: lq.BootRequest, typ: lq.Release, xid: 3, chaddr: client, ciaddr: netip.MustParseAddr("192.168.20.50")},
			want: upSummary{Verdict: ToServers, Servers: only(server1), GIAddr: gwDSL, Hops: 1, Opt82: dslOpt82, Glean: Unbind}},
		{name: "route renewals: release left to the kernel still unbinds", cfg: func(c *Config) { c.Renewals = RouteRenewals }, port: portDSL, dst: server1,
			msg:  msg{op: lq.BootRequest, typ: lq.Release, xid: 3, chaddr: client, ciaddr: netip.MustParseAddr("192.168.20.50")},
			want: upSummary{Verdict: Drop, Reason: LeftToKernel, Glean: Unbind}},
		{name: "decline unbinds", port: portCable, bcast: true, dst: bcastIP,
			msg:  msg{op: lq.BootRequest, typ: lq.Decline, xid: 4, chaddr: client, opts: []lq.Option{{Code: optRequestedIP, Data: []byte{192, 168, 10, 9}}}},
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwCable, Hops: 1, Opt82: cableOpt82, Glean: Unbind}},
		{name: "plain BOOTP: relayed without option 82", port: portCable, bcast: true, dst: bcastIP,
			msg:  msg{op: lq.BootRequest, xid: 5, chaddr: client, noCookie: true},
			want: upSummary{Verdict: ToServers, Servers: both, GIAddr: gwCable, Hops: 1}},
		{name: "a BOOTREPLY from a client", port: portCable, bcast: true, dst: bcastIP, msg: reply(lq.Offer, 1, netip.IPv4Unspecified(), netip.IPv4Unspecified(), nil),
			want: upSummary{Verdict: Drop, Reason: WrongOp}},
		{name: "a DHCPLEASEQUERY from a subscriber", port: portCable, bcast: true, dst: bcastIP,
			msg:  msg{op: lq.BootRequest, typ: lq.LeaseQuery, xid: 6, ciaddr: netip.MustParseAddr("192.168.10.7")},
			want: upSummary{Verdict: Drop, Reason: MessageType}},
		{name: "truncated", port: portCable, bcast: true, dst: bcastIP, raw: make([]byte, 100),
			want: upSummary{Verdict: Drop, Reason: Malformed}},
		{name: "unknown port", port: 7, bcast: true, dst: bcastIP, msg: discover(1),
			want: upSummary{Verdict: Drop, Reason: UnknownPort}},
		{name: "no room for option 82", port: portCable, bcast: true, dst: bcastIP,
			msg:  msg{op: lq.BootRequest, typ: lq.Discover, xid: 7, chaddr: client, opts: []lq.Option{{Code: 43, Data: make([]byte, 255)}, {Code: 43, Data: make([]byte, 60)}}},
			want: upSummary{Verdict: Drop, Reason: NoRoom}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			r := newRelay(t, cfg)
			in := tt.raw
			if in == nil {
				in = tt.msg.bytes()
			}
			orig := bytes.Clone(in)
			d := r.FromClient(t0, ClientMsg{Port: tt.port, Broadcast: tt.bcast, DstIP: tt.dst, Payload: in}, buf())
			if diff := cmp.Diff(tt.want, summarizeUp(t, d), cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if !bytes.Equal(in, orig) {
				t.Error("FromClient modified the caller's payload")
			}
			if tt.sameAs {
				checkOnlyRelayEdits(t, orig, d.Msg)
			}
			if got := r.Stats().Dropped[tt.want.Reason]; tt.want.Verdict == Drop && got != 1 {
				t.Errorf("Dropped[%v] = %d, want 1", tt.want.Reason, got)
			}
		})
	}
}

// checkOnlyRelayEdits compares the options of the relayed message with the
// client's: the same, in order, with option 82 added last.
func checkOnlyRelayEdits(t *testing.T, in, out []byte) {
	t.Helper()
	pi, po := parse(t, in), parse(t, out)
	var want, got []lq.Option
	for c, v := range pi.Options() {
		want = append(want, lq.Option{Code: c, Data: bytes.Clone(v)})
	}
	for c, v := range po.Options() {
		got = append(got, lq.Option{Code: c, Data: bytes.Clone(v)})
	}
	if n := len(got); n == 0 || got[n-1].Code != lq.OptAgentInfo {
		t.Fatalf("option 82 is not the last option: %v", got)
	}
	if diff := cmp.Diff(want, got[:len(got)-1]); diff != "" {
		t.Errorf("client options changed (-want +got):\n%s", diff)
	}
	if !bytes.Equal(in[:24], out[:24]) && !bytes.Equal(in[4:24], out[4:24]) {
		t.Errorf("header before giaddr changed")
	}
	if !bytes.Equal(in[28:236], out[28:236]) {
		t.Errorf("chaddr, sname or file changed")
	}
}

func TestFromClientGleansRelease(t *testing.T) {
	r := newRelay(t, testConfig())
	m := msg{op: lq.BootRequest, typ: lq.Release, xid: 3, chaddr: client, ciaddr: netip.MustParseAddr("192.168.20.50"),
		opts: []lq.Option{{Code: lq.OptClientID, Data: []byte{1, 2, 3}}}}
	d := r.FromClient(t0, ClientMsg{Port: portDSL, DstIP: server1, Payload: m.bytes()}, buf())
	want := Glean{Kind: Unbind, Removal: location.Removal{
		IP: netip.MustParseAddr("192.168.20.50"), Reason: location.Released, HWAddr: client, ClientID: []byte{1, 2, 3}}}
	if diff := cmp.Diff(want, d.Glean, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("glean (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"duplicate circuit", func(c *Config) { c.Ports[1].CircuitID = []byte("cable1/0/0") }, `relay: ports[1] (dsl1/1): circuit-id "cable1/0/0" is also that of ports[0]`},
		{"duplicate interface", func(c *Config) { c.Ports[1].Interface = "sub0" }, `relay: ports[1] (dsl1/1): interface "sub0" is also that of ports[0]`},
		{"option 82 too long", func(c *Config) { c.Ports[0].SubscriberID = string(bytes.Repeat([]byte("x"), 240)) }, "relay: ports[0] (cable1/0/0): "},
		{"no circuit", func(c *Config) { c.Ports[2].CircuitID = nil }, "relay: ports[2] (trunk): circuit-id is required: replies find their port by it"},
		{"hops", func(c *Config) { c.MaxHops = 17 }, "relay: max hops 17 outside 1-16 (RFC 1542 §4.1.1)"},
		{"no servers", func(c *Config) { c.Servers = nil }, "relay: no servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte(tt.want)) {
				t.Errorf("New: %v, want an error starting %q", err, tt.want)
			}
		})
	}
}
