package location

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// Small pools so that random operations collide on every index.
var (
	propIPs = func() (a []netip.Addr) {
		for i := range 24 {
			a = append(a, ipN(i))
		}
		return a
	}()
	propMACs = func() (a []net.HardwareAddr) {
		for i := range 6 {
			a = append(a, macN(2, i))
		}
		return append(a, longHW(0), longHW(1))
	}()
	propCIDs  = [][]byte{nil, {1, 0}, {1, 1}, {1, 2}, {0, 'x', 'y'}}
	propPorts = []string{"", "cable1/0/0", "cable1/0/1", "cable1/0/2"}
	propModem = []net.HardwareAddr{nil, macN(0, 0), macN(0, 1), macN(0, 2)}
	propVC    = [][]byte{nil, []byte("docsis3.0"), []byte("udhcp 1.35.0")}
)

func longHW(i byte) net.HardwareAddr {
	return net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8, 9, i}
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func randBinding(r *rand.Rand, now time.Time) Binding {
	b := Binding{
		Binding: lq.Binding{
			IP: pick(r, propIPs), HType: 1, HWAddr: pick(r, propMACs), ClientID: pick(r, propCIDs),
			VendorClass: pick(r, propVC),
		},
		Port: pick(r, propPorts), Modem: pick(r, propModem), Source: Source(1 + r.IntN(3)),
	}
	if r.IntN(8) > 0 {
		b.Expiry = now.Add(time.Duration(1+r.IntN(60)) * time.Second)
	}
	if r.IntN(4) > 0 {
		b.LastTransaction = now.Add(time.Duration(r.IntN(7)-5) * time.Second)
	}
	if r.IntN(2) == 0 {
		b.AgentInfo = lq.AgentInfo{{Code: lq.SubCircuitID, Data: []byte(b.Port)}, {Code: lq.SubRemoteID, Data: b.Modem}}
		b.CircuitID = []byte(b.Port)
	}
	if r.IntN(10) == 0 {
		b.AssociatedIPs = []netip.Addr{pick(r, propIPs)}
	}
	if r.IntN(2) == 0 {
		b.T1 = now.Add(10 * time.Second)
	}
	return b
}

func randRemoval(r *rand.Rand) Removal {
	rm := Removal{IP: pick(r, propIPs), Reason: Reason(1 + r.IntN(int(Unassigned)))}
	switch r.IntN(4) {
	case 1:
		rm.HWAddr = pick(r, propMACs)
	case 2:
		rm.ClientID = pick(r, propCIDs)
	case 3:
		rm.HWAddr, rm.ClientID = pick(r, propMACs), pick(r, propCIDs)
	}
	return rm
}

// TestTableMatchesModel applies random operations to the table and to the
// map-based model: every result, every event and every lookup must agree.
func TestTableMatchesModel(t *testing.T) {
	seeds, ops := 10, 1500
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 1))
			tb, m := New(Config{}), newModel()
			sub := tb.Subscribe("property")
			now := t0
			for op := range ops {
				now = now.Add(time.Duration(r.IntN(3)) * time.Second)
				var what string
				var got, want Result
				var wantEvs []Event
				switch k := r.IntN(10); {
				case k < 6:
					b := randBinding(r, now)
					what = fmt.Sprintf("upsert %v from %v", b.IP, b.Source)
					var err error
					if got, err = tb.Upsert(b, now); err != nil {
						t.Fatalf("op %d %s: %v", op, what, err)
					}
					want, wantEvs = m.upsert(b, now)
				case k < 9:
					rm := randRemoval(r)
					what = fmt.Sprintf("remove %v (%v)", rm.IP, rm.Reason)
					var err error
					if got, err = tb.Remove(rm, now); err != nil {
						t.Fatalf("op %d %s: %v", op, what, err)
					}
					want, wantEvs = m.remove(rm, now)
				default:
					what = "expire"
					tb.Expire(now)
					wantEvs = m.expire(now)
				}
				if got != want {
					t.Fatalf("op %d %s: result %v, model %v", op, what, got, want)
				}
				gotEvs, err := sub.Poll(1000)
				if err != nil {
					t.Fatalf("op %d %s: Poll: %v", op, what, err)
				}
				if !equalEvents(wantEvs, gotEvs) {
					t.Fatalf("op %d %s: events (-model +table):\n%s", op, what, cmp.Diff(wantEvs, gotEvs, cmpOpts...))
				}
				compareLookups(t, tb, m, fmt.Sprintf("op %d %s", op, what))
			}
		})
	}
}

func compareLookups(t *testing.T, tb *Table, m *model, where string) {
	t.Helper()
	// equalBindings first: cmp.Diff with options is too slow for every
	// lookup of every operation, and only explains a difference.
	check := func(kind string, key any, want, got []Binding) {
		same := len(want) == len(got)
		for i := 0; same && i < len(want); i++ {
			same = equalBindings(want[i], got[i])
		}
		if !same {
			t.Fatalf("%s: %s %v (-model +table):\n%s", where, kind, key, cmp.Diff(want, got, cmpOpts...))
		}
	}
	for _, ip := range propIPs {
		w, wok := m.byIP(ip)
		g, gok := tb.ByIP(ip)
		if wok != gok || !equalBindings(w, g) {
			t.Fatalf("%s: ByIP %v: %v %+v, model %v %+v", where, ip, gok, g, wok, w)
		}
	}
	for _, hw := range propMACs {
		check("ByMAC", hw, m.byMAC(hw), tb.ByMAC(hw))
	}
	for _, id := range propCIDs {
		check("ByClientID", id, m.byClientID(id), tb.ByClientID(id))
	}
	for _, p := range propPorts {
		check("ByPort", p, m.byPort(p), tb.ByPort(p))
	}
	for _, md := range propModem {
		check("ByModem", md, m.byModem(md), tb.ByModem(md))
	}
	if tb.Len() != len(m.m) {
		t.Fatalf("%s: Len %d, model %d", where, tb.Len(), len(m.m))
	}
	if g, w := tb.NextExpiry(), m.nextExpiry(); !g.Equal(w) {
		t.Fatalf("%s: NextExpiry %v, model %v", where, g, w)
	}
}

func equalEvents(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Seq != y.Seq || x.Kind != y.Kind || !x.Time.Equal(y.Time) || x.Reason != y.Reason ||
			!equalBindings(x.Old, y.Old) || !equalBindings(x.New, y.New) {
			return false
		}
	}
	return true
}
