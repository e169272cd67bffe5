package agent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestQueryFilter: each port has its own bucket of per_port_queries per
// interval, refilled continuously; unknown destinations share one.
func TestQueryFilter(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newQueryFilter(3, 10*time.Second, 2)
	type step struct {
		at   time.Duration
		port string // "" asks about a destination
	}
	steps := []step{
		{0, "sub0"}, {0, "sub0"}, {0, "sub0"}, {0, "sub0"}, // burst of 3, the 4th refused
		{0, "sub1"},               // another port has its own
		{3 * time.Second, "sub0"}, // 0.9 token: refused
		{4 * time.Second, "sub0"}, // 1.2 tokens: admitted
		{4 * time.Second, "sub0"}, // refused
		{0, ""}, {0, ""}, {0, ""}, // 2 destinations at once, the 3rd refused
		{500 * time.Millisecond, ""}, // a token back
		{-time.Second, "sub1"},       // a clock step back refills nothing, takes the token left
	}
	var got []bool
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.port == "" {
			got = append(got, f.destination(now))
		} else {
			got = append(got, f.source(s.port, now))
		}
	}
	want := []bool{true, true, true, false, true, false, true, false, true, true, false, true, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("admitted (-want +got):\n%s", diff)
	}
}
