package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// demo implements lab.TB outside `go test`: failures print and unwind,
// cleanups run in reverse order exactly once.
type demo struct {
	binary string

	mu       sync.Mutex
	cleanups []func()
	done     bool
}

func newDemo(binary string) *demo { return &demo{binary: binary} }

// errStop unwinds the demo after Fatalf or Skip.
var errStop = errors.New("demo stopped")

func (d *demo) Helper() {}

func (d *demo) Cleanup(f func()) {
	d.mu.Lock()
	d.cleanups = append(d.cleanups, f)
	d.mu.Unlock()
}

func (d *demo) TempDir() string {
	dir, err := os.MkdirTemp("", "leaseguard-demo-")
	if err != nil {
		d.Fatalf("temp dir: %v", err)
	}
	d.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (d *demo) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: FAILED: "+format+"\n", args...)
	panic(errStop)
}

func (d *demo) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: error: "+format+"\n", args...)
}

func (d *demo) Skip(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"demo: cannot run:"}, args...)...)
	panic(errStop)
}

func (d *demo) Skipf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: cannot run: "+format+"\n", args...)
	panic(errStop)
}

func (d *demo) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// cleanup runs the registered cleanups, newest first, once.
func (d *demo) cleanup() {
	d.mu.Lock()
	if d.done {
		d.mu.Unlock()
		return
	}
	d.done = true
	fs := d.cleanups
	d.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// run plays the story and returns the exit status.
func (d *demo) run() (code int) {
	defer d.cleanup()
	defer func() {
		if r := recover(); r != nil {
			if r != errStop {
				panic(r)
			}
			code = 1
		}
	}()
	story(d)
	return 0
}
