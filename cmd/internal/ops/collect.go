package ops

import (
	"cmp"
	"maps"
	"slices"

	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/relay"
)

// Metrics collects the Prometheus metrics: the agent's own counters as
// they are (never the cleared view: Prometheus counters only grow), plus
// the leasequery RTT histograms ops accumulates.
func (o *Ops) Metrics() *metrics.Set {
	var s metrics.Set
	o.collectConfig(&s)
	if o.deps.Relay != nil {
		collectRelay(&s, o.deps.Relay.Stats())
	}
	o.collectTable(&s)
	if o.deps.Querier != nil {
		o.collectLeasequery(&s, o.deps.Querier.Stats())
	}
	o.collectPorts(&s)
	o.collectNft(&s)
	o.collectBPI(&s)
	return &s
}

func (o *Ops) collectConfig(s *metrics.Set) {
	st := o.Config()
	s.Gauge("leaseguard_config_generation", "Generation of the running configuration (1 at start, +1 per apply).").
		Add(float64(st.Generation))
	f := s.Counter("leaseguard_config_applies_total", "Configuration applies by result; failed ones were rolled back unless counted as rollback_failed too.")
	f.Add(float64(o.applies.ok.Load()), "result", "ok")
	f.Add(float64(o.applies.failed.Load()), "result", "failed")
	f.Add(float64(o.applies.rolledBackFailed.Load()), "result", "rollback_failed")
}

func collectRelay(s *metrics.Set, st relay.ServiceStats) {
	pk := s.Counter("leaseguard_relay_packets_total", "DHCP messages relayed, by port and direction (to_server: client messages relayed upstream; to_client: replies relayed to the port).")
	dp := s.Counter("leaseguard_relay_port_dropped_total", "DHCP messages the relay dropped, by port.")
	for _, p := range st.Ports {
		pk.Add(float64(p.ToServers), "port", p.Name, "direction", "to_server")
		pk.Add(float64(p.ToClients), "port", p.Name, "direction", "to_client")
		dp.Add(float64(p.Dropped), "port", p.Name)
	}
	collectRelayTypes(s, st)
	collectOption82Drops(s, st)
	collectRelayServers(s, st)
	m := s.Counter("leaseguard_relay_messages_total", "DHCP messages through the relay, by direction.")
	m.Add(float64(st.FromClients), "direction", "from_client")
	m.Add(float64(st.ToServers), "direction", "to_server")
	m.Add(float64(st.FromServers), "direction", "from_server")
	m.Add(float64(st.ToClients), "direction", "to_client")
	d := s.Counter("leaseguard_relay_dropped_total", "DHCP messages the relay dropped, by reason (option 82 policy, hop limit, unknown circuit...).")
	reasons := make([]relay.Reason, 0, len(st.Dropped))
	for r := range st.Dropped {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		d.Add(float64(st.Dropped[r]), "reason", r.String())
	}
	o82 := s.Counter("leaseguard_relay_option82_total", "Client option 82 handled by a trusted port's policy.")
	o82.Add(float64(st.Replaced), "action", "replaced")
	o82.Add(float64(st.Kept), "action", "kept")
	g := s.Counter("leaseguard_glean_total", "Gleaning decisions: DHCPACKs relayed (bind); DHCPNAK, DHCPRELEASE, DHCPDECLINE seen (unbind).")
	g.Add(float64(st.Binds), "kind", "bind")
	g.Add(float64(st.Unbinds), "kind", "unbind")
	e := s.Counter("leaseguard_relay_errors_total", "Relay failures by kind.")
	e.Add(float64(st.SendErrors), "kind", "send")
	e.Add(float64(st.GleanErrors), "kind", "glean")
	e.Add(float64(st.PortFailures), "kind", "port")
}

