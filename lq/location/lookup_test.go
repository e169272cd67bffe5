package location

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// multiTable holds a client with addresses in two subnets, a modem with
// its own address and two CPEs behind it, and a client-id shared by two
// addresses.
func multiTable(t *testing.T) *Table {
	t.Helper()
	tb := New(Config{})
	modem := net.HardwareAddr{0, 0x11, 0xaa, 0, 0, 1}
	client := net.HardwareAddr{2, 0x11, 0xbb, 0, 0, 1}
	add := func(ip string, hw net.HardwareAddr, port string, cid byte) {
		b := sample(0)
		b.IP, b.HWAddr, b.Port, b.Modem = netip.MustParseAddr(ip), hw, port, modem
		b.ClientID = []byte{0, cid}
		mustUpsert(t, tb, b, t0)
	}
	add("10.1.0.5", modem, "cable1/0/0", 1)
	add("10.2.0.7", client, "cable1/0/0", 2)
	add("100.64.0.7", client, "cable1/0/0", 2) // same client, another subnet
	add("10.2.0.8", net.HardwareAddr{2, 0x11, 0xbb, 0, 0, 2}, "cable1/0/1", 3)
	return tb
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestLookups(t *testing.T) {
	tb := multiTable(t)
	tests := []struct {
		name string
		got  []Binding
		want []netip.Addr
	}{
		{"MAC with two addresses", tb.ByMAC(net.HardwareAddr{2, 0x11, 0xbb, 0, 0, 1}), addrs("10.2.0.7", "100.64.0.7")},
		{"MAC with one", tb.ByMAC(net.HardwareAddr{0, 0x11, 0xaa, 0, 0, 1}), addrs("10.1.0.5")},
		{"unknown MAC", tb.ByMAC(net.HardwareAddr{9, 9, 9, 9, 9, 9}), nil},
		{"MAC prefix is not the MAC", tb.ByMAC(net.HardwareAddr{2, 0x11, 0xbb, 0, 0}), nil},
		{"modem", tb.ByModem(net.HardwareAddr{0, 0x11, 0xaa, 0, 0, 1}), addrs("10.1.0.5", "10.2.0.7", "10.2.0.8", "100.64.0.7")},
		{"client-id with two addresses", tb.ByClientID([]byte{0, 2}), addrs("10.2.0.7", "100.64.0.7")},
		{"client-id", tb.ByClientID([]byte{0, 3}), addrs("10.2.0.8")},
		{"unknown client-id", tb.ByClientID([]byte{0, 4}), nil},
		{"port", tb.ByPort("cable1/0/0"), addrs("10.1.0.5", "10.2.0.7", "100.64.0.7")},
		{"other port", tb.ByPort("cable1/0/1"), addrs("10.2.0.8")},
		{"unknown port", tb.ByPort("cable9/0/0"), nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ips(tt.got), cmpOpts...); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestLookupsAfterRemove(t *testing.T) {
	tb := multiTable(t)
	tb.Remove(Removal{IP: netip.MustParseAddr("10.2.0.7"), Reason: Released}, t0)
	tb.Remove(Removal{IP: netip.MustParseAddr("10.1.0.5"), Reason: Released}, t0)
	checks := []struct {
		name string
		got  []Binding
		want []netip.Addr
	}{
		{"MAC", tb.ByMAC(net.HardwareAddr{2, 0x11, 0xbb, 0, 0, 1}), addrs("100.64.0.7")},
		{"modem's own MAC", tb.ByMAC(net.HardwareAddr{0, 0x11, 0xaa, 0, 0, 1}), nil},
		{"modem", tb.ByModem(net.HardwareAddr{0, 0x11, 0xaa, 0, 0, 1}), addrs("10.2.0.8", "100.64.0.7")},
		{"client-id", tb.ByClientID([]byte{0, 2}), addrs("100.64.0.7")},
		{"port", tb.ByPort("cable1/0/0"), addrs("100.64.0.7")},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, ips(c.got), cmpOpts...); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	// Freed records are reused: the table does not grow under churn.
	before := tb.next
	for i := range 10 {
		b := sample(i)
		mustUpsert(t, tb, b, t0)
		tb.Remove(Removal{IP: b.IP, Reason: Cleared}, t0)
	}
	if tb.next != before {
		t.Errorf("record high-water mark grew from %d to %d under add/remove churn", before, tb.next)
	}
}

// TestMoves replaces a binding with one at another port, MAC, client-id
// and modem: every index must follow.
func TestMoves(t *testing.T) {
	tb := New(Config{})
	a := sample(1)
	mustUpsert(t, tb, a, t0)
	mustUpsert(t, tb, sample(17), t0) // same port as sample(1), stays

	b := sample(1)
	b.Port, b.CircuitID = "cable3/0/9", []byte("cable3/0/9")
	b.HWAddr = net.HardwareAddr{2, 0xee, 0, 0, 0, 1}
	b.ClientID = []byte{1, 2, 0xee, 0, 0, 0, 1}
	b.Modem = net.HardwareAddr{0, 0xee, 0, 0, 0, 1}
	if res := mustUpsert(t, tb, b, at(1)); res != ResultChanged {
		t.Fatalf("move: %v, want %v", res, ResultChanged)
	}
	checks := []struct {
		name string
		got  []Binding
		want []netip.Addr
	}{
		{"old port", tb.ByPort(a.Port), []netip.Addr{ipN(17)}},
		{"new port", tb.ByPort(b.Port), []netip.Addr{ipN(1)}},
		{"old MAC", tb.ByMAC(a.HWAddr), nil},
		{"new MAC", tb.ByMAC(b.HWAddr), []netip.Addr{ipN(1)}},
		{"old client-id", tb.ByClientID(a.ClientID), nil},
		{"new client-id", tb.ByClientID(b.ClientID), []netip.Addr{ipN(1)}},
		{"old modem", tb.ByModem(a.Modem), nil},
		{"new modem", tb.ByModem(b.Modem), []netip.Addr{ipN(1)}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, ips(c.got), cmpOpts...); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if got := tb.Stats().Ports; got != 2 {
		t.Errorf("interned ports: %d, want 2 (cable3/0/1 and cable3/0/9)", got)
	}
	mustUpsert(t, tb, sample(17), t0)
	tb.Remove(Removal{IP: ipN(17), Reason: Cleared}, at(2))
	if got := tb.Stats().Ports; got != 1 {
		t.Errorf("interned ports after the last binding of cable3/0/1 left: %d, want 1", got)
	}
}

func TestAll(t *testing.T) {
	tb := New(Config{})
	var want []netip.Addr
	for i := range 3*chunkSize + 7 {
		mustUpsert(t, tb, sample(i), t0)
		want = append(want, ipN(i))
	}
	for i := 0; i < len(want); i += 5 {
		tb.Remove(Removal{IP: ipN(i), Reason: Cleared}, t0)
	}
	var got []netip.Addr
	for b := range tb.All() {
		got = append(got, b.IP)
	}
	slices.SortFunc(got, netip.Addr.Compare)
	var wantLeft []netip.Addr
	for i, a := range want {
		if i%5 != 0 {
			wantLeft = append(wantLeft, a)
		}
	}
	if diff := cmp.Diff(wantLeft, got, cmpOpts...); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
	n := 0
	for range tb.All() {
		if n++; n == 10 {
			break
		}
	}
	if n != 10 {
		t.Errorf("All stopped after %d, want 10", n)
	}
}
