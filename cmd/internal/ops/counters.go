package ops

import (
	"cmp"
	"slices"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/relay"
)

// Counters returns the agent's totals since the last clear.
func (o *Ops) Counters() Counters {
	var c Counters
	if o.deps.Relay != nil {
		c.Relay = relayCounters(o.deps.Relay.Stats())
	}
	ts := o.deps.Table.Stats()
	c.Table = TableCounters{Bindings: ts.Bindings, Ports: ts.Ports, Modems: ts.Modems, Added: ts.Added,
		Changed: ts.Changed, Removed: map[string]uint64{}, Stale: ts.Stale, NotOwner: ts.NotOwner, Lagged: ts.Lagged}
	for r, n := range ts.Removed {
		c.Table.Removed[r.String()] = n
	}
	if o.deps.Querier != nil {
		s := o.deps.Querier.Stats()
		c.Leasequery = LeasequeryCounters{Submitted: s.Submitted, Merged: s.Merged, CacheHits: s.CacheHits,
			Restricted: s.Restricted, RejectedFull: s.RejectedFull, Completed: s.Completed, NoAnswer: s.NoAnswer,
			Updates: s.Updates, Sent: s.Sent, Retransmitted: s.Retransmitted, Active: s.Active,
			Unassigned: s.Unassigned, Unknown: s.Unknown, Timeouts: s.Timeouts, SendErrors: s.SendErrors,
			Live: s.Live, CacheEntries: s.CacheEntries}
	}
	if o.deps.BPI != nil {
		c.BPI = ptr(o.deps.BPI.BPIStats())
	}
	o.baseMu.Lock()
	defer o.baseMu.Unlock()
	if !o.baseline.at.IsZero() {
		subtract(&c, o.baseline.counters)
		c.Since = o.baseline.at
	}
	return c
}

func relayCounters(s relay.ServiceStats) RelayCounters {
	r := RelayCounters{FromClients: s.FromClients, ToServers: s.ToServers, FromServers: s.FromServers,
		ToClients: s.ToClients, Replaced: s.Replaced, Kept: s.Kept, Binds: s.Binds, Unbinds: s.Unbinds,
		SendErrors: s.SendErrors, GleanErrors: s.GleanErrors, Dropped: map[string]uint64{}}
	for reason, n := range s.Dropped {
		r.Dropped[reason.String()] = n
	}
	return r
}

// Ports returns every configured port's counters since the last clear.
func (o *Ops) Ports() ([]Port, error) {
	cfg := o.Config().Config
	var rs relay.ServiceStats
	if o.deps.Relay != nil {
		rs = o.deps.Relay.Stats()
	}
	relayPorts := map[string]relay.PortStats{}
	for _, p := range rs.Ports {
		relayPorts[p.Name] = p
	}
	var sockets map[string]portSockets
	if o.deps.Ports != nil {
		sockets = map[string]portSockets{}
		for iface, s := range o.deps.Ports.PortStats() {
			sockets[iface] = portSockets(s)
		}
	}
	spoof := o.spoofByInterface()
	byPort := o.bindingsByPort()
	out := make([]Port, 0, len(cfg.Ports))
	for _, p := range cfg.Ports {
		rp, s := relayPorts[p.Name], sockets[p.Interface]
		out = append(out, Port{Name: p.Name, Interface: p.Interface, Kind: string(p.Kind), Bindings: byPort[p.Name],
			ToServers: rp.ToServers, ToClients: rp.ToClients, RelayDropped: rp.Dropped,
			Received: s.Received, Malformed: s.Malformed, BadChecksum: s.BadChecksum, KernelDrops: s.KernelDrops,
			Sent: s.Sent, SendErrors: s.SendErrors, SpoofDrops: spoof[p.Interface]})
	}
	o.baseMu.Lock()
	defer o.baseMu.Unlock()
	for i := range out {
		if b, ok := o.baseline.ports[out[i].Name]; ok {
			subtract(&out[i], b)
		}
	}
	return out, nil
}

// portSockets is platform.PortStats under a name of ours.
type portSockets struct {
	Received, Malformed, BadChecksum, OtherInterface, Truncated, ReadErrors, KernelDrops, Sent, SendErrors uint64
}

func (o *Ops) bindingsByPort() map[string]int {
	n := map[string]int{}
	for b := range o.deps.Table.All() {
		n[b.Port]++
	}
	return n
}

// spoofByInterface sums the drop counters of every reason per interface
// (the Reported counter counts reports, not drops).
func (o *Ops) spoofByInterface() map[string]uint64 {
	out := map[string]uint64{}
	if o.deps.Nft == nil {
		return out
	}
	st, err := o.deps.Nft.Stats()
	if err != nil {
		return out
	}
	for id, c := range st.Counters {
		if id.Reason != nft.Reported {
			out[id.Port] += c.Packets
		}
	}
	return out
}

// Nft returns the anti-spoof ruleset's state and drop counters.
func (o *Ops) Nft() (Nft, error) {
	if o.deps.Nft == nil {
		return Nft{}, errorf(Unavailable, "", "enforcement is not running (enforcement.enabled is false, or this agent has no nftables applier)")
	}
	st, err := o.deps.Nft.Stats()
	if err != nil {
		return Nft{}, &Error{Kind: Failed, Err: err}
	}
	cfg := o.Config().Config
	v := Nft{Table: cfg.Enforcement.Table, Allowed: st.Allowed, Reported: st.Unknown, Drops: []NftDrop{},
		Programming: programming(st.Programming), ForwardedDHCP: []NftPortCounter{},
		Downstream: NftDownstream{Dropped: NftCounter(st.UnknownDestination), Reported: NftCounter(st.ReportedDestination),
			Addresses: st.UnknownDst}}
	names := portNamesByInterface(cfg)
	for id, c := range st.Counters {
		v.Drops = append(v.Drops, NftDrop{Port: names[id.Port], Interface: id.Port, Reason: string(id.Reason),
			Packets: c.Packets, Bytes: c.Bytes})
	}
	slices.SortFunc(v.Drops, func(a, b NftDrop) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Reason, b.Reason))
	})
	for iface, c := range st.ForwardedDHCP {
		v.ForwardedDHCP = append(v.ForwardedDHCP, NftPortCounter{Port: names[iface], Interface: iface, Packets: c.Packets, Bytes: c.Bytes})
	}
	slices.SortFunc(v.ForwardedDHCP, func(a, b NftPortCounter) int { return cmp.Compare(a.Interface, b.Interface) })
	o.baseMu.Lock()
	defer o.baseMu.Unlock()
	o.baseline.subtractNft(&v)
	return v, nil
}

func portNamesByInterface(cfg *config.Config) map[string]string {
	m := map[string]string{}
	for _, p := range cfg.Ports {
		m[p.Interface] = p.Name
	}
	return m
}

func programming(p nft.Programming) Programming {
	v := Programming{Rebuilds: p.Rebuilds, Applies: p.Applies, Failures: p.Failures, ElementsAdded: p.ElementsAdded,
		ElementsDeleted: p.ElementsDeleted, LastMillis: millis(p.LastLatency), MaxMillis: millis(p.MaxLatency),
		LastError: p.LastError}
	if n := p.Rebuilds + p.Applies; n > 0 {
		v.MeanMillis = millis(p.TotalLatency / time.Duration(n))
	}
	return v
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
