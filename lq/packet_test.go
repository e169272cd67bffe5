package lq

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testMAC = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}

// rawPacket returns a client BOOTREQUEST with the given options field
// (END included by the caller), zero-padded to padTo octets.
func rawPacket(options []byte, padTo int) []byte {
	b := make([]byte, offOptions, max(padTo, offOptions+len(options)))
	b[offOp], b[offHType], b[offHLen], b[offHops] = 1, 1, 6, 2
	copy(b[offXID:], []byte{0xde, 0xad, 0xbe, 0xef})
	copy(b[offSecs:], []byte{0, 7, 0x80, 0})
	copy(b[offCIAddr:], []byte{192, 0, 2, 1, 192, 0, 2, 2, 192, 0, 2, 3, 0, 0, 0, 0})
	copy(b[offCHAddr:], testMAC)
	copy(b[offCookie:], magicCookie[:])
	b = append(b, options...)
	return append(b, make([]byte, max(0, padTo-len(b)))...)
}

// discover is a DISCOVER as dhclient sends it: END then padding to 300.
func discover() []byte {
	return rawPacket([]byte{53, 1, 1, 61, 7, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 55, 3, 1, 3, 6, 255}, MinLen)
}

// checkErr fails unless err's message contains want; want "" means no
// error.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

func mustParse(t *testing.T, b []byte) Packet {
	t.Helper()
	p, err := ParsePacket(b)
	if err != nil {
		t.Fatalf("ParsePacket: %v", err)
	}
	return p
}

func TestPacketAccessors(t *testing.T) {
	p := mustParse(t, discover())
	type header struct {
		Op                             OpCode
		HType, HLen, Hops              uint8
		XID                            uint32
		Secs, Flags                    uint16
		Broadcast, HasOptions, HasEnd  bool
		CIAddr, YIAddr, SIAddr, GIAddr netip.Addr
		CHAddr                         []byte
		Type                           MessageType
		Len                            int
	}
	want := header{
		Op: BootRequest, HType: 1, HLen: 6, Hops: 2, XID: 0xdeadbeef, Secs: 7, Flags: 0x8000,
		Broadcast: true, HasOptions: true, HasEnd: true,
		CIAddr: netip.MustParseAddr("192.0.2.1"), YIAddr: netip.MustParseAddr("192.0.2.2"),
		SIAddr: netip.MustParseAddr("192.0.2.3"), GIAddr: netip.MustParseAddr("0.0.0.0"),
		CHAddr: testMAC, Type: Discover, Len: MinLen,
	}
	got := header{
		Op: p.Op(), HType: p.HType(), HLen: p.HLen(), Hops: p.Hops(), XID: p.XID(), Secs: p.Secs(), Flags: p.Flags(),
		Broadcast: p.Broadcast(), HasOptions: p.HasOptions(), HasEnd: p.HasEnd(),
		CIAddr: p.CIAddr(), YIAddr: p.YIAddr(), SIAddr: p.SIAddr(), GIAddr: p.GIAddr(),
		CHAddr: p.CHAddr(), Type: p.MessageType(), Len: p.Len(),
	}
	if diff := cmp.Diff(want, got, cmpNetip); diff != "" {
		t.Errorf("accessors (-want +got):\n%s", diff)
	}
}

func TestZeroPacket(t *testing.T) {
	var p Packet
	if p.Op() != 0 || p.XID() != 0 || p.CHAddr() != nil || p.GIAddr().IsValid() || p.MessageType() != 0 || p.Len() != 0 {
		t.Errorf("zero Packet reads non-zero values")
	}
	for range p.Options() {
		t.Errorf("zero Packet yields options")
	}
	if err := p.SetGIAddr(netip.MustParseAddr("10.0.0.1")); err == nil {
		t.Errorf("SetGIAddr on zero Packet: no error")
	}
	if _, err := p.IncHops(); err == nil {
		t.Errorf("IncHops on zero Packet: no error")
	}
	if err := p.AddAgentInfo([]byte{1, 1, 'x'}, 0); !errors.Is(err, ErrNoOptions) {
		t.Errorf("AddAgentInfo on zero Packet: %v, want ErrNoOptions", err)
	}
}

