package location

import (
	"testing"
	"unsafe"
)

// The package documentation promises a 96-byte record on 64-bit line
// cards (arm64, amd64); 32-bit ones (mips) pack it in 84.
func TestRecordSize(t *testing.T) {
	want := uintptr(96)
	if unsafe.Sizeof(uintptr(0)) == 4 {
		want = 84
	}
	if got := unsafe.Sizeof(record{}); got != want {
		t.Errorf("record is %d bytes, want %d: update the package documentation or repack the fields", got, want)
	}
}

// TestHeapBudget guards the memory goal: at most 300 heap bytes per binding
// with 100,000 realistic bindings, all indexes and the event log of four
// subscribers included. BenchmarkBytesPerBinding reports the figure.
func TestHeapBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-binding table")
	}
	bytes := heapBytes(func() any {
		tb := New(Config{})
		for _, name := range []string{"nft", "forwarding", "bpi", "api"} {
			tb.Subscribe(name)
		}
		for _, b := range samples(benchN) {
			mustUpsert(t, tb, b, t0)
		}
		return tb
	})
	perBinding := float64(bytes) / benchN
	t.Logf("%.1f heap bytes per binding", perBinding)
	if perBinding > 300 {
		t.Errorf("%.1f heap bytes per binding, budget 300", perBinding)
	}
}
