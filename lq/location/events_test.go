package location

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventsOrderAndContent(t *testing.T) {
	tb := New(Config{})
	mustUpsert(t, tb, sample(9), t0) // before Subscribe: not delivered
	sub := tb.Subscribe("nft")

	a := sample(1)
	mustUpsert(t, tb, a, at(1))
	renewed := a
	renewed.Expiry = at(7200)
	mustUpsert(t, tb, renewed, at(2))
	mustUpsert(t, tb, renewed, at(2)) // unchanged: no event
	stale := renewed
	stale.Source = Leasequery
	mustUpsert(t, tb, stale, at(3)) // stale: no event
	b := sample(2)
	b.Expiry = at(100)
	mustUpsert(t, tb, b, at(4))
	tb.Remove(Removal{IP: a.IP, Reason: Released, HWAddr: a.HWAddr}, at(5))
	tb.Expire(at(100))

	want := []Event{
		{Seq: 2, Kind: Added, Time: at(1), New: withLT(a, at(1))},
		{Seq: 3, Kind: Changed, Time: at(2), Old: withLT(a, at(1)), New: withLT(renewed, at(2))},
		{Seq: 4, Kind: Added, Time: at(4), New: withLT(b, at(4))},
		{Seq: 5, Kind: Removed, Time: at(5), Old: withLT(renewed, at(2)), Reason: Released},
		{Seq: 6, Kind: Removed, Time: at(100), Old: withLT(b, at(4)), Reason: Expired},
	}
	got, err := sub.Next(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if evs, err := sub.Poll(0); len(evs) != 0 || err != nil {
		t.Errorf("Poll after reading everything: %d events, %v", len(evs), err)
	}
}

func TestEventsBatches(t *testing.T) {
	tb := New(Config{})
	sub := tb.Subscribe("api")
	for i := range 10 {
		mustUpsert(t, tb, sample(i), t0)
	}
	var seqs []uint64
	for len(seqs) < 10 {
		evs, err := sub.Poll(3)
		if err != nil || len(evs) == 0 || len(evs) > 3 {
			t.Fatalf("Poll(3): %d events, %v", len(evs), err)
		}
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
	}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if diff := cmp.Diff(want, seqs); diff != "" {
		t.Errorf("seqs (-want +got):\n%s", diff)
	}
}

func TestLocationChanged(t *testing.T) {
	a := sample(1)
	renewed := a
	renewed.Expiry, renewed.T1 = at(9000), at(4500)
	moved := a
	moved.Port = "cable3/0/2"
	newModem := a
	newModem.Modem = macN(0, 77)
	tests := []struct {
		name string
		e    Event
		want bool
	}{
		{"renewal", Event{Kind: Changed, Old: a, New: renewed}, false},
		{"port move", Event{Kind: Changed, Old: a, New: moved}, true},
		{"new modem", Event{Kind: Changed, Old: a, New: newModem}, true},
		{"added", Event{Kind: Added, New: a}, true},
	}
	for _, tt := range tests {
		if got := tt.e.LocationChanged(); got != tt.want {
			t.Errorf("%s: LocationChanged %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSubscriberOverflow: a subscriber that reads nothing does not stop
// writes, and learns that it lost events instead of losing them silently.
func TestSubscriberOverflow(t *testing.T) {
	tb := New(Config{EventBuffer: 3}) // rounded up to 4
	slow := tb.Subscribe("bpi")
	fast := tb.Subscribe("nft")
	for i := range 10 {
		mustUpsert(t, tb, sample(i), t0)
		if _, err := fast.Poll(0); err != nil {
			t.Fatalf("fast subscriber: %v", err)
		}
	}
	_, err := slow.Poll(0)
	var lag *LagError
	if !errors.As(err, &lag) || !errors.Is(err, ErrLagged) {
		t.Fatalf("slow subscriber: %v, want a LagError", err)
	}
	if diff := cmp.Diff(&LagError{Subscriber: "bpi", Missed: 10, Resume: 11}, lag); diff != "" {
		t.Errorf("LagError (-want +got):\n%s", diff)
	}
	// Resync: the cursor is at the head; the table shows all ten, and
	// later events flow again.
	n := 0
	for range tb.All() {
		n++
	}
	mustUpsert(t, tb, sample(10), t0)
	evs, err := slow.Poll(0)
	if err != nil || len(evs) != 1 || evs[0].Seq != 11 || n != 10 {
		t.Errorf("after resync: %d bindings in All, events %v (err %v), want 10 and seq 11", n, evs, err)
	}
	if got := tb.Stats().Lagged; got != 1 {
		t.Errorf("Stats.Lagged = %d, want 1", got)
	}
	// Exactly one buffer's worth behind is not a lag.
	for i := 11; i < 15; i++ {
		mustUpsert(t, tb, sample(i), t0)
	}
	if evs, err := slow.Poll(0); err != nil || len(evs) != 4 {
		t.Errorf("four behind with a buffer of four: %d events, %v", len(evs), err)
	}
}

func TestNextWaitsAndCloses(t *testing.T) {
	tb := New(Config{})
	sub := tb.Subscribe("stream")
	got := make(chan []Event)
	go func() {
		evs, _ := sub.Next(context.Background(), 0)
		got <- evs
	}()
	mustUpsert(t, tb, sample(1), t0)
	if evs := <-got; len(evs) != 1 || evs[0].Kind != Added {
		t.Errorf("Next woke with %v, want one Added", evs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sub.Next(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context: %v", err)
	}

	errc := make(chan error)
	go func() {
		_, err := sub.Next(context.Background(), 0)
		errc <- err
	}()
	sub.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Next across Close: %v, want ErrClosed", err)
	}
	sub.Close()                      // idempotent
	mustUpsert(t, tb, sample(2), t0) // writes go on without the subscriber
}

// TestCloseWhilePolling: Close and Poll take the subscription's and the
// table's locks in the same order, so a consumer polling while another
// goroutine closes neither deadlocks nor races (run with -race).
func TestCloseWhilePolling(t *testing.T) {
	tb := New(Config{})
	sub := tb.Subscribe("api")
	done := make(chan error)
	go func() {
		for {
			if _, err := sub.Poll(0); err != nil {
				done <- err
				return
			}
		}
	}()
	for i := range 200 {
		mustUpsert(t, tb, sample(i), t0)
	}
	sub.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v, want ErrClosed", err)
	}
}
