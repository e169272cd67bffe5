package console

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bytes with a meaning to FuzzConsole rather than to the console.
const (
	fuzzTick  = 0xfe // advance the clock 3 minutes (idle logouts, lockouts)
	fuzzTrace = 0xfd // the next segment is pushed as a trace line, not typed
)

// escChecker is a port's output side that checks, as the output streams
// by, that the only escape sequence the console ever sends is its own
// erase-line (ESC [ K): nothing typed, traced or printed by a handler may
// reach the terminal as a control sequence.
type escChecker struct {
	mu    sync.Mutex
	state int // 0 text, 1 after ESC, 2 after ESC [
	bad   string
	n     int
}

func (c *escChecker) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, b := range p {
		ok := true
		switch c.state {
		case 0:
			if b == 0x1b {
				c.state = 1
			} else if b > 0x7e || b < 0x20 && !strings.ContainsRune("\r\n\b\a", rune(b)) {
				ok = false
			}
		case 1:
			ok, c.state = b == '[', 2
		case 2:
			ok, c.state = b == 'K', 0
		}
		if !ok && c.bad == "" {
			c.bad = string(p[max(0, i-20):min(len(p), i+20)])
		}
	}
	c.n += len(p)
	return len(p), nil
}

type fuzzPort struct {
	io.Reader
	*escChecker
}

func FuzzConsole(f *testing.F) {
	seeds := []string{
		"\x00\rshow bindings\r \r\rq",
		"\x01\rsecret\rsh bi ip 10.0.0.1\r\x1b[A\x1b[A\x1b[B\r\x04",
		"\x01\rx\rx\rx\r\r\xfe\xfe\xfe\rsecret\r",
		"\x02\rsh\tbi\t?\x03deb rel on\r\xfd\x1b[2Jtrace\xfdsh co\x7f\x7fnft\r",
		"\x04\rleasequery client-id " + strings.Repeat("0a:", 200) + "\x01\x06\x06\x0b\r",
		"\x00\rshow slow\r\x03show flood\r\x03te len 0\rcrash\rset 3\r",
		"\x00\r\xfe\xfe\xfe\xfe",
		"\x06\r" + strings.Repeat("\x1b[", 50) + "\x1b[1;5C\x1bOA\x1b\x1b\x1b\xff\x80\x9b\r?",
		"\x00\rshow bindings\r\xfe\xfe\xfe\xfe\r",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	hash := testHash(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 16<<10 {
			return
		}
		runFuzzConsole(t, data[0], data[1:], hash)
	})
}

// runFuzzConsole serves a console over in-memory pipes, feeds it data
// and then ends the input: Serve must return, and every handler with it.
func runFuzzConsole(t *testing.T, mode byte, data []byte, hash string) {
	cfg := Config{TerminalLength: -1, IdleTimeout: 5 * time.Minute, WriteTimeout: time.Minute}
	if mode&1 != 0 {
		cfg.PasswordHash = hash
	}
	if mode&2 != 0 {
		cfg.TerminalLength = 5
	}
	if mode&4 != 0 {
		cfg.TerminalWidth, cfg.MaxLine, cfg.HistorySize = 20, 40, 2
	}
	clock := newFakeClock()
	cfg.Clock = clock
	rec := newCalls()
	con, err := New(cfg, fakeTree(rec, fakeSetup{bindings: 30}))
	if err != nil {
		t.Fatal(err)
	}
	in, feed := io.Pipe()
	out := &escChecker{}
	served := make(chan error, 1)
	go func() { served <- con.Serve(context.Background(), fuzzPort{in, out}) }()

	trace := false
	for _, seg := range bytes.SplitAfter(data, []byte{fuzzTick}) {
		for _, part := range bytes.Split(bytes.TrimSuffix(seg, []byte{fuzzTick}), []byte{fuzzTrace}) {
			if trace {
				con.Trace(string(part))
			} else {
				feed.Write(part)
			}
			trace = !trace
		}
		trace = false
		if bytes.HasSuffix(seg, []byte{fuzzTick}) {
			clock.Advance(3 * time.Minute)
		}
	}
	feed.Close()
	select {
	case <-served:
	case <-time.After(failAfter):
		t.Fatalf("Serve did not return after the input ended (deadlock)")
	}
	if !rec.idle() {
		t.Fatalf("handlers still running after Serve returned")
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.bad != "" {
		t.Errorf("raw control bytes reached the terminal: %q", out.bad)
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"sh bi", "sh bi 10.0.0.1 ", "s", "le cl 01:", "deb r o", "te l 0", "show bindings ip ", "\t?"} {
		f.Add(s)
	}
	rec := newCalls()
	con, err := New(Config{}, fakeTree(rec, fakeSetup{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > 512 {
			return
		}
		if _, node, err := resolve(con.root, line); err == nil && !node.runnable() {
			t.Errorf("resolve(%q) chose a node that cannot run", line)
		} else if err != nil && err.pos > len(line) {
			t.Errorf("resolve(%q): caret at %d, past the line", line, err.pos)
		}
		if _, err := help(con.root, line); err != nil && err.pos > len(line) {
			t.Errorf("help(%q): caret at %d, past the line", line, err.pos)
		}
		if w, _, ok := complete(con.root, line); ok && !validWord(w) {
			t.Errorf("complete(%q) = %q", line, w)
		}
	})
}

func FuzzParsePasswordHash(f *testing.F) {
	f.Add("$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0c2FsdA$dClvKSmj66n6MdMWNv3Go4mvH1Ym2WIGiJvquqa+mfE")
	f.Add("$2a$04$abcdefghijklmnopqrstuuJ6pNPHHb7LsUsHkQY9ERDZbWQkyLaIG")
	f.Add("$pbkdf2-sha256$i=$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParsePasswordHash(s)
		if err != nil {
			return
		}
		h2, err := ParsePasswordHash(h.String())
		if err != nil || h2.String() != h.String() {
			t.Errorf("%q parsed, but its String %q does not parse back the same: %v", s, h.String(), err)
		}
	})
}
