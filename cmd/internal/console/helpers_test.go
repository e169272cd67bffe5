package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// calls records the commands the fake set ran, as "words name=value...",
// and how many handlers are running.
type calls struct {
	mu      sync.Mutex
	list    []string
	running int
	poke    chan struct{} // a handler returned
}

func newCalls() *calls { return &calls{poke: make(chan struct{}, 1)} }

// begin counts a handler running, until the function it returns is called.
func (c *calls) begin() func() {
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
		select {
		case c.poke <- struct{}{}:
		default:
		}
	}
}

// idle reports whether every handler has returned, waiting up to
// failAfter for it.
func (c *calls) idle() bool {
	deadline := time.After(failAfter)
	for {
		c.mu.Lock()
		n := c.running
		c.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-c.poke:
		case <-deadline:
			return false
		}
	}
}

func (c *calls) add(a Args) {
	var vals []string
	for k, v := range a.values {
		vals = append(vals, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(vals)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, strings.TrimSpace(a.Command()+" "+strings.Join(vals, " ")))
}

func (c *calls) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// fakeSetup tunes the fake command set.
type fakeSetup struct {
	bindings int           // lines `show bindings` prints
	started  chan struct{} // `show slow` signals it started, if set
	release  chan struct{} // `show stuck` ignores its context until this closes
}

// fakeTree is the command set the lead will register (show, leasequery,
// clear, debug), with handlers that record their arguments and print
// something, plus commands only tests need: set (to make "s" ambiguous),
// show slow (waits for Ctrl-C), show stuck (ignores it), show flood
// (endless output), crash (panics).
func fakeTree(rec *calls, setup fakeSetup) *Tree {
	if setup.bindings == 0 {
		setup.bindings = 50
	}
	say := func(text string) Handler {
		return func(ctx context.Context, a Args, out io.Writer) error {
			defer rec.begin()()
			rec.add(a)
			_, err := io.WriteString(out, text)
			return err
		}
	}
	t := NewTree()
	show := t.Word("show", "Show state")
	bindings := func(ctx context.Context, a Args, out io.Writer) error {
		defer rec.begin()()
		rec.add(a)
		for i := 1; i <= setup.bindings; i++ {
			if _, err := fmt.Fprintf(out, "binding %d 10.0.0.%d\n", i, i); err != nil {
				return err
			}
		}
		return nil
	}
	b := show.Word("bindings", "Bindings in the location table").Handle(bindings)
	b.Word("port", "Bindings on a port").Arg("port", FreeWord, "Port name").Handle(bindings)
	b.Word("ip", "Binding of an address").Arg("ip", IPv4Addr, "IPv4 address").Handle(bindings)
	b.Word("mac", "Bindings of a host").Arg("mac", MACAddr, "Host MAC").Handle(bindings)
	b.Word("modem", "Bindings behind a modem").Arg("modem", MACAddr, "Modem MAC").Handle(bindings)
	show.Word("binding", "One binding").Arg("addr", IPv4Addr, "IPv4 address").Handle(say("one binding\n"))
	for _, w := range []string{"servers", "ports", "counters", "nft", "config"} {
		show.Word(w, "Show "+w).Handle(say(w + " output\n"))
	}
	show.Word("slow", "Wait until interrupted").Handle(func(ctx context.Context, a Args, out io.Writer) error {
		defer rec.begin()()
		rec.add(a)
		if setup.started != nil {
			close(setup.started)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if setup.release != nil {
		show.Word("stuck", "Ignore Ctrl-C").Handle(func(ctx context.Context, a Args, out io.Writer) error {
			defer rec.begin()()
			rec.add(a)
			<-setup.release
			return nil
		})
	}
	show.Word("flood", "Endless output").Handle(func(ctx context.Context, a Args, out io.Writer) error {
		defer rec.begin()()
		line := []byte(strings.Repeat("x", 70) + "\n")
		for {
			if _, err := out.Write(line); err != nil {
				return err
			}
		}
	})
	lq := t.Word("leasequery", "Ask the DHCP servers")
	lq.Word("ip", "By address").Arg("ip", IPv4Addr, "IPv4 address").Handle(say("lq ip\n"))
	lq.Word("mac", "By MAC").Arg("mac", MACAddr, "Host MAC").Handle(say("lq mac\n"))
	lq.Word("client-id", "By client identifier").Arg("id", HexBytes, "Client identifier").Handle(say("lq id\n"))
	clr := t.Word("clear", "Clear state")
	clr.Word("binding", "Remove a binding").Arg("addr", IPv4Addr, "IPv4 address").Handle(say(""))
	clr.Word("counters", "Zero the counters").Handle(say(""))
	t.Word("debug", "Debug traces").
		Choice("what", Keyword{"relay", "DHCP relay"}, Keyword{"lq", "Leasequery"}, Keyword{"nft", "nftables"}, Keyword{"glean", "Gleaning"}).
		Choice("state", Keyword{"on", "Start"}, Keyword{"off", "Stop"}).
		Handle(say(""))
	t.Word("set", "Set something").Arg("value", Integer(1, 10), "A value").Handle(func(ctx context.Context, a Args, out io.Writer) error {
		rec.add(a)
		return errors.New("value refused")
	})
	t.Word("crash", "Panic").Handle(func(ctx context.Context, a Args, out io.Writer) error {
		rec.add(a)
		panic("fake handler bug")
	})
	return t
}

// fakeClock is virtual time: timers fire when Advance passes them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) At(t time.Time) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan time.Time, 1)
	if !t.After(f.now) {
		c <- f.now
		return c
	}
	f.timers = append(f.timers, fakeTimer{t, c})
	return c
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(f.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- f.now
	}
	f.timers = kept
}

// screen is a minimal VT100: printable characters, CR, LF, BS, ESC [ K,
// autowrap; other escape sequences and BEL are ignored. It shows what the
// operator would see.
type screen struct {
	width    int
	rows     [][]byte
	row, col int
	esc      int // 0 none, 1 after ESC, 2 in CSI
}

func newScreen(width int) *screen { return &screen{width: width, rows: [][]byte{nil}} }

func (s *screen) Write(p []byte) (int, error) {
	for _, b := range p {
		s.put(b)
	}
	return len(p), nil
}

func (s *screen) put(b byte) {
	switch {
	case s.esc == 1:
		s.esc = 0
		if b == '[' {
			s.esc = 2
		}
	case s.esc == 2:
		if b >= 0x40 && b <= 0x7e {
			s.esc = 0
			if b == 'K' {
				r := s.rows[s.row]
				s.rows[s.row] = r[:min(len(r), s.col)]
			}
		}
	case b == 0x1b:
		s.esc = 1
	case b == '\r':
		s.col = 0
	case b == '\n':
		s.row++
		if s.row == len(s.rows) {
			s.rows = append(s.rows, nil)
		}
	case b == '\b':
		s.col = max(s.col-1, 0)
	case b >= 0x20 && b < 0x7f:
		if s.col == s.width {
			s.col = 0
			s.put('\n')
		}
		r := s.rows[s.row]
		for len(r) <= s.col {
			r = append(r, ' ')
		}
		r[s.col] = b
		s.rows[s.row] = r
		s.col++
	}
}

// line is row i from the top; negative counts back from the cursor's row,
// -1 being the cursor's row.
func (s *screen) line(i int) string {
	if i < 0 {
		i = s.row + 1 + i
	}
	if i < 0 || i >= len(s.rows) {
		return ""
	}
	return strings.TrimRight(string(s.rows[i]), " ")
}
