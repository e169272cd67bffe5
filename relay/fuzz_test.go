package relay

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// fuzzRelay has every port kind and policy, server-id override and a
// small request memory, so that fuzzed messages reach every branch.
func fuzzRelay(t testing.TB) *Relay {
	cfg := testConfig()
	cfg.ServerIDOverride = true
	cfg.RecentRequests = 8
	cfg.Ports = append(cfg.Ports, PortConfig{Name: "keep", Interface: "sub3", Gateway: netip.MustParseAddr("192.168.40.1"),
		CircuitID: []byte("keep"), Trusted: true, Policy: PolicyKeep})
	return newRelay(t, cfg)
}

// FuzzFromClient: no client frame panics the relay, and what it relays
// parses, carries the port's giaddr or the client's, and fits MaxLen when
// the relay grew it.
func FuzzFromClient(f *testing.F) {
	f.Add(discover(1).bytes(), uint8(0), true, uint32(0xffffffff))
	f.Add(dhcpRequest(2, leased).bytes(), uint8(1), false, uint32(0x0a000001))
	f.Add(msg{op: lq.BootRequest, typ: lq.Release, xid: 3, chaddr: client, ciaddr: leased}.bytes(), uint8(1), false, uint32(0x0a000001))
	m := discover(4)
	m.opts = append(m.opts, lq.Option{Code: lq.OptAgentInfo, Data: sub(1, []byte("x"))})
	f.Add(m.bytes(), uint8(3), true, uint32(0xffffffff))
	f.Add(msg{op: lq.BootRequest, chaddr: client, noCookie: true}.bytes(), uint8(2), true, uint32(0xffffffff))
	r := fuzzRelay(f)
	f.Fuzz(func(t *testing.T, b []byte, port uint8, bcast bool, dst uint32) {
		in := bytes.Clone(b)
		d := r.FromClient(t0, ClientMsg{Port: int(port % 5), Broadcast: bcast,
			DstIP: netip.AddrFrom4([4]byte{byte(dst >> 24), byte(dst >> 16), byte(dst >> 8), byte(dst)}), Payload: b}, buf())
		if !bytes.Equal(in, b) {
			t.Fatal("payload modified")
		}
		if d.Verdict != ToServers {
			return
		}
		out, err := lq.ParsePacket(d.Msg)
		if err != nil {
			t.Fatalf("relayed message does not parse: %v", err)
		}
		if len(d.Msg) > len(b) && len(d.Msg) > r.MaxLen() {
			t.Fatalf("relayed message grew to %d octets, beyond %d", len(d.Msg), r.MaxLen())
		}
		if out.GIAddr().IsUnspecified() || len(d.Servers) == 0 {
			t.Fatalf("relayed with giaddr %v to %v", out.GIAddr(), d.Servers)
		}
	})
}

// FuzzFromServer: no reply panics the relay; a leasequery answer is never
// delivered; a delivered reply parses and no longer carries our circuit.
func FuzzFromServer(f *testing.F) {
	f.Add(reply(lq.Offer, 1, gwCable, leased, cableOpt82).bytes())
	f.Add(reply(lq.Ack, 1, gwDSL, leased, dslOpt82).bytes())
	f.Add(reply(lq.Nak, 1, gwCable, zero, cableOpt82).bytes())
	f.Add(reply(lq.LeaseActive, 1, upstream, leased, cableOpt82).bytes())
	f.Add(reply(lq.Offer, 1, gwCable, leased, nil).bytes())
	r := fuzzRelay(f)
	// Remember a few requests so that memory routing is reachable.
	for xid := uint32(1); xid <= 3; xid++ {
		r.FromClient(t0, ClientMsg{Port: 3, Broadcast: true, DstIP: bcastIP, Payload: dhcpRequest(xid, leased).bytes()}, buf())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := r.FromServer(t0.Add(time.Second), fromServer, b, buf())
		if d.Verdict != ToClient {
			return
		}
		p, err := lq.ParsePacket(d.Msg)
		if err != nil {
			t.Fatalf("delivered reply does not parse: %v", err)
		}
		if p.MessageType().IsLeasequeryReply() {
			t.Fatal("leasequery reply delivered to a subscriber")
		}
		if c, ok := p.SubOption(lq.SubCircuitID); ok && r.Ports().Port(d.Port).Policy != PolicyKeep {
			if _, ours := r.Ports().byCircuit[string(c)]; ours {
				t.Fatalf("our circuit %q left in a delivered reply", c)
			}
		}
	})
}
