package agent

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
)

// LeasequeryClient is the agent's RFC 4388 client: an engine.Runner that
// a configuration apply can replace with one built for new servers,
// subscriber prefixes, windows, retries or parameter request list,
// without stopping the agent or touching the location table. Everything
// that asks (the verifier, the sweep, BPI, the operator) holds the
// client, never a runner, and the socket's answers reach whichever
// runner is current. A Task: Run runs the runners.
//
// A replaced runner's cache and per-server state go with it (the new
// one learns them again), and a query in flight on it is restarted:
// Query, QueryFresh and Sweep ask the new runner when the one they
// asked stops because it was replaced, so callers see a slower answer,
// not an error. Counters stay monotonic: those of replaced runners are
// added to the current one's.
type LeasequeryClient struct {
	cur   atomic.Pointer[lqGeneration]
	ready chan struct{}
	// Restarted counts queries and sweeps asked again of a new runner.
	restarted atomic.Uint64

	mu      sync.Mutex
	ctx     context.Context // Run's; nil until Run
	others  []*lqGeneration // running, not current: replaced, not retired yet
	retired engine.RunnerStats
	byAddr  map[netip.Addr]engine.Counters // retired counters per server
	running sync.WaitGroup
}

// lqGeneration is one runner and how to stop it.
type lqGeneration struct {
	runner *engine.Runner
	cancel context.CancelFunc
	done   chan struct{} // closed once its Run returned
}

func newLeasequeryClient(r *engine.Runner) *LeasequeryClient {
	c := &LeasequeryClient{ready: make(chan struct{}), byAddr: map[netip.Addr]engine.Counters{}}
	c.cur.Store(&lqGeneration{runner: r, done: make(chan struct{})})
	return c
}

// Run runs the current runner, and those an apply starts, until ctx
// ends. It returns nil, as a runner does.
func (c *LeasequeryClient) Run(ctx context.Context) error {
	c.mu.Lock()
	c.ctx = ctx
	g := c.cur.Load()
	c.startLocked(g)
	c.mu.Unlock()
	select {
	case <-g.runner.Ready():
		close(c.ready)
	case <-ctx.Done():
	}
	<-ctx.Done()
	c.running.Wait()
	return nil
}

// Ready is closed once the first runner serves.
func (c *LeasequeryClient) Ready() <-chan struct{} { return c.ready }

func (c *LeasequeryClient) startLocked(g *lqGeneration) {
	gctx, cancel := context.WithCancel(c.ctx)
	g.cancel = cancel
	c.running.Go(func() {
		defer close(g.done)
		g.runner.Run(gctx)
	})
}

// errNotRunning: a runner cannot be replaced before Run.
var errNotRunning = errors.New("the leasequery client is not running")

// replace starts r and makes it current; the runner it replaces keeps
// running until retire (or comes back with restore). It returns that
// runner's generation.
func (c *LeasequeryClient) replace(ctx context.Context, r *engine.Runner) (*lqGeneration, error) {
	c.mu.Lock()
	if c.ctx == nil || c.ctx.Err() != nil {
		c.mu.Unlock()
		return nil, errNotRunning
	}
	g := &lqGeneration{runner: r, done: make(chan struct{})}
	c.startLocked(g)
	c.mu.Unlock()
	select {
	case <-r.Ready():
	case <-ctx.Done():
		c.stop(g)
		return nil, ctx.Err()
	}
	c.mu.Lock()
	old := c.cur.Swap(g)
	c.others = append(c.others, old)
	c.mu.Unlock()
	return old, nil
}

// restore makes prev, which replace returned, current again and retires
// the runner that replaced it: the undo of replace.
func (c *LeasequeryClient) restore(prev *lqGeneration) {
	c.mu.Lock()
	g := c.cur.Swap(prev)
	c.others = deleteGen(c.others, prev)
	c.others = append(c.others, g)
	c.mu.Unlock()
	c.retire(g)
}

// retire stops g (no longer current) and adds its counters to the
// retired ones. Queries waiting on it are restarted on the current one.
func (c *LeasequeryClient) retire(g *lqGeneration) {
	g.cancel()
	<-g.done
	st := g.runner.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.others = deleteGen(c.others, g)
	addCounts(reflect.ValueOf(&c.retired).Elem(), reflect.ValueOf(st))
	for _, s := range st.Servers {
		n := c.byAddr[s.Server]
		addCounts(reflect.ValueOf(&n).Elem(), reflect.ValueOf(s.Counters))
		c.byAddr[s.Server] = n
	}
}

