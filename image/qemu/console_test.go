package qemu

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hang bounds waits that must succeed at once; it asserts nothing about speed.
const hang = 10 * time.Second

func TestConsoleWaitForAdvancesSeenDoesNot(t *testing.T) {
	c := NewConsole(time.Now(), nil)
	c.Write([]byte("boot\nagent ready\n# "))
	prompt := regexp.MustCompile(`# `)
	if _, err := c.WaitFor(prompt, hang); err != nil {
		t.Fatal(err)
	}
	// The agent's line is behind the cursor now: WaitFor would not see
	// it again, Seen does, and leaves the cursor where it was.
	m, err := c.Seen(regexp.MustCompile(`agent (\w+)`), hang)
	if err != nil {
		t.Fatal(err)
	}
	if m.Groups[1] != "ready" {
		t.Errorf("Seen groups %q, want [agent ready, ready]", m.Groups)
	}
	got := make(chan string)
	go func() {
		m, err := c.WaitFor(prompt, hang)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- m.Groups[0]
	}()
	c.Write([]byte("out\n# "))
	if g := <-got; g != "# " {
		t.Errorf("second WaitFor(prompt) = %q, want the second prompt", g)
	}
}

func TestConsoleSeenWaitsForLaterOutput(t *testing.T) {
	c := NewConsole(time.Now(), nil)
	done := make(chan error)
	go func() {
		_, err := c.Seen(regexp.MustCompile(`agent ready`), hang)
		done <- err
	}()
	c.Write([]byte("agent "))
	c.Write([]byte("ready\n"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestConsoleSeenFailsWhenClosed(t *testing.T) {
	c := NewConsole(time.Now(), nil)
	c.Write([]byte("panic\n"))
	c.CloseWithError(errors.New("qemu stopped"))
	_, err := c.Seen(regexp.MustCompile(`agent ready`), hang)
	if err == nil || !strings.Contains(err.Error(), "qemu stopped") || !strings.Contains(err.Error(), "panic") {
		t.Errorf("Seen on a closed console: %v, want the close error and the last output", err)
	}
}
