package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// Default backoff between attempts to open, or reopen, the console device.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Supervisor keeps a console device open and served. When the device is
// missing, fails to open or fails while served, it closes it and tries
// again after a backoff that doubles up to MaxBackoff and starts over once
// a port has been served for MaxBackoff. Run never returns a port error, so
// a broken console cannot stop the tasks it runs beside.
type Supervisor struct {
	Device string
	Baud   int
	// Serve runs the console on an open port until the port fails (an
	// error) or ctx ends. A nil error means the port should be reopened.
	Serve func(ctx context.Context, port io.ReadWriter) error
	// Open opens the device; nil means Open (tarm/serial).
	Open Opener
	// MinBackoff and MaxBackoff bound the wait before a reopen; zero means
	// the defaults.
	MinBackoff, MaxBackoff time.Duration
	// Now and After are the clock; nil means the real one.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger reports opens and losses of the port (not every retry); nil
	// discards.
	Logger *slog.Logger

	opens, openErrors, portErrors atomic.Uint64
}

// Counters say how the console port has fared.
type Counters struct {
	Opens      uint64 // successful opens
	OpenErrors uint64 // failed opens (device missing, busy, bad baud...)
	PortErrors uint64 // served ports that failed (read or write error, stalled peer)
}

// Counters returns a snapshot of the counters; safe at any time.
func (s *Supervisor) Counters() Counters {
	return Counters{Opens: s.opens.Load(), OpenErrors: s.openErrors.Load(), PortErrors: s.portErrors.Load()}
}

// Run opens and serves the device until ctx ends, then returns ctx.Err().
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Serve == nil {
		return errors.New("serial supervisor: no Serve function")
	}
	b := backoff{min: orDuration(s.MinBackoff, DefaultMinBackoff), max: orDuration(s.MaxBackoff, DefaultMaxBackoff)}
	failing := false // whether the last attempt failed, to log only changes
	for ctx.Err() == nil {
		err := s.serveOnce(ctx, &b)
		if err != nil && !failing {
			s.logger().Warn("console port lost", "device", s.Device, "err", err)
		}
		failing = err != nil
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-s.after(b.next()):
		}
	}
	return ctx.Err()
}

// serveOnce opens the port, serves it and closes it. It resets the backoff
// after a port served for at least the maximum backoff.
func (s *Supervisor) serveOnce(ctx context.Context, b *backoff) error {
	port, err := s.opener()(s.Device, s.Baud)
	if err != nil {
		s.openErrors.Add(1)
		return err
	}
	s.opens.Add(1)
	s.logger().Info("console port open", "device", s.Device, "baud", s.Baud)
	start := s.now()
	err = s.serve(ctx, port)
	if cerr := port.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = fmt.Errorf("close %s: %w", s.Device, cerr)
	}
	if s.now().Sub(start) >= b.max {
		b.reset()
	}
	if err != nil && ctx.Err() == nil {
		s.portErrors.Add(1)
		return err
	}
	return nil
}

// serve runs Serve and turns a panic into an error: a console bug must not
// take the agent down.
func (s *Supervisor) serve(ctx context.Context, port io.ReadWriter) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("console on %s panicked: %v", s.Device, p)
		}
	}()
	return s.Serve(ctx, port)
}

func (s *Supervisor) opener() Opener {
	if s.Open != nil {
		return s.Open
	}
	return Open
}

func (s *Supervisor) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Supervisor) after(d time.Duration) <-chan time.Time {
	if s.After != nil {
		return s.After(d)
	}
	return time.After(d)
}

func (s *Supervisor) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// backoff doubles from min to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
