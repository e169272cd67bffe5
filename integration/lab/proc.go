package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a background process started in a namespace; its output is kept
// in a log file in the test's temporary directory, and it is stopped when
// the test ends.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error

	mu      sync.Mutex
	out     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
	file    *os.File
}

// Start runs a program in the namespace in the background. name labels the
// process in logs and failures.
func (n *NS) Start(name, prog string, args ...string) *Proc {
	n.lab.t.Helper()
	p, err := n.StartErr(name, prog, args...)
	if err != nil {
		n.lab.t.Fatalf("start %s in %s: %v", name, n.Name, err)
	}
	return p
}

// StartErr is Start returning the error instead of failing the test.
func (n *NS) StartErr(name, prog string, args ...string) (*Proc, error) {
	logPath := filepath.Join(n.lab.t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, LogPath: logPath, done: make(chan struct{}), changed: make(chan struct{}), file: f}
	p.cmd = n.Command(prog, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	// Own process group, so Stop reaches children too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	n.addProc(p)
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Write records output and wakes WaitFor.
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	p.file.Write(b)
	close(p.changed)
	p.changed = make(chan struct{})
	return len(b), nil
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Pid is the process id of the started program (the `ip netns exec`
// wrapper execs it, so the pid is the program's own).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the exit status once Done is closed.
func (p *Proc) Err() error { <-p.done; return p.waitErr }

// WaitFor blocks until the output contains substr, the process exits, or
// the timeout passes. The timeout bounds a hang; it asserts nothing about speed.
func (p *Proc) WaitFor(substr string, timeout time.Duration) error {
	return p.WaitForCount(substr, 1, timeout)
}

// WaitForCount blocks until the output contains substr at least n times,
// the process exits, or the timeout passes: for a line a process prints
// again and again.
func (p *Proc) WaitForCount(substr string, n int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		found := strings.Count(p.out.String(), substr) >= n
		changed := p.changed
		p.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			if strings.Count(p.Output(), substr) >= n {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before printing %q (%d times); output:\n%s", p.Name, p.waitErr, substr, n, tail(p.Output()))
		case <-deadline.C:
			return fmt.Errorf("%s did not print %q (%d times) within %v; output:\n%s", p.Name, substr, n, timeout, tail(p.Output()))
		}
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop terminates the process group (SIGTERM, then SIGKILL after 3 s) and
// waits for it.
func (p *Proc) Stop() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	p.mu.Lock()
	p.file.Close()
	p.mu.Unlock()
}

// Exited reports whether the process has ended and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.waitErr, &ee) && ee.ExitCode() == -1 {
			return true, fmt.Errorf("killed: %v", p.waitErr)
		}
		return true, p.waitErr
	default:
		return false, nil
	}
}

// tail returns the last lines of s for failure messages.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
