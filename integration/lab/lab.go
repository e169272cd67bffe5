// Package lab builds throwaway network topologies for tests: network
// namespaces, veth links, addresses and the real peer processes (dhcpd,
// dhclient, udhcpc, QEMU) that run inside them.
//
// Every name a Lab creates carries a prefix unique to the test run, so two
// runs on one machine never collide, and everything is torn down by
// t.Cleanup even when the test fails. Tests that need a Lab are skipped when
// not run as root or when iproute2 is missing.
package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// runCounter distinguishes the labs of one test binary.
var runCounter atomic.Uint32

// TB is the part of testing.TB a lab uses. *testing.T and *testing.B satisfy
// it; the demo supplies its own, so the same topology code serves both.
type TB interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
}

// Lab is the set of namespaces and processes created for one test.
type Lab struct {
	t      TB
	prefix string

	mu  sync.Mutex
	nss []*NS
}

// New returns an empty lab whose resources are removed when t ends. It skips
// the test when the caller is not root or `ip` is not installed.
func New(t TB) *Lab {
	t.Helper()
	SkipUnlessRoot(t)
	l := &Lab{t: t, prefix: fmt.Sprintf("lg%s-%d", strconv.FormatInt(int64(os.Getpid()), 36), runCounter.Add(1))}
	t.Cleanup(l.teardown)
	return l
}

// SkipUnlessRoot skips t unless it runs as root with iproute2 available,
// and in -short mode: the cross-architecture unit runs (`make
// cross-unit-test`, test binaries under qemu-user, whose system-call
// emulation does not carry netlink) are -short.
func SkipUnlessRoot(t TB) {
	t.Helper()
	// testing.Testing: the demo runs the lab outside a test binary, where
	// testing.Short panics.
	if testing.Testing() && testing.Short() {
		t.Skip("-short: no network namespace tests")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

// Need skips t when any of the named programs is not on PATH.
func Need(t TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs %s (not on PATH; `make deps` installs it)", p)
		}
	}
}

// Prefix is the run-unique prefix of every namespace in the lab.
func (l *Lab) Prefix() string { return l.prefix }

// Dir returns a fresh directory for configs and logs, removed with the test.
func (l *Lab) Dir() string { return l.t.TempDir() }

// NS creates a network namespace named after the lab prefix and name, with
// its loopback up.
func (l *Lab) NS(name string) *NS {
	l.t.Helper()
	ns := &NS{Name: l.prefix + "-" + name, lab: l}
	l.must("ip", "netns", "add", ns.Name)
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	ns.MustIP("link", "set", "lo", "up")
	return ns
}

// Veth links namespace a (interface aIf) with namespace b (interface bIf)
// and brings both ends up, returning once both are operationally up.
// Interface names must be at most 15 bytes; they
// only need to be unique inside their namespace.
func (l *Lab) Veth(a *NS, aIf string, b *NS, bIf string) {
	l.t.Helper()
	a.MustIP("link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name)
	a.MustIP("link", "set", aIf, "up")
	b.MustIP("link", "set", bIf, "up")
	a.WaitOperUp(aIf)
	b.WaitOperUp(bIf)
}

func (l *Lab) must(name string, args ...string) string {
	l.t.Helper()
	out, err := run(name, args...)
	if err != nil {
		l.t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// teardown kills what runs in the lab's namespaces, then deletes them, in
// reverse order of creation.
func (l *Lab) teardown() {
	l.mu.Lock()
	nss := l.nss
	l.nss = nil
	l.mu.Unlock()
	for i := len(nss) - 1; i >= 0; i-- {
		nss[i].stopAll()
	}
	for i := len(nss) - 1; i >= 0; i-- {
		nss[i].killRemaining()
		if _, err := run("ip", "netns", "delete", nss[i].Name); err != nil {
			l.t.Errorf("lab teardown: %v", err)
		}
	}
}

// run executes a command and returns its combined output; the error carries
// the output so test failures say what the tool said.
func run(name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
