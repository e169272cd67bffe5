package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/cli"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

const ctlUsage = `usage: leaseguard ctl [--socket PATH] [--json] COMMAND [ARGS]

Talks to the running agent's management API on its Unix socket.

  bindings [--port P] [--ip A] [--mac M] [--modem M] [--source S] [--limit N]
  binding IP
  servers | ports | counters | nft | bpi | logging | metrics
  leasequery --ip A | --mac M | --client-id HEX
  config get | config validate FILE | config apply FILE [--if-generation N]
  events [--after SEQ]                 follow events, one JSON object per line
  clear binding IP | clear counters
  debug SUBSYSTEM on|off               trace a subsystem on the console
  log-level SUBSYSTEM|all LEVEL        debug, info, warn, error, default

Exit status: 0 done, 1 refused or failed (the agent's message is printed), 2 bad usage.`

// ctl is one invocation of `leaseguard ctl`.
type ctl struct {
	client *mgmt.Client
	json   bool
	stdout io.Writer
	stderr io.Writer
}

func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", config.DefaultAPISocket, "the API's Unix socket")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of tables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, ctlUsage)
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() == 0 {
		return usagef("a command is needed (try 'leaseguard ctl --help')")
	}
	c := &ctl{client: mgmt.NewUnixClient(*socket), json: *asJSON, stdout: stdout, stderr: stderr}
	err := c.dispatch(ctx, fs.Arg(0), fs.Args()[1:])
	return ctlError(err)
}

// ctlError prints the API's refusal with its field and problems.
func ctlError(err error) error {
	var apiErr *mgmt.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	msg := apiErr.ErrorBody.Error
	if apiErr.Field != "" {
		msg += " [" + apiErr.Field + "]"
	}
	for _, p := range apiErr.Problems[min(1, len(apiErr.Problems)):] {
		msg += "\n  " + p.Message
	}
	return errors.New(msg)
}

func (c *ctl) dispatch(ctx context.Context, cmd string, args []string) error {
	simple := map[string]func(context.Context) error{
		"servers": c.servers, "ports": c.ports, "counters": c.counters, "nft": c.nft, "bpi": c.bpi, "logging": c.logging, "metrics": c.metrics,
	}
	if f, ok := simple[cmd]; ok {
		if len(args) > 0 {
			return usagef("%s takes no arguments", cmd)
		}
		return f(ctx)
	}
	switch cmd {
	case "bindings":
		return c.bindings(ctx, args)
	case "binding":
		return c.binding(ctx, args)
	case "leasequery":
		return c.leasequery(ctx, args)
	case "config":
		return c.config(ctx, args)
	case "events":
		return c.events(ctx, args)
	case "clear":
		return c.clear(ctx, args)
	case "debug":
		return c.debug(ctx, args)
	case "log-level":
		return c.logLevel(ctx, args)
	}
	return usagef("unknown command %q (try 'leaseguard ctl --help')", cmd)
}

// show prints v as JSON with --json, else with render.
func (c *ctl) show(v any, render func(io.Writer) error) error {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return render(c.stdout)
}

func (c *ctl) bindings(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bindings", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var q mgmt.BindingQuery
	fs.StringVar(&q.Port, "port", "", "port name")
	fs.StringVar(&q.IP, "ip", "", "address")
	fs.StringVar(&q.MAC, "mac", "", "client MAC")
	fs.StringVar(&q.Modem, "modem", "", "modem MAC")
	fs.StringVar(&q.Source, "source", "", "gleaned, leasequery or snapshot")
	limit := fs.Int("limit", 0, "show at most N (default: all)")
	if err := parseAll(fs, args, 0); err != nil {
		return err
	}
	page, err := c.allBindings(ctx, q, *limit)
	if err != nil {
		return err
	}
	return c.show(page, func(w io.Writer) error { return cli.WriteBindings(w, page, time.Now()) })
}

// allBindings reads pages until limit (0: all) bindings are read.
func (c *ctl) allBindings(ctx context.Context, q mgmt.BindingQuery, limit int) (ops.BindingPage, error) {
	var all ops.BindingPage
	for {
		q.Limit = ops.MaxPage
		if limit > 0 {
			q.Limit = min(ops.MaxPage, limit-len(all.Bindings))
		}
		page, err := c.client.Bindings(ctx, q)
		if err != nil {
			return all, err
		}
		all.Bindings = append(all.Bindings, page.Bindings...)
		all.Total = page.Total
		if page.Next == "" || (limit > 0 && len(all.Bindings) >= limit) {
			all.Next = page.Next
			return all, nil
		}
		q.Cursor = page.Next
	}
}

func (c *ctl) binding(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usagef("binding takes one address")
	}
	b, err := c.client.Binding(ctx, args[0])
	if err != nil {
		return err
	}
	return c.show(b, func(w io.Writer) error { return cli.WriteBinding(w, b, time.Now()) })
}

func (c *ctl) servers(ctx context.Context) error {
	s, err := c.client.Servers(ctx)
	if err != nil {
		return err
	}
	return c.show(mgmt.ServerList{Servers: s}, func(w io.Writer) error { return cli.WriteServers(w, s, time.Now()) })
}

func (c *ctl) ports(ctx context.Context) error {
	p, err := c.client.Ports(ctx)
	if err != nil {
		return err
	}
	return c.show(mgmt.PortList{Ports: p}, func(w io.Writer) error { return cli.WritePorts(w, p) })
}

