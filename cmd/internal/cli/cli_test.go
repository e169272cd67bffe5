package cli_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/cli"
	"github.com/leaseguard/leaseguard/cmd/internal/console"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/relay"
)

// env is a console over the fake agent, holding three bindings, counters
// and one server's state; the clock stands ten minutes after opstest.Now.
type env struct {
	*opstest.Env
	con *console.Console
}

var now = opstest.Now.Add(10 * time.Minute)

func newEnv(t *testing.T) *env {
	t.Helper()
	e, err := opstest.NewEnv(ops.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	modemed := opstest.Binding("192.168.10.9", "00:00:00:00:00:09", "cable1/0/1")
	modemed.Modem, _ = net.ParseMAC("00:aa:00:00:00:01")
	modemed.VendorClass = []byte("docsis3.1")
	for _, b := range []location.Binding{modemed,
		opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1"),
		opstest.Binding("192.168.20.7", "00:00:00:00:00:07", "dsl2")} {
		if _, err := e.Backend.Table.Upsert(b, opstest.Now); err != nil {
			t.Fatal(err)
		}
	}
	e.Backend.Relay.Set(relay.ServiceStats{Stats: relay.Stats{FromClients: 12, ToServers: 11, FromServers: 9, ToClients: 9, Binds: 3,
		Dropped: map[relay.Reason]uint64{relay.ClientOption82: 1},
		Ports:   []relay.PortStats{{Name: "cable1/0/1", ToServers: 8, ToClients: 6, Dropped: 1}, {Name: "dsl2", ToServers: 3, ToClients: 3}},
		Servers: []relay.ServerStats{{Addr: netip.MustParseAddr("10.0.0.1"), Replies: 9, Relayed: 9, LastReply: now.Add(-75 * time.Second)},
			{Addr: netip.MustParseAddr("10.0.0.3")}}}})
	e.Backend.Querier.SetStats(engine.RunnerStats{Stats: engine.Stats{
		Counters: engine.Counters{Sent: 4, Active: 2, Unknown: 1},
		Servers: []engine.ServerStats{
			{Server: netip.MustParseAddr("10.0.0.1"), Armed: true, TimerDeadline: now.Add(42 * time.Second), Outstanding: 1, Window: 32,
				SRTT: 1200 * time.Microsecond, Counters: engine.Counters{Sent: 4, Active: 2, Unknown: 1}},
			{Server: netip.MustParseAddr("10.0.0.3"), NextProbe: now.Add(8 * time.Second), Pending: 2, Window: 1,
				Counters: engine.Counters{Sent: 3, Retransmitted: 6, Timeouts: 3}},
		}, Submitted: 3, Completed: 3}})
	e.Backend.Drops.Set(map[nft.CounterID]nft.Counter{{Port: "lgc0", Reason: nft.ReasonIPv4Source}: {Packets: 5, Bytes: 300}})
	e.Backend.Downstream.Set(nft.Stats{UnknownDestination: nft.Counter{Packets: 9, Bytes: 540}, ReportedDestination: nft.Counter{Packets: 2, Bytes: 120},
		UnknownDst: 1, ForwardedDHCP: map[string]nft.Counter{"lgc0": {}, "lgd0": {Packets: 4, Bytes: 1312}}})
	con, err := cli.New(e.Ops, console.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: e, con: con}
}

// outputCase is a command line and the console's exact answer (a leading
// newline in want is dropped, for raw-string tables).
type outputCase struct{ line, want string }

// expectOutputs runs each case's line and compares the answer with want.
func (e *env) expectOutputs(t *testing.T, cases []outputCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := e.run(t, tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if diff := cmp.Diff(strings.TrimPrefix(tc.want, "\n"), got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.line, diff)
		}
	}
}

func (e *env) run(t *testing.T, line string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := e.con.Run(context.Background(), line, &out)
	return out.String(), err
}

