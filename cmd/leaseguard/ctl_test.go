package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// startCtlAPI serves the API over the fake agent on a socket and returns
// a function running `leaseguard ctl --socket S ARGS...`.
func startCtlAPI(t *testing.T) (*opstest.Env, func(args ...string) (int, string, string)) {
	env, socket := startAPIForCtl(t)
	return env, func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"ctl", "--socket", socket}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
}

func startAPIForCtl(t *testing.T) (*opstest.Env, string) {
	return startAPIForCtlConfig(t, opstest.ConfigJSON)
}

func startAPIForCtlConfig(t *testing.T, cfgJSON string) (*opstest.Env, string) {
	t.Helper()
	env, err := opstest.NewEnvConfig(cfgJSON, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "lg.sock")
	srv, err := mgmt.New(env.Ops, mgmt.Config{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-srv.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("API not ready")
	}
	return env, socket
}

func TestCtl(t *testing.T) {
	env, ctl := startCtlAPI(t)
	for i, port := range []string{"cable1/0/1", "dsl2", "cable1/0/1"} {
		b := opstest.Binding("192.168.10."+string(rune('1'+i)), "00:00:00:00:00:0"+string(rune('1'+i)), port)
		if _, err := env.Backend.Table.Upsert(b, opstest.Now); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := ctl("bindings", "--port", "cable1/0/1")
	if code != 0 || !strings.Contains(out, "192.168.10.1  00:00:00:00:00:01  cable1/0/1") ||
		!strings.Contains(out, "192.168.10.3") || strings.Contains(out, "192.168.10.2") || !strings.HasSuffix(out, "Total bindings: 2\n") {
		t.Errorf("ctl bindings --port: %d %q %q", code, out, errOut)
	}
	if code, out, _ := ctl("bindings", "--limit", "1"); code != 0 || !strings.HasSuffix(out, "Bindings shown: 1 of 3\n") {
		t.Errorf("ctl bindings --limit 1: %d %q", code, out)
	}
	if code, out, _ := ctl("--json", "binding", "192.168.10.2"); code != 0 || !strings.Contains(out, `"port": "dsl2"`) {
		t.Errorf("ctl --json binding: %d %q", code, out)
	}
	if code, _, errOut := ctl("binding", "192.168.10.9"); code != 1 || errOut != "leaseguard ctl: no binding for 192.168.10.9 [ip]\n" {
		t.Errorf("ctl binding of nothing: %d %q", code, errOut)
	}
	if code, out, _ := ctl("clear", "binding", "192.168.10.2"); code != 0 || out != "Cleared 192.168.10.2 (00:00:00:00:00:02 on dsl2)\n" {
		t.Errorf("ctl clear binding: %d %q", code, out)
	}
	if code, out, _ := ctl("debug", "nft", "on"); code != 0 || !strings.Contains(out, "Debug traces  nft") {
		t.Errorf("ctl debug: %d %q", code, out)
	}
	if code, _, errOut := ctl("leasequery", "--ip", "192.168.10.7"); code != 1 || errOut != "" {
		t.Errorf("ctl leasequery with no answer: %d %q (exit 1, the story printed)", code, errOut)
	}
	for _, args := range [][]string{{"servers"}, {"ports"}, {"counters"}, {"nft"}, {"logging"}, {"metrics"}, {"clear", "counters"}} {
		if code, out, errOut := ctl(args...); code != 0 || out == "" {
			t.Errorf("ctl %v: %d %q %q", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{{}, {"frob"}, {"binding"}, {"leasequery", "--ip", "1.2.3.4", "--mac", "x"}, {"servers", "extra"}, {"clear", "all"}} {
		if code, _, errOut := ctl(args...); code != 2 || !strings.HasPrefix(errOut, "leaseguard ctl: ") {
			t.Errorf("ctl %v: %d %q, want a usage error", args, code, errOut)
		}
	}
}

// TestCtlBPI: `ctl bpi` prints the console's BPI+ table when BPI is on
// and the agent's refusal (exit 1) when it is off.
func TestCtlBPI(t *testing.T) {
	_, ctl := startCtlAPI(t)
	if code, out, errOut := ctl("bpi"); code != 1 || out != "" || !strings.Contains(errOut, "BPI") {
		t.Errorf("ctl bpi with BPI off: %d %q %q, want exit 1 naming BPI", code, out, errOut)
	}
	_, socket := startAPIForCtlConfig(t, opstest.BPIConfigJSON)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"ctl", "--socket", socket, "bpi"}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 || !strings.HasPrefix(out, "BPI+ downstream ds1, RF rf0, 3 modems\n") ||
		!strings.Contains(out, "00:aa:00:00:00:02  102   clear") {
		t.Errorf("ctl bpi: %d %q %q", code, out, stderr.String())
	}
}

func TestCtlConfig(t *testing.T) {
	env, ctl := startCtlAPI(t)
	code, out, errOut := ctl("config", "get")
	if code != 0 || errOut != "# generation 1 (apply an edited copy with --if-generation 1)\n" {
		t.Fatalf("config get: %d %q", code, errOut)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	edited := strings.Replace(out, `"relay_id": "card-7"`, `"relay_id": "card-8"`, 1)
	if edited == out {
		t.Fatalf("config get printed no relay_id: %s", out)
	}
	os.WriteFile(good, []byte(edited), 0o600)
	os.WriteFile(bad, []byte(strings.Replace(edited, `"max_hops": 10`, `"max_hops": 0, "colour": 1`, 1)), 0o600)

	if code, out, _ := ctl("config", "validate", good); code != 0 || !strings.HasSuffix(out, "good.json: valid\n") {
		t.Errorf("validate: %d %q", code, out)
	}
	if code, _, errOut := ctl("config", "validate", bad); code != 1 || !strings.Contains(errOut, `unknown key "relay.colour" [relay.colour]`) {
		t.Errorf("validate a bad file: %d %q", code, errOut)
	}
	env.Backend.Applier.FailStep = "leasequery"
	if code, _, errOut := ctl("config", "apply", good); code != 1 || !strings.Contains(errOut, "generation 1 still running: leasequery: injected failure") {
		t.Errorf("failing apply: %d %q", code, errOut)
	}
	env.Backend.Applier.FailStep = ""
	if code, out, errOut := ctl("config", "apply", good, "--if-generation", "1"); code != 0 || !strings.HasSuffix(out, "applied, generation 2\n") {
		t.Errorf("apply: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl("config", "apply", "--if-generation", "1", good); code != 1 || !strings.Contains(errOut, "generation 2 is running, not 1") {
		t.Errorf("stale apply: %d %q", code, errOut)
	}
	if running, _ := env.Backend.Applier.Running(); running.RelayID != "card-8" {
		t.Errorf("running relay id %q", running.RelayID)
	}
}

// lineWriter collects output and signals each line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for range bytes.Count(p, []byte("\n")) {
		w.lines <- struct{}{}
	}
	return w.buf.Write(p)
}

func TestCtlEvents(t *testing.T) {
	env, socket := startAPIForCtl(t)
	b := opstest.Binding("192.168.10.5", "00:00:00:00:00:05", "dsl2")
	// ctl events resumes after event 1: it gets event 2 whenever it
	// connects, then runs until interrupted.
	env.Ops.SpoofDrop("lgc0", b.IP, b.HWAddr)
	env.Ops.SpoofDrop("lgd0", b.IP, b.HWAddr)
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{lines: make(chan struct{}, 16)}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"ctl", "--socket", socket, "events", "--after", "1"}, out, &stderr) }()
	select {
	case <-out.lines:
	case <-time.After(10 * time.Second):
		t.Fatal("no event line")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("ctl events exited %d: %s", code, stderr.String())
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if got := out.buf.String(); !strings.HasPrefix(got, `{"seq":2,`) || !strings.Contains(got, `"type":"spoof.drop"`) || !strings.Contains(got, `"interface":"lgd0"`) {
		t.Errorf("ctl events printed %q", got)
	}
}

func TestConsoleUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"console", "hash-passwd"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "usage: leaseguard console hash-password") {
		t.Errorf("console with a wrong verb: %d %q", code, stderr.String())
	}
}
