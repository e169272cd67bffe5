package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// Transport puts a query on the wire. The platform's implementation
// encodes it with (lq.Query).Marshal(giaddr, xid, prl) and sends it to
// server port 67; it must not block for long (the Runner's loop waits).
type Transport interface {
	Send(server netip.Addr, q lq.Query, xid uint32) error
}

// ErrStopped is returned by Runner.Query once Run has returned.
var ErrStopped = errors.New("leasequery runner stopped")

// RunnerConfig is what a Runner needs besides its Engine.
type RunnerConfig struct {
	Transport Transport
	// Logger receives send errors (debug) and nothing per query; nil
	// discards.
	Logger *slog.Logger
	// OnResult, when set, is called with every result the engine decides,
	// updates included (the location table takes them), from Run's
	// goroutine, before any Query waiting for it returns. Cache hits are
	// not results: nothing new was learned.
	OnResult func(Result)
}

// Runner drives an Engine with the real clock: one goroutine (Run) sends
// what is due and sleeps until the next deadline; any goroutine may
// Query, Sweep and feed replies.
type Runner struct {
	cfg   RunnerConfig
	log   *slog.Logger
	ready chan struct{}
	done  chan struct{}
	wake  chan struct{}

	txs     []Transmit // owned by Run's goroutine
	results []Result

	mu         sync.Mutex // guards everything below
	eng        *Engine
	waiters    burstMap[Key, []chan Result]
	freed      chan struct{} // closed (and replaced) when Room grows
	room       int           // Room at the last step
	sendErrors uint64
}

// NewRunner wraps eng, which the Runner owns from now on.
func NewRunner(eng *Engine, cfg RunnerConfig) (*Runner, error) {
	if eng == nil || cfg.Transport == nil {
		return nil, errors.New("leasequery runner: nil engine or transport")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		cfg: cfg, log: log, eng: eng,
		ready: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1),
		waiters: newBurstMap[Key, []chan Result](), freed: make(chan struct{}),
	}, nil
}

// Ready is closed once Run is serving.
func (r *Runner) Ready() <-chan struct{} { return r.ready }

// Run sends queries and retransmissions as they fall due until ctx ends;
// a cancelled context is a clean exit (nil). Call it once.
func (r *Runner) Run(ctx context.Context) error {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	close(r.ready)
	for {
		next := r.step()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(0, time.Until(next))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// step polls the engine, then sends and delivers outside the lock. It
// returns the engine's next deadline.
func (r *Runner) step() time.Time {
	r.mu.Lock()
	now := time.Now()
	r.txs = append(reuse(r.txs), r.eng.Poll(now)...)
	r.results = append(reuse(r.results), r.eng.Results()...)
	type delivery struct {
		ch  chan Result
		res *Result
	}
	var deliveries []delivery
	for i := range r.results {
		res := &r.results[i]
		if res.Update {
			continue
		}
		for _, ch := range r.waiters.m[res.Key] {
			deliveries = append(deliveries, delivery{ch, res})
		}
		r.waiters.delete(res.Key)
	}
	if room := r.eng.Room(); room > r.room {
		close(r.freed)
		r.freed = make(chan struct{})
	}
	r.room = r.eng.Room()
	next := r.eng.NextDeadline()
	r.mu.Unlock()

	for _, tx := range r.txs {
		if err := r.cfg.Transport.Send(tx.Server, tx.Query, tx.XID); err != nil {
			r.countSendError(tx, err)
		}
	}
	// OnResult first: when Query returns, the location table has the result.
	if r.cfg.OnResult != nil {
		for _, res := range r.results {
			r.cfg.OnResult(res)
		}
	}
	for _, d := range deliveries {
		d.ch <- *d.res // buffered for exactly this one result
	}
	return next
}

// countSendError notes a failed send; the retransmission timer recovers it.
func (r *Runner) countSendError(tx Transmit, err error) {
	r.mu.Lock()
	r.sendErrors++
	r.mu.Unlock()
	r.log.Debug("leasequery send failed", "server", tx.Server, "xid", tx.XID, "err", err)
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// HandleReply feeds a decoded reply received from address from.
func (r *Runner) HandleReply(from netip.Addr, reply lq.Reply) {
	r.mu.Lock()
	r.eng.HandleReply(time.Now(), from, reply)
	r.mu.Unlock()
	r.poke()
}

// Query asks q and waits for its result, served from the cache when it
// can be. The error is the submission's, the result's Err (ErrNoAnswer),
// ctx's, or ErrStopped.
func (r *Runner) Query(ctx context.Context, q lq.Query) (Result, error) {
	return r.query(ctx, q, (*Engine).Submit)
}

// QueryFresh is Query bypassing the cache: every server's answer is in the
// Result (the operator's query command).
func (r *Runner) QueryFresh(ctx context.Context, q lq.Query) (Result, error) {
	return r.query(ctx, q, (*Engine).SubmitFresh)
}

func (r *Runner) query(ctx context.Context, q lq.Query, submit func(*Engine, time.Time, lq.Query) (Ticket, error)) (Result, error) {
	ch := make(chan Result, 1)
	r.mu.Lock()
	tk, err := submit(r.eng, time.Now(), q)
	if err == nil && !tk.Cached {
		r.waiters.set(tk.Key, append(r.waiters.m[tk.Key], ch))
	}
	r.mu.Unlock()
	switch {
	case err != nil:
		return Result{}, err
	case tk.Cached:
		return tk.Result, nil
	}
	r.poke()
	select {
	case res := <-ch:
		return res, res.Err
	case <-ctx.Done():
		r.forget(tk.Key, ch)
		return Result{}, ctx.Err()
	case <-r.done:
		return Result{}, ErrStopped
	}
}

// forget withdraws a waiter that gave up; the query itself runs on (its
// answer still fills the cache).
func (r *Runner) forget(k Key, ch chan Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.waiters.m[k]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		r.waiters.delete(k)
		return
	}
	r.waiters.set(k, list)
}

// NoteLease tells the engine that gleaning saw a lease on ip.
func (r *Runner) NoteLease(ip netip.Addr) {
	r.mu.Lock()
	r.eng.NoteLease(ip)
	r.mu.Unlock()
}

// RunnerStats are the engine's Stats and the Runner's own counters.
type RunnerStats struct {
	Stats
	SendErrors uint64
	Waiters    int // keys with callers waiting
}

// Stats returns a snapshot for the console.
func (r *Runner) Stats() RunnerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RunnerStats{Stats: r.eng.Stats(), SendErrors: r.sendErrors, Waiters: len(r.waiters.m)}
}
