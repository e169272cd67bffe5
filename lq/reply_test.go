package lq

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// replyWith returns a DHCPLEASEACTIVE for 10.0.0.5 with the given options
// after option 53, then END.
func replyWith(options ...byte) []byte {
	b := rawPacket(slices.Concat([]byte{53, 1, 13}, options, []byte{255}), 0)
	b[offOp], b[offHops] = 2, 0
	clear(b[offSecs:offCHAddr])
	copy(b[offCIAddr:], []byte{10, 0, 0, 5})
	copy(b[offGIAddr:], []byte{10, 0, 0, 1})
	return b
}

// baseReply is what replyWith decodes to without options.
func baseReply() Reply {
	return Reply{
		Type: LeaseActive, XID: 0xdeadbeef, GIAddr: netip.MustParseAddr("10.0.0.1"),
		CIAddr: netip.MustParseAddr("10.0.0.5"), HType: 1, HWAddr: net.HardwareAddr(testMAC),
	}
}

func TestParseReplyOptions(t *testing.T) {
	with := func(f func(*Reply)) Reply { r := baseReply(); f(&r); return r }
	tests := []struct {
		name    string
		options []byte
		want    Reply
	}{
		{"none", nil, baseReply()},
		{"54 server ID", []byte{54, 4, 10, 0, 0, 9}, with(func(r *Reply) { r.ServerID = netip.MustParseAddr("10.0.0.9") })},
		{"51 lease time", []byte{51, 4, 0, 0, 0x0e, 0x10}, with(func(r *Reply) { r.LeaseTime, r.HasLeaseTime = time.Hour, true })},
		{"51 infinite", []byte{51, 4, 0xff, 0xff, 0xff, 0xff}, with(func(r *Reply) { r.LeaseTime, r.HasLeaseTime = InfiniteLease, true })},
		{"58 T1", []byte{58, 4, 0, 0, 0, 60}, with(func(r *Reply) { r.T1, r.HasT1 = time.Minute, true })},
		{"59 T2", []byte{59, 4, 0, 0, 0, 90}, with(func(r *Reply) { r.T2, r.HasT2 = 90*time.Second, true })},
		{"91 last transaction", []byte{91, 4, 0, 0, 0, 0}, with(func(r *Reply) { r.HasLastTransaction = true })},
		{"92 associated IPs", []byte{92, 8, 10, 0, 1, 5, 10, 0, 2, 5}, with(func(r *Reply) {
			r.AssociatedIPs = []netip.Addr{netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("10.0.2.5")}
		})},
		{"60 vendor class", []byte{60, 3, 'v', 'c', '1'}, with(func(r *Reply) { r.VendorClass = []byte("vc1") })},
		{"61 client ID", []byte{61, 2, 1, 2}, with(func(r *Reply) { r.ClientID = []byte{1, 2} })},
		{"61 split in two (RFC 3396)", []byte{61, 2, 1, 2, 60, 1, 'v', 61, 1, 3}, with(func(r *Reply) {
			r.ClientID, r.VendorClass = []byte{1, 2, 3}, []byte("v")
		})},
		{"82 agent info", []byte{82, 5, 1, 3, 'c', 'm', '1'}, with(func(r *Reply) {
			r.AgentInfo, r.HasAgentInfo = AgentInfo{{1, []byte("cm1")}}, true
		})},
		{"82 empty", []byte{82, 0}, with(func(r *Reply) { r.HasAgentInfo = true })},
		{"others kept in order", []byte{15, 2, 'e', 'x', 6, 4, 10, 0, 0, 53, 1, 1, 7}, with(func(r *Reply) {
			r.Other = []Option{{15, []byte("ex")}, {6, []byte{10, 0, 0, 53}}, {1, []byte{7}}}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReply(replyWith(tt.options...))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpNetip); diff != "" {
				t.Errorf("ParseReply (-want +got):\n%s", diff)
			}
			again, err := ParseReply(mustMarshal(t, got))
			if err != nil {
				t.Fatalf("ParseReply(Marshal): %v", err)
			}
			if diff := cmp.Diff(got, again, cmpNetip); diff != "" {
				t.Errorf("Marshal then ParseReply (-want +got):\n%s", diff)
			}
		})
	}
}

