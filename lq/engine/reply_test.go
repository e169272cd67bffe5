package engine

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

func TestBoundedRetransmissionsThenTimeout(t *testing.T) {
	e := armed(t, func(c *Config) { c.Retransmissions = 2 }, constRand(0.5))
	mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	var sends []time.Duration
	var done []Result
	drive(e, t0, t0.Add(time.Hour), func(now time.Time, txs []Transmit, res []Result) {
		for range txs {
			sends = append(sends, now.Sub(t0))
		}
		done = append(done, res...)
	})
	if diff := cmp.Diff([]time.Duration{0, 4 * time.Second, 12 * time.Second}, sends); diff != "" {
		t.Errorf("transmissions (-want +got):\n%s", diff)
	}
	if len(done) != 1 || done[0].At.Sub(t0) != 28*time.Second || !errors.Is(done[0].Err, ErrNoAnswer) {
		t.Fatalf("results %+v; want ErrNoAnswer at +28s", done)
	}
	if st := e.Stats(); st.Timeouts != 1 || st.NoAnswer != 1 {
		t.Errorf("timeouts %d, no-answer results %d; want 1, 1", st.Timeouts, st.NoAnswer)
	}
}

// TestSameXIDAcrossRetransmissions: a retransmission reuses the xid, so an
// answer to the first transmission arriving after it still counts.
func TestSameXIDAcrossRetransmissions(t *testing.T) {
	e := armed(t, nil, constRand(0.5))
	mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	first := pollCopy(e, t0)
	second := pollCopy(e, t0.Add(4*time.Second))
	if len(first) != 1 || len(second) != 1 || second[0].XID != first[0].XID || !second[0].Retransmission {
		t.Fatalf("first %+v, then %+v; want one retransmission with the same xid", first, second)
	}
	e.HandleReply(t0.Add(4500*time.Millisecond), srvA, answer(first[0], lq.LeaseActive))
	res := e.Results()
	if len(res) != 1 || res[0].Type != lq.LeaseActive || res[0].Answers[0].Transmissions != 2 {
		t.Fatalf("results %+v; want ACTIVE after 2 transmissions", res)
	}
}

func TestReplyValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(tx Transmit) lq.Reply
		want  Counters // the counters that move, besides the answer types
		typ   lq.MessageType
	}{
		{"unknown xid", func(tx Transmit) lq.Reply { r := answer(tx, lq.LeaseActive); r.XID++; return r },
			Counters{UnknownXID: 1}, 0},
		{"ciaddr differs", func(tx Transmit) lq.Reply {
			r := answer(tx, lq.LeaseActive)
			r.CIAddr = netip.MustParseAddr("10.0.0.10")
			return r
		}, Counters{Mismatched: 1}, 0},
		{"UNASSIGNED without ciaddr", func(tx Transmit) lq.Reply {
			r := answer(tx, lq.LeaseUnassigned)
			r.CIAddr = netip.Addr{}
			return r
		}, Counters{Mismatched: 1}, 0},
		{"UNKNOWN without ciaddr", func(tx Transmit) lq.Reply { return answer(tx, lq.LeaseUnknown) },
			Counters{Unknown: 1}, lq.LeaseUnknown},
		{"UNKNOWN with ciaddr 0.0.0.0", func(tx Transmit) lq.Reply {
			r := answer(tx, lq.LeaseUnknown)
			r.CIAddr = netip.IPv4Unspecified()
			return r
		}, Counters{Unknown: 1}, lq.LeaseUnknown},
		{"UNKNOWN with another ciaddr", func(tx Transmit) lq.Reply {
			r := answer(tx, lq.LeaseUnknown)
			r.CIAddr = netip.MustParseAddr("10.0.0.10")
			return r
		}, Counters{Mismatched: 1}, 0},
		{"not a leasequery reply", func(tx Transmit) lq.Reply { r := answer(tx, lq.LeaseActive); r.Type = lq.Ack; return r },
			Counters{NotLeasequery: 1}, 0},
		{"ACTIVE", func(tx Transmit) lq.Reply { return answer(tx, lq.LeaseActive) },
			Counters{Active: 1}, lq.LeaseActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := armed(t, nil, seeded(5))
			before := e.Stats().Servers[0].Counters
			mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
			tx := pollCopy(e, t0)[0]
			e.HandleReply(t0.Add(time.Millisecond), srvA, tc.reply(tx))
			got := e.Stats().Servers[0].Counters
			want := before
			want.Sent++
			want.add(&tc.want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
			var typ lq.MessageType
			if res := e.Results(); len(res) == 1 {
				typ = res[0].Type
			}
			if typ != tc.typ {
				t.Errorf("result type %v, want %v", typ, tc.typ)
			}
		})
	}
}

