package ops_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// failAfter bounds every wait: reaching it is a failure (a deadlock),
// not a way to synchronise.
const failAfter = 10 * time.Second

// drain returns the events ready now, without waiting.
func drain(s *ops.EventStream) []ops.Event {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	evs, _ := s.Next(ctx)
	return evs
}

// waitEvents reads until n events came.
func waitEvents(t *testing.T, s *ops.EventStream, n int) []ops.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	var out []ops.Event
	for len(out) < n {
		evs, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %d events, got %d: %v", n, len(out), err)
		}
		out = append(out, evs...)
	}
	return out
}

func types(evs []ops.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// eq compares the address types go-cmp cannot look into.
var eq = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
