package ops

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
)

// Leasequery asks every server about q now, bypassing the cache (RFC 4388
// §6.6 allows an operator's explicit question), and returns each server's
// answer and the winner. An ACTIVE answer for a port of this card updates
// the table before Leasequery returns (the agent's OnResult). No server
// answering is a result (Type "none"), not an error.
func (o *Ops) Leasequery(ctx context.Context, q lq.Query) (LeasequeryResult, error) {
	if o.deps.Querier == nil {
		return LeasequeryResult{}, errorf(Unavailable, "", "the leasequery client is not running")
	}
	if q.Kind == lq.ByMAC && q.HType == 1 && len(q.HWAddr) != 6 {
		return LeasequeryResult{}, errorf(Invalid, "mac", "%v is not an Ethernet address (6 bytes)", net.HardwareAddr(q.HWAddr))
	}
	if _, err := engine.KeyOf(q); err != nil {
		return LeasequeryResult{}, &Error{Kind: Invalid, Field: queryField(q.Kind), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, o.opts.LeasequeryTimeout)
	defer cancel()
	res, err := o.deps.Querier.QueryFresh(ctx, q)
	switch {
	case errors.Is(err, engine.ErrNoAnswer) || err == nil:
		return leasequeryView(res), nil
	case errors.Is(err, engine.ErrRestricted):
		return LeasequeryResult{}, &Error{Kind: Invalid, Field: "ip", Err: err}
	case errors.Is(err, engine.ErrPendingFull), errors.Is(err, engine.ErrStopped):
		return LeasequeryResult{}, &Error{Kind: Unavailable, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return LeasequeryResult{}, &Error{Kind: Timeout, Err: err}
	}
	return LeasequeryResult{}, &Error{Kind: Failed, Err: err}
}

func queryField(k lq.QueryKind) string {
	switch k {
	case lq.ByMAC:
		return "mac"
	case lq.ByClientID:
		return "client_id"
	}
	return "ip"
}

// AnswerType names a leasequery answer: active, unassigned, unknown, or
// none for 0 (no answer).
func AnswerType(t lq.MessageType) string {
	switch t {
	case lq.LeaseActive:
		return "active"
	case lq.LeaseUnassigned:
		return "unassigned"
	case lq.LeaseUnknown:
		return "unknown"
	}
	return "none"
}

func leasequeryView(r engine.Result) LeasequeryResult {
	v := LeasequeryResult{Query: r.Key.String(), Type: AnswerType(r.Type), Winner: r.Server,
		Answers: []LeasequeryAnswer{}, At: r.At}
	if r.Err != nil {
		v.Error = r.Err.Error()
	}
	if r.Type == lq.LeaseActive {
		v.Binding = ptr(BindingOf(location.Binding{Binding: r.Binding, Source: location.Leasequery}))
	}
	for _, a := range r.Answers {
		av := LeasequeryAnswer{Server: a.Server, Outcome: outcome(a.Outcome), Transmissions: a.Transmissions}
		if a.Outcome == engine.Answered {
			av.Type = AnswerType(a.Type)
			av.RTTMillis = millis(a.RTT)
			if a.Type == lq.LeaseActive {
				av.Binding = ptr(BindingOf(location.Binding{Binding: a.Binding, Source: location.Leasequery}))
			}
		}
		v.Answers = append(v.Answers, av)
	}
	return v
}

func outcome(o engine.Outcome) string {
	switch o {
	case engine.Answered:
		return "answered"
	case engine.TimedOut:
		return "timeout"
	case engine.Waiting:
		return "waiting"
	case engine.Abandoned:
		return "abandoned"
	}
	return "unknown"
}

// rttHistograms are the leasequery round-trip times per server: the one
// measurement no other package accumulates.
type rttHistograms struct {
	bounds []float64
	mu     sync.Mutex
	h      map[netip.Addr]*metrics.Histogram
}

func (r *rttHistograms) observe(server netip.Addr, seconds float64) {
	r.mu.Lock()
	h, ok := r.h[server]
	if !ok {
		if r.h == nil {
			r.h = map[netip.Addr]*metrics.Histogram{}
		}
		h = metrics.NewHistogram(r.bounds...)
		r.h[server] = h
	}
	r.mu.Unlock()
	h.Observe(seconds)
}

func (r *rttHistograms) snapshot() map[netip.Addr]metrics.HistogramSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[netip.Addr]metrics.HistogramSnapshot, len(r.h))
	for s, h := range r.h {
		out[s] = h.Snapshot()
	}
	return out
}

func (r *rttHistograms) servers() []netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]netip.Addr, 0, len(r.h))
	for s := range r.h {
		out = append(out, s)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// ObserveLeasequery records the round-trip times of every answer in res.
// The agent calls it from the leasequery runner's OnResult, so every
// query is measured, not only the operator's.
func (o *Ops) ObserveLeasequery(res engine.Result) {
	for _, a := range res.Answers {
		if a.Outcome == engine.Answered && a.RTT > 0 {
			o.rtt.observe(a.Server, a.RTT.Seconds())
		}
	}
}