func TestReplyFromUnknownServerIgnored(t *testing.T) {
	e := newTestEngine(t, nil)
	mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	tx := pollCopy(e, t0)[0]
	stranger := netip.MustParseAddr("198.51.100.7")
	r := answer(tx, lq.LeaseActive)
	r.ServerID = stranger
	e.HandleReply(t0, stranger, r)
	st := e.Stats()
	if st.UnknownServer != 1 || st.Servers[0].Armed || len(e.Results()) != 0 {
		t.Errorf("unknown-server counter %d, armed %v: a stranger's reply must not count", st.UnknownServer, st.Servers[0].Armed)
	}
	// From another address of a configured server, option 54 names it.
	r.ServerID = srvA
	e.HandleReply(t0, stranger, r)
	if res := e.Results(); len(res) != 1 || res[0].Server != srvA || e.Stats().Servers[0].Active != 1 {
		t.Errorf("answer from another address of %v: %+v", srvA, res)
	}
}

func TestDuplicateSubmissionsMerged(t *testing.T) {
	e := armed(t, nil, seeded(1))
	first := mustSubmit(t, e, t0, ipQuery("10.0.0.9"))
	second := mustSubmit(t, e, t0, lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("::ffff:10.0.0.9")})
	if first.Merged || !second.Merged || first.Key != second.Key {
		t.Fatalf("tickets %+v, %+v; want the second merged into the first", first, second)
	}
	txs := pollCopy(e, t0)
	if len(txs) != 1 {
		t.Fatalf("sent %d queries for one question", len(txs))
	}
	e.HandleReply(t0, srvA, answer(txs[0], lq.LeaseActive))
	if res := e.Results(); len(res) != 1 || res[0].Key != first.Key {
		t.Errorf("results %+v, want one for %v", res, first.Key)
	}
	if st := e.Stats(); st.Merged != 1 {
		t.Errorf("merged %d, want 1", st.Merged)
	}
}

func TestRestriction(t *testing.T) {
	e := newTestEngine(t, nil)
	_, err := e.Submit(t0, ipQuery("192.168.1.1"))
	var re *RestrictedError
	if !errors.Is(err, ErrRestricted) || !errors.As(err, &re) || re.IP != netip.MustParseAddr("192.168.1.1") {
		t.Fatalf("Submit outside the subscriber prefixes: %v", err)
	}
	if !strings.Contains(err.Error(), "192.168.1.1") {
		t.Errorf("error %q does not name the address", err)
	}
	mac := lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: []byte{0, 1, 2, 3, 4, 5}}
	mustSubmit(t, e, t0, mac) // not an address: not restricted
	if txs := e.Poll(t0); len(txs) != 1 || txs[0].Query.Kind != lq.ByMAC {
		t.Errorf("sent %+v, want only the MAC query", txs)
	}
	if st := e.Stats(); st.Restricted != 1 {
		t.Errorf("restricted %d, want 1", st.Restricted)
	}
}

func TestPendingBounded(t *testing.T) {
	e := armed(t, func(c *Config) { c.MaxPending = 3 }, seeded(1))
	submitN(t, e, t0, 3)
	if e.Room() != 0 {
		t.Fatalf("Room %d after 3 of 3", e.Room())
	}
	_, err := e.Submit(t0, ipQuery("10.0.9.9"))
	if !errors.Is(err, ErrPendingFull) || !strings.Contains(err.Error(), "MaxPending") {
		t.Fatalf("Submit beyond MaxPending: %v", err)
	}
	// A duplicate or a cache hit needs no room.
	if tk := mustSubmit(t, e, t0, lq.Query{Kind: lq.ByIP, IP: nthIP(1)}); !tk.Merged {
		t.Errorf("duplicate while full: %+v", tk)
	}
	if tk := mustSubmit(t, e, t0, ipQuery("10.0.255.254")); !tk.Cached {
		t.Errorf("cached question while full: %+v", tk)
	}
	for _, tx := range pollCopy(e, t0) {
		e.HandleReply(t0, srvA, answer(tx, lq.LeaseUnassigned))
	}
	if e.Room() != 3 || len(e.Results()) != 3 {
		t.Errorf("Room %d after the answers, want 3", e.Room())
	}
	if st := e.Stats(); st.RejectedFull != 1 {
		t.Errorf("rejected %d, want 1", st.RejectedFull)
	}
}

