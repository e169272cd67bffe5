package nft

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func elem(port string, ip string, mac byte, expires time.Time) Element {
	return Element{Port: port, IP: netip.MustParseAddr(ip), MAC: net.HardwareAddr{2, 0, 0, 0, 0, mac}, Expires: expires}
}

func TestElementKey(t *testing.T) {
	k, err := elem("p1", "10.0.1.10", 0x10, time.Time{}).key()
	if err != nil {
		t.Fatal(err)
	}
	want := elementKey{
		'p', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifname, NUL padded to 16
		10, 0, 1, 10, // IPv4, network order
		2, 0, 0, 0, 0, 0x10, 0, 0, // MAC, padded to 8 inside a concatenation
	}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("key (-want +got):\n%s", diff)
	}
	// An IPv4-mapped IPv6 address is the same binding.
	k2, err := Element{Port: "p1", IP: netip.MustParseAddr("::ffff:10.0.1.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0x10}}.key()
	if err != nil || k2 != k {
		t.Errorf("mapped address key = %x, %v; want %x", k2, err, k)
	}
}

func TestElementKeyErrors(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tests := []struct {
		name string
		e    Element
		want string
	}{
		{"empty port", Element{IP: netip.MustParseAddr("10.0.0.1"), MAC: mac}, "interface name"},
		{"long port", Element{Port: "abcdefghijklmnop", IP: netip.MustParseAddr("10.0.0.1"), MAC: mac}, "1-15 bytes"},
		{"ipv6", Element{Port: "p1", IP: netip.MustParseAddr("2001:db8::1"), MAC: mac}, "not IPv4"},
		{"no ip", Element{Port: "p1", MAC: mac}, "not IPv4"},
		{"short mac", Element{Port: "p1", IP: netip.MustParseAddr("10.0.0.1"), MAC: mac[:5]}, "length 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.e.key()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("key() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestElementTimeout(t *testing.T) {
	tests := []struct {
		name    string
		expires time.Time
		want    time.Duration
		ok      bool
	}{
		{"infinite lease", time.Time{}, 0, true},
		{"remaining time", t0.Add(time.Hour), time.Hour, true},
		{"rounded up to ms", t0.Add(1500 * time.Microsecond), 2 * time.Millisecond, true},
		{"capped", t0.Add(30 * 24 * time.Hour), DefaultMaxTimeout, true},
		{"expired now", t0, 0, false},
		{"expired before", t0.Add(-time.Second), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := Element{Expires: tt.expires}.timeout(t0, DefaultMaxTimeout)
			if d != tt.want || ok != tt.ok {
				t.Errorf("timeout = %v, %v; want %v, %v", d, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestChunks(t *testing.T) {
	mk := func(n int) []nftables.SetElement { return make([]nftables.SetElement, n) }
	for _, tt := range []struct{ n, size, wantChunks, wantLast int }{
		{0, 1000, 0, 0}, {1, 1000, 1, 1}, {1000, 1000, 1, 1000}, {1001, 1000, 2, 1}, {2500, 1000, 3, 500},
	} {
		got := chunks(mk(tt.n), tt.size)
		if len(got) != tt.wantChunks {
			t.Errorf("chunks(%d, %d): %d chunks, want %d", tt.n, tt.size, len(got), tt.wantChunks)
			continue
		}
		if tt.wantChunks > 0 && len(got[len(got)-1]) != tt.wantLast {
			t.Errorf("chunks(%d, %d): last chunk %d, want %d", tt.n, tt.size, len(got[len(got)-1]), tt.wantLast)
		}
		// Appending to a chunk must not overwrite the next one.
		if len(got) > 1 && cap(got[0]) != len(got[0]) {
			t.Errorf("chunks(%d, %d): first chunk has spare capacity %d", tt.n, tt.size, cap(got[0]))
		}
	}
}

// opSummary is an elementOp as "add" or "del" with its keys' addresses and
// timeouts, for readable diffs.
type opSummary struct {
	Del   bool
	Elems []string
}

func summarize(ops []elementOp) []opSummary {
	var out []opSummary
	for _, op := range ops {
		s := opSummary{Del: op.del}
		for _, e := range op.elems {
			ip := netip.AddrFrom4([4]byte(e.Key[16:20]))
			s.Elems = append(s.Elems, ip.String()+"/"+e.Timeout.String())
		}
		out = append(out, s)
	}
	return out
}

func TestPlanApply(t *testing.T) {
	tests := []struct {
		name          string
		adds, deletes []Element
		upsert        bool
		want          []opSummary
	}{
		{
			name:   "add is an upsert",
			upsert: true,
			adds:   []Element{elem("p1", "10.0.0.1", 1, t0.Add(time.Minute))},
			want: []opSummary{
				{false, []string{"10.0.0.1/1m0s"}},
				{true, []string{"10.0.0.1/0s"}},
				{false, []string{"10.0.0.1/1m0s"}},
			},
		},
		{
			name: "add when the kernel updates timeouts",
			adds: []Element{elem("p1", "10.0.0.1", 1, t0.Add(time.Minute))},
			want: []opSummary{{false, []string{"10.0.0.1/1m0s"}}},
		},
		{
			name:    "delete is add then delete",
			deletes: []Element{elem("p1", "10.0.0.2", 2, time.Time{})},
			want: []opSummary{
				{false, []string{"10.0.0.2/0s"}},
				{true, []string{"10.0.0.2/0s"}},
			},
		},
		{
			name:    "deletes first, duplicates once",
			upsert:  true,
			adds:    []Element{elem("p1", "10.0.0.1", 1, t0.Add(time.Minute))},
			deletes: []Element{elem("p1", "10.0.0.2", 2, time.Time{}), elem("p1", "10.0.0.2", 2, time.Time{})},
			want: []opSummary{
				{false, []string{"10.0.0.2/0s"}},
				{true, []string{"10.0.0.2/0s"}},
				{false, []string{"10.0.0.1/1m0s"}},
				{true, []string{"10.0.0.1/0s"}},
				{false, []string{"10.0.0.1/1m0s"}},
			},
		},
		{
			name: "expired add becomes delete",
			adds: []Element{elem("p1", "10.0.0.3", 3, t0.Add(-time.Second))},
			want: []opSummary{
				{false, []string{"10.0.0.3/0s"}},
				{true, []string{"10.0.0.3/0s"}},
			},
		},
		{
			name:    "deleted and added is only added, last add wins",
			upsert:  true,
			adds:    []Element{elem("p1", "10.0.0.4", 4, t0.Add(time.Minute)), elem("p1", "10.0.0.4", 4, t0.Add(time.Hour))},
			deletes: []Element{elem("p1", "10.0.0.4", 4, time.Time{})},
			want: []opSummary{
				{false, []string{"10.0.0.4/1h0m0s"}},
				{true, []string{"10.0.0.4/0s"}},
				{false, []string{"10.0.0.4/1h0m0s"}},
			},
		},
		{name: "nothing", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := planApply(tt.adds, tt.deletes, t0, DefaultMaxTimeout, tt.upsert)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarize(ops)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanApplyChunks(t *testing.T) {
	var adds []Element
	for i := range 2500 {
		adds = append(adds, elem("p1", netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), 1, t0.Add(time.Hour)))
	}
	ops, err := planApply(adds, nil, t0, DefaultMaxTimeout, true)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, op := range ops {
		sizes = append(sizes, len(op.elems))
	}
	want := []int{1000, 1000, 1000, 1000, 1000, 1000, 500, 500, 500}
	if diff := cmp.Diff(want, sizes); diff != "" {
		t.Errorf("message sizes (-want +got):\n%s", diff)
	}
}

func TestPlanApplyRejectsBadElement(t *testing.T) {
	bad := Element{Port: "p1", IP: netip.MustParseAddr("2001:db8::1"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	if _, err := planApply(nil, []Element{bad}, t0, time.Hour, true); err == nil || !strings.Contains(err.Error(), "delete 0") {
		t.Errorf("planApply(bad delete) error = %v, want one naming delete 0", err)
	}
	if _, err := planApply([]Element{bad}, nil, t0, time.Hour, true); err == nil || !strings.Contains(err.Error(), "add 0") {
		t.Errorf("planApply(bad add) error = %v, want one naming add 0", err)
	}
}

// summarizeBound is summarize for bound-set messages (4-byte keys).
func summarizeBound(ops []elementOp) []opSummary {
	var out []opSummary
	for _, op := range ops {
		s := opSummary{Del: op.del}
		for _, e := range op.elems {
			s.Elems = append(s.Elems, netip.AddrFrom4([4]byte(e.Key)).String()+"/"+e.Timeout.String())
		}
		out = append(out, s)
	}
	return out
}

func TestPlanBound(t *testing.T) {
	tests := []struct {
		name          string
		adds, deletes []Element
		upsert        bool
		want          []opSummary
	}{
		{
			name:    "a binding moving port keeps its address",
			adds:    []Element{elem("p2", "10.0.0.1", 2, t0.Add(time.Hour))},
			deletes: []Element{elem("p1", "10.0.0.1", 1, time.Time{})},
			want:    []opSummary{{false, []string{"10.0.0.1/1h0m0s"}}},
		},
		{
			name:    "delete is add then delete, once per address",
			deletes: []Element{elem("p1", "10.0.0.2", 1, time.Time{}), elem("p2", "10.0.0.2", 2, time.Time{})},
			want:    []opSummary{{false, []string{"10.0.0.2/0s"}}, {true, []string{"10.0.0.2/0s"}}},
		},
		{
			name: "two adds of one address keep the longer timeout, infinite longest",
			adds: []Element{elem("p1", "10.0.0.3", 1, t0.Add(time.Minute)), elem("p2", "10.0.0.3", 2, t0.Add(time.Hour)),
				elem("p1", "10.0.0.4", 1, t0.Add(time.Minute)), elem("p2", "10.0.0.4", 2, time.Time{})},
			want: []opSummary{{false, []string{"10.0.0.3/1h0m0s", "10.0.0.4/0s"}}},
		},
		{
			name:   "expired add removes, upserts with upsert",
			upsert: true,
			adds:   []Element{elem("p1", "10.0.0.5", 1, t0.Add(-time.Second)), elem("p1", "10.0.0.6", 1, t0.Add(time.Minute))},
			want: []opSummary{
				{false, []string{"10.0.0.5/0s"}}, {true, []string{"10.0.0.5/0s"}},
				{false, []string{"10.0.0.6/1m0s"}}, {true, []string{"10.0.0.6/0s"}}, {false, []string{"10.0.0.6/1m0s"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarizeBound(planBound(tt.adds, tt.deletes, t0, DefaultMaxTimeout, tt.upsert))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBoundElements(t *testing.T) {
	now := t0
	allowed, err := encodeElements([]Element{
		elem("p1", "10.0.0.1", 1, now.Add(time.Minute)), elem("p2", "10.0.0.1", 2, now.Add(time.Hour)),
		elem("p1", "10.0.0.2", 3, time.Time{}),
	}, now, DefaultMaxTimeout)
	if err != nil {
		t.Fatal(err)
	}
	got := summarizeBound([]elementOp{{elems: boundElements(allowed)}})
	want := []opSummary{{false, []string{"10.0.0.1/1h0m0s", "10.0.0.2/0s"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bound elements (-want +got):\n%s", diff)
	}
}
