package nflog

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// marshalPacket encodes p as the kernel does (__build_packet_message).
func marshalPacket(p Packet) []byte {
	hdr := []byte{p.Family, 0, 0, 0}
	binary.BigEndian.PutUint16(hdr[2:], p.Group)
	ph := make([]byte, 4)
	binary.BigEndian.PutUint16(ph, p.HWProtocol)
	ph[2] = p.Hook
	attrs := []netlink.Attribute{{Type: attrPacketHdr, Data: ph}}
	if p.Prefix != "" {
		attrs = append(attrs, netlink.Attribute{Type: attrPrefix, Data: append([]byte(p.Prefix), 0)})
	}
	if p.InIfIndex != 0 {
		attrs = append(attrs, netlink.Attribute{Type: attrIfIndexIn, Data: binary.BigEndian.AppendUint32(nil, p.InIfIndex)})
	}
	if p.HWAddr != nil {
		hw := make([]byte, hwAddrAttrSize)
		binary.BigEndian.PutUint16(hw, uint16(len(p.HWAddr)))
		copy(hw[4:], p.HWAddr)
		attrs = append(attrs, netlink.Attribute{Type: attrHWAddr, Data: hw})
	}
	if p.HWHeader != nil {
		attrs = append(attrs, netlink.Attribute{Type: attrHWHeader, Data: p.HWHeader})
	}
	if p.Payload != nil {
		attrs = append(attrs, netlink.Attribute{Type: attrPayload, Data: p.Payload})
	}
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return append(hdr, b...)
}

var (
	mac1     = net.HardwareAddr{2, 0, 0, 0, 1, 0x10}
	ipv4Head = []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 1, 99, 10, 0, 1, 1}
	arpReq   = []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 1, 0x10, 10, 0, 1, 77, 0, 0, 0, 0, 0, 0, 10, 0, 1, 1}
	ethHead  = append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, append(mac1, 8, 0)...)
)

func TestParsePacketSource(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want Source
	}{
		{
			name: "ipv4 with hwaddr",
			p:    Packet{Group: 5, Family: 5, HWProtocol: ethIPv4, Prefix: "p1", InIfIndex: 7, HWAddr: mac1, HWHeader: ethHead, Payload: ipv4Head},
			want: Source{Port: "p1", IfIndex: 7, IP: netip.MustParseAddr("10.0.1.99"), MAC: mac1},
		},
		{
			name: "arp sender, mac from the ethernet header",
			p:    Packet{Group: 5, HWProtocol: ethARP, Prefix: "p2", InIfIndex: 8, HWHeader: ethHead, Payload: arpReq},
			want: Source{Port: "p2", IfIndex: 8, IP: netip.MustParseAddr("10.0.1.77"), MAC: mac1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePacket(marshalPacket(tt.p))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.p, p); diff != "" {
				t.Errorf("ParsePacket (-want +got):\n%s", diff)
			}
			s, err := p.Source()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Source (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReport: netdev-family packets report their source, ip-family ones
// (the downstream rules) their destination.
func TestReport(t *testing.T) {
	addrCmp := cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
	tests := []struct {
		name string
		p    Packet
		want Report
	}{
		{"netdev source", Packet{Family: 5, HWProtocol: ethIPv4, Prefix: "p1", InIfIndex: 7, HWAddr: mac1, Payload: ipv4Head},
			Report{Source: Source{Port: "p1", IfIndex: 7, IP: netip.MustParseAddr("10.0.1.99"), MAC: mac1}, InIfIndex: 7}},
		{"ip destination from upstream", Packet{Family: 2, HWProtocol: ethIPv4, Prefix: "dst", InIfIndex: 3, HWAddr: mac1, Payload: ipv4Head},
			Report{Downstream: true, Destination: netip.MustParseAddr("10.0.1.1"), InIfIndex: 3}},
		{"ip destination of the card's own traffic", Packet{Family: 2, Prefix: "dst", Payload: ipv4Head},
			Report{Downstream: true, Destination: netip.MustParseAddr("10.0.1.1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Report()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("Report (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []Packet{{Family: 2, Payload: ipv4Head[:19]}, {Family: 2, Payload: append([]byte{0x65}, ipv4Head[1:]...)}, {Family: 5}} {
		if r, err := bad.Report(); err == nil {
			t.Errorf("Report of %+v = %+v, want an error", bad, r)
		}
	}
}

func TestParsePacketErrors(t *testing.T) {
	hw := marshalPacket(Packet{HWAddr: mac1})
	badHW := append([]byte(nil), hw...)
	badHW[len(badHW)-hwAddrAttrSize+1] = 9 // hw_addrlen 9
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{1, 2}, "shorter than the 4-byte nfgenmsg"},
		{"truncated attribute", append([]byte{0, 0, 0, 5}, 8, 0, 1, 0), "nflog packet"},
		{"hwaddr length", badHW, "exceeds 8"},
		// Attribute headers are in host byte order (big-endian on mips).
		{"ifindex size", append(binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16([]byte{0, 0, 0, 5}, 6), attrIfIndexIn), 1, 2, 0, 0), "want 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePacket(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePacket error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want string
	}{
		{"no mac", Packet{HWProtocol: ethIPv4, Payload: ipv4Head}, "no Ethernet source"},
		{"ipv6", Packet{HWProtocol: 0x86dd, HWAddr: mac1, Payload: ipv4Head}, "not an IPv4 or ARP report"},
		{"short ipv4", Packet{HWProtocol: ethIPv4, HWAddr: mac1, Payload: ipv4Head[:19]}, "19 payload bytes"},
		{"not version 4", Packet{HWProtocol: ethIPv4, HWAddr: mac1, Payload: append([]byte{0x65}, ipv4Head[1:]...)}, "not an IPv4"},
		{"arp over something else", Packet{HWProtocol: ethARP, HWAddr: mac1, Payload: append([]byte{0, 6}, arpReq[2:]...)}, "not an IPv4 or ARP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Source()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Source error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// FuzzParsePacket feeds arbitrary message bodies to the parser and the
// source extraction; whatever parses must survive a marshal round trip.
func FuzzParsePacket(f *testing.F) {
	f.Add(marshalPacket(Packet{Group: 5, HWProtocol: ethIPv4, Prefix: "p1", InIfIndex: 7, HWAddr: mac1, HWHeader: ethHead, Payload: ipv4Head}))
	f.Add(marshalPacket(Packet{Group: 1, HWProtocol: ethARP, Prefix: "p2", HWHeader: ethHead, Payload: arpReq}))
	f.Add(marshalPacket(Packet{Family: 2, Group: 5, HWProtocol: ethIPv4, Prefix: "dst", InIfIndex: 3, Payload: ipv4Head}))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		_, _ = p.Source()
		_, _ = p.Report()
		if strings.ContainsRune(p.Prefix, 0) {
			return
		}
		norm := func(p Packet) Packet {
			if len(p.HWAddr) == 0 {
				p.HWAddr = nil
			}
			if len(p.HWHeader) == 0 {
				p.HWHeader = nil
			}
			if len(p.Payload) == 0 {
				p.Payload = nil
			}
			return p
		}
		q, err := ParsePacket(marshalPacket(norm(p)))
		if err != nil {
			t.Fatalf("re-parse of %+v: %v", p, err)
		}
		if diff := cmp.Diff(norm(p), norm(q)); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