func TestShowCommands(t *testing.T) {
	e := newEnv(t)
	e.expectOutputs(t, []outputCase{
		{"show bindings", `
IP address    MAC address        Port        Source   Lease left
------------  -----------------  ----------  -------  ----------
192.168.10.3  00:00:00:00:00:03  cable1/0/1  gleaned  50m00s
192.168.10.9  00:00:00:00:00:09  cable1/0/1  gleaned  50m00s
192.168.20.7  00:00:00:00:00:07  dsl2        gleaned  50m00s
Total bindings: 3
`},
		{"sh bi port dsl2", `
IP address    MAC address        Port  Source   Lease left
------------  -----------------  ----  -------  ----------
192.168.20.7  00:00:00:00:00:07  dsl2  gleaned  50m00s
Total bindings: 1
`},
		{"show bindings modem 00aa.0000.0001", `
IP address    MAC address        Port        Source   Lease left
------------  -----------------  ----------  -------  ----------
192.168.10.9  00:00:00:00:00:09  cable1/0/1  gleaned  50m00s
Total bindings: 1
`},
		{"show bindings mac 00-00-00-00-00-01", "\nNo bindings (0 in all).\n"},
		{"show binding 192.168.10.9", `
Binding 192.168.10.9
  MAC address       00:00:00:00:00:09 (htype 1)
  Port              cable1/0/1
  Circuit-id        cable1/0/1
  Modem             00:aa:00:00:00:01
  Source            gleaned
  Lease expires     2026-11-28 13:00:00 UTC (50m00s left)
  Last transaction  2026-11-28 12:00:00 UTC (10m00s ago)
  DHCP server       10.0.0.1
  Vendor class      "docsis3.1"
`},
		{"show servers", `
Server    State  Timer        Outstanding  Pending  Window  SRTT ms
--------  -----  -----------  -----------  -------  ------  -------
10.0.0.1  up     42s          1            0        32.0    1.2
10.0.0.3  down   probe in 8s  0            2        1.0     0.0
Timer: RFC 4388 section 6.7, running while the server answers; once expired,
the server gets one probe at a time.

Server    Sent  Retrans  Active  Unassigned  Unknown  Timeouts
--------  ----  -------  ------  ----------  -------  --------
10.0.0.1  4     0        2       0           1        0
10.0.0.3  3     6        0       0           0        3

DHCP replies to relayed requests (every request goes to every server):
Server    Replies  Relayed  Dropped  Last reply
--------  -------  -------  -------  ----------
10.0.0.1  9        9        0        1m15s
10.0.0.3  0        0        0        -
`},
		{"show ports", `
Port        Interface  Kind   Bindings  Spoof drops
----------  ---------  -----  --------  -----------
cable1/0/1  lgc0       cable  2         5
dsl2        lgd0       dsl    1         0

Relay (to servers, to clients, dropped) and socket (received, bad, kernel drops):
Port        To servers  To clients  Dropped  Received  Bad  Kernel drops
----------  ----------  ----------  -------  --------  ---  ------------
cable1/0/1  8           6           1        0         0    0
dsl2        3           3           0        0         0    0
`},
		{"show nft", `
Table netdev leaseguard: 0 allowed, 0 unknown sources recently reported
Programming: 1 rebuilds, 0 applies, 0 failures; latency last 0.0 ms, mean 0.0 ms, max 0.0 ms
Port        Interface  Reason       Packets  Bytes
----------  ---------  -----------  -------  -----
cable1/0/1  lgc0       ipv4_source  5        300
Counters at zero not shown; reported: unknown sources sent to NFLOG, also counted under their reason.
Table ip leaseguard: 9 packets (540 bytes) to unknown subscriber addresses dropped, 2 reported; 1 addresses recently reported
Forwarded client DHCP dropped (the relay relays renewals):
Port  Interface  Packets  Bytes
----  ---------  -------  -----
dsl2  lgd0       4        1312
`},
		{"show logging", `
Global level  INFO
Debug traces  none
`},
	})
}

func TestCountersAndClear(t *testing.T) {
	e := newEnv(t)
	got, _ := e.run(t, "show counters")
	for _, want := range []string{"  Messages from clients      12\n", "  Dropped: client option 82  1\n",
		"  Bindings                   3 (2 ports, 1 modems)\n", "  Answers                    2 active, 0 unassigned, 1 unknown, 0 timeouts\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("show counters lacks %q:\n%s", want, got)
		}
	}
	if got, err := e.run(t, "clear counters"); err != nil || got != "Counters cleared.\n" {
		t.Fatalf("clear counters: %q %v", got, err)
	}
	got, _ = e.run(t, "show counters")
	for _, want := range []string{"  Messages from clients      0\n", "  Bindings                   3 (2 ports, 1 modems)\n",
		"Counters cleared 2026-11-28 12:10:00 UTC (0s ago)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("after clear, show counters lacks %q:\n%s", want, got)
		}
	}
}

