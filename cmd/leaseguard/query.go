package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/platform"
)

// queryOptions is the parsed command line of `leaseguard query`.
type queryOptions struct {
	servers  []netip.Addr
	giaddr   netip.Addr
	device   string
	query    lq.Query     // one query, or
	sweep    netip.Prefix // every address of a prefix
	request  []uint8      // nil: the codec's default list
	json     bool
	bindings bool // --sweep: list every ACTIVE binding found
	retries  int
	timeout  time.Duration
	window   int
	maxOut   int
}

const queryUsage = `usage: leaseguard query --server A[,B...] --giaddr G (--ip IP | --mac MAC | --client-id HEX | --sweep CIDR) [flags]

Asks the DHCP servers with RFC 4388 DHCPLEASEQUERY and prints each server's
answer and the winner (ACTIVE beats UNASSIGNED beats UNKNOWN; among ACTIVEs the
most recent client transaction wins). Answers arrive at giaddr port 67: run it
where G is a local address and no other process holds G:67 (on a card running
the agent, use the agent's console or API instead).
Exit status: 0 when a server answered, 1 when none did, 2 for bad usage.`

func parseQueryFlags(args []string, stderr io.Writer) (queryOptions, error) {
	var o queryOptions
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	servers := fs.String("server", "", "DHCP server addresses, comma separated")
	giaddr := fs.String("giaddr", "", "this concentrator's address: the giaddr the servers answer to")
	fs.StringVar(&o.device, "device", "", "bind the socket to this interface")
	ip := fs.String("ip", "", "query by IP address")
	mac := fs.String("mac", "", "query by MAC address (aa:bb:cc:dd:ee:ff)")
	htype := fs.Uint("htype", 1, "hardware type for --mac")
	clientID := fs.String("client-id", "", "query by client identifier (option 61 payload, hex)")
	sweep := fs.String("sweep", "", "query every address of this IPv4 prefix")
	request := fs.String("request", "", "parameter request list, comma separated option codes")
	fs.BoolVar(&o.json, "json", false, "print JSON: one object per answer (a summary object for --sweep)")
	fs.BoolVar(&o.bindings, "bindings", false, "with --sweep: also list every ACTIVE binding found (JSON: one object each, before the summary)")
	fs.IntVar(&o.retries, "retries", 1, "retransmissions per server (RFC 2131 backoff: 4, 8, 16 ... s; at least 10 s to a server not yet known to answer)")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up after this long (default: none for --sweep, 2m otherwise)")
	fs.IntVar(&o.window, "window", engine.DefaultInitialWindow, "queries in flight per server once it answers (adapts to loss)")
	fs.IntVar(&o.maxOut, "max-outstanding", engine.DefaultMaxWindow, "cap of the window (RFC 4388 §6.7: 100-200)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(stderr, queryUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return o, err
		}
		return o, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.servers, err = parseServers(*servers); err != nil {
		return o, err
	}
	if o.giaddr, err = parseIPv4Flag("giaddr", *giaddr); err != nil {
		return o, err
	}
	if o.request, err = parseRequest(*request); err != nil {
		return o, err
	}
	if o.retries < 1 || o.retries > 16 {
		return o, usagef("--retries %d: want 1-16", o.retries)
	}
	if o.maxOut < 1 || o.maxOut > engine.RFCMaxWindow {
		return o, usagef("--max-outstanding %d: want 1-%d (RFC 4388 §6.7)", o.maxOut, engine.RFCMaxWindow)
	}
	if o.window < 1 || o.window > o.maxOut {
		return o, usagef("--window %d: want 1-%d (--max-outstanding)", o.window, o.maxOut)
	}
	return o, o.parseSubject(*ip, *mac, uint8(*htype), *htype, *clientID, *sweep)
}

// parseSubject reads the one thing asked about: --ip, --mac, --client-id
// or --sweep.
func (o *queryOptions) parseSubject(ip, mac string, htype uint8, htypeFlag uint, clientID, sweep string) error {
	given := 0
	for _, s := range []string{ip, mac, clientID, sweep} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return usagef("give exactly one of --ip, --mac, --client-id, --sweep")
	}
	switch {
	case ip != "":
		a, err := parseIPv4Flag("ip", ip)
		o.query = lq.Query{Kind: lq.ByIP, IP: a}
		return err
	case mac != "":
		hw, err := net.ParseMAC(mac)
		if err != nil || len(hw) > 16 {
			return usagef("--mac %q: not a hardware address like 00:11:22:33:44:55", mac)
		}
		if htypeFlag == 0 || htypeFlag > 255 {
			return usagef("--htype %d: want 1-255", htypeFlag)
		}
		o.query = lq.Query{Kind: lq.ByMAC, HType: htype, HWAddr: hw}
	case clientID != "":
		id, err := hex.DecodeString(strings.NewReplacer(":", "", "-", "").Replace(clientID))
		if err != nil || len(id) < 2 || len(id) > 255 {
			return usagef("--client-id %q: want 2-255 bytes in hex (type byte first, e.g. 01001122334455)", clientID)
		}
		o.query = lq.Query{Kind: lq.ByClientID, ClientID: id}
	default:
		p, err := netip.ParsePrefix(sweep)
		if err != nil || !p.Addr().Is4() {
			return usagef("--sweep %q: not an IPv4 prefix like 192.168.10.0/24", sweep)
		}
		if p.Bits() < 8 {
			return usagef("--sweep %s: larger than a /8; sweep smaller prefixes", p)
		}
		o.sweep = p.Masked()
	}
	return nil
}

