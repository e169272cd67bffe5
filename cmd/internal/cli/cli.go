// Package cli is the serial console's command set: the commands an
// operator types on the line card's console, registered on the console
// engine (cmd/internal/console) and carried out by the operations layer
// (cmd/internal/ops). Its renderers also print `leaseguard ctl` output, so
// the console and the management client show the same tables.
package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/leaseguard/leaseguard/cmd/internal/console"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
)

// DebugSubsystems are the subsystems `debug X on|off` traces.
var DebugSubsystems = []console.Keyword{
	{Name: "relay", Help: "DHCP relay: messages relayed and dropped"},
	{Name: "lq", Help: "Leasequery client: queries, answers, server timers"},
	{Name: "nft", Help: "Anti-spoof rules: programming and reports"},
	{Name: "glean", Help: "Gleaning: bindings learnt, renewed, removed"},
	{Name: "bpi", Help: "BPI+: key requests, replies and rollovers, frames dropped, leasequeries started"},
}

var levels = []console.Keyword{
	{Name: "debug", Help: "Everything"}, {Name: "info", Help: "Normal operation (default)"},
	{Name: "warn", Help: "Problems only"}, {Name: "error", Help: "Failures only"},
	{Name: "default", Help: "Follow the global level (per subsystem)"},
}

// New builds the console for o: the command tree on the console engine,
// with debug traces of o's loggers shown on its sessions.
func New(o *ops.Ops, cfg console.Config) (*console.Console, error) {
	con, err := console.New(cfg, Tree(o))
	if err != nil {
		return nil, err
	}
	o.Logs().SetTracer(con)
	return con, nil
}

// Tree is the command set.
func Tree(o *ops.Ops) *console.Tree {
	c := commands{o: o}
	t := console.NewTree()
	show := t.Word("show", "Show state")
	b := show.Word("bindings", "Bindings in the location table").Handle(c.showBindings)
	b.Word("port", "Bindings behind a port").Arg("port", console.FreeWord, "Port name").Handle(c.showBindings)
	b.Word("ip", "The binding of an address").Arg("ip", console.IPv4Addr, "IPv4 address").Handle(c.showBindings)
	b.Word("mac", "Bindings of a client hardware address").Arg("mac", console.MACAddr, "Client MAC").Handle(c.showBindings)
	b.Word("modem", "Bindings behind a cable modem").Arg("modem", console.MACAddr, "Modem MAC").Handle(c.showBindings)
	show.Word("binding", "One binding in detail").Arg("ip", console.IPv4Addr, "IPv4 address").Handle(c.showBinding)
	show.Word("servers", "DHCP servers: leasequery timers, windows, answers").Handle(c.showServers)
	show.Word("ports", "Subscriber ports: bindings and counters").Handle(c.showPorts)
	show.Word("counters", "Relay, table, leasequery and BPI+ counters").Handle(c.showCounters)
	show.Word("nft", "Anti-spoof rules: allowed set, drops, programming").Handle(c.showNft)
	bp := show.Word("bpi", "BPI+ encryption: modems, keys, counters").Handle(c.showBPI)
	bp.Word("modem", "One modem's privacy and keys").Arg("modem", console.MACAddr, "Modem MAC").Handle(c.showBPIModem)
	show.Word("config", "The running configuration").Handle(c.showConfig)
	show.Word("logging", "Log levels and debug traces").Handle(c.showLogging)

	l := t.Word("leasequery", "Ask every DHCP server where a client is (RFC 4388)")
	l.Word("ip", "By IPv4 address").Arg("ip", console.IPv4Addr, "IPv4 address").Handle(c.leasequery)
	l.Word("mac", "By client hardware address").Arg("mac", console.MACAddr, "Client MAC").Handle(c.leasequery)
	l.Word("client-id", "By client identifier (option 61)").Arg("id", console.HexBytes, "Hex, type byte first").Handle(c.leasequery)

	clear := t.Word("clear", "Clear state")
	clear.Word("binding", "Remove a binding and its anti-spoof entry").Arg("ip", console.IPv4Addr, "IPv4 address").Handle(c.clearBinding)
	clear.Word("counters", "Start the counters shown from zero").Handle(c.clearCounters)

	t.Word("debug", "Trace a subsystem on the console").
		Choice("subsystem", DebugSubsystems...).
		Choice("state", console.Keyword{Name: "on", Help: "Start tracing"}, console.Keyword{Name: "off", Help: "Stop tracing"}).
		Handle(c.debug)
	subs := append([]console.Keyword{{Name: "all", Help: "The global level"}}, DebugSubsystems...)
	subs = append(subs, console.Keyword{Name: "console", Help: "This console"},
		console.Keyword{Name: "api", Help: "Management API"}, console.Keyword{Name: "board", Help: "Board"},
		console.Keyword{Name: "agent", Help: "Agent tasks"})
	t.Word("logging", "Log settings").Word("level", "Set a log level").
		Choice("subsystem", subs...).Choice("level", levels...).Handle(c.logLevel)
	return t
}

