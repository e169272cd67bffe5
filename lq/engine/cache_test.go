package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaseguard/leaseguard/lq"
)

func TestCacheLifetimes(t *testing.T) {
	mac := lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 1}}
	for _, tc := range []struct {
		name     string
		q        lq.Query
		reply    func(tx Transmit) lq.Reply
		hit      time.Duration // still cached this long after the answer
		miss     time.Duration // gone by then
		noteFlag bool          // NoteLease(q.IP) clears it
	}{
		{"ACTIVE until lease expiry", ipQuery("10.0.0.9"),
			func(tx Transmit) lq.Reply { return answer(tx, lq.LeaseActive) }, time.Hour - time.Second, time.Hour, true},
		{"ACTIVE without lease time for UnknownTTL", ipQuery("10.0.0.9"),
			func(tx Transmit) lq.Reply { r := answer(tx, lq.LeaseActive); r.HasLeaseTime = false; return r },
			5*time.Minute - time.Second, 5 * time.Minute, true},
		{"UNASSIGNED until NoteLease", ipQuery("10.0.0.9"),
			func(tx Transmit) lq.Reply { return answer(tx, lq.LeaseUnassigned) }, 30 * 24 * time.Hour, 0, true},
		{"UNKNOWN for five minutes", ipQuery("10.0.0.9"),
			func(tx Transmit) lq.Reply { return answer(tx, lq.LeaseUnknown) }, 5*time.Minute - time.Second, 5 * time.Minute, true},
		{"UNKNOWN by MAC for five minutes", mac,
			func(tx Transmit) lq.Reply { return answer(tx, lq.LeaseUnknown) }, 5*time.Minute - time.Second, 5 * time.Minute, false},
		{"UNASSIGNED by MAC for five minutes", mac,
			func(tx Transmit) lq.Reply {
				r := answer(tx, lq.LeaseUnassigned)
				r.CIAddr = ipQuery("10.0.0.9").IP
				return r
			}, 5*time.Minute - time.Second, 5 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := armed(t, nil, seeded(1))
			mustSubmit(t, e, t0, tc.q)
			txs := pollCopy(e, t0)
			e.HandleReply(t0, srvA, tc.reply(txs[0]))
			typ := e.Results()[0].Type
			sent := e.Stats().Sent

			tk := mustSubmit(t, e, t0.Add(tc.hit), tc.q)
			if !tk.Cached || tk.Result.Type != typ || !tk.Result.Cached {
				t.Errorf("at +%v: %+v, want the cached %v", tc.hit, tk, typ)
			}
			if txs := e.Poll(t0.Add(tc.hit)); len(txs) != 0 || e.Stats().Sent != sent {
				t.Errorf("a cache hit sent %+v", txs)
			}
			if tc.miss > 0 {
				if tk := mustSubmit(t, e, t0.Add(tc.miss), tc.q); tk.Cached {
					t.Errorf("at +%v still cached: %+v", tc.miss, tk)
				}
			}
			if st := e.Stats(); st.CacheHits != 1 {
				t.Errorf("cache hits %d, want 1", st.CacheHits)
			}
			if tc.noteFlag && tc.miss == 0 {
				e.NoteLease(tc.q.IP)
				if tk := mustSubmit(t, e, t0.Add(tc.hit), tc.q); tk.Cached {
					t.Errorf("cached after NoteLease: %+v", tk)
				}
			}
		})
	}
}

