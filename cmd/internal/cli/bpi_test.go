package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/cli"
	"github.com/leaseguard/leaseguard/cmd/internal/console"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// newBPIEnv is a console over the fake agent running BPI+
// (opstest.BPIConfigJSON), ten minutes after opstest.Now: two bindings
// behind the cable port's modem, and counters.
func newBPIEnv(t *testing.T) *env {
	t.Helper()
	e, err := opstest.NewEnvConfig(opstest.BPIConfigJSON, ops.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"192.168.10.9", "192.168.10.10"} {
		b := bindingAt(ip)
		b.HWAddr = append(b.HWAddr[:5:5], ip[len(ip)-1])
		b.Modem = []byte{0, 0xaa, 0, 0, 0, 1}
		if _, err := e.Backend.Table.Upsert(b, now); err != nil {
			t.Fatal(err)
		}
	}
	e.Backend.BPI.Counters.Set(ops.BPICounters{Frames: 15724, Pairs: 7239, Encrypted: 15690, Clear: 20, UnknownLocation: 9,
		NoKey: 4, NoDestination: 1, KeyRequests: 12, KeyReplies: 10, KeyRejects: 1, KeyErrors: 1, KeyPairs: 3,
		Leasequeries: ops.BPILeasequeries{Triggered: 3, Held: 6, Active: 2, NotActive: 1}})
	con, err := cli.New(e.Ops, console.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: e, con: con}
}

func TestShowBPI(t *testing.T) {
	e := newBPIEnv(t)
	e.expectOutputs(t, []outputCase{
		{"show bpi", `
BPI+ downstream ds1, RF rf0, 3 modems
Generated keys aes-128-cbc, TEK lifetime 12h00m, grace 1h00m
Modem              SAID  State       TEK  Left    Next  Left    Bindings
-----------------  ----  ----------  ---  ------  ----  ------  --------
00:aa:00:00:00:01  101   encrypting  1    5h50m   2     17h50m  2
00:aa:00:00:00:02  102   clear       -    -       -     -       0
00:aa:00:00:00:03  103   encrypting  15   50m00s  0     12h50m  0
TEK: the key sequence encrypting now, Next: the one after it. NO KEY: privacy
on but no valid key, the modem's frames are dropped; clear: privacy disabled.
Downstream frames
  Read                       15724 (7239 pairs encrypted together)
  Encrypted                  15690
  Sent in clear              20
  Dropped: unknown location  9
  Dropped: no key            4
  Dropped: no destination    1
  RF link errors             0
  Leasequeries started       3
  Leasequeries not started   6 holdoff, 0 rate, 0 queue full, 0 not subscriber
  Leasequery results         2 active, 1 not active, 0 failed, 0 in table
Key management (BPKM)
  Key requests               12
  Key replies/rejects        10/1
  Key errors                 1
  Key pairs installed        3 (one per SA at start, one per rollover)
  Other upstream frames      0
`},
		{"sh bpi mo 00aa.0000.0001", `
BPI modem 00:aa:00:00:00:01
  Primary SAID       101
  Privacy            on, keys generated
  Authorization key  provisioned
  State              encrypting
  Current TEK        seq 1, expires 2026-11-28 18:00:00 UTC (5h50m left)
  Next TEK           seq 2, expires 2026-11-29 06:00:00 UTC (17h50m left)
  Bindings           2
  Ports              cable1/0/1
`},
		{"show bpi modem 00:aa:00:00:00:02", `
BPI modem 00:aa:00:00:00:02
  Primary SAID       102
  Privacy            off (frames sent in clear)
  Authorization key  none (the modem cannot fetch keys by Key Request)
  State              clear
  Current TEK        -
  Next TEK           -
  Bindings           0
  Ports              -
`},
	})
}

// TestShowBPINoKeyAndClear: a modem whose keys all expired shows NO KEY, and
// clear counters starts show bpi's counters from zero.
func TestShowBPINoKeyAndClear(t *testing.T) {
	e := newBPIEnv(t)
	ms := e.Backend.BPI.Modems.Stats()
	ms[0].SA = nil // the keys never came
	e.Backend.BPI.Modems.Set(ms)
	if _, err := e.run(t, "clear counters"); err != nil {
		t.Fatal(err)
	}
	got, err := e.run(t, "show bpi")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"00:aa:00:00:00:01  101   NO KEY      -    -       -     -       2\n",
		"  Read                       0 (0 pairs encrypted together)\n", "Counters cleared 2026-11-28 12:10:00 UTC (0s ago)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("show bpi lacks %q:\n%s", want, got)
		}
	}
}

