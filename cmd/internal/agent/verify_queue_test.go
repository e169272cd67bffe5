package agent

import (
	"context"
	"net/netip"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

func destReport(i int) nflog.Report {
	return nflog.Report{Downstream: true, Destination: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
}

// TestReportQueue: first in, first out, at most max waiting, pushes
// refused beyond; pop ends with its context.
func TestReportQueue(t *testing.T) {
	q := newReportQueue(3)
	var pushed []bool
	for i := range 4 {
		pushed = append(pushed, q.push(destReport(i)))
	}
	if diff := cmp.Diff([]bool{true, true, true, false}, pushed); diff != "" {
		t.Errorf("pushes accepted (-want +got):\n%s", diff)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var got []netip.Addr
	for range 2 {
		r, ok := q.pop(ctx)
		if !ok {
			t.Fatal("pop ended with reports waiting")
		}
		got = append(got, r.Destination)
	}
	if !q.push(destReport(4)) || !q.push(destReport(5)) || q.push(destReport(6)) {
		t.Error("after two pops, two pushes should pass and the third be refused")
	}
	for q.len() > 0 {
		r, _ := q.pop(ctx)
		got = append(got, r.Destination)
	}
	want := []netip.Addr{destReport(0).Destination, destReport(1).Destination, destReport(2).Destination,
		destReport(4).Destination, destReport(5).Destination}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	cancel()
	if _, ok := q.pop(ctx); ok {
		t.Error("pop on an empty queue returned after its context ended")
	}
}

// TestReportQueueMemory: an empty queue of verifyQueue reports holds
// almost nothing (its channel was 1.8 MB), nor does one that held a full
// burst and drained. The bound leaves room for what the runtime
// allocates meanwhile.
func TestReportQueueMemory(t *testing.T) {
	before := liveHeap()
	q := newReportQueue(verifyQueue)
	if held := liveHeap() - before; held > 32<<10 {
		t.Errorf("an empty queue holds %d heap bytes", held)
	}
	for i := range verifyQueue {
		q.push(destReport(i))
	}
	for range verifyQueue {
		q.pop(context.Background())
	}
	if held := liveHeap() - before; held > 32<<10 {
		t.Errorf("a drained queue holds %d heap bytes", held)
	}
	runtime.KeepAlive(q)
}
