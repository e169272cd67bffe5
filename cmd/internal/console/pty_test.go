package console

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoginLockoutInVirtualTime(t *testing.T) {
	p := startPty(t, Config{PasswordHash: testHash(t)}, fakeSetup{})
	p.expect("Press RETURN to get started.\r\n")
	p.send("\r")
	for i := 0; i < 3; i++ {
		p.expect("Password: ")
		p.send("guess\r")
		p.expect("% Login invalid\r\n")
	}
	p.expect("% Console locked for 60 s\r\n")
	p.expect("Press RETURN to get started.\r\n")

	// Locked: no password prompt, however often RETURN is pressed.
	p.send("\r")
	p.expect("% Console locked for 60 s after repeated login failures\r\n")
	p.clock.Advance(45 * time.Second)
	p.send("\r")
	p.expect("% Console locked for 15 s after repeated login failures\r\n")
	p.clock.Advance(15 * time.Second)

	// Three more failures lock for twice as long.
	p.send("\r")
	for i := 0; i < 3; i++ {
		p.expect("Password: ")
		p.send("secret!\r")
		p.expect("% Login invalid\r\n")
	}
	p.expect("% Console locked for 120 s\r\n")
	p.clock.Advance(120 * time.Second)

	// Backspace and Ctrl-U edit the password, which is never echoed.
	p.send("\r")
	p.expect("Password: ")
	p.send("xx\x15secrez\x7ft\r")
	if echoed := p.expect(prompt); strings.Contains(echoed, "secre") {
		t.Errorf("password echoed: %q", echoed)
	}
	if got := p.run("show ports"); got != "ports output\r\n" {
		t.Errorf("after login, show ports wrote %q", got)
	}
	want := Counters{Sessions: 1, Commands: 1, LoginFailures: 6, Lockouts: 2, Watching: 1}
	if diff := cmp.Diff(want, p.con.Counters()); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestCtrlCAtPasswordStartsOver(t *testing.T) {
	p := startPty(t, Config{PasswordHash: testHash(t)}, fakeSetup{})
	p.expect("Press RETURN to get started.\r\n")
	p.send("\rsec\x03")
	p.expect("^C\r\n")
	p.expect("Press RETURN to get started.\r\n")
	p.send("\rsecret\r")
	p.expect(prompt)
	if got := p.con.Counters().LoginFailures; got != 0 {
		t.Errorf("%d login failures counted for an abandoned password", got)
	}
}

func TestAbbreviationsAndErrorsOnTheTerminal(t *testing.T) {
	p := startPty(t, Config{}, fakeSetup{bindings: 2})
	p.login("")
	if got := p.run("sh bi"); got != "binding 1 10.0.0.1\r\nbinding 2 10.0.0.2\r\n" {
		t.Errorf("sh bi wrote %q", got)
	}
	p.run("sh bi 10.0.0.7")
	p.run("le cl 01:02:03")
	p.run("deb rel on")
	want := []string{
		"show bindings",
		"show binding addr=10.0.0.7",
		"leasequery client-id id=[1 2 3]",
		"debug relay on state=on what=relay",
	}
	if diff := cmp.Diff(want, p.rec.all()); diff != "" {
		t.Errorf("commands run (-want +got):\n%s", diff)
	}

	// The caret goes under the word refused.
	p.run("show bindings ip 10.0.0.300")
	scr := p.screen()
	gotLines := []string{scr.line(-4), scr.line(-3), scr.line(-2), scr.line(-1)}
	wantLines := []string{
		prompt + "show bindings ip 10.0.0.300",
		strings.Repeat(" ", len(prompt)+17) + "^",
		`% Invalid input: "10.0.0.300" is not an IPv4 address`,
		strings.TrimSpace(prompt),
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("screen after an invalid address (-want +got):\n%s", diff)
	}
	if got := p.run("s"); got != strings.Repeat(" ", len(prompt))+"^\r\n"+`% Ambiguous command: "s" (set, show)`+"\r\n" {
		t.Errorf("s wrote %q", got)
	}
	if got := p.run("shw"); !strings.Contains(got, `% Unknown command: "shw"`) {
		t.Errorf("shw wrote %q", got)
	}
	if got := p.run("set 4"); got != "% value refused\r\n" {
		t.Errorf("a handler error shows as %q", got)
	}
	if got := p.run("crash"); got != "% internal error in \"crash\" (logged)\r\n" {
		t.Errorf("a handler panic shows as %q", got)
	}
	c := p.con.Counters()
	if c.InputErrors != 3 || c.CommandErrors != 2 || c.Panics != 1 || c.Commands != 6 {
		t.Errorf("counters %+v, want 3 input errors, 2 command errors, 1 panic, 6 commands", c)
	}
}

func TestQuestionMarkHelp(t *testing.T) {
	p := startPty(t, Config{}, fakeSetup{})
	p.login("")
	p.send("sh b?")
	got := p.expect(prompt + "sh b")
	want := "sh b?\r\n  binding   One binding\r\n  bindings  Bindings in the location table\r\n\r"
	if got != want {
		t.Errorf("sh b? wrote %q, want %q", got, want)
	}
	// '?' after a space lists what comes next; nothing runs, even for a
	// destructive command, and the line stays as typed.
	p.send("\x15clear counters ?")
	got = p.expect(prompt + "clear counters ")
	if !strings.HasSuffix(got, "?\r\n  <cr>\r\n\r") {
		t.Errorf("clear counters ? wrote %q", got)
	}
	p.send("\x15debug relay ?")
	got = p.expect(prompt + "debug relay ")
	if !strings.Contains(got, "  off  Stop\r\n  on   Start\r\n") {
		t.Errorf("debug relay ? wrote %q", got)
	}
	if len(p.rec.all()) != 0 {
		t.Errorf("'?' ran %v", p.rec.all())
	}
	p.send("on\r")
	p.expect(prompt)
	if diff := cmp.Diff([]string{"debug relay on state=on what=relay"}, p.rec.all()); diff != "" {
		t.Errorf("after ?, the line ran (-want +got):\n%s", diff)
	}
	if got := p.run("help"); !strings.Contains(got, "terminal length N") || !strings.Contains(got, "  leasequery  Ask the DHCP servers\r\n") {
		t.Errorf("help wrote %q", got)
	}
}

func TestTabCompletion(t *testing.T) {
	p := startPty(t, Config{}, fakeSetup{})
	p.login("")
	p.send("sh\t")
	p.expect(prompt + "show ")
	p.send("co\t") // config or counters: a bell, nothing added
	p.expect("\a")
	p.send("u\t")
	p.expect(prompt + "show counters ")
	p.send("\r")
	p.expect("counters output\r\n")
	if diff := cmp.Diff([]string{"show counters"}, p.rec.all()); diff != "" {
		t.Errorf("commands run (-want +got):\n%s", diff)
	}
}

func TestLineEditingOnTheTerminal(t *testing.T) {
	p := startPty(t, Config{}, fakeSetup{})
	p.login("")
	tests := []struct {
		name, keys, output string
	}{
		{"fix a typo with Ctrl-A, Ctrl-F, BS", "show cuonters\x01\x06\x06\x06\x06\x06\x06o\x06\x06\x7f\r", "counters output"},
		{"arrows and Ctrl-K", "show servers junk\x1b[H" + strings.Repeat("\x1b[C", 12) + "\x0b\r", "servers output"},
		{"Ctrl-W", "show nft extra\x17\r", "nft output"},
		{"Ctrl-U", "garbage\x15show config\r", "config output"},
		{"Ctrl-E after moving", "show por\x01\x05ts\r", "ports output"},
		{"up arrow recalls", "\x1b[A\x1b[A\r", "config output"},
		{"down arrow returns", "\x1b[A\x1b[A\x1b[A\x1b[B\r", "ports output"},
	}
	for _, tt := range tests {
		p.send(tt.keys)
		p.expect(tt.output + "\r\n" + prompt)
	}
	// Ctrl-C abandons the line; nothing runs.
	before := len(p.rec.all())
	p.send("show servers\x03")
	p.expect("^C\r\n" + prompt)
	p.send("\r")
	p.expect(prompt)
	if n := len(p.rec.all()); n != before {
		t.Errorf("Ctrl-C ran a command: %v", p.rec.all()[before:])
	}
	// Ctrl-D on an empty line logs out; the next session keeps no history.
	p.send("\x04")
	p.expect("Press RETURN to get started.\r\n")
	p.send("\r")
	p.expect(prompt)
	p.send("\x1b[A")
	p.send("\r")
	if got := p.expect(prompt); got != "\a\r\n" {
		t.Errorf("history survived logout: up arrow then Enter wrote %q", got)
	}
}

func TestPagingWithMore(t *testing.T) {
	p := startPty(t, Config{TerminalLength: 10}, fakeSetup{bindings: 50})
	p.login("")
	p.send("show bindings\r")
	countUntil := func(want string) int { return strings.Count(p.expect(want), "binding ") }
	if n := countUntil(morePrompt); n != 9 {
		t.Errorf("first page: %d lines, want 9", n)
	}
	p.send(" ")
	if n := countUntil(morePrompt); n != 9 {
		t.Errorf("space: %d more lines, want 9", n)
	}
	p.send("\r")
	got := p.expect(morePrompt)
	if n := strings.Count(got, "binding "); n != 1 || !strings.Contains(got, "binding 19 ") {
		t.Errorf("enter: %q, want the one line of binding 19", got)
	}
	p.send("q")
	if got := p.expect(prompt); strings.Contains(got, "binding") || strings.Contains(got, "%") {
		t.Errorf("after q the console wrote %q", got)
	}
	// The line after q is a fresh prompt, the --More-- erased.
	if scr := p.screen(); scr.line(-1) != strings.TrimSpace(prompt) || strings.Contains(scr.line(-2), "More") {
		t.Errorf("screen after q: %q / %q", scr.line(-2), scr.line(-1))
	}

	p.run("terminal length 0")
	if n := strings.Count(p.run("show bindings"), "binding "); n != 50 {
		t.Errorf("terminal length 0: %d lines, want all 50", n)
	}
	p.run("terminal length 30")
	p.send("show bindings\r")
	if n := countUntil(morePrompt); n != 29 {
		t.Errorf("terminal length 30: first page %d lines, want 29", n)
	}
	p.send(" ")
	if n := countUntil(prompt); n != 21 {
		t.Errorf("last page: %d lines, want 21", n)
	}
}

func TestTraceKeepsTheLineBeingEdited(t *testing.T) {
	p := startPty(t, Config{}, fakeSetup{})
	p.con.Trace("before login: never shown")
	p.login("")
	p.send("show co")
	p.expect("show co")
	p.con.Trace("relay: DISCOVER from aa:bb:cc:00:00:01 on port 1/0/3")
	p.con.Tracef("evil %s", "\x1b[2J\x07name")
	p.expect("evil .[2J.name\r\n")
	p.expect(prompt + "show co")
	scr := p.screen()
	got := []string{scr.line(-3), scr.line(-2), scr.line(-1)}
	want := []string{
		"relay: DISCOVER from aa:bb:cc:00:00:01 on port 1/0/3",
		"evil .[2J.name",
		prompt + "show co",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("screen after traces (-want +got):\n%s", diff)
	}
	if scr.col != len(prompt+"show co") {
		t.Errorf("cursor at column %d, want %d", scr.col, len(prompt+"show co"))
	}
	// With the cursor inside the line, it comes back to the same place.
	p.send("\x01\x06\x06\x06\x06\x06") // after "show "
	p.expect(prompt + "show co\x1b[K" + strings.Repeat("\b", 7) + "show ")
	p.con.Trace("lq: reply ACTIVE")
	p.expect("lq: reply ACTIVE\r\n")
	p.expect(prompt + "show co\x1b[K\b\b")
	if scr := p.screen(); scr.col != len(prompt+"show ") || scr.line(-1) != prompt+"show co" {
		t.Errorf("after a trace mid-line: %q, cursor at %d", scr.line(-1), scr.col)
	}
	p.send("\x05unters\r")
	p.expect("counters output\r\n")
	if strings.Contains(p.written(), "never shown") {
		t.Error("a trace reached the terminal before login")
	}
	if diff := cmp.Diff([]string{"show counters"}, p.rec.all()); diff != "" {
		t.Errorf("the edited line ran as (-want +got):\n%s", diff)
	}
}

func TestTracesWaitForARunningCommand(t *testing.T) {
	started := make(chan struct{})
	p := startPty(t, Config{TraceQueue: 2}, fakeSetup{started: started})
	p.login("")
	p.send("show slow\r")
	<-started
	for _, l := range []string{"one", "two", "three", "four"} {
		p.con.Trace(l)
	}
	p.send("\x03")
	p.expect("^C\r\n" + prompt)
	p.expect("one\r\ntwo\r\n% 2 trace lines dropped\r\n\r" + prompt)
	if got := p.con.Counters().TracesDropped; got != 2 {
		t.Errorf("%d traces dropped, want 2", got)
	}
}

func TestTypeAheadWhileACommandRuns(t *testing.T) {
	p := startPty(t, Config{}, fakeSetup{bindings: 3})
	p.login("")
	p.send("show bindings\rshow ports\rshow nft\r")
	p.expect("nft output\r\n" + prompt)
	want := []string{"show bindings", "show ports", "show nft"}
	if diff := cmp.Diff(want, p.rec.all()); diff != "" {
		t.Errorf("commands run (-want +got):\n%s", diff)
	}
}

func TestIdleLogoutInVirtualTime(t *testing.T) {
	p := startPty(t, Config{IdleTimeout: 5 * time.Minute}, fakeSetup{})
	p.login("")
	p.clock.Advance(4 * time.Minute)
	p.send("s")
	p.expect("s")
	p.clock.Advance(4 * time.Minute) // 8 min since login, 4 since the last key
	p.send("how ports\r")
	p.expect("ports output\r\n" + prompt)
	p.clock.Advance(5 * time.Minute)
	p.expect("% Idle timeout: logged out\r\n")
	p.expect("Press RETURN to get started.\r\n")
	if c := p.con.Counters(); c.IdleLogouts != 1 || c.Watching != 0 {
		t.Errorf("counters %+v, want 1 idle logout and no one watching", c)
	}
}

// Ctrl-C stops a command that is not writing; its context ends.
func TestCtrlCStopsACommand(t *testing.T) {
	started := make(chan struct{})
	p := startPty(t, Config{}, fakeSetup{started: started})
	p.login("")
	p.send("show slow\r")
	<-started
	p.send("\x03")
	p.expect("^C\r\n" + prompt)
	if !p.rec.idle() {
		t.Error("the stopped command is still running")
	}
	if got := p.con.Counters().CommandErrors; got != 0 {
		t.Errorf("an interrupted command counted as %d errors", got)
	}
}

func TestDisconnectEndsTheSession(t *testing.T) {
	started := make(chan struct{})
	p := startPty(t, Config{}, fakeSetup{started: started})
	p.login("")
	p.send("show slow\r")
	<-started
	p.master.Close()
	var err error
	select {
	case err = <-p.served:
	case <-time.After(failAfter):
		t.Fatal("Serve still running after the terminal went away")
	}
	p.served <- err // for the cleanup
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want the read error", err)
	}
	if !p.rec.idle() {
		t.Error("the running command was not cancelled")
	}
	if c := p.con.Counters(); c.PortErrors != 1 || c.Watching != 0 {
		t.Errorf("counters %+v, want 1 port error and no one watching", c)
	}
}

