package engine

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// identical compares bindings field for field: times by ==, so the wall
// clock, the monotonic reading and the location must all come back; nil
// and empty slices differ.
var identical = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func TestStoredBindingRoundTrip(t *testing.T) {
	now := time.Now() // with a monotonic reading, as the Runner's
	wire, err := os.ReadFile(filepath.Join("..", "testdata", "dhcpd", "active_by_ip.bin"))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := lq.ParseReply(wire)
	if err != nil {
		t.Fatal(err)
	}
	full := lq.Binding{IP: netip.MustParseAddr("10.1.2.3"), HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 1},
		ClientID: []byte{1, 2, 0, 0, 0, 0, 1}, Expiry: now.Add(time.Hour), T1: now.Add(30 * time.Minute),
		T2: now.Add(50 * time.Minute), LastTransaction: now.Add(-time.Minute),
		AgentInfo:   lq.AgentInfo{{Code: 1, Data: []byte("lc0/sub0")}, {Code: 5, Data: []byte{}}, {Code: 12, Data: nil}},
		VendorClass: []byte{}, AssociatedIPs: []netip.Addr{netip.MustParseAddr("10.1.2.4")},
		Server: netip.MustParseAddr("10.0.0.1")}
	for _, tc := range []struct {
		name    string
		b       lq.Binding
		base    time.Time
		compact bool
	}{
		{"dhcpd ACTIVE with option 82", reply.Binding(now, srvA), now, true},
		{"every field, nil and empty slices", full, now, true},
		{"nothing but the address", lq.Binding{IP: netip.MustParseAddr("10.1.2.3")}, now, true},
		{"zero binding", lq.Binding{}, now, true},
		{"times without monotonic reading", reply.Binding(t0, srvA), t0, true},
		{"empty associated addresses", lq.Binding{AssociatedIPs: []netip.Addr{}}, now, true},
		{"times from another base", lq.Binding{Expiry: now.Round(0).Add(time.Hour)}, now, false},
		{"IPv4-mapped IPv6 address", lq.Binding{IP: netip.MustParseAddr("::ffff:10.1.2.3")}, now, false},
		{"IPv6 associated address", lq.Binding{AssociatedIPs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}, now, false},
		{"time in UTC, base local", lq.Binding{Expiry: now.UTC().Add(time.Hour)}, now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storeBinding(&tc.b, tc.base)
			if compact := s.full == nil; compact != tc.compact {
				t.Errorf("compact %v, want %v", compact, tc.compact)
			}
			got := s.binding()
			if diff := cmp.Diff(tc.b, got, identical); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			// Each expansion is a copy of its own: writing to one changes
			// neither the cache nor another caller's.
			if len(got.HWAddr) > 0 {
				got.HWAddr[0]++
				if again := s.binding(); cmp.Diff(tc.b, again, identical) != "" {
					t.Error("an expansion shares bytes with the cache")
				}
			}
		})
	}
}

// TestStoredBindingRandom: random bindings from a reply's receipt come
// back identical, in compact form.
func TestStoredBindingRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	bytesOf := func(max int) []byte {
		switch n := rnd.IntN(max + 2); n {
		case 0:
			return nil
		default:
			b := make([]byte, n-1)
			for i := range b {
				b[i] = byte(rnd.Uint32())
			}
			return b
		}
	}
	secs := func() time.Duration { return time.Duration(rnd.Uint32()) * time.Second }
	for i := range 1000 {
		now := time.Now()
		r := lq.Reply{CIAddr: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), HType: uint8(rnd.IntN(3)),
			HWAddr: bytesOf(16), ClientID: bytesOf(300), VendorClass: bytesOf(40),
			HasLeaseTime: rnd.IntN(2) == 0, LeaseTime: secs(), HasT1: rnd.IntN(2) == 0, T1: secs(),
			HasT2: rnd.IntN(2) == 0, T2: secs(), HasLastTransaction: rnd.IntN(2) == 0, LastTransaction: secs()}
		for range rnd.IntN(5) {
			r.AgentInfo = append(r.AgentInfo, lq.SubOption{Code: uint8(rnd.Uint32()), Data: bytesOf(255)})
		}
		for range rnd.IntN(3) {
			r.AssociatedIPs = append(r.AssociatedIPs, netip.AddrFrom4([4]byte{10, 9, byte(rnd.Uint32()), 1}))
		}
		if rnd.IntN(4) == 0 {
			r.ServerID = netip.AddrFrom4([4]byte{10, 0, 0, byte(rnd.Uint32())})
		}
		b := r.Binding(now, srvA)
		s := storeBinding(&b, now)
		if s.full != nil {
			t.Fatalf("binding %d not kept compact: %+v", i, b)
		}
		if diff := cmp.Diff(b, s.binding(), identical); diff != "" {
			t.Fatalf("binding %d (-want +got):\n%s", i, diff)
		}
	}
}