func TestShowCountersWithBPI(t *testing.T) {
	e := newBPIEnv(t)
	got, err := e.run(t, "show counters")
	if err != nil {
		t.Fatal(err)
	}
	want := `BPI+
  Frames read               15724: 15690 encrypted, 20 in clear
  Frames dropped            9 unknown location, 4 no key, 1 no destination
  Key requests              12 (10 replies, 1 rejects, 1 errors)
  Key pairs installed       3
`
	if !strings.Contains(got, want) {
		t.Errorf("show counters lacks\n%s\nin\n%s", want, got)
	}
	// Without BPI+ there is no section.
	if got, _ := newEnv(t).run(t, "show counters"); strings.Contains(got, "BPI+") {
		t.Errorf("show counters with BPI+ off:\n%s", got)
	}
}

func TestShowBPIErrors(t *testing.T) {
	for _, tc := range []struct {
		e          *env
		line, want string
	}{
		{newEnv(t), "show bpi", "BPI+ is not running (bpi.enabled is false)"},
		{newEnv(t), "show bpi modem 00:aa:00:00:00:01", "BPI+ is not running (bpi.enabled is false)"},
		{newBPIEnv(t), "show bpi modem 00:aa:00:00:00:09", "no BPI modem 00:aa:00:00:00:09 (not in bpi.modems)"},
		{newBPIEnv(t), "show bpi modem 00:aa", `is not a MAC`},
	} {
		_, err := tc.e.run(t, tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.line, err, tc.want)
		}
	}
}

// TestShowBPIOnATerminal: what an operator sees on the serial console.
func TestShowBPIOnATerminal(t *testing.T) {
	e := newBPIEnv(t)
	term := startTerminal(t, e, console.Config{})
	term.expect("Press RETURN to get started.\r\n")
	term.send("\r")
	term.expect(prompt)
	term.run("terminal length 0")
	got := term.run("sh bpi")
	for _, want := range []string{"BPI+ downstream ds1, RF rf0, 3 modems\n", "00:aa:00:00:00:03  103   encrypting  15   50m00s  0     12h50m  0\n",
		"  Key replies/rejects        10/1\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("sh bpi lacks %q:\n%s", want, got)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if len(line) > 80 {
			t.Errorf("line wider than the terminal's 80 columns: %q", line)
		}
	}
	if got := term.run("show bpi modem 0000.0000.0009"); !strings.Contains(got, "% no BPI modem 00:00:00:00:00:09 (not in bpi.modems)") {
		t.Errorf("an unknown modem wrote %q", got)
	}
	if got := term.run("show bpi modem 00:aa:00:00:00:03"); !strings.Contains(got, "  Current TEK        seq 15, expires 2026-11-28 13:00:00 UTC (50m00s left)\n") {
		t.Errorf("show bpi modem wrote %q", got)
	}

	// `debug bpi on` shows the BPI task's records between prompts.
	if got := term.run("debug bpi on"); got != "bpi debugging is on\n" {
		t.Errorf("debug bpi on wrote %q", got)
	}
	e.Ops.Logs().For("bpi").Debug("Key Request", "modem", "00:aa:00:00:00:01", "said", 101, "ak_seq", 2)
	term.expect("bpi: Key Request modem=00:aa:00:00:00:01 said=101 ak_seq=2\r\n")
	term.run("debug bpi off")
	e.Ops.Logs().For("bpi").Debug("not shown")
	if got := term.run("show logging"); strings.Contains(got, "not shown") || !strings.Contains(got, "Debug traces  none") {
		t.Errorf("after debug bpi off: %q", got)
	}
}

// TestDebugBPI: bpi is one of the subsystems `debug` traces, once in the
// choices of `debug` and of `logging level`.
func TestDebugBPI(t *testing.T) {
	e := newBPIEnv(t)
	if got, err := e.run(t, "debug bpi on"); err != nil || got != "bpi debugging is on\n" {
		t.Fatalf("debug bpi on: %q %v", got, err)
	}
	got, _ := e.run(t, "show logging")
	if diff := cmp.Diff("Global level  INFO\nDebug traces  bpi\n", got); diff != "" {
		t.Errorf("show logging after debug bpi on (-want +got):\n%s", diff)
	}
	if got, err := e.run(t, "debug bpi off"); err != nil || got != "bpi debugging is off\n" || e.Ops.Logs().Debugging("bpi") {
		t.Errorf("debug bpi off: %q %v, traced %v", got, err, e.Ops.Logs().Debugging("bpi"))
	}
	if got, err := e.run(t, "logging level bpi warn"); err != nil || got != "Log level of bpi: warn\n" {
		t.Errorf("logging level bpi warn: %q %v", got, err)
	}
	n := 0
	for _, k := range cli.DebugSubsystems {
		if k.Name == "bpi" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("bpi is %d times in DebugSubsystems, want once", n)
	}
}