func TestParsePacketErrors(t *testing.T) {
	withHLen := discover()
	withHLen[offHLen] = 17
	overloadFile := rawPacket([]byte{52, 1, 1, 255}, MinLen)
	overloadFile[offFile] = 12
	overloadFile[offFile+1] = 200
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", make([]byte, 235), "235 octets, shorter than the 236-octet BOOTP header"},
		{"hlen", withHLen, "hlen 17 exceeds the 16-octet chaddr field"},
		{"truncated option", rawPacket([]byte{53, 1, 1, 82, 9, 1, 2, 3, 4}, 0), "options field: option 82 at offset 243: length 9 exceeds 4 remaining"},
		{"length octet missing", rawPacket([]byte{53, 1, 1, 82}, 0), "options field: option 82 at offset 243: length octet missing"},
		{"overload length", rawPacket([]byte{52, 2, 1, 1, 255}, 0), "option 52 (overload): want one octet 1, 2 or 3, got 0101"},
		{"overload value", rawPacket([]byte{52, 1, 4, 255}, 0), "option 52 (overload): want one octet 1, 2 or 3, got 04"},
		{"overloaded file", overloadFile, "file field (overloaded): option 12 at offset 108: length 200 exceeds 126 remaining"},
		{"message type length", rawPacket([]byte{53, 2, 1, 1, 255}, 0), "option 53 (message type): length 2, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePacket(tt.b)
			checkErr(t, err, tt.want)
		})
	}
}

