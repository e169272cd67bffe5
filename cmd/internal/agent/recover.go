package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
)

// recoveryQueries is how many start-up confirmation queries are in flight
// at once: enough to keep the engine's windows full (it paces each server
// itself), few enough not to crowd out traffic-triggered queries.
const recoveryQueries = 64

// askByIP queries ip. A cached ACTIVE answer is not a new result (the
// runner does not pass it to OnResult), so install gets it here: the
// binding may have left the table since it was cached.
func askByIP(ctx context.Context, q querier, install func(engine.Result), ip netip.Addr) (engine.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	res, err := q.Query(ctx, lq.Query{Kind: lq.ByIP, IP: ip})
	if err == nil && res.Cached && res.Type == lq.LeaseActive {
		install(res)
	}
	return res, err
}

// queryEach asks about every address, at most n at a time, and calls each
// with the outcome (from several goroutines) until done or ctx ends.
func queryEach(ctx context.Context, q querier, install func(engine.Result), ips []netip.Addr, n int,
	each func(ip netip.Addr, res engine.Result, err error)) {
	next := make(chan netip.Addr)
	var wg sync.WaitGroup
	for range min(n, len(ips)) {
		wg.Go(func() {
			for ip := range next {
				res, err := askByIP(ctx, q, install, ip)
				if ctx.Err() != nil {
					continue
				}
				each(ip, res, err)
			}
		})
	}
	defer wg.Wait()
	defer close(next)
	for _, ip := range ips {
		select {
		case next <- ip:
		case <-ctx.Done():
			return
		}
	}
}

// confirmCarried asks about every address carried over from the previous
// process and sends each verdict to out (the enforcer).
func confirmCarried(ctx context.Context, q querier, install func(engine.Result), t *location.Table,
	ifaces map[string]string, carried map[netip.Addr]programmed, out chan<- carryOutcome) {
	ips := make([]netip.Addr, 0, len(carried))
	for ip := range carried {
		ips = append(ips, ip)
	}
	queryEach(ctx, q, install, ips, recoveryQueries, func(ip netip.Addr, _ engine.Result, err error) {
		p := carried[ip]
		o := carryOutcome{ip: ip, verdict: carryRefuted}
		switch {
		case matches(t, ifaces, ip, p.iface, p.mac[:]):
			o.verdict = carryConfirmed
		case err != nil && !errors.Is(err, engine.ErrRestricted):
			o.verdict = carryUnanswered
		}
		select {
		case out <- o:
		case <-ctx.Done():
		}
	})
}

// hintConfirmer asks the servers about the snapshot's hints at start-up: a
// Task that ends when every hint has an answer. Answers reach the table
// through the agent's onResult: a confirmed hint becomes a leasequery
// binding (and is programmed), an UNASSIGNED one is removed, one no
// server answers for stays a hint (never programmed) until it expires.
type hintConfirmer struct {
	query   querier
	install func(engine.Result)
	table   *location.Table
	serving <-chan struct{} // the runner's Ready
	hints   []location.Binding
	log     *slog.Logger
	done    atomic.Int64 // hints confirmed, once finished
}

func (h *hintConfirmer) Ready() <-chan struct{} { return closed }

func (h *hintConfirmer) Run(ctx context.Context) error {
	select {
	case <-h.serving:
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	ips := make([]netip.Addr, len(h.hints))
	for i, b := range h.hints {
		ips[i] = b.IP
	}
	var confirmed, gone atomic.Int64
	queryEach(ctx, h.query, h.install, ips, recoveryQueries, func(ip netip.Addr, _ engine.Result, _ error) {
		b, ok := h.table.ByIP(ip)
		switch {
		case !ok:
			gone.Add(1)
		case b.Source != location.Snapshot:
			confirmed.Add(1)
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	h.done.Store(confirmed.Load())
	h.log.Info("snapshot hints asked about", "hints", len(ips), "confirmed", confirmed.Load(),
		"removed", gone.Load(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
