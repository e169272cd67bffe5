package qemu

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Console is the expect-like view of a serial console: everything the
// guest printed (the transcript), and a cursor that WaitFor advances past
// each match, so waiting twice for the same prompt waits for two prompts.
type Console struct {
	start time.Time
	in    io.Writer // to the guest; nil for a read-only console

	mu       sync.Mutex
	out      []byte
	cursor   int
	changed  chan struct{} // closed and replaced on every write
	closed   bool
	closeErr error
}

// NewConsole returns a console whose times count from start; in carries
// Send's lines to the guest.
func NewConsole(start time.Time, in io.Writer) *Console {
	return &Console{start: start, in: in, changed: make(chan struct{})}
}

// Write records guest output.
func (c *Console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, b...)
	close(c.changed)
	c.changed = make(chan struct{})
	return len(b), nil
}

// CloseWithError marks the console ended (QEMU exited): waits fail at once.
func (c *Console) CloseWithError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed, c.closeErr = true, err
		close(c.changed)
	}
}

// Match is one WaitFor result.
type Match struct {
	Groups []string      // the match and its submatches
	At     time.Duration // since the console started, when the match was complete
}

// Seen waits until anything the console printed, before or after the
// cursor, matches re, and returns the first match; the cursor stays. It
// is for lines that may come between the answers WaitFor consumes, like
// a daemon's log.
func (c *Console) Seen(re *regexp.Regexp, timeout time.Duration) (Match, error) {
	return c.wait(re, timeout, false)
}

// WaitFor waits until the output after the cursor matches re, moves the
// cursor past the match and returns it. The timeout bounds a hang; it
// asserts nothing about speed.
func (c *Console) WaitFor(re *regexp.Regexp, timeout time.Duration) (Match, error) {
	return c.wait(re, timeout, true)
}

func (c *Console) wait(re *regexp.Regexp, timeout time.Duration, advance bool) (Match, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		m, ok := c.matchLocked(re, advance)
		changed, closed, closeErr := c.changed, c.closed, c.closeErr
		c.mu.Unlock()
		if ok {
			return m, nil
		}
		if closed {
			return Match{}, fmt.Errorf("console ended (%v) before %q; last output:\n%s", closeErr, re, c.Tail(30))
		}
		select {
		case <-changed:
		case <-deadline.C:
			return Match{}, fmt.Errorf("no %q on the console within %v; last output:\n%s", re, timeout, c.Tail(30))
		}
	}
}

// matchLocked matches re after the cursor, moving it past the match, or
// (advance false) anywhere, leaving it.
func (c *Console) matchLocked(re *regexp.Regexp, advance bool) (Match, bool) {
	from := c.cursor
	if !advance {
		from = 0
	}
	loc := re.FindSubmatchIndex(c.out[from:])
	if loc == nil {
		return Match{}, false
	}
	var groups []string
	for i := 0; i < len(loc); i += 2 {
		if loc[i] < 0 {
			groups = append(groups, "")
			continue
		}
		groups = append(groups, string(c.out[from+loc[i]:from+loc[i+1]]))
	}
	if advance {
		c.cursor = from + loc[1]
	}
	return Match{Groups: groups, At: time.Since(c.start)}, true
}

// Send types line and a carriage return on the console, as a person at a
// serial terminal would.
func (c *Console) Send(line string) error {
	if c.in == nil {
		return fmt.Errorf("console is read-only")
	}
	_, err := io.WriteString(c.in, line+"\r")
	return err
}

// Transcript is everything the console printed so far.
func (c *Console) Transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

// Tail is the last n lines of the transcript.
func (c *Console) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(c.Transcript(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
