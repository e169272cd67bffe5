package agent

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseSweepMemory: after a burst's garbage, the release leaves the
// runtime holding little more heap than it uses, and says so in the log.
func TestReleaseSweepMemory(t *testing.T) {
	garbage := make([][]byte, 0, 1<<12)
	for range cap(garbage) {
		garbage = append(garbage, make([]byte, 8<<10)) // 32 MiB in all
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	var out bytes.Buffer
	releaseSweepMemory(slog.New(slog.NewTextHandler(&out, nil)))
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if spare := int64(m.HeapSys-m.HeapReleased) - int64(m.HeapInuse); spare > 4<<20 {
		t.Errorf("after the release the heap holds %d kB beyond the %d kB in use", spare>>10, m.HeapInuse>>10)
	}
	for _, want := range []string{`msg="memory returned to the system after the start-up sweep"`, "took=", "heap_live_kB=", "held_kB="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log %q lacks %q", out.String(), want)
		}
	}
}