// stop stops a runner that never became current.
func (c *LeasequeryClient) stop(g *lqGeneration) {
	g.cancel()
	<-g.done
}

func deleteGen(gs []*lqGeneration, g *lqGeneration) []*lqGeneration {
	for i := range gs {
		if gs[i] == g {
			return append(gs[:i], gs[i+1:]...)
		}
	}
	return gs
}

// ask runs f on the current runner, again on the new one when the runner
// it asked stopped because an apply replaced it.
func ask[T any](c *LeasequeryClient, ctx context.Context, f func(*engine.Runner) (T, error)) (T, error) {
	for {
		g := c.cur.Load()
		v, err := f(g.runner)
		if errors.Is(err, engine.ErrStopped) && ctx.Err() == nil && c.cur.Load() != g {
			c.restarted.Add(1)
			continue
		}
		return v, err
	}
}

// Query asks q (engine.Runner.Query), restarted on a replacing runner.
func (c *LeasequeryClient) Query(ctx context.Context, q lq.Query) (engine.Result, error) {
	return ask(c, ctx, func(r *engine.Runner) (engine.Result, error) { return r.Query(ctx, q) })
}

// QueryFresh asks q bypassing the cache (engine.Runner.QueryFresh).
func (c *LeasequeryClient) QueryFresh(ctx context.Context, q lq.Query) (engine.Result, error) {
	return ask(c, ctx, func(r *engine.Runner) (engine.Result, error) { return r.QueryFresh(ctx, q) })
}

// Sweep asks about every address of prefix (engine.Runner.Sweep). A
// sweep interrupted by a replaced runner starts over on the new one.
func (c *LeasequeryClient) Sweep(ctx context.Context, prefix netip.Prefix, each func(engine.Result), progress func(engine.SweepProgress)) (engine.SweepProgress, error) {
	return ask(c, ctx, func(r *engine.Runner) (engine.SweepProgress, error) { return r.Sweep(ctx, prefix, each, progress) })
}

// NoteLease tells the current runner that gleaning saw a lease on ip.
func (c *LeasequeryClient) NoteLease(ip netip.Addr) { c.cur.Load().runner.NoteLease(ip) }

// HandleReply feeds an answer from the socket to the current runner (a
// replaced one's queries are restarted, so its answers are not awaited).
func (c *LeasequeryClient) HandleReply(from netip.Addr, r lq.Reply) {
	c.cur.Load().runner.HandleReply(from, r)
}

// Stats are the current runner's state with the counters of every runner
// so far: its servers' (in configuration order) include what replaced
// runners counted for the same address.
func (c *LeasequeryClient) Stats() engine.RunnerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.cur.Load().runner.Stats()
	servers := map[netip.Addr]*engine.ServerStats{}
	for i := range st.Servers {
		servers[st.Servers[i].Server] = &st.Servers[i]
	}
	add := func(from engine.RunnerStats, per map[netip.Addr]engine.Counters) {
		addCounts(reflect.ValueOf(&st).Elem(), reflect.ValueOf(from))
		for a, n := range per {
			if s, ok := servers[a]; ok {
				addCounts(reflect.ValueOf(&s.Counters).Elem(), reflect.ValueOf(n))
			}
		}
	}
	add(c.retired, c.byAddr)
	for _, g := range c.others {
		o := g.runner.Stats()
		per := map[netip.Addr]engine.Counters{}
		for _, s := range o.Servers {
			per[s.Server] = s.Counters
		}
		add(o, per)
	}
	return st
}

// Restarted is how many queries and sweeps were asked again because the
// runner they asked was replaced.
func (c *LeasequeryClient) Restarted() uint64 { return c.restarted.Load() }

// addCounts adds the uint64 fields of src to dst's, through nested
// structs: in the engine's statistics the uint64s are counters, while
// gauges (windows, outstanding queries, cache entries) are ints and
// floats, taken from the current runner alone.
func addCounts(dst, src reflect.Value) {
	switch dst.Kind() {
	case reflect.Uint64:
		dst.SetUint(dst.Uint() + src.Uint())
	case reflect.Struct:
		for i := range dst.NumField() {
			if dst.Type().Field(i).IsExported() {
				addCounts(dst.Field(i), src.Field(i))
			}
		}
	}
}
