package platform

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

func TestReplyDestination(t *testing.T) {
	chaddr := []byte{0x02, 0, 0, 0, 0, 0x0a}
	yiaddr := netip.MustParseAddr("192.0.2.50")
	ciaddr := netip.MustParseAddr("192.0.2.60")
	unicast := func(a netip.Addr) Destination { return Destination{MAC: [6]byte(chaddr), IP: a} }
	base := msg{op: opBootReply, htype: 1, hlen: 6, chaddr: chaddr, yiaddr: yiaddr, options: typeOpt(lq.Offer)}
	with := func(edit func(*msg)) []byte { m := base; edit(&m); return m.bytes() }
	tests := []struct {
		name string
		b    []byte
		want Destination
	}{
		{"unicast to yiaddr at chaddr", base.bytes(), unicast(yiaddr)},
		{"broadcast flag", with(func(m *msg) { m.flags = flagBroadcast }), Broadcast()},
		{"DHCPNAK: no yiaddr", with(func(m *msg) { m.yiaddr = netip.Addr{} }), Broadcast()},
		{"ACK to INFORM: ciaddr", with(func(m *msg) { m.yiaddr = netip.Addr{}; m.ciaddr = ciaddr }), unicast(ciaddr)},
		{"yiaddr before ciaddr", with(func(m *msg) { m.ciaddr = ciaddr }), unicast(yiaddr)},
		{"not Ethernet (htype 6)", with(func(m *msg) { m.htype = 6 }), Broadcast()},
		{"hlen 16", with(func(m *msg) { m.hlen = 16 }), Broadcast()},
		{"plain BOOTP", with(func(m *msg) { m.noCookie = true }), unicast(yiaddr)},
	}
	for _, tt := range tests {
		got, err := ReplyDestination(tt.b)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, netipCmp); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if _, err := ReplyDestination(make([]byte, 10)); err == nil {
		t.Error("10-octet message: no error")
	}
}

func FuzzReplyDestination(f *testing.F) {
	f.Add(reply(lq.Ack))
	f.Add(msg{op: opBootReply, htype: 1, hlen: 6, flags: flagBroadcast}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ReplyDestination(b)
		if err == nil && !d.IP.Is4() {
			t.Fatalf("destination %v is not IPv4", d.IP)
		}
	})
}