func TestParsePacketTolerates(t *testing.T) {
	bootp := discover()[:300]
	copy(bootp[offCookie:], "RFC1")
	tests := []struct {
		name       string
		b          []byte
		hasOptions bool
		hasEnd     bool
		options    []Option
	}{
		{"BOOTP without cookie", bootp, false, false, nil},
		{"header only", discover()[:HeaderLen], false, false, nil},
		{"no END", rawPacket([]byte{53, 1, 3, 0, 0}, 0), true, false, []Option{{53, []byte{3}}}},
		{"after END ignored", rawPacket([]byte{53, 1, 3, 255, 82, 200}, 0), true, true, []Option{{53, []byte{3}}}},
		{"zero-length option", rawPacket([]byte{53, 1, 3, 80, 0, 255}, 0), true, true, []Option{{53, []byte{3}}, {80, []byte{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.b)
			if p.HasOptions() != tt.hasOptions || p.HasEnd() != tt.hasEnd {
				t.Errorf("HasOptions, HasEnd = %t, %t; want %t, %t", p.HasOptions(), p.HasEnd(), tt.hasOptions, tt.hasEnd)
			}
			if diff := cmp.Diff(tt.options, collect(p)); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func collect(p Packet) []Option {
	var opts []Option
	for c, v := range p.Options() {
		opts = append(opts, Option{c, v})
	}
	return opts
}

// overloaded returns a reply whose options continue in file and sname.
func overloaded() []byte {
	b := rawPacket([]byte{53, 1, 5, 52, 1, 3, 82, 3, 1, 1, 'a', 12, 2, 'h', 'o', 255}, MinLen)
	b[offOp] = 2
	copy(b[offFile:], []byte{12, 2, 's', 't', 82, 3, 2, 1, 'b', 255})
	copy(b[offSName:], []byte{15, 3, 'e', 'x', 'a', 0, 0, 255})
	return b
}

func TestPacketOverload(t *testing.T) {
	p := mustParse(t, overloaded())
	want := []Option{
		{53, []byte{5}}, {52, []byte{3}}, {82, []byte{1, 1, 'a'}}, {12, []byte("ho")},
		{12, []byte("st")}, {82, []byte{2, 1, 'b'}},
		{15, []byte("exa")},
	}
	if diff := cmp.Diff(want, collect(p)); diff != "" {
		t.Errorf("options across overloaded fields (-want +got):\n%s", diff)
	}
	if v, _ := p.AppendOption(nil, 12); string(v) != "host" {
		t.Errorf("AppendOption(12) = %q, want the RFC 3396 concatenation %q", v, "host")
	}
	if v, ok := p.Option(15); !ok || string(v) != "exa" {
		t.Errorf("Option(15) = %q, %t; want it from sname", v, ok)
	}
	if v, ok := p.SubOption(SubCircuitID); !ok || string(v) != "a" {
		t.Errorf("SubOption(1) = %q, %t", v, ok)
	}
}

func TestOptionsStopsEarly(t *testing.T) {
	p := mustParse(t, overloaded())
	n := 0
	for c := range p.Options() {
		n++
		if c == 12 {
			break
		}
	}
	if n != 4 {
		t.Errorf("range stopped after %d options, want 4", n)
	}
}

func TestSetGIAddrIncHops(t *testing.T) {
	p := mustParse(t, discover())
	if err := p.SetGIAddr(netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Fatal(err)
	}
	if got := p.GIAddr(); got != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("GIAddr = %v", got)
	}
	if err := p.SetGIAddr(netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Errorf("SetGIAddr(IPv6): no error")
	}
	if h, err := p.IncHops(); h != 3 || err != nil {
		t.Errorf("IncHops = %d, %v; want 3", h, err)
	}
	p.Bytes()[offHops] = 255
	if h, err := p.IncHops(); h != 255 || err == nil {
		t.Errorf("IncHops at 255 = %d, %v; want 255 and an error", h, err)
	}
}

// withCap copies b into a buffer of capacity c.
func withCap(b []byte, c int) []byte {
	return append(make([]byte, 0, max(c, len(b))), b...)
}

func TestAddAgentInfo(t *testing.T) {
	payload := []byte{1, 4, 'c', 'm', '0', '1', 2, 2, 0xab, 0xcd} // 10 octets
	opts := []byte{53, 1, 1}
	withAI := append(append(slices.Clone(opts), 82, 10), payload...)
	tests := []struct {
		name   string
		in     []byte
		maxLen int
		want   []byte // nil when err
		err    error
	}{
		{"into padding", withCap(rawPacket(append(slices.Clone(opts), 255), MinLen), 1500), 0,
			rawPacket(append(slices.Clone(withAI), 255), MinLen), nil},
		{"grows", withCap(rawPacket(append(slices.Clone(opts), 255), 0), 1500), 0,
			rawPacket(append(slices.Clone(withAI), 255), 0), nil},
		{"no END", withCap(rawPacket(slices.Clone(opts), 0), 1500), 0,
			rawPacket(append(slices.Clone(withAI), 255), 0), nil},
		{"PAD kept before", withCap(rawPacket([]byte{53, 1, 1, 0, 0, 255}, 0), 1500), 0,
			rawPacket(append([]byte{53, 1, 1, 0, 0, 82, 10}, append(payload, 255)...), 0), nil},
		{"over maxLen", withCap(rawPacket(append(slices.Clone(opts), 255), 0), 1500), offOptions + 4 + 12 - 1, nil, ErrNoRoom},
		{"exactly maxLen", withCap(rawPacket(append(slices.Clone(opts), 255), 0), 1500), offOptions + 4 + 12,
			rawPacket(append(slices.Clone(withAI), 255), 0), nil},
		{"over capacity", rawPacket(append(slices.Clone(opts), 255), 0), 0, nil, ErrNoRoom},
		{"already over maxLen, fits in padding", withCap(rawPacket(append(slices.Clone(opts), 255), 700), 700), 0,
			rawPacket(append(slices.Clone(withAI), 255), 700), nil},
		{"option 82 present", withCap(rawPacket([]byte{53, 1, 1, 82, 3, 1, 1, 'x', 255}, MinLen), 1500), 0, nil, ErrAgentInfoPresent},
		{"BOOTP", withCap(discover()[:HeaderLen], 1500), 0, nil, ErrNoOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.in)
			p := mustParse(t, tt.in)
			err := p.AddAgentInfo(payload, tt.maxLen)
			if !errors.Is(err, tt.err) {
				t.Fatalf("AddAgentInfo error %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				if !bytes.Equal(p.Bytes(), before) {
					t.Errorf("packet changed although AddAgentInfo failed")
				}
				return
			}
			if diff := cmp.Diff(tt.want, p.Bytes()); diff != "" {
				t.Errorf("bytes (-want +got):\n%s", diff)
			}
			q := mustParse(t, p.Bytes())
			if v, ok := q.SubOption(SubCircuitID); !ok || string(v) != "cm01" {
				t.Errorf("re-parsed circuit ID = %q, %t", v, ok)
			}
		})
	}
	p := mustParse(t, withCap(discover(), 1500))
	if err := p.AddAgentInfo(make([]byte, 256), 0); err == nil || !strings.Contains(err.Error(), "payload 256 octets exceeds 255") {
		t.Errorf("AddAgentInfo(256 octets) error %v", err)
	}
}

func TestStripAgentInfo(t *testing.T) {
	ai := []byte{82, 3, 1, 1, 'x'}
	long := bytes.Repeat([]byte{60, 30}, 1)
	long = append(long, bytes.Repeat([]byte{'v'}, 30)...)
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		removed bool
	}{
		{"last", rawPacket(append([]byte{53, 1, 2}, append(slices.Clone(ai), 255)...), 0),
			rawPacket([]byte{53, 1, 2, 255}, 0), true},
		{"middle and twice, no END", rawPacket(slices.Concat([]byte{53, 1, 2}, ai, []byte{0, 51, 4, 0, 0, 1, 0}, ai), 0),
			rawPacket([]byte{53, 1, 2, 0, 51, 4, 0, 0, 1, 0, 255}, 0), true},
		{"keeps the BOOTP minimum", rawPacket(slices.Concat([]byte{53, 1, 2}, ai, []byte{255}), MinLen),
			rawPacket([]byte{53, 1, 2, 255}, MinLen), true},
		{"shrinks to the BOOTP minimum", rawPacket(slices.Concat([]byte{53, 1, 2}, long, long, ai, []byte{255}), 0),
			rawPacket(slices.Concat([]byte{53, 1, 2}, long, long, []byte{255}), MinLen), true},
		{"absent", rawPacket([]byte{53, 1, 2, 255}, MinLen), rawPacket([]byte{53, 1, 2, 255}, MinLen), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.in)
			if got := p.StripAgentInfo(); got != tt.removed {
				t.Errorf("StripAgentInfo = %t, want %t", got, tt.removed)
			}
			if diff := cmp.Diff(tt.want, p.Bytes()); diff != "" {
				t.Errorf("bytes (-want +got):\n%s", diff)
			}
			if _, err := ParsePacket(p.Bytes()); err != nil {
				t.Errorf("stripped packet does not parse: %v", err)
			}
		})
	}
}

