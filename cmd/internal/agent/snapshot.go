package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/lq/location"
)

// DefaultSnapshotDelay is snapshot.write_delay when the configuration
// leaves it zero: at most one write per 30 s of table changes, kind to
// flash, and at most 30 s of changes lost to a reboot (which leasequery
// recovers anyway).
const DefaultSnapshotDelay = 30 * time.Second

// snapshotWriter saves the table to stable storage some time after it
// changes: a Task. The file (location.MarshalSnapshot: versioned and
// checksummed) is written to a temporary file in the same directory,
// synced, renamed over the old one and the directory synced, so a crash
// or power cut leaves either the old snapshot or the new one, never a
// torn one. A clean stop writes pending changes at once.
type snapshotWriter struct {
	table *location.Table
	path  string
	delay time.Duration
	now   func() time.Time
	log   *slog.Logger
	ready chan struct{}

	mu    sync.Mutex
	stats SnapshotStats
}

// SnapshotStats count the snapshot's writes and its restore at start-up.
type SnapshotStats struct {
	Written, Failures uint64
	LastBindings      int       // bindings in the last file written
	LastWrite         time.Time // when
	LastError         string
	Restored          int // hints restored at start-up
	HintsConfirmed    int // of which the servers confirmed
}

func newSnapshotWriter(t *location.Table, path string, delay time.Duration, now func() time.Time, log *slog.Logger) *snapshotWriter {
	if delay == 0 {
		delay = DefaultSnapshotDelay
	}
	return &snapshotWriter{table: t, path: path, delay: delay, now: now, log: log, ready: make(chan struct{})}
}

func (w *snapshotWriter) Ready() <-chan struct{} { return w.ready }

// Stats returns the counters so far.
func (w *snapshotWriter) Stats() SnapshotStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Run writes the table write_delay after the first change since the last
// write, until ctx ends.
func (w *snapshotWriter) Run(ctx context.Context) error {
	sub := w.table.Subscribe("snapshot")
	defer sub.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	dirty := false
	close(w.ready)
	for {
		select {
		case <-ctx.Done():
			if dirty {
				w.write()
			}
			return ctx.Err()
		case <-sub.Wake():
			if _, err := sub.Poll(0); err != nil && !errors.Is(err, location.ErrLagged) {
				return err
			}
			if !dirty {
				dirty = true
				timer.Reset(w.delay)
			}
		case <-timer.C:
			dirty = false
			w.write()
		}
	}
}

// write saves the table now; failures are logged and counted (the next
// change tries again).
func (w *snapshotWriter) write() {
	at := w.now()
	n := 0
	data, err := location.MarshalSnapshot(at, func(yield func(location.Binding) bool) {
		for b := range w.table.All() {
			n++
			if !yield(b) {
				return
			}
		}
	})
	if err == nil {
		err = writeAtomic(w.path, data)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.stats.Failures++
		w.stats.LastError = err.Error()
		w.log.Warn("snapshot: write failed", "path", w.path, "err", err)
		return
	}
	w.stats.Written++
	w.stats.LastBindings, w.stats.LastWrite = n, at
	w.log.Debug("snapshot written", "path", w.path, "bindings", n, "bytes", len(data))
}

// writeAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("snapshot %s: write: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("snapshot %s: fsync: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("snapshot %s: close: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("snapshot %s: rename: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapshot %s: open directory: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("snapshot %s: fsync directory: %w", dir, err)
	}
	return nil
}

// restoreSnapshot loads the snapshot at path into t as hints and returns
// the addresses restored. A missing file is a first boot; a damaged one
// is ignored (and kept for inspection): leasequery recovers regardless.
func restoreSnapshot(t *location.Table, path string, now time.Time, log *slog.Logger) []location.Binding {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		log.Info("snapshot: none yet", "path", path)
		return nil
	}
	if err != nil {
		log.Warn("snapshot: unreadable; starting without hints", "path", path, "err", err)
		return nil
	}
	snap, err := location.ParseSnapshot(data)
	if err != nil {
		log.Warn("snapshot: damaged; starting without hints", "path", path, "err", err)
		return nil
	}
	n, err := t.Restore(snap.Bindings, now)
	if err != nil {
		log.Warn("snapshot: some bindings skipped", "path", path, "err", err)
	}
	var hints []location.Binding
	for _, b := range snap.Bindings {
		if cur, ok := t.ByIP(b.IP); ok && cur.Source == location.Snapshot {
			hints = append(hints, cur)
		}
	}
	log.Info("snapshot restored as hints", "path", path, "written", snap.At, "bindings", len(snap.Bindings),
		"restored", n, "age", now.Sub(snap.At).Round(time.Second))
	return hints
}
