package location

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// TestUpsertPrecedence covers the rules of Upsert: what the table holds
// (source, last transaction time at t0+lt, or none) against what arrives.
func TestUpsertPrecedence(t *testing.T) {
	const none = -1 << 20 // no last transaction time
	type side struct {
		src Source
		lt  int // seconds after t0, or none
	}
	tests := []struct {
		name     string
		cur      *side // nil: empty table
		in       side
		want     Result
		wantFrom Source // which binding the table holds afterwards
	}{
		{"gleaned into empty", nil, side{Gleaned, 0}, ResultAdded, Gleaned},
		{"leasequery into empty", nil, side{Leasequery, 0}, ResultAdded, Leasequery},
		{"leasequery without time into empty", nil, side{Leasequery, none}, ResultAdded, Leasequery},
		{"snapshot into empty", nil, side{Snapshot, 0}, ResultAdded, Snapshot},

		{"leasequery newer than gleaned", &side{Gleaned, 0}, side{Leasequery, 1}, ResultChanged, Leasequery},
		{"leasequery equal to gleaned", &side{Gleaned, 0}, side{Leasequery, 0}, ResultStale, Gleaned},
		{"leasequery older than gleaned", &side{Gleaned, 0}, side{Leasequery, -5}, ResultStale, Gleaned},
		{"leasequery without time vs gleaned", &side{Gleaned, 0}, side{Leasequery, none}, ResultStale, Gleaned},

		{"leasequery newer than leasequery", &side{Leasequery, 0}, side{Leasequery, 1}, ResultChanged, Leasequery},
		{"leasequery equal to leasequery", &side{Leasequery, 0}, side{Leasequery, 0}, ResultChanged, Leasequery},
		{"leasequery older than leasequery", &side{Leasequery, 0}, side{Leasequery, -1}, ResultStale, Leasequery},
		{"leasequery without time vs timed", &side{Leasequery, 0}, side{Leasequery, none}, ResultStale, Leasequery},
		{"leasequery timed vs untimed", &side{Leasequery, none}, side{Leasequery, -100}, ResultChanged, Leasequery},
		{"leasequery both untimed", &side{Leasequery, none}, side{Leasequery, none}, ResultChanged, Leasequery},

		{"gleaned over leasequery", &side{Leasequery, 50}, side{Gleaned, 0}, ResultChanged, Gleaned},
		{"gleaned over gleaned", &side{Gleaned, 0}, side{Gleaned, 0}, ResultChanged, Gleaned},
		{"gleaned over snapshot", &side{Snapshot, 0}, side{Gleaned, 0}, ResultChanged, Gleaned},
		{"leasequery over snapshot", &side{Snapshot, 0}, side{Leasequery, none}, ResultChanged, Leasequery},
		{"leasequery older over snapshot", &side{Snapshot, 0}, side{Leasequery, -100}, ResultChanged, Leasequery},

		{"snapshot vs snapshot", &side{Snapshot, 0}, side{Snapshot, 0}, ResultStale, Snapshot},
		{"snapshot vs gleaned", &side{Gleaned, 0}, side{Snapshot, 10}, ResultStale, Gleaned},
		{"snapshot vs leasequery", &side{Leasequery, 0}, side{Snapshot, 10}, ResultStale, Leasequery},
	}
	bind := func(s side, hwPrefix byte) Binding {
		b := sample(1)
		b.HWAddr = macN(hwPrefix, 1) // tells the two bindings apart
		b.Source = s.src
		if s.lt != none {
			b.LastTransaction = at(s.lt)
		} else {
			b.LastTransaction = time.Time{}
		}
		return b
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := New(Config{})
			// Gleaned writes take their time from now: the table's binding
			// is written at t0, the incoming one 10 s later unless it is
			// gleaned and must compare at equal time.
			if tt.cur != nil {
				mustUpsert(t, tb, bind(*tt.cur, 0xaa), at(max(tt.cur.lt, 0)))
			}
			now := at(10)
			if tt.in.src == Gleaned {
				now = t0
			}
			res := mustUpsert(t, tb, bind(tt.in, 0xbb), now)
			if res != tt.want {
				t.Errorf("result %v, want %v", res, tt.want)
			}
			got, ok := tb.ByIP(ipN(1))
			if !ok {
				t.Fatal("binding missing")
			}
			wantHW := macN(0xbb, 1)
			if tt.cur != nil && tt.wantFrom == tt.cur.src && tt.want == ResultStale {
				wantHW = macN(0xaa, 1)
			}
			if got.Source != tt.wantFrom || got.HWAddr.String() != wantHW.String() {
				t.Errorf("table holds %v from %v, want %v from %v", got.HWAddr, got.Source, wantHW, tt.wantFrom)
			}
		})
	}
}

