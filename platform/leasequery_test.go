package platform

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

type replyRecorder struct {
	from    []netip.Addr
	replies []lq.Reply
}

func (r *replyRecorder) HandleReply(from netip.Addr, rep lq.Reply) {
	r.from = append(r.from, from)
	r.replies = append(r.replies, rep)
}

func TestLeasequeryTransportSendsWithGiaddrAndDecodesAnswers(t *testing.T) {
	up := &FakeUpstream{Local: netip.MustParseAddrPort("10.0.0.2:67")}
	tr := NewLeasequeryTransport(up, []uint8{51, 82})
	var rec replyRecorder
	if err := tr.Attach(&rec); err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddr("10.0.0.1")
	q := lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("192.168.10.5")}
	if err := tr.Send(server, q, 0x1234); err != nil {
		t.Fatal(err)
	}
	sent := up.Sent()
	if len(sent) != 1 || sent[0].To != netip.MustParseAddrPort("10.0.0.1:67") {
		t.Fatalf("sent %+v, want one datagram to 10.0.0.1:67", sent)
	}
	msg, err := lq.ParseQuery(sent[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if msg.GIAddr != up.Local.Addr() || msg.XID != 0x1234 || msg.Query.IP != q.IP {
		t.Errorf("query on the wire = %+v, want giaddr 10.0.0.2, xid 0x1234, ciaddr %v", msg, q.IP)
	}
	if diff := cmp.Diff([]uint8{51, 82}, msg.PRL); diff != "" {
		t.Errorf("parameter request list (-want +got):\n%s", diff)
	}

	// The server's answer, through the same demultiplexer as the real socket.
	reply := lq.Reply{Type: lq.LeaseActive, XID: 0x1234, GIAddr: up.Local.Addr(), CIAddr: q.IP,
		HType: 1, HWAddr: []byte{0, 1, 2, 3, 4, 5}, ServerID: server, LeaseTime: 3600e9, HasLeaseTime: true}
	b, err := reply.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if c := up.Deliver(b, netip.AddrPortFrom(server, 67)); c != LeasequeryReply {
		t.Fatalf("answer classified %v", c)
	}
	b[0] = 0xff // the handler must not keep the receive buffer
	if len(rec.replies) != 1 || rec.from[0] != server {
		t.Fatalf("handler got %d replies from %v", len(rec.replies), rec.from)
	}
	if got := rec.replies[0]; got.CIAddr != q.IP || got.Type != lq.LeaseActive || got.LeaseTime != reply.LeaseTime {
		t.Errorf("decoded %+v", got)
	}

	// A datagram the demultiplexer classifies as a leasequery answer but
	// that does not decode (option 92 not a multiple of 4) is counted and
	// never reaches the handler.
	bad, err := lq.Reply{Type: lq.LeaseUnknown, XID: 9, GIAddr: up.Local.Addr()}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	end := len(bad) - 1 // the END option
	bad = append(bad[:end], 92, 3, 1, 2, 3, 255)
	if c := up.Deliver(bad, netip.AddrPortFrom(server, 67)); c != LeasequeryReply {
		t.Fatalf("bad answer classified %v", c)
	}
	if len(rec.replies) != 1 || tr.Undecodable.Load() != 1 {
		t.Errorf("undecodable answer: handler saw %d replies, Undecodable = %d", len(rec.replies), tr.Undecodable.Load())
	}
}

func TestLeasequeryTransportRefusesInvalidQuery(t *testing.T) {
	up := &FakeUpstream{Local: netip.MustParseAddrPort("10.0.0.2:67")}
	tr := NewLeasequeryTransport(up, nil)
	err := tr.Send(netip.MustParseAddr("10.0.0.1"), lq.Query{Kind: lq.ByMAC}, 1)
	if err == nil || len(up.Sent()) != 0 || tr.SendErrors.Load() != 1 {
		t.Errorf("invalid query: err %v, sent %d, errors %d", err, len(up.Sent()), tr.SendErrors.Load())
	}
}
