package mgmt_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// follow reads events into a channel until the test ends.
func follow(t *testing.T, a *api, after uint64) <-chan ops.Event {
	t.Helper()
	ch := make(chan ops.Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_, _ = a.client.Events(ctx, after, func(e ops.Event) error {
			ch <- e
			return nil
		})
	}()
	return ch
}

func next(t *testing.T, ch <-chan ops.Event) ops.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(failAfter):
		t.Fatal("no event")
	}
	return ops.Event{}
}

func TestEventStream(t *testing.T) {
	a := startAPI(t, ops.Options{})
	// Events are published before the client connects: it asks for those
	// after the first (Last-Event-ID 1), so it sees them whenever it
	// connects.
	a.env.Ops.SpoofDrop("lgd0", mustAddr("192.168.20.66"), net.HardwareAddr{0, 0, 0, 0, 0, 0x66})
	a.env.Ops.SpoofDrop("lgd0", mustAddr("192.168.20.67"), net.HardwareAddr{0, 0, 0, 0, 0, 0x67})
	ch := follow(t, a, 1)
	first := next(t, ch)
	if first.Type != ops.EventSpoofDrop || first.Port != "dsl2" || first.IP != mustAddr("192.168.20.67") || first.Seq != 2 {
		t.Fatalf("first event %+v", first)
	}
	a.upsert(t, opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1"))
	if _, err := a.client.ClearBinding(context.Background(), "192.168.10.3"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		got = append(got, next(t, ch).Type)
	}
	// Table events come through Run; a configuration event at once, so
	// it is made after the table's were seen.
	if _, err := a.client.ApplyConfig(context.Background(), []byte(changedConfig), 0); err != nil {
		t.Fatal(err)
	}
	last := next(t, ch)
	got = append(got, last.Type)
	want := []string{ops.EventBindingAdded, ops.EventBindingRemoved, ops.EventConfigApplied}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if last.Generation != 2 || last.Seq != first.Seq+3 {
		t.Errorf("config event %+v", last)
	}

	// A client reconnecting with Last-Event-ID gets what followed.
	resumed := follow(t, a, first.Seq+1)
	if e := next(t, resumed); e.Type != ops.EventBindingRemoved || e.Reason != "cleared" {
		t.Errorf("resumed with %+v", e)
	}
}

func TestEventStreamHeartbeats(t *testing.T) {
	a := startAPIWith(t, ops.Options{}, time.Millisecond)
	req, err := http.NewRequest("GET", "http://leaseguard/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	resp, err := a.raw.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() && len(lines) < 4 {
		lines = append(lines, sc.Text())
	}
	want := []string{": leaseguard events", "", ": keep-alive", ""}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}
