package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/leaseguard/leaseguard/cmd/internal/cli"
	"github.com/leaseguard/leaseguard/cmd/internal/console"
	"github.com/leaseguard/leaseguard/platform/serial"
)

// failAfter bounds every wait on the terminal: reaching it is a failure.
const failAfter = 10 * time.Second

const prompt = "card7# "

// terminal is the console served on a pseudo-terminal's slave, as on the
// board's UART, driven from the master as a terminal emulator would.
type terminal struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	raw    []byte
	mark   int
	poke   chan struct{}
}

func startTerminal(t *testing.T, e *env, cfg console.Config) *terminal {
	t.Helper()
	m, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	// A pollable master, so Close ends a blocked Read.
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	if err := serial.MakeRaw(slave); err != nil {
		t.Fatal(err)
	}
	cfg.Prompt = prompt
	con, err := cli.New(e.Ops, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	term := &terminal{t: t, master: master, poke: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- con.Serve(ctx, slave) }()
	go term.readLoop()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(failAfter):
			t.Error("Serve did not return after its context ended")
		}
		slave.Close()
		master.Close()
	})
	return term
}

func (p *terminal) readLoop() {
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

func (p *terminal) send(keys string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(keys)); err != nil {
		p.t.Fatalf("typing %q: %v", keys, err)
	}
}

// expect waits until the console wrote want since the last match and
// returns what came before it.
func (p *terminal) expect(want string) string {
	p.t.Helper()
	deadline := time.After(failAfter)
	for {
		p.mu.Lock()
		if i := bytes.Index(p.raw[p.mark:], []byte(want)); i >= 0 {
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

// run types a line and returns what the command wrote before the next
// prompt, with CRLF turned into LF.
func (p *terminal) run(line string) string {
	p.t.Helper()
	p.send(line + "\r")
	p.expect(line + "\r\n")
	return strings.ReplaceAll(p.expect(prompt), "\r\n", "\n")
}

func TestConsoleOnATerminal(t *testing.T) {
	e := newEnv(t)
	hash, err := console.HashPassword("s3cret", strings.NewReader(strings.Repeat("salt", 8)), 1000)
	if err != nil {
		t.Fatal(err)
	}
	term := startTerminal(t, e, console.Config{PasswordHash: hash})
	term.expect("Press RETURN to get started.\r\n")
	term.send("\r")
	term.expect("Password: ")
	term.send("s3cret\r")
	term.expect(prompt)

	got := term.run("sh bi po dsl2")
	if !strings.Contains(got, "192.168.20.7  00:00:00:00:00:07  dsl2") || !strings.HasSuffix(got, "Total bindings: 1\n") {
		t.Errorf("sh bi po dsl2 wrote %q", got)
	}
	if got := term.run("show bindings port nowhere"); !strings.Contains(got, `% no port named "nowhere" (ports: cable1/0/1, dsl2)`) {
		t.Errorf("a bad port wrote %q", got)
	}
	if got := term.run("clear bind 192.168.20.7"); got != "Cleared 192.168.20.7 (00:00:00:00:00:07 on dsl2)\n" {
		t.Errorf("clear binding wrote %q", got)
	}
	if got := term.run("show servers"); !strings.Contains(got, "10.0.0.3  down   probe in 8s") {
		t.Errorf("show servers wrote %q", got)
	}

	// `debug relay on` shows the relay's log records between prompts,
	// debug ones included, while the log itself stays at info.
	if got := term.run("debug relay on"); got != "relay debugging is on\n" {
		t.Errorf("debug relay on wrote %q", got)
	}
	e.Ops.Logs().For("relay").Debug("DISCOVER relayed", "port", "dsl2", "xid", "0x1234")
	term.expect("relay: DISCOVER relayed port=dsl2 xid=0x1234\r\n")
	term.run("debug relay off")
	e.Ops.Logs().For("relay").Debug("not shown")
	e.Ops.Logs().For("lq").Warn("shown? no: lq is not traced")
	if got := term.run("show logging"); strings.Contains(got, "not shown") || !strings.Contains(got, "Debug traces  none") {
		t.Errorf("after debug off: %q", got)
	}
}

func TestLongOutputPages(t *testing.T) {
	e := newEnv(t)
	for i := range 40 {
		b := bindingAt(fmt.Sprintf("192.168.10.%d", 100+i))
		if _, err := e.Backend.Table.Upsert(b, now); err != nil {
			t.Fatal(err)
		}
	}
	term := startTerminal(t, e, console.Config{TerminalLength: 10})
	term.expect("Press RETURN to get started.\r\n")
	term.send("\r")
	term.expect(prompt)
	term.send("show bindings\r")
	first := term.expect("--More--")
	if n := strings.Count(first, "\r\n"); n < 8 || n > 10 {
		t.Errorf("first page has %d lines: %q", n, first)
	}
	term.send("q")
	term.expect(prompt)
	term.run("terminal length 0")
	if got := term.run("show ports"); !strings.Contains(got, "cable1/0/1  lgc0       cable  42") {
		t.Errorf("after quitting the pager, show ports wrote %q", got)
	}
}
