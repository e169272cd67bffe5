package ops_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

type traces struct {
	mu    sync.Mutex
	lines []string
}

func (t *traces) Trace(line string) {
	t.mu.Lock()
	t.lines = append(t.lines, line)
	t.mu.Unlock()
}

// logged returns the messages written, without times.
func logged(b *bytes.Buffer) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if _, rest, ok := strings.Cut(l, " level="); ok {
			out = append(out, "level="+rest)
		}
	}
	b.Reset()
	return out
}

func TestLogLevelsPerSubsystem(t *testing.T) {
	var buf bytes.Buffer
	logs := ops.NewLogs(&buf, config.Log{Level: "warn", Subsystems: map[string]string{"relay": "debug"}})
	relay, lq, agent := logs.For("relay"), logs.For("lq"), logs.For("agent")
	relay.Debug("relayed", "port", "p1")
	lq.Info("hidden")
	lq.Warn("shown")
	agent.Info("hidden too")
	want := []string{`level=DEBUG msg=relayed sub=relay port=p1`, `level=WARN msg=shown sub=lq`}
	if diff := cmp.Diff(want, logged(&buf)); diff != "" {
		t.Errorf("at start (-want +got):\n%s", diff)
	}

	for _, c := range []struct{ sub, level string }{{"lq", "info"}, {"relay", "default"}, {"all", "error"}, {"agent", "debug"}} {
		if err := logs.SetLevel(c.sub, c.level); err != nil {
			t.Fatal(err)
		}
	}
	relay.Warn("hidden: relay follows the global level, error")
	lq.Info("shown: lq has its own level")
	agent.Debug("shown: agent is a subsystem too")
	want = []string{`level=INFO msg="shown: lq has its own level" sub=lq`, `level=DEBUG msg="shown: agent is a subsystem too" sub=agent`}
	if diff := cmp.Diff(want, logged(&buf)); diff != "" {
		t.Errorf("after SetLevel (-want +got):\n%s", diff)
	}
	wantState := ops.Logging{Level: "ERROR", Subsystems: map[string]string{"lq": "INFO", "agent": "DEBUG"}, Debug: []string{}}
	if diff := cmp.Diff(wantState, logs.State()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if err := logs.SetLevel("rleay", "debug"); ops.FieldOf(err) != "subsystem" || !strings.Contains(err.Error(), "known: agent, api, board") {
		t.Errorf("unknown subsystem: %v", err)
	}
	if err := logs.SetLevel("relay", "loud"); ops.FieldOf(err) != "level" {
		t.Errorf("unknown level: %v", err)
	}

	// A configuration sets the levels again; debug traces stay.
	_ = logs.SetDebug("nft", true)
	logs.Configure(config.Log{Subsystems: map[string]string{"nft": "error"}})
	wantState = ops.Logging{Level: "INFO", Subsystems: map[string]string{"nft": "ERROR"}, Debug: []string{"nft"}}
	if diff := cmp.Diff(wantState, logs.State()); diff != "" {
		t.Errorf("state after Configure (-want +got):\n%s", diff)
	}
}

func TestDebugTraces(t *testing.T) {
	var buf bytes.Buffer
	logs := ops.NewLogs(&buf, config.Log{})
	var tr traces
	logs.SetTracer(&tr)
	relay := logs.For("relay").With("port", "cable 1").WithGroup("pkt")
	relay.Debug("not traced yet")
	if err := logs.SetDebug("relay", true); err != nil {
		t.Fatal(err)
	}
	relay.Debug("DISCOVER", "xid", 7, slog.Group("opt", "82", true))
	relay.Warn("dropped")
	logs.For("lq").Debug("other subsystem")
	_ = logs.SetDebug("relay", false)
	relay.Debug("off again")
	var got []string
	for _, l := range tr.lines {
		got = append(got, l[len("15:04:05.000 "):])
	}
	want := []string{`relay: DISCOVER port="cable 1" pkt.xid=7 pkt.opt.82=true`, `relay: WARN dropped port="cable 1"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("traces (-want +got):\n%s", diff)
	}
	if lines := logged(&buf); len(lines) != 1 || !strings.Contains(lines[0], "msg=dropped") {
		t.Errorf("log at info: %q, want only the warning (traces do not lower the log level)", lines)
	}
	if !logs.For("nft").Enabled(context.Background(), slog.LevelInfo) || logs.For("nft").Enabled(context.Background(), slog.LevelDebug) {
		t.Error("Enabled does not follow the level")
	}
}