func (c *ctl) counters(ctx context.Context) error {
	n, err := c.client.Counters(ctx)
	if err != nil {
		return err
	}
	return c.show(n, func(w io.Writer) error { return cli.WriteCounters(w, n, time.Now()) })
}

func (c *ctl) nft(ctx context.Context) error {
	n, err := c.client.Nft(ctx)
	if err != nil {
		return err
	}
	return c.show(n, func(w io.Writer) error { return cli.WriteNft(w, n) })
}

func (c *ctl) bpi(ctx context.Context) error {
	b, err := c.client.BPI(ctx)
	if err != nil {
		return err
	}
	return c.show(b, func(w io.Writer) error { return cli.WriteBPI(w, b, time.Now()) })
}

func (c *ctl) logging(ctx context.Context) error {
	l, err := c.client.Logging(ctx)
	if err != nil {
		return err
	}
	return c.show(l, func(w io.Writer) error { return cli.WriteLogging(w, l) })
}

func (c *ctl) metrics(ctx context.Context) error {
	text, err := c.client.Metrics(ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.stdout, text)
	return err
}

func (c *ctl) leasequery(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("leasequery", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var req mgmt.LeasequeryRequest
	fs.StringVar(&req.IP, "ip", "", "by address")
	fs.StringVar(&req.MAC, "mac", "", "by client MAC")
	fs.StringVar(&req.ClientID, "client-id", "", "by client identifier (hex, type octet first)")
	if err := parseAll(fs, args, 0); err != nil {
		return err
	}
	if countSet(req.IP, req.MAC, req.ClientID) != 1 {
		return usagef("leasequery takes exactly one of --ip, --mac, --client-id")
	}
	r, err := c.client.Leasequery(ctx, req)
	if err != nil {
		return err
	}
	if err := c.show(r, func(w io.Writer) error { return cli.WriteLeasequery(w, r) }); err != nil {
		return err
	}
	if r.Type == "none" {
		return silentError{"no server answered"}
	}
	return nil
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

func (c *ctl) config(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("config needs get, validate FILE or apply FILE")
	}
	switch args[0] {
	case "get":
		if len(args) != 1 {
			return usagef("config get takes no arguments")
		}
		st, err := c.client.Config(ctx)
		if err != nil {
			return err
		}
		if c.json {
			return c.show(st, nil)
		}
		fmt.Fprintf(c.stderr, "# generation %d (apply an edited copy with --if-generation %d)\n", st.Generation, st.Generation)
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st.Config)
	case "validate", "apply":
		return c.configFile(ctx, args[0], args[1:])
	}
	return usagef("unknown config command %q (get, validate, apply)", args[0])
}

func (c *ctl) configFile(ctx context.Context, verb string, args []string) error {
	fs := flag.NewFlagSet("config "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	gen := fs.Uint64("if-generation", 0, "apply only if this generation is running")
	if err := parseAll(fs, args, 1); err != nil {
		return err
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return usagef("%v", err)
	}
	if verb == "validate" {
		if err := c.client.ValidateConfig(ctx, data); err != nil {
			return err
		}
		_, err := fmt.Fprintf(c.stdout, "%s: valid\n", fs.Arg(0))
		return err
	}
	st, err := c.client.ApplyConfig(ctx, data, *gen)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s: applied, generation %d\n", fs.Arg(0), st.Generation)
	return err
}

func (c *ctl) events(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	after := fs.Uint64("after", 0, "resume after this event's seq (default: from now)")
	if err := parseAll(fs, args, 0); err != nil {
		return err
	}
	enc := json.NewEncoder(c.stdout)
	_, err := c.client.Events(ctx, *after, func(e ops.Event) error { return enc.Encode(e) })
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *ctl) clear(ctx context.Context, args []string) error {
	switch {
	case len(args) == 2 && args[0] == "binding":
		b, err := c.client.ClearBinding(ctx, args[1])
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "Cleared %v (%s on %s)\n", b.IP, b.MAC, b.Port)
		return err
	case len(args) == 1 && args[0] == "counters":
		if err := c.client.ClearCounters(ctx); err != nil {
			return err
		}
		_, err := fmt.Fprintln(c.stdout, "Counters cleared.")
		return err
	}
	return usagef("clear binding IP | clear counters")
}

func (c *ctl) debug(ctx context.Context, args []string) error {
	if len(args) != 2 || (args[1] != "on" && args[1] != "off") {
		return usagef("debug SUBSYSTEM on|off")
	}
	l, err := c.client.SetDebug(ctx, args[0], args[1] == "on")
	if err != nil {
		return err
	}
	return c.show(l, func(w io.Writer) error { return cli.WriteLogging(w, l) })
}

func (c *ctl) logLevel(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return usagef("log-level SUBSYSTEM|all LEVEL")
	}
	l, err := c.client.SetLogLevel(ctx, args[0], args[1])
	if err != nil {
		return err
	}
	return c.show(l, func(w io.Writer) error { return cli.WriteLogging(w, l) })
}

// parseAll parses flags that may come before or after n positional
// arguments, and checks their count.
func parseAll(fs *flag.FlagSet, args []string, n int) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != n {
		return usagef("%s takes %s", fs.Name(), plural(n, "argument"))
	}
	return fs.Parse(pos) // leaves pos as fs.Args()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
