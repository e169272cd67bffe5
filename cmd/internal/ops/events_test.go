package ops_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq/engine"
)

func runOps(t *testing.T, env *opstest.Env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Ops.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-env.Ops.Ready():
	case <-time.After(failAfter):
		t.Fatal("Run never ready")
	}
}

func TestRunPublishesTableAndServerEvents(t *testing.T) {
	env := newEnv(t, ops.Options{})
	runOps(t, env)
	stream := env.Ops.Events(0)
	b := opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1")
	upsert(t, env, b)
	b.Port = "dsl2"
	upsert(t, env, b)
	if _, err := env.Ops.ClearBinding(b.IP, "test"); err != nil {
		t.Fatal(err)
	}
	evs := waitEvents(t, stream, 3)
	if diff := cmp.Diff([]string{ops.EventBindingAdded, ops.EventBindingChanged, ops.EventBindingRemoved}, types(evs)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if evs[1].Old.Port != "cable1/0/1" || evs[1].Binding.Port != "dsl2" || evs[2].Reason != "cleared" {
		t.Errorf("change %+v / removal %+v", evs[1], evs[2])
	}
	if evs[0].Seq+1 != evs[1].Seq || evs[1].Seq+1 != evs[2].Seq {
		t.Errorf("sequence numbers %d %d %d", evs[0].Seq, evs[1].Seq, evs[2].Seq)
	}

	// A reconnecting subscriber resumes after the last event it saw.
	resumed := drain(env.Ops.Events(evs[0].Seq))
	if diff := cmp.Diff(types(evs[1:]), types(resumed)); diff != "" {
		t.Errorf("resumed stream (-want +got):\n%s", diff)
	}

	s1 := netip.MustParseAddr("10.0.0.1")
	env.Backend.Querier.SetStats(engine.RunnerStats{Stats: engine.Stats{Servers: []engine.ServerStats{{Server: s1, Armed: true}}}})
	env.Ops.PollServers()
	env.Backend.Querier.SetStats(engine.RunnerStats{Stats: engine.Stats{Servers: []engine.ServerStats{{Server: s1, Counters: engine.Counters{Timeouts: 1}}}}})
	env.Ops.PollServers()
	evs = waitEvents(t, stream, 2)
	if diff := cmp.Diff([]string{ops.EventServerUp, ops.EventServerDown}, types(evs)); diff != "" || evs[1].Server != s1 {
		t.Errorf("server events (-want +got):\n%s", diff)
	}
}

func TestSlowSubscriberIsToldWhatItLost(t *testing.T) {
	env := newEnv(t, ops.Options{EventBuffer: 4})
	stream := env.Ops.Events(0)
	for i := range 6 {
		env.Ops.SpoofDrop("lgc0", netip.AddrFrom4([4]byte{192, 168, 10, byte(i)}), net.HardwareAddr{0, 1, 2, 3, 4, byte(i)})
	}
	evs := drain(stream)
	if diff := cmp.Diff([]string{ops.EventLost, ops.EventSpoofDrop, ops.EventSpoofDrop, ops.EventSpoofDrop, ops.EventSpoofDrop}, types(evs)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if evs[0].Missed != 2 || evs[1].IP.As4()[3] != 2 || evs[1].Port != "cable1/0/1" {
		t.Errorf("lost %+v, first kept %+v", evs[0], evs[1])
	}
}

func TestSpoofDropsAreSampled(t *testing.T) {
	now := opstest.Now
	env := newEnv(t, ops.Options{SpoofEventsPerSecond: 2, Now: func() time.Time { return now }})
	stream := env.Ops.Events(0)
	ip, hw := netip.MustParseAddr("192.168.10.66"), net.HardwareAddr{0, 0, 0, 0, 0, 0x66}
	for range 5 {
		env.Ops.SpoofDrop("lgd0", ip, hw)
	}
	now = now.Add(time.Second)
	env.Ops.SpoofDrop("lgd0", ip, hw)
	evs := drain(stream)
	var suppressed []uint64
	for _, e := range evs {
		suppressed = append(suppressed, e.Suppressed)
	}
	if diff := cmp.Diff([]uint64{0, 0, 3}, suppressed); diff != "" {
		t.Errorf("suppressed counts (-want +got):\n%s", diff)
	}
	if evs[0].Port != "dsl2" || evs[0].MAC != "00:00:00:00:00:66" {
		t.Errorf("event %+v", evs[0])
	}
}
