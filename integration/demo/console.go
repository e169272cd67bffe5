package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
)

// console is the demo's end of the agent's serial console: a
// pseudo-terminal whose other end the agent opens as its console device.
type console struct {
	device string
	ptmx   *os.File

	mu  sync.Mutex
	out bytes.Buffer
}

func newConsole(d *demo) *console {
	ptmx, tty, err := pty.Open()
	if err != nil {
		d.Fatalf("pseudo-terminal: %v", err)
	}
	c := &console{device: tty.Name(), ptmx: ptmx}
	d.Cleanup(func() { ptmx.Close(); tty.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			c.mu.Lock()
			c.out.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// run types a command line and returns what the console printed up to the
// next prompt, shown as on the engineer's screen.
func (c *console) run(d *demo, line string) string {
	c.mu.Lock()
	c.out.Reset()
	c.mu.Unlock()
	fmt.Fprintf(c.ptmx, "%s\r", line)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		s := c.out.String()
		c.mu.Unlock()
		if len(s) > len(line)+4 && strings.HasSuffix(s, "> ") {
			return "   " + strings.ReplaceAll(strings.TrimRight(s, "\r\n"), "\r\n", "\n   ") + "\n"
		}
		time.Sleep(50 * time.Millisecond) // polling a terminal for a person to read
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d.Fatalf("console did not answer %q; it printed:\n%s", line, c.out.String())
	return ""
}

// waitPrompt presses Enter until the console shows its prompt: the agent
// opens the port (and discards what was typed before) when it starts.
func (c *console) waitPrompt(d *demo) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		fmt.Fprint(c.ptmx, "\r")
		time.Sleep(300 * time.Millisecond) // a person pressing Enter
		c.mu.Lock()
		s := c.out.String()
		c.mu.Unlock()
		if strings.HasSuffix(s, "> ") {
			return
		}
	}
	d.Fatalf("the console never showed its prompt")
}
