package console

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/leaseguard/leaseguard/platform/serial"
	"golang.org/x/sys/unix"
)

// failAfter bounds every wait on the console: reaching it is a failure
// (a deadlock), not a way to synchronise.
const failAfter = 10 * time.Second

// ptyConsole is a console served on the slave side of a pseudo-terminal,
// as it is on the board's UART, and driven from the master side as a
// terminal emulator would.
type ptyConsole struct {
	t      *testing.T
	con    *Console
	rec    *calls
	clock  *fakeClock
	master *os.File
	slave  *os.File
	served chan error
	cancel context.CancelFunc

	mu   sync.Mutex
	raw  []byte // everything the console wrote
	mark int    // how far expect has matched
	poke chan struct{}
}

// openPty returns a pseudo-terminal whose master is pollable (creack/pty
// leaves it blocking, and a blocked Read would keep it open after Close),
// and whose slave is raw, like the board's UART after serial.Open.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	if err := serial.MakeRaw(s); err != nil {
		t.Fatal(err)
	}
	return master, s
}

func startPty(t *testing.T, cfg Config, setup fakeSetup) *ptyConsole {
	t.Helper()
	master, slave := openPty(t)
	p := &ptyConsole{t: t, master: master, slave: slave, rec: newCalls(),
		served: make(chan error, 1), poke: make(chan struct{}, 1)}
	if cfg.Clock == nil {
		p.clock = newFakeClock()
		cfg.Clock = p.clock
	}
	con, err := New(cfg, fakeTree(p.rec, setup))
	if err != nil {
		t.Fatal(err)
	}
	p.con = con
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.served <- con.Serve(ctx, slave) }()
	go p.readLoop()
	t.Cleanup(p.stop)
	return p
}

func (p *ptyConsole) readLoop() {
	buf := make([]byte, 4096)
	for {
		n, err := p.master.Read(buf)
		p.mu.Lock()
		p.raw = append(p.raw, buf[:n]...)
		p.mu.Unlock()
		select {
		case p.poke <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (p *ptyConsole) stop() {
	p.cancel()
	select {
	case <-p.served:
	case <-time.After(failAfter):
		p.t.Error("Serve did not return after its context ended")
	}
	p.slave.Close()
	p.master.Close()
	if !p.rec.idle() {
		p.t.Error("handlers still running after Serve returned")
	}
}

// send types keys on the terminal.
func (p *ptyConsole) send(keys string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(keys)); err != nil {
		p.t.Fatalf("typing %q: %v", keys, err)
	}
}

// expect waits until the console has written want since the last match,
// and returns what it wrote before it.
func (p *ptyConsole) expect(want string) string {
	p.t.Helper()
	deadline := time.After(failAfter)
	for {
		p.mu.Lock()
		i := bytes.Index(p.raw[p.mark:], []byte(want))
		if i >= 0 {
			before := string(p.raw[p.mark : p.mark+i])
			p.mark += i + len(want)
			p.mu.Unlock()
			return before
		}
		p.mu.Unlock()
		select {
		case <-p.poke:
		case <-deadline:
			p.mu.Lock()
			defer p.mu.Unlock()
			p.t.Fatalf("the console did not write %q; since the last match it wrote %q", want, p.raw[p.mark:])
		}
	}
}

// written is everything the console wrote so far.
func (p *ptyConsole) written() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.raw)
}

// screen is what the operator sees now (everything expected so far).
func (p *ptyConsole) screen() *screen {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := newScreen(80)
	s.Write(p.raw[:p.mark])
	return s
}

const prompt = "leaseguard> "

// login presses RETURN, answers the password if one is asked, and waits
// for the prompt.
func (p *ptyConsole) login(password string) {
	p.t.Helper()
	p.expect("Press RETURN to get started.\r\n")
	p.send("\r")
	if password != "" {
		p.expect("Password: ")
		p.send(password + "\r")
	}
	p.expect(prompt)
}

// run types a command line and waits for the next prompt, returning what
// the command wrote.
func (p *ptyConsole) run(line string) string {
	p.t.Helper()
	p.send(line + "\r")
	p.expect(line + "\r\n")
	return p.expect(prompt)
}
