package lq

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseAgentInfoRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want AgentInfo
	}{
		{"empty", nil, nil},
		{"circuit and remote", []byte{1, 3, 'c', 'm', '1', 2, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55},
			AgentInfo{{1, []byte("cm1")}, {2, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}}}},
		{"unknown and zero-length kept raw, order kept", []byte{9, 0, 200, 2, 0xff, 0xfe, 1, 1, 'x'},
			AgentInfo{{9, []byte{}}, {200, []byte{0xff, 0xfe}}, {1, []byte("x")}}},
		{"duplicates kept", []byte{1, 1, 'a', 1, 1, 'b'}, AgentInfo{{1, []byte("a")}, {1, []byte("b")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAgentInfo(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseAgentInfo (-want +got):\n%s", diff)
			}
			again, err := got.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, tt.b) {
				t.Errorf("Marshal = %x, want the input %x", again, tt.b)
			}
		})
	}
}

func TestParseAgentInfoCopies(t *testing.T) {
	b := []byte{1, 1, 'a'}
	ai, err := ParseAgentInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	b[2] = 'z'
	if id, _ := ai.CircuitID(); string(id) != "a" {
		t.Errorf("AgentInfo aliases its input: circuit ID %q after the input changed", id)
	}
}

func TestParseAgentInfoErrors(t *testing.T) {
	tests := []struct {
		b    []byte
		want string
	}{
		{[]byte{1}, "option 82 sub-option 1 at offset 0: length octet missing"},
		{[]byte{1, 1, 'a', 2, 5, 1, 2}, "option 82 sub-option 2 at offset 3: length 5 exceeds 2 remaining"},
	}
	for _, tt := range tests {
		if _, err := ParseAgentInfo(tt.b); err == nil || err.Error() != tt.want {
			t.Errorf("ParseAgentInfo(%x) error %v, want %q", tt.b, err, tt.want)
		}
	}
}

func TestAgentInfoAccessors(t *testing.T) {
	full := AgentInfo{
		{SubCircuitID, []byte("cm0/1")}, {SubRemoteID, []byte{0, 1, 2, 3, 4, 5}},
		{SubDeviceClass, []byte{0, 0, 0, 1}}, {SubLinkSelection, []byte{10, 1, 0, 0}},
		{SubSubscriberID, []byte("sub-42")}, {SubServerIDOverride, []byte{10, 0, 0, 1}},
		{SubRelayID, []byte{0, 3, 0, 1, 0xaa}},
	}
	type values struct {
		Circuit, Remote, Relay []byte
		OkC, OkR, OkRelay      bool
		Class                  DeviceClass
		OkClass, CCCM          bool
		Link, Override         netip.Addr
		OkLink, OkOverride     bool
		Subscriber             string
		OkSubscriber           bool
	}
	read := func(a AgentInfo) values {
		var v values
		v.Circuit, v.OkC = a.CircuitID()
		v.Remote, v.OkR = a.RemoteID()
		v.Relay, v.OkRelay = a.RelayID()
		v.Class, v.OkClass = a.DeviceClass()
		v.CCCM = v.Class.CCCM()
		v.Link, v.OkLink = a.LinkSelection()
		v.Override, v.OkOverride = a.ServerIDOverride()
		v.Subscriber, v.OkSubscriber = a.SubscriberID()
		return v
	}
	want := values{
		Circuit: []byte("cm0/1"), Remote: []byte{0, 1, 2, 3, 4, 5}, Relay: []byte{0, 3, 0, 1, 0xaa},
		OkC: true, OkR: true, OkRelay: true, Class: 1, OkClass: true, CCCM: true,
		Link: netip.MustParseAddr("10.1.0.0"), Override: netip.MustParseAddr("10.0.0.1"), OkLink: true, OkOverride: true,
		Subscriber: "sub-42", OkSubscriber: true,
	}
	if diff := cmp.Diff(want, read(full), cmpNetip); diff != "" {
		t.Errorf("well-formed (-want +got):\n%s", diff)
	}
	malformed := AgentInfo{
		{SubCircuitID, []byte{}}, {SubRemoteID, nil}, {SubDeviceClass, []byte{1, 2, 3}},
		{SubLinkSelection, []byte{10, 1, 0, 0, 0}}, {SubSubscriberID, []byte("x\x00")},
		{SubServerIDOverride, []byte{10}}, {SubRelayID, []byte{}},
	}
	if diff := cmp.Diff(values{}, read(malformed), cmpNetip, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("malformed must read as absent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(values{}, read(nil), cmpNetip); diff != "" {
		t.Errorf("absent (-want +got):\n%s", diff)
	}
}

func TestAgentInfoValidate(t *testing.T) {
	tests := []struct {
		name string
		a    AgentInfo
		want string // "" for valid
	}{
		{"valid", AgentInfo{{1, []byte("a")}, {77, nil}}, ""},
		{"empty circuit ID", AgentInfo{{1, nil}}, "sub-option #0: sub-option 1: empty"},
		{"empty remote ID", AgentInfo{{1, []byte("a")}, {2, nil}}, "sub-option #1: sub-option 2: empty"},
		{"device class length", AgentInfo{{4, []byte{1}}}, "sub-option 4: length 1, want 4"},
		{"link selection length", AgentInfo{{5, []byte{1, 2, 3, 4, 5, 6}}}, "sub-option 5: length 6, want 4"},
		{"server ID override length", AgentInfo{{11, []byte{1, 2}}}, "sub-option 11: length 2, want 4"},
		{"subscriber ID empty", AgentInfo{{6, nil}}, "sub-option 6 (subscriber ID): empty"},
		{"subscriber ID not ASCII", AgentInfo{{6, []byte("s\xe9")}}, "octet 1 is 0xe9, not NVT ASCII"},
		{"subscriber ID NUL-terminated", AgentInfo{{6, []byte("s\x00")}}, "NUL-terminated"},
		{"relay ID empty", AgentInfo{{12, nil}}, "sub-option 12: empty"},
		{"too long for one option", AgentInfo{{1, make([]byte, 200)}, {2, make([]byte, 60)}}, "264 octets of sub-options exceed one option's 255"},
		{"sub-option too long", AgentInfo{{9, make([]byte, 256)}}, "sub-option 9: 256 octets exceeds 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Validate()
			checkErr(t, err, tt.want)
		})
	}
}

