package lab

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// NS is one network namespace of a lab.
type NS struct {
	Name string
	lab  *Lab

	mu    sync.Mutex
	procs []*Proc
}

// IP runs `ip -n NS args...` and returns its output.
func (n *NS) IP(args ...string) (string, error) {
	return run("ip", append([]string{"-n", n.Name}, args...)...)
}

// MustIP is IP that fails the test on error.
func (n *NS) MustIP(args ...string) string {
	n.lab.t.Helper()
	out, err := n.IP(args...)
	if err != nil {
		n.lab.t.Fatalf("ip -n %s %s: %v", n.Name, strings.Join(args, " "), err)
	}
	return out
}

// Addr assigns cidr (like "10.0.0.1/24") to ifname.
func (n *NS) Addr(ifname, cidr string) {
	n.lab.t.Helper()
	n.MustIP("addr", "add", cidr, "dev", ifname)
}

// Exec runs a program inside the namespace to completion and returns its
// combined output.
func (n *NS) Exec(name string, args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// MustExec is Exec that fails the test on error.
func (n *NS) MustExec(name string, args ...string) string {
	n.lab.t.Helper()
	out, err := n.Exec(name, args...)
	if err != nil {
		n.lab.t.Fatalf("in %s: %s %s: %v", n.Name, name, strings.Join(args, " "), err)
	}
	return out
}

// Command returns an exec.Cmd that runs inside the namespace. The caller
// owns it; prefer Start, which also cleans up.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs fn on an OS thread switched into the namespace. Sockets fn opens
// stay in the namespace after Do returns, so a test can open its sockets
// inside and use them from any goroutine.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is not unlocked on failure to switch back, so the
		// runtime discards it instead of reusing a thread in the wrong
		// namespace.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", n.Name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Fd opens the namespace file, for APIs that take a namespace descriptor
// (nftables.WithNetNSFd, netlink handles). The caller closes it, and must
// keep it open while the API uses it.
func (n *NS) Fd() (*os.File, error) { return os.Open("/run/netns/" + n.Name) }

func (n *NS) addProc(p *Proc) {
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
}

// stopAll stops the processes this lab started in the namespace.
func (n *NS) stopAll() {
	n.mu.Lock()
	procs := n.procs
	n.procs = nil
	n.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// killRemaining kills anything still running in the namespace, such as
// daemons that forked away from the processes Start knew about.
func (n *NS) killRemaining() {
	out, err := run("ip", "netns", "pids", n.Name)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
