package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/leaseguard/leaseguard/lq/location"
)

// Task is long-running work of the agent (STYLE.md §9): Run until ctx is
// done, returning ctx's error (a clean stop) or the error that ended it;
// Ready is closed once the task does its job. A Run that returns nil
// early (a finished sweep) does not stop the others; an error stops the
// agent.
type Task interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
}

// namedTask is a Task with the name the agent logs it under.
type namedTask struct {
	name string
	Task
}

// FuncTask adapts a function that needs no readiness signal (it is ready
// as soon as it runs) to Task.
type FuncTask func(ctx context.Context) error

func (f FuncTask) Run(ctx context.Context) error { return f(ctx) }

func (f FuncTask) Ready() <-chan struct{} { return closed }

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// expiryTask removes bindings when their lease ends: a timer set to the
// table's earliest expiry, re-armed whenever the table changes (a new
// binding may expire sooner).
type expiryTask struct {
	table *location.Table
	now   func() time.Time
	log   *slog.Logger
	ready chan struct{}
}

func newExpiryTask(t *location.Table, now func() time.Time, log *slog.Logger) *expiryTask {
	return &expiryTask{table: t, now: now, log: log, ready: make(chan struct{})}
}

func (e *expiryTask) Ready() <-chan struct{} { return e.ready }

func (e *expiryTask) Run(ctx context.Context) error {
	sub := e.table.Subscribe("expiry")
	defer sub.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	close(e.ready)
	for {
		e.expire()
		timer.Reset(e.untilNext())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-sub.Wake():
			// Only the table's earliest expiry matters, not the events.
			if _, err := sub.Poll(0); err != nil && !errors.Is(err, location.ErrLagged) {
				return err
			}
		}
	}
}

// expire removes what has expired by now.
func (e *expiryTask) expire() {
	for _, ev := range e.table.Expire(e.now()) {
		e.log.Info("binding expired", "ip", ev.Old.IP, "mac", ev.Old.HWAddr.String(), "port", ev.Old.Port)
	}
}

// untilNext is how long until the earliest expiry: at least a
// millisecond, at most an hour (the timer is re-armed on every change).
func (e *expiryTask) untilNext() time.Duration {
	next := e.table.NextExpiry()
	if next.IsZero() {
		return time.Hour
	}
	return min(max(next.Sub(e.now()), time.Millisecond), time.Hour)
}