func TestKeyOf(t *testing.T) {
	for _, tc := range []struct {
		q       lq.Query
		want    string
		wantErr string
	}{
		{lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("10.1.2.3")}, "ip 10.1.2.3", ""},
		{lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("::ffff:10.1.2.3")}, "ip 10.1.2.3", ""},
		{lq.Query{Kind: lq.ByIP, IP: netip.MustParseAddr("2001:db8::1")}, "", "not a non-zero IPv4"},
		{lq.Query{Kind: lq.ByIP, IP: netip.IPv4Unspecified()}, "", "not a non-zero IPv4"},
		{lq.Query{Kind: lq.ByIP}, "", "not a non-zero IPv4"},
		{lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}}, "mac 1/00:11:22:33:44:55", ""},
		{lq.Query{Kind: lq.ByMAC, HType: 1}, "", "0 octets"},
		{lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: make([]byte, 17)}, "", "17 octets"},
		{lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: make([]byte, 6)}, "", "all zeros"},
		{lq.Query{Kind: lq.ByMAC, HWAddr: []byte{1}}, "", "htype is 0"},
		{lq.Query{Kind: lq.ByClientID, ClientID: []byte{1, 0xaa, 0xbb}}, "client-id 01:aa:bb", ""},
		{lq.Query{Kind: lq.ByClientID, ClientID: []byte{1}}, "", "1 octets"},
		{lq.Query{Kind: 9}, "", "unknown kind 9"},
	} {
		k, err := KeyOf(tc.q)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("KeyOf(%+v) error %v, want one containing %q", tc.q, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("KeyOf(%+v): %v", tc.q, err)
		case tc.wantErr == "" && k.String() != tc.want:
			t.Errorf("KeyOf(%+v) = %v, want %v", tc.q, k, tc.want)
		case tc.wantErr == "":
			if back, _ := KeyOf(k.Query()); back != k {
				t.Errorf("KeyOf(%v.Query()) = %v", k, back)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	base := func() Config {
		return Config{Servers: []netip.Addr{srvA}, SubscriberPrefixes: []netip.Prefix{subs}}
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Servers = nil }, "Servers: 0 listed"},
		{func(c *Config) { c.Servers = []netip.Addr{srvA, srvA} }, "Servers[1]: 192.0.2.1 already listed"},
		{func(c *Config) { c.Servers = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }, "Servers[0]"},
		{func(c *Config) { c.Servers = []netip.Addr{netip.IPv4Unspecified()} }, "Servers[0]"},
		{func(c *Config) { c.SubscriberPrefixes = nil }, "SubscriberPrefixes: none"},
		{func(c *Config) { c.SubscriberPrefixes = []netip.Prefix{{}} }, "SubscriberPrefixes[0]"},
		{func(c *Config) { c.MaxWindow = 201 }, "MaxWindow 201 outside 1..200"},
		{func(c *Config) { c.MaxWindow = -1 }, "MaxWindow -1"},
		{func(c *Config) { c.InitialWindow = 150 }, "InitialWindow 150 outside 1..64"},
		{func(c *Config) { c.Retransmissions = 17 }, "Retransmissions 17"},
		{func(c *Config) { c.MaxPending = -5 }, "MaxPending -5"},
		{func(c *Config) { c.MaxCacheEntries = -1 }, "MaxCacheEntries -1"},
		{func(c *Config) { c.UnknownTTL = -time.Second }, "UnknownTTL -1s"},
	} {
		cfg := base()
		tc.edit(&cfg)
		_, err := New(cfg, seeded(1))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error %v, want one containing %q", cfg, err, tc.want)
		}
	}
	if _, err := New(base(), nil); err == nil {
		t.Error("New with a nil random source succeeded")
	}
	e, err := New(base(), seeded(1))
	if err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	want := Config{
		Servers: []netip.Addr{srvA}, SubscriberPrefixes: []netip.Prefix{subs},
		InitialWindow: 32, MaxWindow: 64, Retransmissions: 4, MaxPending: 4096,
		UnknownTTL: 5 * time.Minute, MaxCacheEntries: 1 << 16,
	}
	if diff := cmp.Diff(want, e.cfg, cmp.Comparer(addrEqual), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}
