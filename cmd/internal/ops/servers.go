package ops

import (
	"net/netip"
	"sync"

	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/relay"
)

// Server states (Server.State).
const (
	StateUp      = "up"
	StateIdle    = "idle"
	StateDown    = "down"
	StateUnknown = "unknown"
)

// serverWatch remembers each server's state between looks, to name it
// and to publish server.up and server.down when it changes.
type serverWatch struct {
	mu  sync.Mutex
	mem map[netip.Addr]serverMemory
}

type serverMemory struct {
	state             string
	timeouts, dropped uint64
}

// nextState decides a server's state. The RFC 4388 §6.7 timer runs while
// the server answers ("up"); it also expires on a card that simply asked
// nothing for a minute, so an expired timer alone is "idle", and a server
// is "down" only once a query to it went unanswered (a timeout, or
// queries dropped when its timer expired with them outstanding). It stays
// down until it answers.
func nextState(prev serverMemory, s engine.ServerStats) serverMemory {
	next := serverMemory{state: prev.state, timeouts: s.Timeouts, dropped: s.DroppedAtExpiry}
	failed := s.Timeouts > prev.timeouts || s.DroppedAtExpiry > prev.dropped
	answered := s.Active+s.Unassigned+s.Unknown > 0
	switch {
	case s.Armed:
		next.state = StateUp
	case failed:
		next.state = StateDown
	case prev.state == "" && answered:
		next.state = StateIdle
	case prev.state == "":
		next.state = StateUnknown
	case prev.state == StateUp:
		next.state = StateIdle
	}
	return next
}

// observe updates the memory from stats and returns the transitions worth
// an event.
func (w *serverWatch) observe(stats []engine.ServerStats) (states map[netip.Addr]string, events []Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mem == nil {
		w.mem = map[netip.Addr]serverMemory{}
	}
	states = map[netip.Addr]string{}
	for _, s := range stats {
		prev := w.mem[s.Server]
		next := nextState(prev, s)
		w.mem[s.Server] = next
		states[s.Server] = next.state
		switch {
		case next.state == prev.state:
		case next.state == StateUp:
			events = append(events, Event{Type: EventServerUp, Server: s.Server})
		case next.state == StateDown:
			events = append(events, Event{Type: EventServerDown, Server: s.Server})
		}
	}
	return states, events
}

// PollServers looks at the servers' state and publishes server.up and
// server.down events; Run calls it every Options.ServerPoll.
func (o *Ops) PollServers() {
	if o.deps.Querier == nil {
		return
	}
	o.observeServers(o.deps.Querier.Stats())
}

func (o *Ops) observeServers(st engine.RunnerStats) map[netip.Addr]string {
	states, events := o.servers.observe(st.Servers)
	for _, e := range events {
		e.Time = o.now()
		o.hub.publish(e)
	}
	return states
}

// Servers returns the DHCP servers' leasequery state and counters.
func (o *Ops) Servers() ([]Server, error) {
	if o.deps.Querier == nil {
		return nil, errorf(Unavailable, "", "the leasequery client is not running")
	}
	st := o.deps.Querier.Stats()
	states := o.observeServers(st)
	out := make([]Server, 0, len(st.Servers))
	for _, s := range st.Servers {
		out = append(out, serverView(s, states[s.Server]))
	}
	if o.deps.Relay != nil {
		addRelayReplies(out, o.deps.Relay.Stats().Servers)
	}
	o.baseMu.Lock()
	defer o.baseMu.Unlock()
	for i := range out {
		if b, ok := o.baseline.servers[out[i].Server]; ok {
			subtract(&out[i], b)
		}
	}
	return out, nil
}

// addRelayReplies adds the relay's per-server reply counters to the
// servers the leasequery client knows (the same configured list).
func addRelayReplies(out []Server, relayed []relay.ServerStats) {
	for i := range out {
		for _, r := range relayed {
			if r.Addr == out[i].Server {
				out[i].RelayReplies, out[i].RelayRelayed, out[i].LastRelayReply = r.Replies, r.Relayed, r.LastReply
			}
		}
	}
}

func serverView(s engine.ServerStats, state string) Server {
	v := Server{Server: s.Server, State: state, TimerArmed: s.Armed, NextProbe: s.NextProbe,
		Outstanding: s.Outstanding, Pending: s.Pending, Window: s.Window,
		SRTTMillis: float64(s.SRTT.Microseconds()) / 1000,
		Sent:       s.Sent, Retransmitted: s.Retransmitted, Active: s.Active, Unassigned: s.Unassigned,
		Unknown: s.Unknown, Timeouts: s.Timeouts, Expiries: s.Expiries, LossEvents: s.LossEvents,
		Dropped: s.DroppedAtExpiry}
	if s.Armed {
		v.TimerDeadline = s.TimerDeadline
	}
	return v
}