// collectRelayServers: replies heard from each configured server (other:
// any other source), and how many were relayed to a client.
func collectRelayServers(s *metrics.Set, st relay.ServiceStats) {
	f := s.Counter("leaseguard_relay_server_replies_total", "DHCP replies heard upstream, by server (other: not a configured server) and outcome (relayed to a client, or dropped).")
	add := func(server string, r relay.ServerStats) {
		f.Add(float64(r.Relayed), "server", server, "outcome", "relayed")
		f.Add(float64(r.Replies-r.Relayed), "server", server, "outcome", "dropped")
	}
	for _, r := range st.Servers {
		add(r.Addr.String(), r)
	}
	add("other", st.FromOthers)
}

// relayedTypes are the DHCP message types the relay passes on in each
// direction (0: BOOTP, no option 53), with their label values.
var relayedTypes = []struct {
	direction string
	types     []lq.MessageType
}{
	{"to_server", []lq.MessageType{0, lq.Discover, lq.Request, lq.Decline, lq.Release, lq.Inform}},
	{"to_client", []lq.MessageType{0, lq.Offer, lq.Ack, lq.Nak}},
}

var typeLabels = map[lq.MessageType]string{0: "bootp", lq.Discover: "discover", lq.Offer: "offer",
	lq.Request: "request", lq.Decline: "decline", lq.Ack: "ack", lq.Nak: "nak", lq.Release: "release", lq.Inform: "inform"}

func collectRelayTypes(s *metrics.Set, st relay.ServiceStats) {
	f := s.Counter("leaseguard_relay_packets_by_type_total", "DHCP messages relayed, by port, direction and DHCP message type (bootp: no option 53).")
	for _, p := range st.Ports {
		for _, d := range relayedTypes {
			by := p.ToServersByType
			if d.direction == "to_client" {
				by = p.ToClientsByType
			}
			for _, t := range d.types {
				f.Add(float64(by[t]), "port", p.Name, "direction", d.direction, "type", typeLabels[t])
			}
		}
	}
}

// option82Reasons are the relay's drop reasons about option 82 and
// giaddr: the client's (RFC 3046 §2.1.1 trust), and replies whose option
// the relay does not recognise as its own.
var option82Reasons = []relay.Reason{relay.ClientGIAddr, relay.ClientOption82, relay.NoRoom,
	relay.UnknownCircuit, relay.ForeignRelayID, relay.WrongGIAddr}

// collectOption82Drops counts option 82 drops by port and reason; a reply
// the relay could not place on any port is counted under port "unknown".
func collectOption82Drops(s *metrics.Set, st relay.ServiceStats) {
	f := s.Counter("leaseguard_relay_option82_dropped_total", "DHCP messages dropped for their option 82 or giaddr, by port (unknown: a reply placed on no port) and reason.")
	for _, r := range option82Reasons {
		var placed uint64
		for _, p := range st.Ports {
			f.Add(float64(p.DroppedBy[r]), "port", p.Name, "reason", r.String())
			placed += p.DroppedBy[r]
		}
		f.Add(float64(st.Dropped[r]-min(placed, st.Dropped[r])), "port", "unknown", "reason", r.String())
	}
}

func (o *Ops) collectTable(s *metrics.Set) {
	bySource := map[string]int{"gleaned": 0, "leasequery": 0, "snapshot": 0}
	byPort := map[string]int{}
	for b := range o.deps.Table.All() {
		bySource[b.Source.String()]++
		byPort[b.Port]++
	}
	f := s.Gauge("leaseguard_bindings", "Bindings in the location table, by how they were learnt.")
	for _, src := range slices.Sorted(maps.Keys(bySource)) {
		f.Add(float64(bySource[src]), "source", src)
	}
	p := s.Gauge("leaseguard_port_bindings", "Bindings in the location table, by port.")
	for _, port := range o.PortNames() {
		p.Add(float64(byPort[port]), "port", port)
	}
	ts := o.deps.Table.Stats()
	c := s.Counter("leaseguard_table_changes_total", "Location table writes that changed it, by kind.")
	c.Add(float64(ts.Added), "kind", "added")
	c.Add(float64(ts.Changed), "kind", "changed")
	r := s.Counter("leaseguard_table_removed_total", "Bindings removed from the location table, by reason.")
	for reason, n := range ts.Removed {
		r.Add(float64(n), "reason", reason.String())
	}
	slices.SortFunc(r.Samples, func(a, b metrics.Sample) int { return cmp.Compare(a.Labels[0].Value, b.Labels[0].Value) })
}

