package ops

import (
	"context"
	"errors"
	"fmt"
)

// ErrRollbackFailed is matched (errors.Is) by RunSteps' error when a step
// failed and undoing an earlier one failed too.
var ErrRollbackFailed = errors.New("rollback failed")

// Step is one reversible part of applying a configuration: rebuild the
// relay's ports, reconfigure the leasequery client, replace the nftables
// ruleset. Do either completes or changes nothing (an nftables
// transaction, a swap of pointers); Undo restores what a completed Do
// changed.
type Step struct {
	Name string
	Do   func(ctx context.Context) error
	Undo func(ctx context.Context) error
}

// RunSteps runs steps in order. When one fails, the steps that completed
// are undone, last first, and the error names the step that failed; an
// Applier built this way meets the contract of Applier. Undo runs even if
// ctx has ended.
func RunSteps(ctx context.Context, steps []Step) error {
	for i, s := range steps {
		err := s.Do(ctx)
		if err == nil {
			continue
		}
		err = fmt.Errorf("%s: %w", s.Name, err)
		if uerr := undo(context.WithoutCancel(ctx), steps[:i]); uerr != nil {
			return fmt.Errorf("%w; %w: %w", err, ErrRollbackFailed, uerr)
		}
		return err
	}
	return nil
}

func undo(ctx context.Context, done []Step) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		if done[i].Undo == nil {
			continue
		}
		if err := done[i].Undo(ctx); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", done[i].Name, err))
		}
	}
	return errors.Join(errs...)
}
