package ops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
)

// Config returns the running configuration and its generation.
func (o *Ops) Config() ConfigState {
	o.cfgMu.Lock()
	defer o.cfgMu.Unlock()
	return o.cfg
}

// ValidateConfig parses and validates data as a configuration without
// applying it (the API's dry run). Errors are *Error listing every
// problem with its field.
func (o *Ops) ValidateConfig(data []byte) (*config.Config, error) {
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, configError(err)
	}
	return cfg, nil
}

// ApplyRequest is one configuration change.
type ApplyRequest struct {
	// Data is the configuration file's content.
	Data []byte
	// IfGeneration, when not zero, is the generation the caller read and
	// edited: the apply is refused (Conflict) if another came in between,
	// so no update is lost.
	IfGeneration uint64
	// Origin says who asked: api, console, reload.
	Origin string
}

type applyCounters struct {
	ok, failed, rolledBackFailed atomic.Uint64
}

// ApplyConfig validates and applies a configuration atomically: the
// Applier either runs it entirely or leaves the running one as it was,
// so the generation moves on only when the apply succeeded. The apply
// runs to completion (or rollback) even if ctx ends first: a caller
// hanging up must not leave the card half-configured. When
// Options.ConfigPath is set, the file is replaced once the apply succeeded
// (Origin reload excepted: it read that very file).
func (o *Ops) ApplyConfig(ctx context.Context, req ApplyRequest) (ConfigState, error) {
	cfg, err := o.ValidateConfig(req.Data)
	if err != nil {
		return ConfigState{}, err
	}
	o.applyMu.Lock()
	defer o.applyMu.Unlock()
	cur := o.Config()
	if req.IfGeneration != 0 && req.IfGeneration != cur.Generation {
		return cur, errorf(Conflict, "generation", "generation %d is running, not %d: read the configuration again and redo the change",
			cur.Generation, req.IfGeneration)
	}
	if o.deps.Applier == nil {
		return cur, errorf(Unavailable, "", "this agent cannot apply a configuration at run time; restart it with the new file")
	}
	persist := o.opts.ConfigPath != "" && req.Origin != "reload"
	var staged string
	if persist {
		if staged, err = stage(o.opts.ConfigPath, req.Data); err != nil {
			return cur, &Error{Kind: Failed, Err: fmt.Errorf("configuration not applied: %w", err)}
		}
		defer os.Remove(staged) // a no-op once renamed
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.opts.ApplyTimeout)
	defer cancel()
	if err := o.deps.Applier.Apply(actx, cfg); err != nil {
		return cur, o.applyFailed(cur, err)
	}
	if persist {
		if err := os.Rename(staged, o.opts.ConfigPath); err != nil {
			o.log.Error("configuration applied but not saved", "path", o.opts.ConfigPath, "err", err)
		}
	}
	return o.applied(cfg, req.Origin), nil
}

func (o *Ops) applyFailed(cur ConfigState, err error) error {
	o.applies.failed.Add(1)
	if errors.Is(err, ErrRollbackFailed) {
		o.applies.rolledBackFailed.Add(1)
		o.cfgMu.Lock()
		o.cfg.Inconsistent = err.Error()
		o.cfgMu.Unlock()
		o.log.Error("configuration apply failed and so did its rollback", "generation", cur.Generation, "err", err)
		return &Error{Kind: Failed, Err: fmt.Errorf("apply failed and its rollback too; the running state may match neither configuration: %w", err)}
	}
	o.log.Warn("configuration apply failed; rolled back", "generation", cur.Generation, "err", err)
	var refused *Error
	if errors.As(err, &refused) && refused.Kind == Invalid {
		// The Applier refused before changing anything: a change it
		// cannot make at run time (upstream.interface, api.socket...).
		return &Error{Kind: Invalid, Field: refused.Field, Err: fmt.Errorf("not applied, generation %d still running: %w", cur.Generation, err)}
	}
	return &Error{Kind: Failed, Err: fmt.Errorf("apply failed, generation %d still running: %w", cur.Generation, err)}
}

func (o *Ops) applied(cfg *config.Config, origin string) ConfigState {
	o.logs.Configure(cfg.Log)
	o.applies.ok.Add(1)
	o.cfgMu.Lock()
	o.cfg = ConfigState{Generation: o.cfg.Generation + 1, AppliedAt: o.now(), Origin: origin, Config: cfg}
	st := o.cfg
	o.cfgMu.Unlock()
	o.hub.publish(Event{Type: EventConfigApplied, Time: st.AppliedAt, Generation: st.Generation})
	o.log.Info("configuration applied", "generation", st.Generation, "origin", origin)
	return st
}

// stage writes data beside path, synced, for a rename once applied.
func stage(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o600)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// Reload re-reads Options.ConfigPath and applies it: what the agent does
// on SIGHUP. An unchanged file is applied all the same (a new generation).
func (o *Ops) Reload(ctx context.Context) (ConfigState, error) {
	if o.opts.ConfigPath == "" {
		return o.Config(), errorf(Unavailable, "", "no configuration file to reload")
	}
	data, err := os.ReadFile(o.opts.ConfigPath)
	if err != nil {
		return o.Config(), &Error{Kind: Failed, Err: err}
	}
	st, err := o.ApplyConfig(ctx, ApplyRequest{Data: data, Origin: "reload"})
	if err != nil {
		return st, fmt.Errorf("%s: %w", o.opts.ConfigPath, err)
	}
	return st, nil
}

// ParseGeneration reads a generation (an If-Match value, a flag).
func ParseGeneration(s string) (uint64, error) {
	g, err := strconv.ParseUint(s, 10, 64)
	if err != nil || g == 0 {
		return 0, errorf(Malformed, "generation", "%q is not a generation (a positive integer)", s)
	}
	return g, nil
}
