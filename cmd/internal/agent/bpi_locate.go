package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
)

// modemIndex is BPI's Locator: which modem each leased address lives
// behind, kept from the location table's events so that the frame path
// looks up a map under a read lock and allocates nothing (Table.ByIP
// expands a whole binding). Only bindings with a modem (cable ports) are
// kept. It may trail the table by the events not yet applied; the
// leasequery trigger checks the table itself before asking the servers.
type modemIndex struct {
	table *location.Table
	ready chan struct{}

	mu   sync.RWMutex
	byIP map[netip.Addr]net.HardwareAddr
}

func newModemIndex(t *location.Table) *modemIndex {
	return &modemIndex{table: t, ready: make(chan struct{}), byIP: map[netip.Addr]net.HardwareAddr{}}
}

// ModemOf implements bpi.Locator.
func (x *modemIndex) ModemOf(ip netip.Addr) (net.HardwareAddr, bool) {
	x.mu.RLock()
	mac, ok := x.byIP[ip]
	x.mu.RUnlock()
	return mac, ok
}

// Ready is closed once the index holds the table as it was at start.
func (x *modemIndex) Ready() <-chan struct{} { return x.ready }

// run follows the table until ctx ends: subscribe first, then load the
// whole table, then apply events (idempotently, so events the load already
// saw do no harm); after a lag, load it again.
func (x *modemIndex) run(ctx context.Context) error {
	sub := x.table.Subscribe("bpi")
	defer sub.Close()
	x.load()
	close(x.ready)
	for {
		evs, err := sub.Next(ctx, 0)
		switch {
		case errors.Is(err, location.ErrLagged):
			x.load()
			continue
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		x.apply(evs)
	}
}

func (x *modemIndex) load() {
	fresh := map[netip.Addr]net.HardwareAddr{}
	for b := range x.table.All() {
		if len(b.Modem) == 6 {
			fresh[b.IP] = b.Modem
		}
	}
	x.mu.Lock()
	x.byIP = fresh
	x.mu.Unlock()
}

func (x *modemIndex) apply(evs []location.Event) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, ev := range evs {
		switch {
		case ev.Kind == location.Removed:
			delete(x.byIP, ev.Old.IP)
		case len(ev.New.Modem) == 6:
			x.byIP[ev.New.IP] = ev.New.Modem
		default: // moved off a modem
			delete(x.byIP, ev.New.IP)
		}
	}
}

// lqTrigger starts leasequeries for the destinations of dropped frames
// (RFC 4388 §1: an access concentrator that lost its state queries when
// traffic arrives): at most one per address per holdoff, at most perSec
// in all (a token bucket of one second's worth), from a bounded queue
// served by a few workers. Results reach the table through the agent's
// OnResult like every other leasequery.
type lqTrigger struct {
	query    func(ctx context.Context, q lq.Query) (engine.Result, error)
	known    func(ip netip.Addr) bool // the table already places ip behind a modem
	prefixes []netip.Prefix           // queries only for subscriber addresses
	holdoff  time.Duration
	perSec   float64
	now      func() time.Time
	queue    chan netip.Addr
	log      *slog.Logger // traces each query and its answer; never nil

	mu     sync.Mutex
	last   map[netip.Addr]time.Time
	tokens float64
	filled time.Time

	stats triggerCounters
}

// lqWorkers is how many triggered queries run at once; the engine paces
// what goes on the wire.
const lqWorkers = 4

func newLQTrigger(query func(context.Context, lq.Query) (engine.Result, error), known func(netip.Addr) bool,
	prefixes []netip.Prefix, holdoff time.Duration, perSec int, now func() time.Time) *lqTrigger {
	return &lqTrigger{query: query, known: known, prefixes: prefixes, holdoff: holdoff, perSec: float64(perSec),
		now: now, queue: make(chan netip.Addr, 4*perSec), last: map[netip.Addr]time.Time{}, tokens: float64(perSec),
		log: slog.New(slog.DiscardHandler)}
}