func parseServers(s string) ([]netip.Addr, error) {
	if s == "" {
		return nil, usagef("--server is required (one or more DHCP server addresses, comma separated)")
	}
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		a, err := parseIPv4Flag("server", strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		for _, prev := range out {
			if prev == a {
				return nil, usagef("--server %s is given twice", a)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func parseIPv4Flag(name, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, usagef("--%s is required", name)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, usagef("--%s %q: not a usable IPv4 address", name, s)
	}
	return a, nil
}

func parseRequest(s string) ([]uint8, error) {
	if s == "" {
		return nil, nil
	}
	var out []uint8
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 254 {
			return nil, usagef("--request %q: %q is not an option code 1-254", s, f)
		}
		out = append(out, uint8(n))
	}
	return out, nil
}

// runQuery is `leaseguard query`.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseQueryFlags(args, stderr)
	if err == flag.ErrHelp {
		return nil
	}
	if err != nil {
		return err
	}
	client, err := startLeasequeryClient(ctx, o)
	if err != nil {
		return err
	}
	defer client.stop()
	if o.sweep.IsValid() {
		return runSweep(ctx, client.runner, o, stdout, stderr)
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := client.runner.QueryFresh(qctx, o.query)
	if err != nil && res.Answers == nil {
		return fmt.Errorf("%s: %w", engineKey(o.query), err)
	}
	if perr := printResult(stdout, o, res); perr != nil {
		return perr
	}
	if res.Type == 0 {
		return errNoAnswer
	}
	return nil
}

// errNoAnswer ends the command with status 1 after the answers were printed.
var errNoAnswer = silentError{"no server answered"}

// silentError is an exit status 1 whose story was already printed.
type silentError struct{ msg string }

func (e silentError) Error() string { return e.msg }

func engineKey(q lq.Query) string {
	k, err := engine.KeyOf(q)
	if err != nil {
		return "query"
	}
	return k.String()
}

// leasequeryClient is an engine runner on its own upstream socket.
type leasequeryClient struct {
	runner *engine.Runner
	stop   func()
}

func startLeasequeryClient(ctx context.Context, o queryOptions) (*leasequeryClient, error) {
	prefixes := []netip.Prefix{o.sweep}
	if !o.sweep.IsValid() {
		// RFC deviation: RFC 4388 §7 says a concentrator SHOULD NOT ask
		// about a ciaddr outside its attached access networks. That
		// restriction guards the agent, whose queries traffic triggers;
		// the operator's probe asks about the one address the operator
		// names, wherever it is (a sweep stays inside its prefix).
		prefixes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	}
	eng, err := engine.New(engine.Config{
		Servers:            o.servers,
		SubscriberPrefixes: prefixes,
		InitialWindow:      o.window,
		MaxWindow:          o.maxOut,
		Retransmissions:    o.retries,
	}, rand.Float64)
	if err != nil {
		return nil, usagef("%v", err)
	}
	up, err := platform.ListenUpstream(platform.UpstreamConfig{Addr: o.giaddr, Device: o.device, Batch: 32, ReadBuffer: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("listen on %v:67 (the giaddr the servers answer to): %w", o.giaddr, err)
	}
	transport := platform.NewLeasequeryTransport(up, o.request)
	runner, err := engine.NewRunner(eng, engine.RunnerConfig{Transport: transport})
	if err != nil {
		up.Close()
		return nil, err
	}
	if err := transport.Attach(runner); err != nil {
		up.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	upDone, runDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(upDone); _ = up.Run(ctx) }()
	go func() { defer close(runDone); _ = runner.Run(ctx) }()
	select {
	case <-runner.Ready():
	case <-ctx.Done():
	}
	return &leasequeryClient{runner: runner, stop: func() {
		cancel()
		<-runDone
		up.Close()
		<-upDone
	}}, nil
}
