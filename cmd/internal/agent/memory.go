package agent

import (
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// releaseSweepMemory returns the start-up sweep's garbage to the
// operating system at once: debug.FreeOSMemory collects, then releases
// every free page.
//
// Why: a sweep is a burst (every reply decoded, every binding expanded
// into events, nftables and rtnetlink batches built) after which the
// heap holds as much garbage as live data, and the Go runtime keeps what
// it freed mapped up to its next collection goal (GOGC=100: twice the
// live heap), so the card's resident memory stays at that high-water
// mark. BenchmarkAgentHeap, 10,000 bindings on the host: the heap held
// 35 MB for 14 MB live, and the process's RSS went from 53 MB to 35 MB
// (idle: 20 MB) with this release.
//
// Trade-off: one forced collection and page release, once per start
// (23-25 ms on the host for that heap); pages the heap needs again fault
// back in. It bounds nothing afterwards: as the agent allocates, its
// heap grows back towards the collector's goal. A soft memory limit
// (GOMEMLIMIT) would bound that, but a limit fixed here could not follow
// the table's size: set below what the bindings need, it makes the
// collector run without pause (up to its 50% CPU cap); operators set
// GOMEMLIMIT or GOGC in the environment if their card needs it.
func releaseSweepMemory(log *slog.Logger) {
	start := time.Now()
	debug.FreeOSMemory()
	took := time.Since(start)
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	log.Info("memory returned to the system after the start-up sweep", "took", took.Round(time.Microsecond),
		"heap_live_kB", m[0].Value.Uint64()>>10, "held_kB", (m[1].Value.Uint64()-m[2].Value.Uint64())>>10)
}