func TestNoteLeaseClearsOnlyThatAddress(t *testing.T) {
	e := armed(t, nil, seeded(1))
	submitN(t, e, t0, 2)
	for _, tx := range pollCopy(e, t0) {
		e.HandleReply(t0, srvA, answer(tx, lq.LeaseUnassigned))
	}
	e.NoteLease(nthIP(1))
	later := t0.Add(time.Hour)
	if tk := mustSubmit(t, e, later, lq.Query{Kind: lq.ByIP, IP: nthIP(2)}); !tk.Cached {
		t.Errorf("NoteLease(%v) cleared %v", nthIP(1), nthIP(2))
	}
	if tk := mustSubmit(t, e, later, lq.Query{Kind: lq.ByIP, IP: nthIP(1)}); tk.Cached {
		t.Errorf("NoteLease(%v) left it cached", nthIP(1))
	}
	if st := e.Stats(); st.LeasesNoted != 1 || st.CacheDropped != 1 {
		t.Errorf("leases noted %d, dropped %d; want 1, 1", st.LeasesNoted, st.CacheDropped)
	}
}

// TestCacheBounded: a full cache evicts the entry closest to expiry.
func TestCacheBounded(t *testing.T) {
	e := armed(t, func(c *Config) { c.MaxCacheEntries = 2 }, seeded(1))
	// armed's ACTIVE (an hour) is entry one; two UNKNOWNs follow.
	for i := range 2 {
		now := t0.Add(time.Duration(i) * time.Second)
		mustSubmit(t, e, now, lq.Query{Kind: lq.ByIP, IP: nthIP(i + 1)})
		e.HandleReply(now, srvA, answer(pollCopy(e, now)[0], lq.LeaseUnknown))
	}
	st := e.Stats()
	if st.CacheEntries != 2 || st.CacheEvictions != 1 {
		t.Fatalf("%d entries, %d evictions; want 2, 1", st.CacheEntries, st.CacheEvictions)
	}
	now := t0.Add(2 * time.Second)
	for ip, cached := range map[string]bool{"10.0.255.254": true, "10.0.0.1": false, "10.0.0.2": true} {
		if tk := mustSubmit(t, e, now, ipQuery(ip)); tk.Cached != cached {
			t.Errorf("%s cached %v, want %v", ip, tk.Cached, cached)
		}
	}
}

// TestCachedResultContent: a hit gives the winning answer as delivered;
// SubmitFresh asks again, lists every server, and refreshes the cache.
func TestCachedResultContent(t *testing.T) {
	e := twoServers(t)
	armBoth(t, e, t0)
	q := ipQuery("10.0.0.9")
	mustSubmit(t, e, t0, q)
	txs := pollCopy(e, t0)
	e.HandleReply(t0, srvA, answer(txTo(t, txs, srvA), lq.LeaseUnknown))
	e.HandleReply(t0, srvB, active(txTo(t, txs, srvB), time.Minute))
	first := e.Results()[0]

	later := t0.Add(time.Second)
	tk := mustSubmit(t, e, later, q)
	want := first
	want.Cached, want.Answers = true, nil
	if diff := cmp.Diff(want, tk.Result, cmp.Comparer(addrEqual), cmpopts.EquateErrors()); diff != "" {
		t.Errorf("cache hit (-want +got):\n%s", diff)
	}

	tk, err := e.SubmitFresh(later, q)
	if err != nil || tk.Cached {
		t.Fatalf("SubmitFresh: %+v, %v", tk, err)
	}
	txs = pollCopy(e, later)
	if len(txs) != 2 {
		t.Fatalf("SubmitFresh sent %+v, want both servers asked, owner or not", txs)
	}
	e.HandleReply(later, srvA, answer(txTo(t, txs, srvA), lq.LeaseUnknown))
	e.HandleReply(later, srvB, answer(txTo(t, txs, srvB), lq.LeaseUnassigned))
	if res := e.Results(); len(res) != 1 || len(res[0].Answers) != 2 || res[0].Type != lq.LeaseUnassigned {
		t.Fatalf("fresh result %+v", res)
	}
	tk = mustSubmit(t, e, later, q)
	wantB := lq.Binding{IP: q.IP, Server: srvB}
	if !tk.Cached || tk.Result.Type != lq.LeaseUnassigned || !cmp.Equal(wantB, tk.Result.Binding, cmp.Comparer(addrEqual)) {
		t.Errorf("cache after SubmitFresh: %+v", tk.Result)
	}
}