// Trigger asks, without blocking, for a leasequery about ip.
func (q *lqTrigger) Trigger(ip netip.Addr) {
	if !q.subscriber(ip) {
		q.stats.notSubscriber.Add(1)
		return
	}
	if !q.admit(ip, q.now()) {
		return
	}
	select {
	case q.queue <- ip:
	default:
		q.stats.queueFull.Add(1)
	}
}

func (q *lqTrigger) subscriber(ip netip.Addr) bool {
	for _, p := range q.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// admit applies the holdoff and the rate.
func (q *lqTrigger) admit(ip netip.Addr, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if at, ok := q.last[ip]; ok && now.Sub(at) < q.holdoff {
		q.stats.held.Add(1)
		return false
	}
	q.tokens = min(q.tokens+now.Sub(q.filled).Seconds()*q.perSec, q.perSec)
	q.filled = now
	if q.tokens < 1 {
		q.stats.rateLimited.Add(1)
		return false
	}
	q.tokens--
	if len(q.last) >= 2*int(q.perSec*q.holdoff.Seconds())+64 {
		q.prune(now)
	}
	q.last[ip] = now
	q.stats.triggered.Add(1)
	return true
}

// prune forgets addresses whose holdoff has passed. Admission bounds how
// many can be younger, so the map stays small.
func (q *lqTrigger) prune(now time.Time) {
	for ip, at := range q.last {
		if now.Sub(at) >= q.holdoff {
			delete(q.last, ip)
		}
	}
}

// run serves the queue until ctx ends.
func (q *lqTrigger) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range lqWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ip := <-q.queue:
					q.ask(ctx, ip)
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

func (q *lqTrigger) ask(ctx context.Context, ip netip.Addr) {
	if q.known(ip) {
		q.stats.inTable.Add(1) // the index has not caught up yet
		q.log.Debug("leasequery not needed", "ip", ip, "answer", "in_table")
		return
	}
	q.log.Debug("leasequery started", "ip", ip, "why", "frame to unknown location")
	res, err := q.query(ctx, lq.Query{Kind: lq.ByIP, IP: ip})
	switch {
	case err != nil:
		q.stats.failed.Add(1)
		q.log.Debug("leasequery failed", "ip", ip, "err", err)
	case res.Type == lq.LeaseActive:
		q.stats.active.Add(1)
		q.log.Debug("leasequery answered", "ip", ip, "answer", res.Type.String(), "server", res.Server)
	default:
		q.stats.notActive.Add(1)
		q.log.Debug("leasequery answered", "ip", ip, "answer", res.Type.String(), "server", res.Server)
	}
}

// BPILeasequeries counts the leasequeries started by dropped frames.
type BPILeasequeries struct {
	Triggered     uint64 // admitted and queued
	Held          uint64 // the address was queried within the holdoff
	RateLimited   uint64 // over leasequery_per_second
	QueueFull     uint64 // admitted, but the queue was full
	NotSubscriber uint64 // outside the subscriber networks: never asked
	InTable       uint64 // the table knew it by the time a worker looked
	Active        uint64 // answered DHCPLEASEACTIVE (placed by OnResult)
	NotActive     uint64 // answered UNASSIGNED or UNKNOWN
	Failed        uint64 // no answer, or refused by the engine
}

type triggerCounters struct {
	triggered, held, rateLimited, queueFull, notSubscriber, inTable, active, notActive, failed atomic.Uint64
}

func (c *triggerCounters) snapshot() BPILeasequeries {
	return BPILeasequeries{Triggered: c.triggered.Load(), Held: c.held.Load(), RateLimited: c.rateLimited.Load(),
		QueueFull: c.queueFull.Load(), NotSubscriber: c.notSubscriber.Load(), InTable: c.inTable.Load(),
		Active: c.active.Load(), NotActive: c.notActive.Load(), Failed: c.failed.Load()}
}