func (o *Ops) collectLeasequery(s *metrics.Set, st engine.RunnerStats) {
	states := o.observeServers(st)
	ans := s.Counter("leaseguard_leasequery_answers_total", "Leasequery answers by server and type (timeout: no answer after every retransmission).")
	sent := s.Counter("leaseguard_leasequery_sent_total", "Leasequeries sent by server (first transmissions).")
	re := s.Counter("leaseguard_leasequery_retransmitted_total", "Leasequery retransmissions by server.")
	up := s.Gauge("leaseguard_leasequery_server_up", "1 while the server's RFC 4388 section 6.7 timer runs (it answered within a minute), else 0.")
	down := s.Gauge("leaseguard_leasequery_server_down", "1 while queries to the server go unanswered, else 0.")
	out := s.Gauge("leaseguard_leasequery_outstanding", "Leasequeries outstanding at the server.")
	win := s.Gauge("leaseguard_leasequery_window", "The server's adaptive window of outstanding queries.")
	for _, sv := range st.Servers {
		a := sv.Server.String()
		ans.Add(float64(sv.Active), "server", a, "type", "active")
		ans.Add(float64(sv.Unassigned), "server", a, "type", "unassigned")
		ans.Add(float64(sv.Unknown), "server", a, "type", "unknown")
		ans.Add(float64(sv.Timeouts), "server", a, "type", "timeout")
		sent.Add(float64(sv.Sent), "server", a)
		re.Add(float64(sv.Retransmitted), "server", a)
		up.Add(bool01(sv.Armed), "server", a)
		down.Add(bool01(states[sv.Server] == StateDown), "server", a)
		out.Add(float64(sv.Outstanding), "server", a)
		win.Add(sv.Window, "server", a)
	}
	h := s.Histogram("leaseguard_leasequery_rtt_seconds", "Leasequery round-trip time, first transmission to answer, by server.")
	snaps := o.rtt.snapshot()
	for _, srv := range o.rtt.servers() {
		h.AddHistogram(snaps[srv], "server", srv.String())
	}
	q := s.Counter("leaseguard_leasequery_requests_total", "Leasequery requests by outcome.")
	q.Add(float64(st.Completed), "outcome", "completed")
	q.Add(float64(st.NoAnswer), "outcome", "no_answer")
	q.Add(float64(st.CacheHits), "outcome", "cache_hit")
	q.Add(float64(st.Merged), "outcome", "merged")
	q.Add(float64(st.Restricted), "outcome", "restricted")
	q.Add(float64(st.RejectedFull), "outcome", "rejected_full")
	s.Counter("leaseguard_leasequery_send_errors_total", "Leasequeries the socket failed to send.").Add(float64(st.SendErrors))
}

func (o *Ops) collectPorts(s *metrics.Set) {
	if o.deps.Ports == nil {
		return
	}
	stats := o.deps.Ports.PortStats()
	rx := s.Counter("leaseguard_port_frames_total", "DHCP frames on a subscriber port's socket, by what became of them.")
	for _, p := range o.Config().Config.Ports {
		st := portSockets(stats[p.Interface])
		for _, kv := range []struct {
			what string
			n    uint64
		}{{"received", st.Received}, {"malformed", st.Malformed}, {"bad_checksum", st.BadChecksum},
			{"truncated", st.Truncated}, {"kernel_drop", st.KernelDrops}, {"sent", st.Sent}, {"send_error", st.SendErrors}} {
			rx.Add(float64(kv.n), "port", p.Name, "what", kv.what)
		}
	}
}