type commands struct{ o *ops.Ops }

func (c commands) showBindings(_ context.Context, a console.Args, out io.Writer) error {
	f := ops.BindingFilter{Port: a.String("port"), IP: a.Addr("ip"), MAC: a.MAC("mac"), Modem: a.MAC("modem")}
	if f.Port != "" && !slices.Contains(c.o.PortNames(), f.Port) {
		return fmt.Errorf("no port named %q (ports: %s)", f.Port, strings.Join(c.o.PortNames(), ", "))
	}
	page, err := c.o.Bindings(f)
	if err != nil {
		return err
	}
	return WriteBindings(out, page, c.o.Now())
}

func (c commands) showBinding(_ context.Context, a console.Args, out io.Writer) error {
	b, err := c.o.Binding(a.Addr("ip"))
	if err != nil {
		return err
	}
	return WriteBinding(out, b, c.o.Now())
}

func (c commands) showServers(_ context.Context, _ console.Args, out io.Writer) error {
	s, err := c.o.Servers()
	if err != nil {
		return err
	}
	return WriteServers(out, s, c.o.Now())
}

func (c commands) showPorts(_ context.Context, _ console.Args, out io.Writer) error {
	p, err := c.o.Ports()
	if err != nil {
		return err
	}
	return WritePorts(out, p)
}

func (c commands) showCounters(_ context.Context, _ console.Args, out io.Writer) error {
	return WriteCounters(out, c.o.Counters(), c.o.Now())
}

func (c commands) showNft(_ context.Context, _ console.Args, out io.Writer) error {
	n, err := c.o.Nft()
	if err != nil {
		return err
	}
	return WriteNft(out, n)
}

func (c commands) showBPI(_ context.Context, _ console.Args, out io.Writer) error {
	b, err := c.o.BPI()
	if err != nil {
		return err
	}
	return WriteBPI(out, b, c.o.Now())
}

func (c commands) showBPIModem(_ context.Context, a console.Args, out io.Writer) error {
	m, err := c.o.BPIModem(a.MAC("modem"))
	if err != nil {
		return err
	}
	return WriteBPIModem(out, m, c.o.Now())
}

func (c commands) showConfig(_ context.Context, _ console.Args, out io.Writer) error {
	return WriteConfig(out, c.o.Config(), c.o.Now())
}

func (c commands) showLogging(_ context.Context, _ console.Args, out io.Writer) error {
	return WriteLogging(out, c.o.Logs().State())
}

func (c commands) leasequery(ctx context.Context, a console.Args, out io.Writer) error {
	var q lq.Query
	switch {
	case a.Has("ip"):
		q = lq.Query{Kind: lq.ByIP, IP: a.Addr("ip")}
	case a.Has("mac"):
		q = lq.Query{Kind: lq.ByMAC, HType: 1, HWAddr: a.MAC("mac")}
	default:
		q = lq.Query{Kind: lq.ByClientID, ClientID: a.Bytes("id")}
	}
	n, servers := len(c.o.Config().Config.Servers), "servers"
	if n == 1 {
		servers = "server"
	}
	if _, err := fmt.Fprintf(out, "Asking %d %s (Ctrl-C stops waiting)...\n", n, servers); err != nil {
		return err
	}
	r, err := c.o.Leasequery(ctx, q)
	if err != nil {
		return err
	}
	return WriteLeasequery(out, r)
}

func (c commands) clearBinding(_ context.Context, a console.Args, out io.Writer) error {
	b, err := c.o.ClearBinding(a.Addr("ip"), "console")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "Cleared %v (%s on %s)\n", b.IP, b.MAC, orDash(b.Port))
	return err
}

func (c commands) clearCounters(_ context.Context, _ console.Args, out io.Writer) error {
	if err := c.o.ClearCounters("console"); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out, "Counters cleared.")
	return err
}

func (c commands) debug(_ context.Context, a console.Args, out io.Writer) error {
	sub, on := a.String("subsystem"), a.String("state") == "on"
	if err := c.o.Logs().SetDebug(sub, on); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "%s debugging is %s\n", sub, a.String("state"))
	return err
}

func (c commands) logLevel(_ context.Context, a console.Args, out io.Writer) error {
	sub, level := a.String("subsystem"), a.String("level")
	if err := c.o.Logs().SetLevel(sub, level); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "Log level of %s: %s\n", sub, level)
	return err
}
