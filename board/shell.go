package board

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// ConsoleShell runs each line read from in as `shell -c LINE`, with output
// to out, printing a "# " prompt before each line, until in ends or ctx is
// done. It is the console shell of the image (leaseguard.shell=1): u-root's
// gosh edits lines with a terminal library that waits for answers to
// cursor-position queries, which a serial console under test never sends,
// so the line editing is left to the console's own tty and gosh only runs
// the line. State such as `cd` does not carry from one line to the next.
func ConsoleShell(ctx context.Context, in io.Reader, out io.Writer, shell string) error {
	sc := bufio.NewScanner(in)
	for {
		fmt.Fprint(out, "# ")
		if !sc.Scan() {
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		cmd := exec.CommandContext(ctx, shell, "-c", line)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(out, "%s: %v\n", shell, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