// A terminal that stops reading ends Serve after the write timeout, and
// the handler writing to it is released.
func TestStalledTerminalReleasesHandlers(t *testing.T) {
	master, slave := openPty(t)
	defer master.Close()
	defer slave.Close()
	rec := newCalls()
	con, err := New(Config{TerminalLength: -1, WriteTimeout: 200 * time.Millisecond}, fakeTree(rec, fakeSetup{}))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- con.Serve(context.Background(), slave) }()
	master.Write([]byte("\rshow flood\r")) // and never read
	select {
	case err = <-served:
	case <-time.After(failAfter):
		t.Fatal("Serve blocked on a terminal that does not read")
	}
	if !errors.Is(err, ErrStalled) {
		t.Errorf("Serve = %v, want ErrStalled", err)
	}
	if !rec.idle() {
		t.Error("the handler writing to the stalled terminal was not released")
	}
}

// A command that ignores Ctrl-C does not keep the console: the prompt
// comes back after a grace period, in virtual time.
func TestStuckCommandIsAbandoned(t *testing.T) {
	release := make(chan struct{})
	p := startPty(t, Config{}, fakeSetup{release: release})
	defer close(release)
	p.login("")
	p.send("show stuck\r")
	p.expect("show stuck\r\n")
	p.send("\x03")
	p.expect("^C\r\n")
	p.clock.Advance(abandonAfter)
	p.expect("% the command did not stop; it is left running in the background\r\n" + prompt)
	if got := p.run("show ports"); got != "ports output\r\n" {
		t.Errorf("after abandoning, show ports wrote %q", got)
	}
	if got := p.con.Counters().Abandoned; got != 1 {
		t.Errorf("%d commands abandoned, want 1", got)
	}
}
