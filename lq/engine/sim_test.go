package engine

import (
	"container/heap"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// simDHCPD models ISC dhcpd as a leasequery server as measured in
// shared/notes/peers.md: one FIFO worker answering about 5,000 queries/s,
// whose socket drops a query with probability DropProb when DropAt or
// more are already queued.
type simDHCPD struct {
	Addr        netip.Addr
	ServiceTime time.Duration // 200 µs: 5,000 answers/s
	OneWay      time.Duration // network delay each way
	DropAt      int
	DropProb    float64
	// Answer gives the reply type for an address (default ACTIVE).
	Answer func(ip netip.Addr) lq.MessageType

	rng        *rand.Rand
	departures []time.Time // of the queries queued, in order
	received   int
	dropped    int
	maxQueue   int
	// From CountFrom on, arrivals and those finding DropAt or more queued.
	CountFrom          time.Time
	counted, countedAt int
}

func (d *simDHCPD) queueAt(now time.Time) int {
	for len(d.departures) > 0 && !d.departures[0].After(now) {
		d.departures = d.departures[1:]
	}
	return len(d.departures)
}

// arrive takes a query at now and returns when its answer leaves, or
// false when the socket dropped it.
func (d *simDHCPD) arrive(now time.Time) (time.Time, bool) {
	d.received++
	q := d.queueAt(now)
	d.maxQueue = max(d.maxQueue, q)
	if !d.CountFrom.IsZero() && !now.Before(d.CountFrom) {
		d.counted++
		if q >= d.DropAt {
			d.countedAt++
		}
	}
	if q >= d.DropAt && d.rng.Float64() < d.DropProb {
		d.dropped++
		return time.Time{}, false
	}
	start := now
	if q > 0 {
		start = d.departures[q-1]
	}
	dep := start.Add(d.ServiceTime)
	d.departures = append(d.departures, dep)
	return dep, true
}

func (d *simDHCPD) reply(tx Transmit) lq.Reply {
	typ := lq.LeaseActive
	if d.Answer != nil {
		typ = d.Answer(tx.Query.IP)
	}
	return answer(tx, typ)
}

// simEvent is a reply reaching the engine.
type simEvent struct {
	at    time.Time
	from  netip.Addr
	reply lq.Reply
	seq   int
}

type simEvents []simEvent

func (h simEvents) Len() int { return len(h) }
func (h simEvents) Less(i, j int) bool {
	return h[i].at.Before(h[j].at) || (h[i].at.Equal(h[j].at) && h[i].seq < h[j].seq)
}
func (h simEvents) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *simEvents) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *simEvents) Pop() any {
	old := *h
	ev := old[len(old)-1]
	*h = old[:len(old)-1]
	return ev
}

// simNet runs an engine against simulated servers in virtual time.
type simNet struct {
	e       *Engine
	servers map[netip.Addr]*simDHCPD
	events  simEvents
	seq     int
	now     time.Time
	results []Result
	// onPoll, when set, sees every batch of transmits with the
	// outstanding count per server after it.
	onPoll func(now time.Time, txs []Transmit)
}

func newSimNet(e *Engine, now time.Time, servers ...*simDHCPD) *simNet {
	n := &simNet{e: e, servers: map[netip.Addr]*simDHCPD{}, now: now}
	for i, s := range servers {
		s.rng = rand.New(rand.NewPCG(uint64(i)+7, 99))
		n.servers[s.Addr] = s
	}
	return n
}

// step advances to the next event or deadline; false when there is none
// before until.
func (n *simNet) step(until time.Time) bool {
	next := n.e.NextDeadline()
	if len(n.events) > 0 && (next.IsZero() || n.events[0].at.Before(next)) {
		next = n.events[0].at
	}
	if next.IsZero() || next.After(until) {
		return false
	}
	n.now = latest(n.now, next)
	for len(n.events) > 0 && !n.events[0].at.After(n.now) {
		ev := heap.Pop(&n.events).(simEvent)
		n.e.HandleReply(n.now, ev.from, ev.reply)
	}
	n.poll()
	return true
}

// poll sends what the engine wants sent and collects results.
func (n *simNet) poll() {
	txs := n.e.Poll(n.now)
	if n.onPoll != nil {
		n.onPoll(n.now, txs)
	}
	for _, tx := range txs {
		d := n.servers[tx.Server]
		if d == nil {
			continue
		}
		dep, ok := d.arrive(n.now.Add(d.OneWay))
		if !ok {
			continue
		}
		n.seq++
		heap.Push(&n.events, simEvent{at: dep.Add(d.OneWay), from: d.Addr, reply: d.reply(tx), seq: n.seq})
	}
	n.results = append(n.results, n.e.Results()...)
}
