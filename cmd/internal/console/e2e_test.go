package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/leaseguard/leaseguard/platform/serial"
	"golang.org/x/sys/unix"
)

// The console as the agent will run it: a serial.Supervisor opening the
// device with serial.Open (tarm/serial) and serving it; the far end goes
// away, the port error is counted and reopening is attempted, and nothing
// but the console notices.
func TestSupervisedSerialConsole(t *testing.T) {
	master, slave := openPty(t)
	defer slave.Close() // with no slave open, reads on the master fail
	path := slave.Name()
	p := &ptyConsole{t: t, master: master, poke: make(chan struct{}, 1), rec: newCalls()}
	go p.readLoop()
	con, err := New(Config{}, fakeTree(p.rec, fakeSetup{}))
	if err != nil {
		t.Fatal(err)
	}
	opens := make(chan error, 16)
	sup := &serial.Supervisor{
		Device: path, Baud: 115200, Serve: con.Serve,
		Open: func(dev string, baud int) (io.ReadWriteCloser, error) {
			port, err := serial.Open(dev, baud)
			opens <- err
			return port, err
		},
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- sup.Run(ctx) }()

	if err := <-opens; err != nil {
		t.Fatalf("first open: %v", err)
	}
	p.login("")
	if got := p.run("sh po"); got != "ports output\r\n" {
		t.Errorf("sh po wrote %q", got)
	}
	master.Close() // the terminal goes away, and with it the pty
	deadline := time.After(failAfter)
	for reopened := false; !reopened; {
		select {
		case err := <-opens:
			reopened = err != nil // reopening was tried, and failed as it must
		case <-deadline:
			t.Fatal("no attempt to reopen the port after the far end went away")
		}
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	c := sup.Counters()
	if c.Opens < 1 || c.PortErrors < 1 || c.OpenErrors < 1 {
		t.Errorf("supervisor counters %+v, want an open, a port error and a failed reopen", c)
	}
	if got := con.Counters().PortErrors; got < 1 {
		t.Errorf("console counted %d port errors", got)
	}
}

// promptWriter signals each prompt written.
type promptWriter struct {
	mu      sync.Mutex
	b       bytes.Buffer
	prompts chan string
}

func (w *promptWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if s := string(p); strings.HasSuffix(s, ": ") {
		w.prompts <- s
	}
	return len(p), nil
}

// On a terminal, hash-password asks twice and does not echo.
func TestHashPasswordCommandOnATerminal(t *testing.T) {
	master, tty, err := pty.Open() // cooked, echoing: as a shell leaves it
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	prompts := &promptWriter{prompts: make(chan string, 2)}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- HashPasswordCommand(tty, prompts, &out, rand.Reader) }()
	for _, want := range []string{"Password: ", "Again: "} {
		if got := <-prompts.prompts; got != want {
			t.Fatalf("prompt %q, want %q", got, want)
		}
		master.Write([]byte("s3cret\n"))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h, err := ParsePasswordHash(strings.TrimSpace(out.String()))
	if err != nil || !h.Verify([]byte("s3cret")) {
		t.Fatalf("printed %q (%v), which does not verify the password", out.String(), err)
	}
	// Echo is back on, and the password was never echoed: what the
	// terminal reads before a marker written now is empty.
	tio, err := serial.Termios(tty)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 {
		t.Error("echo left off")
	}
	tty.Write([]byte("END"))
	got := readUntil(t, master, "END")
	if strings.Contains(got, "s3cret") {
		t.Errorf("the password was echoed: %q", got)
	}
}

func readUntil(t *testing.T, r *os.File, marker string) string {
	t.Helper()
	var b []byte
	buf := make([]byte, 256)
	for !bytes.Contains(b, []byte(marker)) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("reading until %q: %v (got %q)", marker, err, b)
		}
		b = append(b, buf[:n]...)
	}
	return string(b)
}
