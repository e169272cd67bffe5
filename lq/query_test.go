package lq

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	testGIAddr = netip.MustParseAddr("10.0.0.1")
	queryIP    = Query{Kind: ByIP, IP: netip.MustParseAddr("10.0.0.5")}
	queryMAC   = Query{Kind: ByMAC, HType: 1, HWAddr: net.HardwareAddr(testMAC)}
	queryCID   = Query{Kind: ByClientID, ClientID: []byte{1, 0, 0x11, 0x22, 0x33, 0x44, 0x55}}
)

// TestQueryMarshalRules checks each field rule of RFC 4388 §6.2 on the
// encoded bytes.
func TestQueryMarshalRules(t *testing.T) {
	type fields struct {
		Op                OpCode
		HType, HLen, Hops uint8
		XID               uint32
		Flags             uint16
		CIAddr, GIAddr    netip.Addr
		CHAddr16          []byte // the whole chaddr field
		Options           []Option
		Len               int
	}
	prl := Option{55, DefaultParameterRequestList()}
	zero16 := make([]byte, 16)
	mac16 := append(append([]byte{}, testMAC...), make([]byte, 10)...)
	tests := []struct {
		name string
		q    Query
		want fields
	}{
		{"by IP: htype/hlen/chaddr zero, no 61", queryIP, fields{
			Op: BootRequest, XID: 7, CIAddr: queryIP.IP, GIAddr: testGIAddr, CHAddr16: zero16,
			Options: []Option{{53, []byte{10}}, prl}, Len: MinLen,
		}},
		{"by MAC: ciaddr zero, no 61", queryMAC, fields{
			Op: BootRequest, HType: 1, HLen: 6, XID: 7, CIAddr: netip.IPv4Unspecified(), GIAddr: testGIAddr, CHAddr16: mac16,
			Options: []Option{{53, []byte{10}}, prl}, Len: MinLen,
		}},
		{"by client ID: ciaddr and chaddr zero, 61 present", queryCID, fields{
			Op: BootRequest, XID: 7, CIAddr: netip.IPv4Unspecified(), GIAddr: testGIAddr, CHAddr16: zero16,
			Options: []Option{{53, []byte{10}}, {61, queryCID.ClientID}, prl}, Len: MinLen,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.q.Marshal(testGIAddr, 7, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := mustParse(t, b)
			got := fields{
				Op: p.Op(), HType: p.HType(), HLen: p.HLen(), Hops: p.Hops(), XID: p.XID(), Flags: p.Flags(),
				CIAddr: p.CIAddr(), GIAddr: p.GIAddr(), CHAddr16: b[offCHAddr:offSName], Options: collect(p), Len: len(b),
			}
			if diff := cmp.Diff(tt.want, got, cmpNetip); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !isZero(b[offSName:offCookie]) || !isZero(b[offYIAddr:offGIAddr]) || !isZero(b[offSecs:offCIAddr]) {
				t.Errorf("secs, flags, yiaddr, siaddr, sname or file not zero")
			}
		})
	}
}

func TestQueryMarshalPRL(t *testing.T) {
	for _, tt := range []struct {
		name string
		prl  []uint8
		want []byte
		ok   bool
	}{
		{"nil: default", nil, DefaultParameterRequestList(), true},
		{"given", []uint8{82, 51}, []uint8{82, 51}, true},
		{"empty: omitted", []uint8{}, nil, false},
	} {
		b, err := queryIP.Marshal(testGIAddr, 1, tt.prl)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := mustParse(t, b).Option(OptParamRequestList)
		if ok != tt.ok || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: option 55 = %v, %t; want %v, %t", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestQueryMarshalErrors(t *testing.T) {
	tests := []struct {
		name   string
		q      Query
		giaddr netip.Addr
		prl    []uint8
		want   string
	}{
		{"no giaddr", queryIP, netip.Addr{}, nil, "giaddr invalid IP is not a non-zero IPv4 address"},
		{"giaddr 0.0.0.0", queryIP, netip.IPv4Unspecified(), nil, "giaddr 0.0.0.0 is not"},
		{"giaddr IPv6", queryIP, netip.MustParseAddr("2001:db8::1"), nil, "giaddr 2001:db8::1 is not"},
		{"PRL with PAD", queryIP, testGIAddr, []uint8{51, 0}, "parameter request list: entry 1 is 0, not an option"},
		{"PRL with END", queryIP, testGIAddr, []uint8{255}, "entry 0 is 255"},
		{"PRL too long", queryIP, testGIAddr, make([]uint8, 256), "256 codes exceeds 255"},
		{"invalid query", Query{Kind: ByIP}, testGIAddr, nil, "query by IP address: IP invalid IP is not a non-zero IPv4 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.q.Marshal(tt.giaddr, 1, tt.prl)
			checkErr(t, err, tt.want)
		})
	}
}

func TestQueryValidate(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want string // "" for valid
	}{
		{"IP", queryIP, ""},
		{"MAC", queryMAC, ""},
		{"client ID", queryCID, ""},
		{"IP ignores other fields", Query{Kind: ByIP, IP: queryIP.IP, HWAddr: testMAC, ClientID: []byte{1}}, ""},
		{"IP zero", Query{Kind: ByIP, IP: netip.IPv4Unspecified()}, "IP 0.0.0.0 is not a non-zero IPv4 address"},
		{"IP v6", Query{Kind: ByIP, IP: netip.MustParseAddr("::ffff:10.0.0.5")}, "is not a non-zero IPv4 address"},
		{"MAC htype 0", Query{Kind: ByMAC, HWAddr: testMAC}, "query by MAC address: htype is 0"},
		{"MAC empty", Query{Kind: ByMAC, HType: 1}, "hardware address of 0 octets, want 1..16"},
		{"MAC too long", Query{Kind: ByMAC, HType: 1, HWAddr: make([]byte, 17)}, "hardware address of 17 octets"},
		{"MAC all zeros", Query{Kind: ByMAC, HType: 1, HWAddr: make([]byte, 6)}, "hardware address is all zeros"},
		{"client ID short", Query{Kind: ByClientID, ClientID: []byte{1}}, "client identifier of 1 octets, want 2..255"},
		{"client ID long", Query{Kind: ByClientID, ClientID: make([]byte, 256)}, "client identifier of 256 octets"},
		{"kind 0", Query{}, "query: unknown kind 0"},
		{"kind 9", Query{Kind: 9, IP: queryIP.IP}, "unknown kind 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			checkErr(t, err, tt.want)
		})
	}
}