func TestStripAgentInfoOverloaded(t *testing.T) {
	p := mustParse(t, overloaded())
	if !p.StripAgentInfo() {
		t.Fatal("StripAgentInfo = false")
	}
	want := []Option{{53, []byte{5}}, {52, []byte{3}}, {12, []byte("ho")}, {12, []byte("st")}, {15, []byte("exa")}}
	if diff := cmp.Diff(want, collect(mustParse(t, p.Bytes()))); diff != "" {
		t.Errorf("options after strip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]byte{12, 2, 's', 't', 255, 0, 0, 0, 0, 0}, p.Bytes()[offFile:offFile+10]); diff != "" {
		t.Errorf("file field (-want +got):\n%s", diff)
	}
}

func TestLookupSubOption(t *testing.T) {
	raw := []byte{1, 2, 'a', 'b', 0, 0, 2, 1, 'r', 9, 5, 1}
	tests := []struct {
		code uint8
		want []byte
		ok   bool
	}{
		{1, []byte("ab"), true}, {0, []byte{}, true}, {2, []byte("r"), true},
		{9, nil, false}, // truncated
		{7, nil, false},
	}
	for _, tt := range tests {
		got, ok := LookupSubOption(raw, tt.code)
		if ok != tt.ok || !bytes.Equal(got, tt.want) {
			t.Errorf("LookupSubOption(%d) = %q, %t; want %q, %t", tt.code, got, ok, tt.want, tt.ok)
		}
	}
}