func TestLeasequeryAndClearBinding(t *testing.T) {
	e := newEnv(t)
	s1, s3 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.3")
	e.Backend.Querier.Answer = func(q lq.Query) (engine.Result, error) {
		key, _ := engine.KeyOf(q)
		b := opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "").Binding
		return engine.Result{Key: key, Type: lq.LeaseActive, Binding: b, Server: s1, Answers: []engine.ServerAnswer{
			{Server: s1, Outcome: engine.Answered, Type: lq.LeaseActive, Binding: b, Transmissions: 1, RTT: 3 * time.Millisecond},
			{Server: s3, Outcome: engine.TimedOut, Transmissions: 5}}}, nil
	}
	got, err := e.run(t, "leasequery mac 00:00:00:00:00:03")
	want := `Asking 2 servers (Ctrl-C stops waiting)...
Leasequery mac 1/00:00:00:00:00:03
  server 10.0.0.1        ACTIVE     192.168.10.3 chaddr 00:00:00:00:00:03 rtt 3.0 ms
  server 10.0.0.3        TIMEOUT    (5 transmissions)
Winner: 10.0.0.1 ACTIVE 192.168.10.3 chaddr 00:00:00:00:00:03
`
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("leasequery (-want +got):\n%s%v", diff, err)
	}
	if _, err := e.run(t, "leasequery client-id 01:00:00:00:00:00:03"); err != nil {
		t.Errorf("leasequery client-id: %v", err)
	}
	asked := e.Backend.Querier.Asked
	if len(asked) != 2 || asked[1].Kind != lq.ByClientID || len(asked[1].ClientID) != 7 {
		t.Errorf("queries asked %+v", asked)
	}

	got, err = e.run(t, "clear binding 192.168.10.3")
	if err != nil || got != "Cleared 192.168.10.3 (00:00:00:00:00:03 on cable1/0/1)\n" {
		t.Errorf("clear binding: %q %v", got, err)
	}
	if _, ok := e.Backend.Table.ByIP(netip.MustParseAddr("192.168.10.3")); ok {
		t.Error("binding still in the table")
	}
	if _, err := e.run(t, "clear binding 192.168.10.3"); err == nil || err.Error() != "no binding for 192.168.10.3" {
		t.Errorf("clearing it again: %v", err)
	}
}

func TestBadInputNamesTheProblem(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ line, want string }{
		{"show bindings port cable9", `no port named "cable9" (ports: cable1/0/1, dsl2)`},
		{"show binding 192.168.99.1", "no binding for 192.168.99.1"},
		{"show bindigns", `Invalid input: "bindigns"; expected one of: binding, bindings, bpi, config`},
		{"show", `Incomplete command: "show" needs one of: binding, bindings`},
		{"clear binding", `Incomplete command: "clear binding" needs A.B.C.D`},
		{"leasequery client-id zz", `"zz" is not an even number of hex digits`},
		{"frobnicate", `Unknown command: "frobnicate"`},
		{"show binding 300.1.1.1", `"300.1.1.1" is not an IPv4 address`},
		{"debug relay maybe", `Invalid input: "maybe"; expected one of: off, on`},
	} {
		_, err := e.run(t, tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.line, err, tc.want)
		}
	}
}

func TestDebugAndLogging(t *testing.T) {
	e := newEnv(t)
	if got, err := e.run(t, "debug lq on"); err != nil || got != "lq debugging is on\n" {
		t.Fatalf("debug lq on: %q %v", got, err)
	}
	if got, err := e.run(t, "logging level relay warn"); err != nil || got != "Log level of relay: warn\n" {
		t.Fatalf("logging level: %q %v", got, err)
	}
	got, _ := e.run(t, "show logging")
	want := "Global level    INFO\nLevel of relay  WARN\nDebug traces    lq\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("show logging (-want +got):\n%s", diff)
	}
	if !e.Ops.Logs().Debugging("lq") {
		t.Error("lq not traced")
	}
}

func TestShowConfig(t *testing.T) {
	e := newEnv(t)
	got, err := e.run(t, "show config")
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(got, "\n")
	if head != "! generation 1, applied 2026-11-28 12:10:00 UTC (0s ago) by start" {
		t.Errorf("header %q", head)
	}
	if _, err := e.Ops.ValidateConfig([]byte(body)); err != nil {
		t.Errorf("show config does not print a valid configuration: %v\n%s", err, body)
	}
}

func bindingAt(ip string) location.Binding {
	b := opstest.Binding(ip, "02:00:00:00:00:01", "cable1/0/1")
	b.Expiry = now.Add(time.Hour)
	return b
}
