package qemu

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
)

// CLI is an operator's session on the agent's serial console, the
// board's CLI port, through QEMU's socket for that port. Its Console
// records everything the agent printed there since OpenCLI (the
// transcript a failing test shows).
type CLI struct {
	Console *Console
	conn    net.Conn
	prompt  *regexp.Regexp
}

// greetingRE is the console's line before its first prompt.
var greetingRE = regexp.MustCompile(`Press RETURN to get started\.`)

// OpenCLI connects to vm's CLI port. Call it as soon as QEMU runs: QEMU
// drops what the guest writes while nobody is connected, and the
// console greets only once, when the agent opens the port.
func OpenCLI(vm *VM, timeout time.Duration) (*CLI, error) {
	conn, err := vm.DialCLI(timeout)
	if err != nil {
		return nil, err
	}
	c := &CLI{Console: NewConsole(time.Now(), conn), conn: conn}
	go func() {
		_, err := io.Copy(c.Console, conn)
		c.Console.CloseWithError(fmt.Errorf("CLI port closed: %v", err))
	}()
	return c, nil
}

// Close disconnects; the transcript stays.
func (c *CLI) Close() error { return c.conn.Close() }

// Login waits for the agent's greeting, presses Return, waits for prompt
// (the console's, e.g. "card7> ") and turns paging off for the session.
func (c *CLI) Login(prompt string, timeout time.Duration) error {
	c.prompt = regexp.MustCompile(regexp.QuoteMeta(prompt))
	if _, err := c.Console.WaitFor(greetingRE, timeout); err != nil {
		return fmt.Errorf("CLI greeting: %w", err)
	}
	if err := c.Console.Send(""); err != nil {
		return err
	}
	if _, err := c.Console.WaitFor(c.prompt, timeout); err != nil {
		return fmt.Errorf("CLI prompt after Return: %w", err)
	}
	_, err := c.Run("terminal length 0", timeout)
	return err
}

// Run types line at the prompt and returns what the command printed:
// the lines after the echoed command line, up to the next prompt, with
// CRLF as "\n". A refusal or failure (a line starting "% ") is an error
// naming the command.
func (c *CLI) Run(line string, timeout time.Duration) (string, error) {
	if c.prompt == nil {
		return "", fmt.Errorf("CLI %q: not logged in", line)
	}
	if err := c.Console.Send(line); err != nil {
		return "", err
	}
	re := regexp.MustCompile(`(?s)\A(.*?)` + c.prompt.String())
	m, err := c.Console.WaitFor(re, timeout)
	if err != nil {
		return "", fmt.Errorf("CLI %q: %w", line, err)
	}
	out := commandOutput(m.Groups[1])
	if e := regexp.MustCompile(`(?m)^% .*`).FindString(out); e != "" {
		return out, fmt.Errorf("CLI %q: %s", line, e)
	}
	return out, nil
}

// commandOutput drops the echo of the command line (the line editor's
// output up to the first line break) from what came before the prompt.
func commandOutput(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	_, out, ok := strings.Cut(s, "\n")
	if !ok {
		return ""
	}
	return strings.ReplaceAll(out, "\r", "")
}