func mustMarshal(t *testing.T, r Reply) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

func TestParseReplyErrors(t *testing.T) {
	request := replyWith()
	request[offOp] = 1
	ack := replyWith()
	ack[offOptions+2] = 5
	bootp := replyWith()
	copy(bootp[offCookie:], "BOOT")
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"not a packet", make([]byte, 100), "leasequery reply: packet: 100 octets"},
		{"BOOTREQUEST", request, "op 1, want BOOTREPLY (2)"},
		{"DHCPACK", ack, "DHCPACK is not DHCPLEASEUNASSIGNED, DHCPLEASEUNKNOWN or DHCPLEASEACTIVE"},
		{"BOOTP", bootp, "BOOTP message without an options field"},
		{"no type", rawPacket([]byte{255}, 0), "op 1"},
		{"54 length", replyWith(54, 3, 1, 2, 3), "DHCPLEASEACTIVE: option 54: length 3, want 4"},
		{"51 length", replyWith(51, 2, 1, 2), "option 51: length 2, want 4"},
		{"58 length", replyWith(58, 5, 1, 2, 3, 4, 5), "option 58: length 5, want 4"},
		{"59 length", replyWith(59, 0), "option 59: length 0, want 4"},
		{"91 length", replyWith(91, 8, 0, 0, 0, 0, 0, 0, 0, 0), "option 91: length 8, want 4"},
		{"92 empty", replyWith(92, 0), "option 92 (associated IP): length 0 is not a non-zero multiple of 4"},
		{"92 not multiple of 4", replyWith(92, 6, 1, 2, 3, 4, 5, 6), "length 6 is not a non-zero multiple of 4"},
		{"60 empty", replyWith(60, 0), "option 60: empty"},
		{"61 empty", replyWith(61, 0), "option 61: empty"},
		{"82 malformed", replyWith(82, 3, 1, 5, 'x'), "option 82 sub-option 1 at offset 0: length 5 exceeds 1 remaining"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReply(tt.b)
			checkErr(t, err, tt.want)
		})
	}
}

