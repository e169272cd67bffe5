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
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// querier asks the DHCP servers: *engine.Runner.
type querier interface {
	Query(ctx context.Context, q lq.Query) (engine.Result, error)
}

// reportSource delivers the ruleset's NFLOG reports: *nflog.Reader.
type reportSource interface {
	Run(ctx context.Context, deliver func(nflog.Report)) error
}

var (
	_ querier      = (*engine.Runner)(nil)
	_ reportSource = (*nflog.Reader)(nil)
)

// SpoofFunc is told of a source the anti-spoof rules dropped and the
// servers did not confirm: iface is the port's interface.
type SpoofFunc func(iface string, ip netip.Addr, mac net.HardwareAddr)

// Tuning of the verifier.
//
// A report dropped for want of room is not repeated until the source's
// de-duplication entry in the ruleset expires (30 s), so the queue holds
// a reboot's burst (every subscriber of a card reporting at once, as fast
// as the per-port filters allow); the engine paces the queries itself
// (per-server windows), the workers only wait for answers.
const (
	verifyWorkers = 256    // leasequeries awaited at once for reports
	verifyQueue   = 16_384 // reports waiting for a worker
	verifyTimeout = 30 * time.Second
)

// verifier answers the ruleset's reports with leasequeries: a Task.
//
// An unknown source (port, IP, MAC) is asked about by IP; the answer goes
// into the table like every result, and the source passes only if the
// table then holds a confirmed binding of that IP on that port with that
// MAC, as Cisco's `cable source-verify dhcp` installs an entry only when
// the answer's port and MAC match. Otherwise it stays dropped and the
// spoof hook hears of it. An unknown destination is asked about likewise;
// an ACTIVE answer for one of our ports becomes a binding, which the
// enforcer programs with its route and neighbour.
type verifier struct {
	reports reportSource
	query   querier
	install func(engine.Result) // the agent's onResult
	table   *location.Table
	ifaces  map[string]string // port name -> interface
	filter  *queryFilter
	trusted map[string]bool // MACs exempt from verification
	now     func() time.Time
	log     *slog.Logger
	spoof   atomic.Pointer[SpoofFunc]

	queue *reportQueue
	ready chan struct{}
	c     verifyCounters
}

// VerifyStats count the reports and what came of them.
type VerifyStats struct {
	// Sources and Destinations: reports received. Filtered: refused by
	// the leasequery filters; Overflow: dropped with every worker busy;
	// Trusted: from a trusted MAC (not queried).
	Sources, Destinations, Filtered, Overflow, Trusted uint64
	// Confirmed: sources the answer placed on their port with their MAC.
	// Refused: sources it did not (spoofed, moved, or unknown to the
	// servers); Unanswered: no server answered.
	Confirmed, Refused, Unanswered uint64
	// Recovered: unknown destinations that became bindings.
	Recovered, NotRecovered uint64
}

type verifyCounters struct {
	sources, destinations, filtered, overflow, trusted atomic.Uint64
	confirmed, refused, unanswered                     atomic.Uint64
	recovered, notRecovered                            atomic.Uint64
}

// Stats returns the counters so far.
func (v *verifier) Stats() VerifyStats {
	c := &v.c
	return VerifyStats{Sources: c.sources.Load(), Destinations: c.destinations.Load(), Filtered: c.filtered.Load(),
		Overflow: c.overflow.Load(), Trusted: c.trusted.Load(), Confirmed: c.confirmed.Load(),
		Refused: c.refused.Load(), Unanswered: c.unanswered.Load(), Recovered: c.recovered.Load(),
		NotRecovered: c.notRecovered.Load()}
}

func (v *verifier) Ready() <-chan struct{} { return v.ready }

// setSpoof sets the spoof hook (nil: none).
func (v *verifier) setSpoof(f SpoofFunc) { v.spoof.Store(&f) }

// Run reads reports and answers them with a pool of workers until ctx
// ends.
func (v *verifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for range verifyWorkers {
		wg.Go(func() { v.work(ctx) })
	}
	close(v.ready)
	return v.reports.Run(ctx, v.deliver)
}

// deliver filters a report and queues it; it never blocks the reader.
func (v *verifier) deliver(r nflog.Report) {
	now := v.now()
	var admitted bool
	if r.Downstream {
		v.c.destinations.Add(1)
		admitted = v.filter.destination(now)
	} else {
		v.c.sources.Add(1)
		if v.trusted[string(r.Source.MAC)] {
			v.c.trusted.Add(1)
			return
		}
		admitted = v.filter.source(r.Source.Port, now)
	}
	if !admitted {
		v.c.filtered.Add(1)
		v.refuse(r, "filtered")
		return
	}
	if !v.queue.push(r) {
		v.c.overflow.Add(1)
		v.refuse(r, "overflow")
	}
}

func (v *verifier) work(ctx context.Context) {
	for {
		r, ok := v.queue.pop(ctx)
		if !ok {
			return
		}
		v.handle(ctx, r)
	}
}

// handle asks about one report's address and judges the answer.
func (v *verifier) handle(ctx context.Context, r nflog.Report) {
	ip := r.Destination
	if !r.Downstream {
		ip = r.Source.IP
	}
	res, err := askByIP(ctx, v.query, v.install, ip)
	if ctx.Err() != nil {
		return
	}
	if r.Downstream {
		v.judgeDestination(ip, res, err)
		return
	}
	s := r.Source
	switch {
	case matches(v.table, v.ifaces, s.IP, s.Port, s.MAC):
		v.c.confirmed.Add(1)
		v.log.Debug("enforcement: source confirmed", "port", s.Port, "ip", s.IP, "mac", s.MAC.String())
	case err != nil && errors.Is(err, engine.ErrNoAnswer):
		v.c.unanswered.Add(1)
		v.refuse(r, "no answer")
	default:
		v.c.refused.Add(1)
		v.refuse(r, answerName(res, err))
	}
}

func (v *verifier) judgeDestination(ip netip.Addr, res engine.Result, err error) {
	if b, ok := v.table.ByIP(ip); ok && b.Source != location.Snapshot {
		v.c.recovered.Add(1)
		v.log.Debug("enforcement: destination recovered", "ip", ip, "port", b.Port)
		return
	}
	v.c.notRecovered.Add(1)
	v.log.Debug("enforcement: destination not ours", "ip", ip, "answer", answerName(res, err))
}

// refuse logs a source that stays dropped and tells the spoof hook.
func (v *verifier) refuse(r nflog.Report, why string) {
	if r.Downstream {
		return
	}
	s := r.Source
	v.log.Debug("enforcement: source refused", "port", s.Port, "ip", s.IP, "mac", s.MAC.String(), "why", why)
	if f := v.spoof.Load(); f != nil && *f != nil {
		(*f)(s.Port, s.IP, s.MAC)
	}
}

func answerName(res engine.Result, err error) string {
	if err != nil {
		return err.Error()
	}
	if res.Type == lq.LeaseActive {
		return "active elsewhere"
	}
	return res.Type.String()
}