func TestQueryRoundTrip(t *testing.T) {
	for _, m := range []QueryMessage{
		{Query: queryIP, GIAddr: testGIAddr, XID: 1, PRL: []uint8{51, 82}},
		{Query: queryMAC, GIAddr: testGIAddr, XID: 2, PRL: DefaultParameterRequestList()},
		{Query: queryCID, GIAddr: testGIAddr, XID: 3},
		{Query: Query{Kind: ByClientID, ClientID: make([]byte, 255)}, GIAddr: testGIAddr, XID: 4, PRL: []uint8{1}},
	} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseQuery(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.PRL == nil {
			m.PRL = DefaultParameterRequestList()
		}
		if diff := cmp.Diff(m, got, cmpNetip); diff != "" {
			t.Errorf("%v: ParseQuery(Marshal) (-want +got):\n%s", m.Query.Kind, diff)
		}
		again, err := got.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%v: Marshal(ParseQuery(b)) differs from b (err %v)", m.Query.Kind, err)
		}
	}
}

func TestParseQueryErrors(t *testing.T) {
	ip, _ := queryIP.Marshal(testGIAddr, 1, nil)
	mac, _ := queryMAC.Marshal(testGIAddr, 1, nil)
	edit := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"garbage", []byte{1, 2, 3}, "leasequery: packet: 3 octets"},
		{"reply op", edit(ip, func(b []byte) { b[offOp] = 2 }), "op 2 DHCPLEASEQUERY, want BOOTREQUEST DHCPLEASEQUERY"},
		{"DISCOVER", discover(), "op 1 DHCPDISCOVER"},
		{"no giaddr", edit(ip, func(b []byte) { clear(b[offGIAddr : offGIAddr+4]) }), "giaddr is 0.0.0.0"},
		{"ciaddr and chaddr", edit(ip, func(b []byte) { copy(b[offCHAddr:], testMAC) }), "have ciaddr true, chaddr true, option 61 false"},
		{"nothing", edit(ip, func(b []byte) { clear(b[offCIAddr : offCIAddr+4]) }), "have ciaddr false, chaddr false, option 61 false"},
		{"htype only", edit(mac, func(b []byte) { b[offHLen] = 0; clear(b[offCHAddr:offSName]) }), "hardware address of 0 octets"},
		// Found by FuzzParseQuery: a list Marshal would refuse.
		{"END in PRL", edit(ip, func(b []byte) { b[offOptions+5] = 255 }), "parameter request list: entry 0 is 255, not an option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseQuery(tt.b)
			checkErr(t, err, tt.want)
		})
	}
}

// TestQueriesReadByDHCPv4 has insomniacslk/dhcp decode our queries.
func TestQueriesReadByDHCPv4(t *testing.T) {
	for _, q := range []Query{queryIP, queryMAC, queryCID} {
		b, err := q.Marshal(testGIAddr, 0x01020304, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := dhcpv4.FromBytes(b)
		if err != nil {
			t.Fatalf("%v: dhcpv4.FromBytes: %v", q.Kind, err)
		}
		if d.MessageType() != dhcpv4.MessageType(LeaseQuery) || !d.GatewayIPAddr.Equal(net.IP{10, 0, 0, 1}) ||
			d.TransactionID != (dhcpv4.TransactionID{1, 2, 3, 4}) || d.OpCode != dhcpv4.OpcodeBootRequest {
			t.Errorf("%v: dhcpv4 reads %s", q.Kind, d.Summary())
		}
		if diff := cmp.Diff(packetView(mustParse(t, b)), oracleView(d), cmpView); diff != "" {
			t.Errorf("%v: (-ours +dhcpv4):\n%s", q.Kind, diff)
		}
	}
}
