package relay

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/lq"
)

// TestStatsByTypeAndReason relays a DORA exchange and a few drops on the
// cable port and reads the per-port counters back.
func TestStatsByTypeAndReason(t *testing.T) {
	r := newRelay(t, testConfig())
	up := func(m msg) {
		r.FromClient(t0, ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: m.bytes()}, buf())
	}
	down := func(m msg) { r.FromServer(t0, fromServer, m.bytes(), buf()) }
	up(discover(1))
	down(reply(lq.Offer, 1, gwCable, leased, cableOpt82))
	up(dhcpRequest(1, leased))
	down(reply(lq.Ack, 1, gwCable, leased, cableOpt82))
	up(dhcpRequest(2, leased))
	down(reply(lq.Nak, 2, gwCable, zero, cableOpt82))
	bootp := discover(3)
	bootp.typ = 0
	up(bootp)
	with82 := discover(4)
	with82.opts = append(with82.opts, lq.Option{Code: lq.OptAgentInfo, Data: sub(1, []byte("x"))})
	up(with82)
	withGI := discover(5)
	withGI.giaddr = gwDSL
	up(withGI)
	down(reply(lq.Offer, 6, gwCable, leased, cat(sub(1, []byte("cable1/0/0")), sub(12, []byte("card-8")))))

	got := r.Stats().Ports[portCable]
	want := PortStats{
		Name: "cable1/0/0", ToServers: 4, ToClients: 3, Dropped: 3,
		ToServersByType: map[lq.MessageType]uint64{0: 1, lq.Discover: 1, lq.Request: 2},
		ToClientsByType: map[lq.MessageType]uint64{lq.Offer: 1, lq.Ack: 1, lq.Nak: 1},
		DroppedBy:       map[Reason]uint64{ClientOption82: 1, ClientGIAddr: 1, ForeignRelayID: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cable port (-want +got):\n%s", diff)
	}
	if dsl := r.Stats().Ports[portDSL]; len(dsl.ToServersByType)+len(dsl.DroppedBy) != 0 {
		t.Errorf("dsl port counted: %+v", dsl)
	}
}

// TestHotPathDoesNotAllocate: counting by type and reason adds no
// allocation to relaying (the benchmarks show the same with -benchmem).
func TestHotPathDoesNotAllocate(t *testing.T) {
	r := newRelay(t, testConfig())
	upMsg := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: discover(1).bytes()}
	downMsg := reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes()
	with82 := discover(2)
	with82.opts = append(with82.opts, lq.Option{Code: lq.OptAgentInfo, Data: sub(1, []byte("x"))})
	bad := ClientMsg{Port: portCable, Broadcast: true, DstIP: bcastIP, Payload: with82.bytes()}
	scratch := buf()
	for name, f := range map[string]func(){
		"client":  func() { r.FromClient(t0, upMsg, scratch) },
		"server":  func() { r.FromServer(t0, fromServer, downMsg, scratch) },
		"dropped": func() { r.FromClient(t0, bad, scratch) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per message", name, n)
		}
	}
}

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

// TestServerStats counts replies by the server they came from: each
// configured server's replies and how many were relayed, the time of its
// last reply, replies from any other source apart; a Reconfigure keeps the
// counters of a server that stays and starts a new one's from zero.
func TestServerStats(t *testing.T) {
	r := newRelay(t, testConfig())
	offer := reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes()
	foreign := reply(lq.Offer, 2, gwCable, leased, cat(sub(1, []byte("cable1/0/0")), sub(12, []byte("card-8")))).bytes()
	rogue := netip.MustParseAddr("10.0.0.66")
	t1 := t0.Add(time.Minute)
	r.FromServer(t0, netip.AddrPortFrom(server1, 67), offer, buf())
	r.FromServer(t1, netip.AddrPortFrom(server1, 67), foreign, buf())
	r.FromServer(t0, netip.AddrPortFrom(rogue, 67), offer, buf())

	want := []ServerStats{
		{Addr: server1, Replies: 2, Relayed: 1, LastReply: t1},
		{Addr: server2},
	}
	s := r.Stats()
	if diff := cmp.Diff(want, s.Servers, cmpAddr); diff != "" {
		t.Errorf("servers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ServerStats{Replies: 1, Relayed: 1, LastReply: t0}, s.FromOthers, cmpAddr); diff != "" {
		t.Errorf("other sources (-want +got):\n%s", diff)
	}

	c := testConfig()
	third := netip.MustParseAddr("10.0.0.5")
	c.Servers = []netip.Addr{third, server1}
	if err := r.Reconfigure(c); err != nil {
		t.Fatal(err)
	}
	r.FromServer(t1, netip.AddrPortFrom(third, 67), offer, buf())
	want = []ServerStats{
		{Addr: third, Replies: 1, Relayed: 1, LastReply: t1},
		{Addr: server1, Replies: 2, Relayed: 1, LastReply: t1},
	}
	if diff := cmp.Diff(want, r.Stats().Servers, cmpAddr); diff != "" {
		t.Errorf("after Reconfigure (-want +got):\n%s", diff)
	}
}