func TestAgentInfoBuild(t *testing.T) {
	a, err := NewAgentInfo([]byte("cm0/1"), []byte{0, 1, 2, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	a.SetDeviceClass(DeviceClassCCCM)
	for _, err := range []error{
		a.SetLinkSelection(netip.MustParseAddr("10.1.0.0")),
		a.SetSubscriberID("sub-42"),
		a.SetServerIDOverride(netip.MustParseAddr("10.0.0.1")),
		a.SetRelayID([]byte("cmts-7")),
		a.SetCircuitID([]byte("cm0/2")), // replaces in place
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []byte{
		1, 5, 'c', 'm', '0', '/', '2', 2, 6, 0, 1, 2, 3, 4, 5, 4, 4, 0, 0, 0, 1, 5, 4, 10, 1, 0, 0,
		6, 6, 's', 'u', 'b', '-', '4', '2', 11, 4, 10, 0, 0, 1, 12, 6, 'c', 'm', 't', 's', '-', '7',
	}
	got, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	a.Del(SubRemoteID)
	a.Del(SubDeviceClass)
	if _, ok := a.RemoteID(); ok || len(a) != 5 {
		t.Errorf("after Del: %d sub-options, remote ID present %t", len(a), ok)
	}
}

func TestAgentInfoSetErrors(t *testing.T) {
	var a AgentInfo
	for name, err := range map[string]error{
		"empty circuit":    a.SetCircuitID(nil),
		"IPv6 link":        a.SetLinkSelection(netip.MustParseAddr("2001:db8::")),
		"zero link":        a.SetLinkSelection(netip.Addr{}),
		"IPv6 override":    a.SetServerIDOverride(netip.MustParseAddr("::1")),
		"8-bit subscriber": a.SetSubscriberID("é"),
		"empty relay":      a.SetRelayID([]byte{}),
		"long":             a.Set(9, make([]byte, 256)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if len(a) != 0 {
		t.Errorf("failed setters changed the AgentInfo: %v", a)
	}
	if _, err := NewAgentInfo(nil, nil); err == nil {
		t.Errorf("NewAgentInfo(nil circuit): no error")
	}
}

func TestAgentInfoAppendTo(t *testing.T) {
	dst := []byte{0xaa}
	got, err := AgentInfo{{1, []byte("a")}}.AppendTo(dst)
	if err != nil || !bytes.Equal(got, []byte{0xaa, 1, 1, 'a'}) {
		t.Errorf("AppendTo = %x, %v", got, err)
	}
	got, err = AgentInfo{{1, []byte("a")}, {2, make([]byte, 256)}}.AppendTo(dst)
	if err == nil || !bytes.Equal(got, dst) {
		t.Errorf("AppendTo of a 256-octet sub-option = %x, %v; want dst unchanged and an error", got, err)
	}
}