func TestParseReplyOverloaded(t *testing.T) {
	b := replyWith(52, 1, 1)
	copy(b[offFile:], []byte{51, 4, 0, 0, 0, 60, 82, 3, 1, 1, 'f', 255})
	got, err := ParseReply(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasLeaseTime || got.LeaseTime != time.Minute || !got.HasAgentInfo {
		t.Errorf("options from the overloaded file field missing: %+v", got)
	}
}

func TestParseReplyOwnsMemory(t *testing.T) {
	b := replyWith(61, 2, 1, 2, 82, 3, 1, 1, 'c')
	r, err := ParseReply(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	want := baseReply()
	want.ClientID, want.AgentInfo, want.HasAgentInfo = []byte{1, 2}, AgentInfo{{1, []byte("c")}}, true
	if diff := cmp.Diff(want, r, cmpNetip); diff != "" {
		t.Errorf("Reply changed with its input buffer (-want +got):\n%s", diff)
	}
}

func TestReplyMarshalErrors(t *testing.T) {
	with := func(f func(*Reply)) Reply { r := baseReply(); f(&r); return r }
	tests := []struct {
		name string
		r    Reply
		want string
	}{
		{"type", with(func(r *Reply) { r.Type = Ack }), "DHCPACK is not a leasequery reply"},
		{"chaddr", with(func(r *Reply) { r.HWAddr = make([]byte, 17) }), "chaddr: 17 octets exceeds 16"},
		{"ciaddr", with(func(r *Reply) { r.CIAddr = netip.MustParseAddr("::1") }), "ciaddr: ::1 is not an IPv4 address"},
		{"giaddr", with(func(r *Reply) { r.GIAddr = netip.MustParseAddr("::2") }), "giaddr: ::2 is not an IPv4 address"},
		{"server ID", with(func(r *Reply) { r.ServerID = netip.MustParseAddr("::3") }), "option 54: ::3 is not an IPv4 address"},
		{"negative lease", with(func(r *Reply) { r.LeaseTime, r.HasLeaseTime = -time.Second, true }), "option 51: -1s out of range"},
		{"T2 too long", with(func(r *Reply) { r.T2, r.HasT2 = InfiniteLease+time.Second, true }), "option 59:"},
		{"associated IPv6", with(func(r *Reply) { r.AssociatedIPs = []netip.Addr{netip.MustParseAddr("::4")} }), "option 92: ::4"},
		{"other 53", with(func(r *Reply) { r.Other = []Option{{53, []byte{5}}} }), "code 53 has a field of its own"},
		{"other END", with(func(r *Reply) { r.Other = []Option{{255, nil}} }), "code 255"},
		{"agent info", with(func(r *Reply) { r.AgentInfo, r.HasAgentInfo = AgentInfo{{1, make([]byte, 300)}}, true }), "sub-option 1: 300 octets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.r.Marshal()
			checkErr(t, err, tt.want)
		})
	}
}

func TestReplyMarshalLayout(t *testing.T) {
	r := baseReply()
	r.ServerID = netip.MustParseAddr("10.0.0.9")
	r.LeaseTime, r.HasLeaseTime = time.Hour+time.Millisecond, true // sub-second truncated
	r.LastTransaction, r.HasLastTransaction = 5*time.Second, true
	r.AssociatedIPs = []netip.Addr{netip.MustParseAddr("10.0.1.5")}
	r.VendorClass = make([]byte, 300) // split per RFC 3396
	r.Other = []Option{{15, []byte("ex")}}
	r.AgentInfo, r.HasAgentInfo = AgentInfo{{1, []byte("c")}}, true
	want := slices.Concat(
		[]byte{53, 1, 13, 54, 4, 10, 0, 0, 9, 51, 4, 0, 0, 0x0e, 0x10, 92, 4, 10, 0, 1, 5, 91, 4, 0, 0, 0, 5},
		[]byte{60, 255}, make([]byte, 255), []byte{60, 45}, make([]byte, 45),
		[]byte{15, 2, 'e', 'x', 82, 3, 1, 1, 'c', 255},
	)
	b := mustMarshal(t, r)
	if diff := cmp.Diff(want, b[offOptions:]); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(replyWith()[:offCookie], b[:offCookie]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
}

func TestBinding(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	from := netip.MustParseAddr("192.0.2.7")
	r := baseReply()
	r.LeaseTime, r.HasLeaseTime = time.Hour, true
	r.LastTransaction, r.HasLastTransaction = time.Minute, true
	got := r.Binding(now, from)
	want := Binding{
		IP: r.CIAddr, HType: 1, HWAddr: r.HWAddr, Expiry: now.Add(time.Hour),
		LastTransaction: now.Add(-time.Minute), Server: from,
	}
	if diff := cmp.Diff(want, got, cmpNetip); diff != "" {
		t.Errorf("Binding without option 54 (-want +got):\n%s", diff)
	}
	r.ServerID = netip.MustParseAddr("10.0.0.9")
	r.T1, r.HasT1, r.T2, r.HasT2 = time.Minute, true, 2*time.Minute, true
	r.HasLeaseTime, r.HasLastTransaction = false, false
	got = r.Binding(now, from)
	want = Binding{IP: r.CIAddr, HType: 1, HWAddr: r.HWAddr, T1: now.Add(time.Minute), T2: now.Add(2 * time.Minute), Server: r.ServerID}
	if diff := cmp.Diff(want, got, cmpNetip); diff != "" {
		t.Errorf("Binding with option 54, no 51/91 (-want +got):\n%s", diff)
	}
}