func TestUpsertTimes(t *testing.T) {
	tb := New(Config{DefaultLease: 10 * time.Minute})

	b := sample(1)
	b.LastTransaction = at(-500) // gleaning ignores it: the ACK is now
	mustUpsert(t, tb, b, at(7))
	got, _ := tb.ByIP(b.IP)
	if !got.LastTransaction.Equal(at(7)) {
		t.Errorf("gleaned LastTransaction %v, want now %v", got.LastTransaction, at(7))
	}

	b = sample(2)
	b.Source, b.Expiry = Leasequery, time.Time{}
	mustUpsert(t, tb, b, at(20))
	got, _ = tb.ByIP(b.IP)
	if want := at(20).Add(10 * time.Minute); !got.Expiry.Equal(want) {
		t.Errorf("expiry without option 51: %v, want now+DefaultLease %v", got.Expiry, want)
	}

	b = sample(3)
	b.Expiry = at(30)
	if res := mustUpsert(t, tb, b, at(30)); res != ResultExpired {
		t.Errorf("binding expiring at now: %v, want %v", res, ResultExpired)
	}

	b = sample(4)
	b.Expiry = at(100).Add(700 * time.Millisecond)
	mustUpsert(t, tb, b, t0)
	got, _ = tb.ByIP(b.IP)
	if !got.Expiry.Equal(at(100)) {
		t.Errorf("expiry %v, want it truncated to the second, %v", got.Expiry, at(100))
	}

	b = sample(5)
	b.Expiry = t0.Add(200 * 365 * 24 * time.Hour) // an infinite lease
	mustUpsert(t, tb, b, t0)
	got, _ = tb.ByIP(b.IP)
	if want := time.Unix(1<<32-1, 0); !got.Expiry.Equal(want) {
		t.Errorf("infinite lease expiry %v, want it saturated at %v", got.Expiry, want)
	}
	if res := mustUpsert(t, tb, sample(1), at(7)); res != ResultUnchanged {
		t.Errorf("same gleaned ACK again in the same second: %v, want %v", res, ResultUnchanged)
	}
}

func TestUpsertRoundTrip(t *testing.T) {
	long := sample(3)
	long.HType, long.HWAddr = 32, net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	long.CircuitID = []byte("matched-elsewhere") // not option 82's circuit-id
	long.AssociatedIPs = []netip.Addr{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")}
	long.Modem, long.Port, long.VendorClass, long.ClientID = nil, "", nil, nil
	bare := Binding{Binding: lq.Binding{IP: ipN(4), Expiry: at(60)}, Source: Leasequery}
	eight := sample(5)
	eight.HWAddr = net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8}
	mapped := sample(6)
	mapped.IP = netip.AddrFrom16(ipN(6).As16())
	mapped.AgentInfo = append(mapped.AgentInfo, lq.SubOption{Code: 151, Data: nil})

	for _, b := range []Binding{sample(1), long, bare, eight, mapped} {
		tb := New(Config{})
		mustUpsert(t, tb, b, t0)
		got, ok := tb.ByIP(b.IP)
		want := b
		want.IP = b.IP.Unmap()
		if !ok {
			t.Fatalf("ByIP(%v): missing", b.IP)
		}
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Errorf("ByIP(%v) (-want +got):\n%s", b.IP, diff)
		}
	}
}

func TestUpsertRejects(t *testing.T) {
	long := make([]byte, 256)
	tests := []struct {
		name    string
		edit    func(*Binding)
		wantErr string
	}{
		{"IPv6", func(b *Binding) { b.IP = netip.MustParseAddr("2001:db8::1") }, "not IPv4"},
		{"no IP", func(b *Binding) { b.IP = netip.Addr{} }, "unspecified"},
		{"0.0.0.0", func(b *Binding) { b.IP = netip.IPv4Unspecified() }, "unspecified"},
		{"IPv6 server", func(b *Binding) { b.Server = netip.MustParseAddr("::1") }, "server ::1: not IPv4"},
		{"no source", func(b *Binding) { b.Source = 0 }, "source 0"},
		{"chaddr too long", func(b *Binding) { b.HWAddr = long[:17] }, "hardware address: length 17 exceeds 16"},
		{"modem not a MAC", func(b *Binding) { b.Modem = long[:5] }, "modem: length 5"},
		{"client-id too long", func(b *Binding) { b.ClientID = long }, "client-id: length 256"},
		{"vendor class too long", func(b *Binding) { b.VendorClass = long }, "vendor class: length 256"},
		{"sub-option too long", func(b *Binding) { b.AgentInfo[1].Data = long }, "option 82 sub-option 1 (code 2): length 256"},
		{"associated IPv6", func(b *Binding) { b.AssociatedIPs = []netip.Addr{netip.MustParseAddr("::2")} }, "associated IP 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sample(1)
			tt.edit(&b)
			tb := New(Config{})
			_, err := tb.Upsert(b, t0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if tb.Len() != 0 {
				t.Errorf("table holds %d bindings after a refused upsert", tb.Len())
			}
		})
	}
}