func (o *Ops) collectNft(s *metrics.Set) {
	if o.deps.Nft == nil {
		return
	}
	st, err := o.deps.Nft.Stats()
	if err != nil {
		s.Gauge("leaseguard_nft_stats_up", "1 when the ruleset's counters could be read.").Add(0)
		return
	}
	s.Gauge("leaseguard_nft_stats_up", "1 when the ruleset's counters could be read.").Add(1)
	s.Gauge("leaseguard_nft_allowed_elements", "Elements in the allowed set.").Add(float64(st.Allowed))
	p := st.Programming
	s.Family("leaseguard_nft_programming_seconds", "Latency of successful nftables transactions (rebuilds and binding changes).", metrics.SummaryKind).
		AddSummary(p.TotalLatency.Seconds(), p.Rebuilds+p.Applies)
	s.Gauge("leaseguard_nft_programming_max_seconds", "Longest nftables transaction.").Add(p.MaxLatency.Seconds())
	s.Counter("leaseguard_nft_programming_failures_total", "nftables transactions the kernel refused or that failed to send.").Add(float64(p.Failures))
	s.Gauge("leaseguard_nft_programming_last_seconds", "Latency of the last successful nftables transaction.").Add(p.LastLatency.Seconds())
	tx := s.Counter("leaseguard_nft_transactions_total", "Successful nftables transactions, by kind (rebuild: the whole table; apply: a batch of binding changes).")
	tx.Add(float64(p.Rebuilds), "kind", "rebuild")
	tx.Add(float64(p.Applies), "kind", "apply")
	el := s.Counter("leaseguard_nft_elements_total", "Allowed-set elements sent, by operation (added counts renewals too).")
	el.Add(float64(p.ElementsAdded), "op", "added")
	el.Add(float64(p.ElementsDeleted), "op", "deleted")
	s.Gauge("leaseguard_nft_unknown_sources", "Unknown sources reported within the de-duplication window.").Add(float64(st.Unknown))
	collectDownstream(s, st, portNamesByInterface(o.Config().Config))
	names := portNamesByInterface(o.Config().Config)
	ids := slices.SortedFunc(maps.Keys(st.Counters), func(a, b nft.CounterID) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Reason, b.Reason))
	})
	pk := s.Counter("leaseguard_spoof_dropped_packets_total", "Packets the anti-spoof rules dropped, by port and reason (reported: unknown sources reported to NFLOG, also counted under their reason).")
	by := s.Counter("leaseguard_spoof_dropped_bytes_total", "Bytes the anti-spoof rules dropped, by port and reason.")
	for _, id := range ids {
		c := st.Counters[id]
		pk.Add(float64(c.Packets), "port", names[id.Port], "interface", id.Port, "reason", string(id.Reason))
		by.Add(float64(c.Bytes), "port", names[id.Port], "interface", id.Port, "reason", string(id.Reason))
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collectDownstream is the ip-family table: unknown destinations dropped
// before routing, and forwarded client DHCP dropped per port.
func collectDownstream(s *metrics.Set, st nft.Stats, names map[string]string) {
	d := s.Counter("leaseguard_nft_unknown_destination_packets_total", "Packets towards subscriber addresses without a binding, dropped before routing (reported: the first of each address per window, sent to NFLOG).")
	d.Add(float64(st.UnknownDestination.Packets), "what", "dropped")
	d.Add(float64(st.ReportedDestination.Packets), "what", "reported")
	s.Counter("leaseguard_nft_unknown_destination_bytes_total", "Bytes towards subscriber addresses without a binding, dropped before routing.").
		Add(float64(st.UnknownDestination.Bytes))
	s.Gauge("leaseguard_nft_unknown_destinations", "Unknown destinations reported within the de-duplication window.").Add(float64(st.UnknownDst))
	f := s.Counter("leaseguard_nft_forwarded_dhcp_dropped_packets_total", "Client DHCP (UDP 68 to 67) from a port dropped instead of forwarded by the kernel: the relay relays renewals itself.")
	for _, iface := range slices.Sorted(maps.Keys(st.ForwardedDHCP)) {
		f.Add(float64(st.ForwardedDHCP[iface].Packets), "port", names[iface], "interface", iface)
	}
}
