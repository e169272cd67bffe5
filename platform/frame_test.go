package platform

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

var (
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	portMAC   = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	bcastMAC  = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// clientFrame is a client's broadcast DHCP frame, 68->67.
func clientFrame(payload []byte) []byte {
	return appendUDPFrame(nil, udpFrame{
		SrcMAC: clientMAC, DstMAC: bcastMAC, DstIP: [4]byte{255, 255, 255, 255},
		SrcPort: portClient, DstPort: portServer, ID: 7,
	}, payload)
}

// fixIPChecksum recomputes the IPv4 header checksum after a test edits
// the header.
func fixIPChecksum(f []byte) []byte {
	ip := f[ethHeaderLen:]
	ihl := int(ip[0]&0xf) * 4
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], ^fold(onesSum(0, ip[:ihl])))
	return f
}

func TestIPv4ChecksumKnownVector(t *testing.T) {
	// The header example of the Wikipedia article "Internet checksum".
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if got := fold(onesSum(0, h)); got != 0xffff {
		t.Errorf("sum over a correct header = %#04x, want 0xffff", got)
	}
	h[10], h[11] = 0, 0
	if got := ^fold(onesSum(0, h)); got != 0xb861 {
		t.Errorf("computed checksum = %#04x, want 0xb861", got)
	}
}

func TestOnesSumMatchesWordByWord(t *testing.T) {
	b := make([]byte, 301)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	for n := range len(b) {
		var want uint64
		for i := 0; i < n; i += 2 {
			w := uint64(b[i]) << 8
			if i+1 < n {
				w |= uint64(b[i+1])
			}
			want += w
		}
		if got := fold(onesSum(0, b[:n])); got != fold(want) {
			t.Fatalf("length %d: onesSum folds to %#04x, word by word %#04x", n, got, fold(want))
		}
	}
}

func TestParseClientFrameRoundTrip(t *testing.T) {
	for _, n := range []int{300, 301, 548} { // odd length exercises checksum padding
		payload := make([]byte, n)
		copy(payload, request(lq.Discover))
		f, err := parseClientFrame(clientFrame(payload), false)
		if err != nil {
			t.Fatalf("%d octets: %v", n, err)
		}
		want := ClientFrame{SrcMAC: clientMAC, DstMAC: bcastMAC, SrcIP: netip.IPv4Unspecified(),
			DstIP: netip.AddrFrom4([4]byte{255, 255, 255, 255}), Payload: payload}
		if diff := cmp.Diff(want, f, netipCmp); diff != "" {
			t.Errorf("%d octets (-want +got):\n%s", n, diff)
		}
	}
}

func TestParseClientFrameRejects(t *testing.T) {
	good := func() []byte { return clientFrame(request(lq.Discover)) }
	ip := ethHeaderLen
	udp := ethHeaderLen + ipv4HeaderLen
	set16 := func(f []byte, off int, v uint16) []byte { binary.BigEndian.PutUint16(f[off:], v); return f }
	tests := []struct {
		name  string
		frame []byte
		csum  bool // want errBadChecksum
	}{
		{name: "short", frame: good()[:frameOverhead-1]},
		{name: "VLAN tag in band", frame: set16(good(), 12, 0x8100)},
		{name: "IPv6 version", frame: fixIPChecksum(func() []byte { f := good(); f[ip] = 0x65; return f }())},
		{name: "IHL 4", frame: fixIPChecksum(func() []byte { f := good(); f[ip] = 0x44; return f }())},
		{name: "total length beyond frame", frame: fixIPChecksum(set16(good(), ip+2, 2000))},
		{name: "total length below headers", frame: fixIPChecksum(set16(good(), ip+2, 27))},
		{name: "more fragments", frame: fixIPChecksum(set16(good(), ip+6, 0x2000))},
		{name: "fragment offset", frame: fixIPChecksum(set16(good(), ip+6, 0x0001))},
		{name: "TCP", frame: fixIPChecksum(func() []byte { f := good(); f[ip+9] = 6; return f }())},
		{name: "bad IPv4 checksum", frame: set16(good(), ip+10, 0x1234), csum: true},
		{name: "bad UDP checksum", frame: set16(good(), udp+6, 0x1234), csum: true},
		{name: "ports 67->67", frame: set16(good(), udp, 67)},
		{name: "ports 68->53", frame: set16(good(), udp+2, 53)},
		{name: "UDP length beyond IP", frame: set16(good(), udp+4, 400)},
		{name: "UDP length below header", frame: set16(good(), udp+4, 7)},
	}
	for _, tt := range tests {
		_, err := parseClientFrame(tt.frame, false)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if got := errors.Is(err, errBadChecksum); got != tt.csum {
			t.Errorf("%s: %v; checksum error %v, want %v", tt.name, err, got, tt.csum)
		}
	}
}

