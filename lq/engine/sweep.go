package engine

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// SweepProgress counts a sweep's addresses.
type SweepProgress struct {
	Total     int // addresses in the prefix (network and broadcast excluded)
	Submitted int // asked, or answered from the cache
	Done      int // with a result
	// Results by winning answer; Failed: no server answered (ErrNoAnswer).
	Active, Unassigned, Unknown, Failed int
	Cached                              int // of Done, answered from the cache
	Restricted                          int // outside the subscriber prefixes: not asked, not Done
}

// sweepShare is the part of Config.MaxPending a sweep may use: the rest
// stays free for queries that somebody is waiting on.
const sweepShare = 2

// Sweep asks about every address of prefix (but its network and broadcast
// addresses, for prefixes up to /30), feeding the engine as room allows,
// at most half of MaxPending at a time, and calls progress (when not nil)
// every 1% of the addresses and at the end. each (when not nil) sees every
// result; updates arrive through RunnerConfig.OnResult. Sweep returns when
// every address has a result or ctx ends.
func (r *Runner) Sweep(ctx context.Context, prefix netip.Prefix, each func(Result), progress func(SweepProgress)) (SweepProgress, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() {
		return SweepProgress{}, errors.New("sweep: " + prefix.String() + " is not an IPv4 prefix")
	}
	first, last := sweepRange(prefix.Masked())
	limit := max(1, r.maxPending()/sweepShare)
	sw := &sweep{r: r, ch: make(chan Result, limit), each: each, progress: progress}
	sw.p.Total = int(last - first + 1)
	sw.step = max(1, sw.p.Total/100)
	for next := first; sw.p.Done+sw.p.Restricted < sw.p.Total; {
		var freed <-chan struct{}
		for next <= last && sw.inflight < limit && freed == nil {
			if freed = sw.submit(addrFrom(next)); freed == nil {
				next++
			}
		}
		if sw.p.Done+sw.p.Restricted == sw.p.Total {
			break
		}
		if err := sw.await(ctx, freed); err != nil {
			return sw.p, err
		}
	}
	sw.report(true)
	return sw.p, nil
}

type sweep struct {
	r        *Runner
	ch       chan Result // buffered for every query in flight
	inflight int
	step     int
	p        SweepProgress
	each     func(Result)
	progress func(SweepProgress)
}

// submit asks about ip. When the engine is full it returns a channel
// closed once results have freed room.
func (sw *sweep) submit(ip netip.Addr) (freed <-chan struct{}) {
	r := sw.r
	r.mu.Lock()
	tk, err := r.eng.Submit(time.Now(), lq.Query{Kind: lq.ByIP, IP: ip})
	switch {
	case errors.Is(err, ErrPendingFull):
		freed = r.freed
	case err == nil && !tk.Cached:
		r.waiters.set(tk.Key, append(r.waiters.m[tk.Key], sw.ch))
	}
	r.mu.Unlock()
	var re *RestrictedError
	switch {
	case freed != nil:
		return freed
	case errors.As(err, &re):
		sw.p.Restricted++
	case err != nil: // cannot happen for an IPv4 address; count it as failed
		sw.p.Submitted++
		sw.record(Result{Err: err})
	case tk.Cached:
		sw.p.Submitted++
		sw.p.Cached++
		sw.record(tk.Result)
	default:
		sw.p.Submitted++
		sw.inflight++
		r.poke()
	}
	return nil
}

// await takes at least one result, or waits for room (freed) when none
// of the sweep's queries is in flight, or returns ctx's error.
func (sw *sweep) await(ctx context.Context, freed <-chan struct{}) error {
	results := sw.ch
	if sw.inflight == 0 {
		results = nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-sw.r.done:
		return ErrStopped
	case <-freed:
		return nil
	case res := <-results:
		sw.inflight--
		sw.record(res)
	}
	for sw.inflight > 0 {
		select {
		case res := <-sw.ch:
			sw.inflight--
			sw.record(res)
		default:
			return nil
		}
	}
	return nil
}

func (sw *sweep) record(res Result) {
	sw.p.Done++
	switch {
	case res.Err != nil:
		sw.p.Failed++
	case res.Type == lq.LeaseActive:
		sw.p.Active++
	case res.Type == lq.LeaseUnassigned:
		sw.p.Unassigned++
	default:
		sw.p.Unknown++
	}
	if sw.each != nil {
		sw.each(res)
	}
	sw.report(false)
}

func (sw *sweep) report(final bool) {
	if sw.progress != nil && (final || sw.p.Done%sw.step == 0) {
		sw.progress(sw.p)
	}
}

func (r *Runner) maxPending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eng.cfg.MaxPending
}

// sweepRange is the first and last address of p as integers, without the
// network and broadcast addresses when p has more than two.
func sweepRange(p netip.Prefix) (first, last uint64) {
	a := p.Addr().As4()
	first = uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
	last = first | (1<<(32-p.Bits()) - 1)
	if p.Bits() <= 30 {
		first, last = first+1, last-1
	}
	return first, last
}

func addrFrom(v uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
