package ops

import (
	"net/netip"
	"testing"

	"github.com/leaseguard/leaseguard/lq/engine"
)

func TestNextState(t *testing.T) {
	armed := engine.ServerStats{Armed: true, Counters: engine.Counters{Active: 1}}
	idle := engine.ServerStats{Counters: engine.Counters{Active: 1}}
	timedOut := engine.ServerStats{Counters: engine.Counters{Active: 1, Timeouts: 1}}
	dropped := engine.ServerStats{Counters: engine.Counters{Active: 1, DroppedAtExpiry: 3}}
	for _, tc := range []struct {
		name string
		prev serverMemory
		now  engine.ServerStats
		want string
	}{
		{"never asked", serverMemory{}, engine.ServerStats{}, StateUnknown},
		{"first look, answered before", serverMemory{}, idle, StateIdle},
		{"first look, armed", serverMemory{}, armed, StateUp},
		{"first look, failures", serverMemory{}, timedOut, StateDown},
		{"timer expired on an idle card", serverMemory{state: StateUp}, idle, StateIdle},
		{"a query timed out", serverMemory{state: StateIdle}, timedOut, StateDown},
		{"timer expired with queries outstanding", serverMemory{state: StateUp}, dropped, StateDown},
		{"stays down until it answers", serverMemory{state: StateDown, timeouts: 1}, timedOut, StateDown},
		{"answers again", serverMemory{state: StateDown, timeouts: 1}, engine.ServerStats{Armed: true, Counters: engine.Counters{Timeouts: 1}}, StateUp},
		{"old timeouts are not new failures", serverMemory{state: StateIdle, timeouts: 1}, timedOut, StateIdle},
	} {
		if got := nextState(tc.prev, tc.now).state; got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestServerEvents(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	var w serverWatch
	steps := []struct {
		stats engine.ServerStats
		want  string // event type, "" for none
	}{
		{engine.ServerStats{Server: a}, ""},
		{engine.ServerStats{Server: a, Armed: true, Counters: engine.Counters{Active: 1}}, EventServerUp},
		{engine.ServerStats{Server: a, Counters: engine.Counters{Active: 1}}, ""},
		{engine.ServerStats{Server: a, Counters: engine.Counters{Active: 1, Timeouts: 2}}, EventServerDown},
		{engine.ServerStats{Server: a, Counters: engine.Counters{Active: 1, Timeouts: 3}}, ""},
		{engine.ServerStats{Server: a, Armed: true, Counters: engine.Counters{Active: 2, Timeouts: 3}}, EventServerUp},
	}
	for i, s := range steps {
		_, evs := w.observe([]engine.ServerStats{s.stats})
		got := ""
		if len(evs) == 1 && evs[0].Server == a {
			got = evs[0].Type
		} else if len(evs) > 1 {
			got = "several"
		}
		if got != s.want {
			t.Errorf("step %d: event %q, want %q", i, got, s.want)
		}
	}
}
