package agent

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
)

func quietLog() *ops.Logs { return ops.NewLogs(nil, config.Log{}) }

// readSnapshot parses the file at path.
func readSnapshot(t *testing.T, path string) location.SnapshotFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := location.ParseSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestSnapshotWriter: the table is written write_delay after its first
// change (not at every change), again after later changes, and at once on
// a clean stop with changes pending; the directory holds only the
// snapshot (the temporary file was renamed).
func TestSnapshotWriter(t *testing.T) { synctest.Test(t, testSnapshotWriter) }

func testSnapshotWriter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bindings.snap")
	table := location.New(location.Config{})
	w := newSnapshotWriter(table, path, 30*time.Second, time.Now, quietLog().For("agent"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-w.Ready()

	upsert(t, table, gleaned("192.168.10.100", macA, cablePort, time.Hour))
	time.Sleep(10 * time.Second)
	upsert(t, table, gleaned("192.168.10.101", macB, cablePort, time.Hour))
	synctest.Wait()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("written before the delay: %v", err)
	}
	time.Sleep(20 * time.Second)
	synctest.Wait()
	if snap := readSnapshot(t, path); len(snap.Bindings) != 2 || !snap.At.Equal(time.Now()) {
		t.Fatalf("first snapshot: %d bindings at %v, want 2 at %v", len(snap.Bindings), snap.At, time.Now())
	}

	upsert(t, table, gleaned("192.168.10.102", macB, cablePort, time.Hour))
	synctest.Wait()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if snap := readSnapshot(t, path); len(snap.Bindings) != 3 {
		t.Errorf("snapshot on stop: %d bindings, want 3", len(snap.Bindings))
	}
	if st := w.Stats(); st.Written != 2 || st.Failures != 0 || st.LastBindings != 3 {
		t.Errorf("stats %+v", st)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v, want only the snapshot", entries)
	}
}

func TestSnapshotWriteFailureCounted(t *testing.T) {
	table := location.New(location.Config{})
	w := newSnapshotWriter(table, filepath.Join(t.TempDir(), "missing", "bindings.snap"), 0, time.Now, quietLog().For("agent"))
	w.write()
	if st := w.Stats(); st.Failures != 1 || st.LastError == "" || w.delay != DefaultSnapshotDelay {
		t.Errorf("stats %+v, delay %v", st, w.delay)
	}
}

// TestRestoreSnapshot: live bindings come back as hints, expired ones do
// not; a damaged or missing file gives no hints.
func TestRestoreSnapshot(t *testing.T) {
	now := time.Now()
	live, expired := gleaned("192.168.10.100", macA, cablePort, time.Hour), gleaned("192.168.10.101", macB, cablePort, -time.Minute)
	data, err := location.MarshalSnapshot(now.Add(-time.Minute), func(yield func(location.Binding) bool) {
		_ = yield(live) && yield(expired)
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, data, 0o600)
	damaged := append([]byte(nil), data...)
	damaged[len(damaged)/2] ^= 0xff
	os.WriteFile(bad, damaged, 0o600)
	log := quietLog().For("agent")

	table := location.New(location.Config{})
	hints := restoreSnapshot(table, good, now, log)
	if len(hints) != 1 || hints[0].IP != live.IP || hints[0].Source != location.Snapshot {
		t.Errorf("hints %+v, want %v as a snapshot hint", hints, live.IP)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing")} {
		if h := restoreSnapshot(location.New(location.Config{}), path, now, log); len(h) != 0 {
			t.Errorf("%s: hints %+v", path, h)
		}
	}
}

// TestHintConfirmer: a confirmed hint becomes a leasequery binding, an
// UNASSIGNED one is removed, one without an answer stays a hint.
func TestHintConfirmer(t *testing.T) {
	a, _ := enfAgent(t)
	cable := a.relay.Ports().Port(0).AgentInfo
	ips := []netip.Addr{netip.MustParseAddr("192.168.10.100"), netip.MustParseAddr("192.168.10.101"), netip.MustParseAddr("192.168.10.102")}
	var hints []location.Binding
	for _, ip := range ips {
		b := gleaned(ip.String(), macA, cablePort, time.Hour)
		b.Source = location.Snapshot
		upsert(t, a.table, b)
		hints = append(hints, b)
	}
	q := &fakeQuerier{onResult: a.onResult, answers: map[netip.Addr]engine.Result{
		ips[0]: active(ips[0], macA, cable, time.Hour),
		ips[1]: {Type: lq.LeaseUnassigned, Binding: lq.Binding{IP: ips[1]}},
	}}
	serving := make(chan struct{})
	close(serving)
	h := &hintConfirmer{query: q, install: a.onResult, table: a.table, serving: serving, hints: hints, log: quietLog().For("agent")}
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, ok := a.table.ByIP(ips[0]); !ok || b.Source != location.Leasequery {
		t.Errorf("confirmed hint: %+v, %v", b, ok)
	}
	if _, ok := a.table.ByIP(ips[1]); ok {
		t.Error("unassigned hint kept")
	}
	if b, ok := a.table.ByIP(ips[2]); !ok || b.Source != location.Snapshot {
		t.Errorf("unanswered hint: %+v, %v", b, ok)
	}
	if h.done.Load() != 1 {
		t.Errorf("confirmed %d, want 1", h.done.Load())
	}
}
