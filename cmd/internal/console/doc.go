// Package console is the serial console's command-line engine, in the
// habits of network equipment: a command tree with abbreviations
// ("sh bi" is "show bindings"), '?' help and TAB completion anywhere,
// Emacs-style line editing with history, --More-- paging, an optional
// password with lockout, an idle logout, and debug traces shown between
// prompts without disturbing the line being typed.
//
// The caller builds a Tree of commands, each a handler
//
//	func(ctx context.Context, args Args, out io.Writer) error
//
// creates a Console with New, and serves it on a port (a UART from
// platform/serial, or a pseudo-terminal) with Serve. Trace pushes lines
// (packet traces after `debug relay on`) to every logged-in session.
//
//	t := console.NewTree()
//	show := t.Word("show", "Show state")
//	b := show.Word("bindings", "Bindings in the location table").Handle(showBindings)
//	b.Word("ip", "The binding of an address").Arg("addr", console.IPv4Addr, "IPv4 address").Handle(showBindings)
//	t.Word("debug", "Debug traces").
//		Choice("what", console.Keyword{Name: "relay", Help: "DHCP relay"}, console.Keyword{Name: "lq", Help: "Leasequery"}).
//		Choice("state", console.Keyword{Name: "on", Help: "Start"}, console.Keyword{Name: "off", Help: "Stop"}).
//		Handle(setDebug)
//	con, err := console.New(console.Config{PasswordHash: cfg.Console.PasswordHash}, t)
//	sup := &serial.Supervisor{Device: profile.CLI.Device, Baud: profile.CLI.Baud, Serve: con.Serve}
//	go sup.Run(ctx)
//	con.Tracef("relay: DISCOVER from %s on %s", mac, port)
//
// The console provides help, exit and terminal length itself.
//
// Robustness: input is decoded byte by byte and anything unknown is
// ignored; lines are bounded; handler output and traces are shown with
// control bytes replaced, so addresses and names learnt from the network
// cannot send escape sequences to the operator's terminal; a terminal
// that stops reading ends Serve after the write timeout instead of
// blocking handlers; a handler that panics is reported, not fatal.
package console