func TestParseClientFrameAccepts(t *testing.T) {
	payload := request(lq.Request)
	withOptions := func() []byte {
		// An IPv4 header with one 4-octet option (NOPs and END).
		f := clientFrame(payload)
		g := append(append(f[:ethHeaderLen+ipv4HeaderLen:ethHeaderLen+ipv4HeaderLen], 1, 1, 1, 0), f[ethHeaderLen+ipv4HeaderLen:]...)
		g[ethHeaderLen] = 0x46
		binary.BigEndian.PutUint16(g[ethHeaderLen+2:], uint16(len(g)-ethHeaderLen))
		return fixIPChecksum(g)
	}
	zeroUDPChecksum := clientFrame(payload)
	binary.BigEndian.PutUint16(zeroUDPChecksum[ethHeaderLen+ipv4HeaderLen+6:], 0)
	partial := clientFrame(payload)
	binary.BigEndian.PutUint16(partial[ethHeaderLen+ipv4HeaderLen+6:], 0x1234)
	trailer := append(clientFrame(payload), 0xde, 0xad, 0xbe, 0xef) // Ethernet padding or FCS
	tests := []struct {
		name         string
		frame        []byte
		csumNotReady bool
	}{
		{"IPv4 options", withOptions(), false},
		{"UDP checksum zero (none sent)", zeroUDPChecksum, false},
		{"partial checksum from a local sender", partial, true},
		{"trailing octets after the datagram", trailer, false},
	}
	for _, tt := range tests {
		f, err := parseClientFrame(tt.frame, tt.csumNotReady)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(payload, f.Payload); diff != "" {
			t.Errorf("%s: payload (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestAppendUDPFrameReusesBuffer(t *testing.T) {
	payload := reply(lq.Offer)
	buf := make([]byte, 0, 1514)
	h := udpFrame{SrcMAC: portMAC, DstMAC: clientMAC, SrcIP: [4]byte{192, 0, 2, 1}, DstIP: [4]byte{192, 0, 2, 50}, SrcPort: 67, DstPort: 68}
	if n := testing.AllocsPerRun(100, func() { buf = appendUDPFrame(buf[:0], h, payload) }); n != 0 {
		t.Errorf("appendUDPFrame allocates %v times into a large enough buffer", n)
	}
	ip := buf[ethHeaderLen:]
	if got := fold(onesSum(0, ip[:ipv4HeaderLen])); got != 0xffff {
		t.Errorf("IPv4 header sums to %#04x, want 0xffff", got)
	}
	if got := udpSum(ip[12:16], ip[16:20], ip[ipv4HeaderLen:]); got != 0xffff {
		t.Errorf("UDP datagram sums to %#04x, want 0xffff", got)
	}
}

func FuzzParseClientFrame(f *testing.F) {
	f.Add(clientFrame(request(lq.Discover)), false)
	f.Add(clientFrame(msg{op: 1, noCookie: true}.bytes()), true)
	f.Add(fixIPChecksum(func() []byte { g := clientFrame(request(lq.Discover)); g[ethHeaderLen] = 0x4f; return g }()), false)
	f.Fuzz(func(t *testing.T, b []byte, csumNotReady bool) {
		cf, err := parseClientFrame(b, csumNotReady)
		if err != nil {
			return
		}
		// Re-wrapping what was accepted must give a frame that parses to
		// the same payload with every checksum checked.
		again := appendUDPFrame(nil, udpFrame{SrcMAC: cf.SrcMAC, DstMAC: cf.DstMAC, SrcIP: cf.SrcIP.As4(),
			DstIP: cf.DstIP.As4(), SrcPort: portClient, DstPort: portServer}, cf.Payload)
		cf2, err := parseClientFrame(again, false)
		if err != nil {
			t.Fatalf("re-wrapped frame rejected: %v", err)
		}
		if diff := cmp.Diff(cf.Payload, cf2.Payload); diff != "" {
			t.Fatalf("payload changed on re-wrap (-first +second):\n%s", diff)
		}
	})
}
