// Command leaseguard is the line-card component: a DHCPv4 relay with option 82
// and gleaning, an RFC 4388 leasequery client, source-address verification and
// per-modem forwarding. Subcommands only wire packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at link time by the Makefile (-X main.version=...).
var version = "dev"

// usageError is a bad command line: one line on stderr, exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// subcommand is one verb of the leaseguard binary.
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"query", "ask DHCP servers where an address, MAC or client lives (RFC 4388)", runQuery},
		{"version", "print the version", runVersion},
		{"board", "list, detect and prepare line-card profiles; the image's init", runBoard},
		{"agent", "run the line-card agent: relay, gleaning, leasequery (--config FILE)", runAgent},
		{"ctl", "talk to the running agent's management API (--socket PATH)", runCtl},
		{"console", "console utilities: hash-password", runConsole},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and maps its error to an exit code:
// 0 success, 2 bad usage, 1 anything else.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range subcommands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		return exitCode(err, c.name, stderr)
	}
	fmt.Fprintf(stderr, "leaseguard: unknown command %q (try 'leaseguard help')\n", args[0])
	return 2
}

func exitCode(err error, name string, stderr io.Writer) int {
	var ue usageError
	var se silentError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "leaseguard %s: %s\n", name, ue.msg)
		return 2
	case errors.Is(err, context.Canceled):
		return 0
	default:
		fmt.Fprintf(stderr, "leaseguard %s: %v\n", name, err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: leaseguard COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	_, err := fmt.Fprintf(stdout, "leaseguard %s\n", version)
	return err
}
