package ops_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// changed is ConfigJSON with a third port and one server less.
var changed = strings.NewReplacer(
	`"servers": ["10.0.0.1", "10.0.0.3"]`, `"servers": ["10.0.0.1"]`,
	`"remote_id": "line-2"}`, `"remote_id": "line-2"},
    {"name": "eth3", "interface": "lge0", "kind": "ethernet", "gateway": "192.168.20.129"}`,
).Replace(opstest.ConfigJSON)

func TestApplyConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte(opstest.ConfigJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, ops.Options{ConfigPath: path})
	stream := env.Ops.Events(0)
	st, err := env.Ops.ApplyConfig(context.Background(), ops.ApplyRequest{Data: []byte(changed), IfGeneration: 1, Origin: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Generation != 2 || st.Origin != "api" || len(st.Config.Ports) != 3 {
		t.Errorf("after apply: generation %d origin %q ports %d, want 2 api 3", st.Generation, st.Origin, len(st.Config.Ports))
	}
	running, ruleset := env.Backend.Applier.Running()
	if diff := cmp.Diff([]string{"lgc0", "lgd0", "lge0"}, running.Ports, eq); diff != "" {
		t.Errorf("running ports (-want +got):\n%s", diff)
	}
	if len(running.Servers) != 1 || len(ruleset.Ports) != 3 {
		t.Errorf("running %+v, ruleset ports %d", running, len(ruleset.Ports))
	}
	if saved, _ := os.ReadFile(path); string(saved) != changed {
		t.Errorf("the configuration file was not replaced: %q", saved)
	}
	evs := drain(stream)
	if len(evs) != 1 || evs[0].Type != ops.EventConfigApplied || evs[0].Generation != 2 {
		t.Errorf("events %+v, want one config.applied for generation 2", evs)
	}

	// A second writer still holding generation 1 is refused: no lost update.
	_, err = env.Ops.ApplyConfig(context.Background(), ops.ApplyRequest{Data: []byte(opstest.ConfigJSON), IfGeneration: 1})
	if ops.KindOf(err) != ops.Conflict || ops.FieldOf(err) != "generation" {
		t.Errorf("stale generation: %v, want a conflict on generation", err)
	}
	if g := env.Ops.Config().Generation; g != 2 {
		t.Errorf("generation %d after a refused apply", g)
	}
}

// TestApplyFailingHalfWayRollsBack: the relay and leasequery steps
// succeed, the nftables rebuild fails; both are undone, the generation,
// the running state, the ruleset and the file stay as they were.
func TestApplyFailingHalfWayRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte(opstest.ConfigJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, ops.Options{ConfigPath: path})
	stream := env.Ops.Events(0)
	before, rulesBefore := env.Backend.Applier.Running()
	elemsBefore := env.Backend.Nft.Elements(opstest.Now)
	env.Backend.Applier.FailStep = "enforcement"

	st, err := env.Ops.ApplyConfig(context.Background(), ops.ApplyRequest{Data: []byte(changed), Origin: "api"})
	if ops.KindOf(err) != ops.Failed || !strings.Contains(err.Error(), "generation 1 still running: enforcement: netlink: no such device") {
		t.Fatalf("apply: %v (kind %v), want a failure naming the step, still at generation 1", err, ops.KindOf(err))
	}
	if st.Generation != 1 || env.Ops.Config().Generation != 1 || len(env.Ops.Config().Config.Ports) != 2 {
		t.Errorf("generation %d/%d after a failed apply, want 1", st.Generation, env.Ops.Config().Generation)
	}
	after, rulesAfter := env.Backend.Applier.Running()
	if diff := cmp.Diff(before, after, eq); diff != "" {
		t.Errorf("running state changed by a failed apply (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(rulesBefore, rulesAfter, eq); diff != "" {
		t.Errorf("ruleset changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(elemsBefore, env.Backend.Nft.Elements(opstest.Now), eq); diff != "" {
		t.Errorf("allowed set changed (-before +after):\n%s", diff)
	}
	if saved, _ := os.ReadFile(path); string(saved) != opstest.ConfigJSON {
		t.Errorf("the configuration file changed: %q", saved)
	}
	if names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(names) != 0 {
		t.Errorf("staged files left behind: %v", names)
	}
	if evs := drain(stream); len(evs) != 0 {
		t.Errorf("events after a failed apply: %+v", evs)
	}
	if got := env.Ops.Config().Inconsistent; got != "" {
		t.Errorf("marked inconsistent after a clean rollback: %q", got)
	}
}

func TestApplyWhoseRollbackFailsIsMarked(t *testing.T) {
	env := newEnv(t, ops.Options{})
	env.Backend.Applier.FailStep, env.Backend.Applier.FailUndo = "enforcement", "relay"
	_, err := env.Ops.ApplyConfig(context.Background(), ops.ApplyRequest{Data: []byte(changed)})
	if !errors.Is(err, ops.ErrRollbackFailed) || !strings.Contains(err.Error(), "undo relay: injected undo failure") {
		t.Fatalf("apply: %v, want a rollback failure naming the step", err)
	}
	if st := env.Ops.Config(); st.Generation != 1 || st.Inconsistent == "" {
		t.Errorf("state %+v, want generation 1 marked inconsistent", st)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	env := newEnv(t, ops.Options{})
	for _, tc := range []struct {
		name, json string
		kind       ops.ErrorKind
		fields     []string
	}{
		{"unknown key", strings.Replace(opstest.ConfigJSON, `"relay_id"`, `"relay_idd"`, 1), ops.Malformed, []string{"relay_idd"}},
		{"wrong type", strings.Replace(opstest.ConfigJSON, `"enabled": true`, `"enabled": "yes"`, 1), ops.Malformed, []string{"enforcement.enabled"}},
		{"syntax", opstest.ConfigJSON[:40], ops.Malformed, []string{""}},
		{"out of range", strings.Replace(opstest.ConfigJSON, `"log": {"level": "info"}`,
			`"relay": {"max_hops": 40}, "leasequery": {"retries": 9}, "log": {"level": "info"}`, 1), ops.Invalid,
			[]string{"relay.max_hops", "leasequery.retries"}},
	} {
		_, err := env.Ops.ValidateConfig([]byte(tc.json))
		var e *ops.Error
		if !errors.As(err, &e) || e.Kind != tc.kind {
			t.Errorf("%s: %v, want kind %v", tc.name, err, tc.kind)
			continue
		}
		var fields []string
		for _, p := range e.Problems {
			fields = append(fields, p.Field)
		}
		if diff := cmp.Diff(tc.fields, fields, eq); diff != "" {
			t.Errorf("%s: fields (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := env.Ops.ValidateConfig([]byte(changed)); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
	if g := env.Ops.Config().Generation; g != 1 {
		t.Errorf("validation changed the generation to %d", g)
	}
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte(opstest.ConfigJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, ops.Options{ConfigPath: path})
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := env.Ops.Reload(context.Background())
	if err != nil || st.Generation != 2 || st.Origin != "reload" {
		t.Fatalf("reload: %+v %v", st, err)
	}
	if err := os.WriteFile(path, []byte(`{"servers": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Ops.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("reload of a bad file: %v, want an error naming the file", err)
	}
	if env.Ops.Config().Generation != 2 {
		t.Error("a refused reload changed the generation")
	}
}

func TestApplyWithoutApplier(t *testing.T) {
	env := newEnv(t, ops.Options{})
	deps := env.Backend.Deps()
	deps.Applier = nil
	o, err := ops.New(deps, env.Config, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.ApplyConfig(context.Background(), ops.ApplyRequest{Data: []byte(changed)}); ops.KindOf(err) != ops.Unavailable {
		t.Errorf("apply without an applier: %v", err)
	}
}

func TestRunStepsUndoesInReverse(t *testing.T) {
	var log []string
	step := func(name string, fail bool) ops.Step {
		return ops.Step{Name: name,
			Do: func(context.Context) error {
				if fail {
					return errors.New("boom")
				}
				log = append(log, "do "+name)
				return nil
			},
			Undo: func(context.Context) error { log = append(log, "undo "+name); return nil }}
	}
	err := ops.RunSteps(context.Background(), []ops.Step{step("a", false), step("b", false), step("c", true), step("d", false)})
	if err == nil || err.Error() != "c: boom" {
		t.Errorf("err %v, want c: boom", err)
	}
	if diff := cmp.Diff([]string{"do a", "do b", "undo b", "undo a"}, log, eq); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

// refusing is an Applier that cannot change the upstream at run time.
type refusing struct{}

func (refusing) Apply(context.Context, *config.Config) error {
	return &ops.Error{Kind: ops.Invalid, Field: "upstream.interface", Err: errors.New("upstream.interface: changing it needs a restart")}
}

func TestApplierRefusalKeepsItsField(t *testing.T) {
	env := newEnv(t, ops.Options{})
	deps := env.Backend.Deps()
	deps.Applier = refusing{}
	o, err := ops.New(deps, env.Config, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.ApplyConfig(context.Background(), ops.ApplyRequest{Data: []byte(changed)})
	if ops.KindOf(err) != ops.Invalid || ops.FieldOf(err) != "upstream.interface" || !strings.Contains(err.Error(), "generation 1 still running") {
		t.Errorf("refused apply: %v (%v %q)", err, ops.KindOf(err), ops.FieldOf(err))
	}
}