func TestRemove(t *testing.T) {
	owner := sample(1)
	other := sample(2)
	noCID := sample(3)
	noCID.ClientID = nil
	tests := []struct {
		name string
		bind Binding
		r    Removal
		want Result
	}{
		{"release by owner's client-id", owner, Removal{Reason: Released, ClientID: owner.ClientID}, ResultRemoved},
		{"release with another client-id", owner, Removal{Reason: Released, ClientID: other.ClientID, HWAddr: owner.HWAddr}, ResultNotOwner},
		{"decline by owner's MAC", noCID, Removal{Reason: Declined, HWAddr: noCID.HWAddr}, ResultRemoved},
		{"nak for another MAC", noCID, Removal{Reason: Nak, HWAddr: other.HWAddr}, ResultNotOwner},
		{"nak by MAC when the binding has a client-id", owner, Removal{Reason: Nak, HWAddr: owner.HWAddr}, ResultRemoved},
		{"client-id only, binding has none", noCID, Removal{Reason: Released, ClientID: owner.ClientID}, ResultNotOwner},
		{"operator clear", owner, Removal{Reason: Cleared}, ResultRemoved},
		{"server says unassigned", owner, Removal{Reason: Unassigned}, ResultRemoved},
		{"nothing bound", owner, Removal{IP: ipN(99), Reason: Cleared}, ResultAbsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := New(Config{})
			mustUpsert(t, tb, tt.bind, t0)
			sub := tb.Subscribe("test")
			if !tt.r.IP.IsValid() {
				tt.r.IP = tt.bind.IP
			}
			res, err := tb.Remove(tt.r, at(5))
			if err != nil || res != tt.want {
				t.Fatalf("Remove: %v, %v; want %v", res, err, tt.want)
			}
			_, stillThere := tb.ByIP(tt.bind.IP)
			if stillThere != (tt.want != ResultRemoved) {
				t.Errorf("binding present after %v: %v", res, stillThere)
			}
			evs, _ := sub.Poll(0)
			if tt.want != ResultRemoved {
				if len(evs) != 0 {
					t.Errorf("events after %v: %d, want none", res, len(evs))
				}
				return
			}
			want := []Event{{Seq: 2, Kind: Removed, Time: at(5), Old: withLT(tt.bind, t0), Reason: tt.r.Reason}}
			if diff := cmp.Diff(want, evs, cmpOpts...); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRemoveRejects(t *testing.T) {
	tb := New(Config{})
	if _, err := tb.Remove(Removal{IP: netip.MustParseAddr("::1"), Reason: Cleared}, t0); err == nil || !strings.Contains(err.Error(), "not IPv4") {
		t.Errorf("IPv6 removal: %v", err)
	}
	if _, err := tb.Remove(Removal{IP: ipN(1)}, t0); err == nil || !strings.Contains(err.Error(), "unknown reason 0") {
		t.Errorf("removal without reason: %v", err)
	}
}

func withLT(b Binding, lt time.Time) Binding {
	b.LastTransaction = lt
	return b
}

func TestStats(t *testing.T) {
	tb := New(Config{})
	for i := range 4 {
		mustUpsert(t, tb, sample(i), t0)
	}
	stale := sample(0)
	stale.Source = Leasequery
	mustUpsert(t, tb, stale, at(1))
	renewed := sample(1)
	renewed.Expiry = at(7200)
	mustUpsert(t, tb, renewed, at(2))
	tb.Remove(Removal{IP: ipN(2), Reason: Released, HWAddr: sample(2).HWAddr}, at(3))
	tb.Remove(Removal{IP: ipN(3), Reason: Released, HWAddr: sample(0).HWAddr, ClientID: sample(0).ClientID}, at(3))
	tb.Expire(at(3600))
	want := Stats{
		Bindings: 1, Ports: 1, Modems: 1, // sample(1) only, expiring at 7200
		Added: 4, Changed: 1, Stale: 1, NotOwner: 1,
		Removed: map[Reason]uint64{Released: 1, Expired: 2},
		Seq:     4 + 1 + 1 + 2,
	}
	if diff := cmp.Diff(want, tb.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}
