package serial

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakePort is an open port that records its closing.
type fakePort struct {
	io.ReadWriter
	closed bool
}

func (p *fakePort) Close() error { p.closed = true; return nil }

// script drives a Supervisor: each open consumes one step, which either
// fails to open or serves for a virtual duration and ends with an error.
type script struct {
	steps  []step
	now    time.Time
	waits  []time.Duration
	ports  []*fakePort
	cancel context.CancelFunc
	served int
}

type step struct {
	openErr  error
	serveFor time.Duration
	serveErr error
	panics   bool
}

func (s *script) open(dev string, baud int) (io.ReadWriteCloser, error) {
	st := s.steps[0]
	if st.openErr != nil {
		s.steps = s.steps[1:]
		return nil, st.openErr
	}
	p := &fakePort{}
	s.ports = append(s.ports, p)
	return p, nil
}

func (s *script) serve(ctx context.Context, port io.ReadWriter) error {
	st := s.steps[0]
	s.steps = s.steps[1:]
	s.served++
	s.now = s.now.Add(st.serveFor)
	if len(s.steps) == 0 {
		s.cancel()
		return ctx.Err()
	}
	if st.panics {
		panic("console bug")
	}
	return st.serveErr
}

func (s *script) after(d time.Duration) <-chan time.Time {
	s.waits = append(s.waits, d)
	s.now = s.now.Add(d)
	c := make(chan time.Time, 1)
	c <- s.now
	return c
}

func TestSupervisorReopensWithBackoff(t *testing.T) {
	missing := &fs.PathError{Op: "open", Path: "/dev/ttyS1", Err: fs.ErrNotExist}
	eio := errors.New("read /dev/ttyS1: input/output error")
	sc := &script{steps: []step{
		{openErr: missing},
		{openErr: missing},
		{openErr: missing},
		{serveFor: time.Second, serveErr: eio}, // short-lived: backoff keeps growing
		{serveFor: time.Hour, serveErr: eio},   // served long: backoff starts over
		{serveFor: time.Second, panics: true},  // a console bug is a port error
		{serveFor: time.Second, serveErr: nil}, // clean end: reopen
		{serveFor: time.Second, serveErr: context.Canceled},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc.cancel = cancel
	sup := &Supervisor{
		Device: "/dev/ttyS1", Baud: 115200,
		Serve: sc.serve, Open: sc.open,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second,
		Now: func() time.Time { return sc.now }, After: sc.after,
	}
	if err := sup.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	ms := time.Millisecond
	wantWaits := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 100 * ms, 200 * ms, 400 * ms}
	if diff := cmp.Diff(wantWaits, sc.waits); diff != "" {
		t.Errorf("backoff waits (-want +got):\n%s", diff)
	}
	want := Counters{Opens: 5, OpenErrors: 3, PortErrors: 3}
	if diff := cmp.Diff(want, sup.Counters()); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	for i, p := range sc.ports {
		if !p.closed {
			t.Errorf("port %d not closed after serving", i)
		}
	}
}

func TestSupervisorWithoutServe(t *testing.T) {
	if err := (&Supervisor{Device: "x"}).Run(context.Background()); err == nil {
		t.Error("Run without Serve succeeded")
	}
}
