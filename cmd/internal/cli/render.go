package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// The renderers write the operations' results as text, for the console
// and for `leaseguard ctl`, so both show the same tables. now is the
// agent's time, for "lease left" and "ago".

const timeLayout = "2006-01-02 15:04:05 MST"

// WriteBindings writes a page of bindings as a table.
func WriteBindings(w io.Writer, page ops.BindingPage, now time.Time) error {
	if len(page.Bindings) == 0 {
		_, err := fmt.Fprintf(w, "No bindings (%d in all).\n", page.Total)
		return err
	}
	t := table{header: []string{"IP address", "MAC address", "Port", "Source", "Lease left"}}
	for _, b := range page.Bindings {
		t.add(b.IP.String(), b.MAC, orDash(b.Port), b.Source, left(b.Expiry, now))
	}
	if err := t.write(w); err != nil {
		return err
	}
	if len(page.Bindings) < page.Total {
		_, err := fmt.Fprintf(w, "Bindings shown: %d of %d\n", len(page.Bindings), page.Total)
		return err
	}
	_, err := fmt.Fprintf(w, "Total bindings: %d\n", page.Total)
	return err
}

// WriteBinding writes one binding in detail.
func WriteBinding(w io.Writer, b ops.Binding, now time.Time) error {
	if _, err := fmt.Fprintf(w, "Binding %v\n", b.IP); err != nil {
		return err
	}
	var p pairs
	p.add("MAC address", "%s (htype %d)", b.MAC, b.HType)
	if b.ClientID != "" {
		p.add("Client-id", "%s", b.ClientID)
	}
	p.add("Port", "%s", orDash(b.Port))
	p.add("Circuit-id", "%s", orDash(b.CircuitID))
	if b.Modem != "" {
		p.add("Modem", "%s", b.Modem)
	}
	p.add("Source", "%s", b.Source)
	if !b.Expiry.IsZero() {
		p.add("Lease expires", "%s (%s left)", b.Expiry.Format(timeLayout), left(b.Expiry, now))
	}
	if !b.LastTransaction.IsZero() {
		p.add("Last transaction", "%s (%s ago)", b.LastTransaction.Format(timeLayout), ago(b.LastTransaction, now))
	}
	if b.Server.IsValid() {
		p.add("DHCP server", "%v", b.Server)
	}
	if b.VendorClass != "" {
		p.add("Vendor class", "%s", strconv.Quote(b.VendorClass))
	}
	if b.Option82 != "" {
		p.add("Option 82", "%s", b.Option82)
	}
	if len(b.AssociatedIPs) > 0 {
		var s []string
		for _, a := range b.AssociatedIPs {
			s = append(s, a.String())
		}
		p.add("Associated", "%s", strings.Join(s, ", "))
	}
	return p.write(w, "  ")
}

// WriteServers writes the DHCP servers' leasequery state, then their
// counters (two tables, each within 80 columns).
func WriteServers(w io.Writer, servers []ops.Server, now time.Time) error {
	state := table{header: []string{"Server", "State", "Timer", "Outstanding", "Pending", "Window", "SRTT ms"}}
	counts := table{header: []string{"Server", "Sent", "Retrans", "Active", "Unassigned", "Unknown", "Timeouts"}}
	relayed := table{header: []string{"Server", "Replies", "Relayed", "Dropped", "Last reply"}}
	for _, s := range servers {
		relayed.add(s.Server.String(), utoa(s.RelayReplies), utoa(s.RelayRelayed), utoa(s.RelayReplies-s.RelayRelayed),
			ago(s.LastRelayReply, now))
		state.add(s.Server.String(), s.State, timer(s, now), itoa(s.Outstanding), itoa(s.Pending),
			strconv.FormatFloat(s.Window, 'f', 1, 64), strconv.FormatFloat(s.SRTTMillis, 'f', 1, 64))
		counts.add(s.Server.String(), utoa(s.Sent), utoa(s.Retransmitted), utoa(s.Active), utoa(s.Unassigned),
			utoa(s.Unknown), utoa(s.Timeouts))
	}
	if err := state.write(w); err != nil {
		return err
	}
	if _, err := fmt.Fprint(w, "Timer: RFC 4388 section 6.7, running while the server answers; once expired,\nthe server gets one probe at a time.\n\n"); err != nil {
		return err
	}
	if err := counts.write(w); err != nil {
		return err
	}
	if _, err := fmt.Fprint(w, "\nDHCP replies to relayed requests (every request goes to every server):\n"); err != nil {
		return err
	}
	return relayed.write(w)
}

// timer is the §6.7 timer: time left while armed, else when the next
// probe may go.
func timer(s ops.Server, now time.Time) string {
	switch {
	case s.TimerArmed:
		return left(s.TimerDeadline, now)
	case !s.NextProbe.IsZero() && s.NextProbe.After(now):
		return "probe in " + left(s.NextProbe, now)
	}
	return "expired"
}

// WritePorts writes every port's bindings and counters (two tables,
// each within 80 columns).
func WritePorts(w io.Writer, ports []ops.Port) error {
	ids := table{header: []string{"Port", "Interface", "Kind", "Bindings", "Spoof drops"}}
	counts := table{header: []string{"Port", "To servers", "To clients", "Dropped", "Received", "Bad", "Kernel drops"}}
	for _, p := range ports {
		ids.add(p.Name, p.Interface, p.Kind, itoa(p.Bindings), utoa(p.SpoofDrops))
		counts.add(p.Name, utoa(p.ToServers), utoa(p.ToClients), utoa(p.RelayDropped), utoa(p.Received),
			utoa(p.Malformed+p.BadChecksum), utoa(p.KernelDrops))
	}
	if err := ids.write(w); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, "\nRelay (to servers, to clients, dropped) and socket (received, bad, kernel drops):"); err != nil {
		return err
	}
	return counts.write(w)
}

// WriteCounters writes the totals by subsystem.
func WriteCounters(w io.Writer, c ops.Counters, now time.Time) error {
	sections := []struct {
		title string
		p     pairs
	}{{title: "DHCP relay"}, {title: "Location table"}, {title: "Leasequery client"}}
	r, tb, l := &sections[0].p, &sections[1].p, &sections[2].p
	r.add("Messages from clients", "%d", c.Relay.FromClients)
	r.add("Relayed to servers", "%d", c.Relay.ToServers)
	r.add("Replies from servers", "%d", c.Relay.FromServers)
	r.add("Relayed to clients", "%d", c.Relay.ToClients)
	r.add("Option 82 replaced/kept", "%d/%d", c.Relay.Replaced, c.Relay.Kept)
	r.add("Gleaned binds/unbinds", "%d/%d", c.Relay.Binds, c.Relay.Unbinds)
	r.add("Send errors", "%d", c.Relay.SendErrors)
	for _, reason := range slices.Sorted(maps.Keys(c.Relay.Dropped)) {
		r.add("Dropped: "+reason, "%d", c.Relay.Dropped[reason])
	}
	tb.add("Bindings", "%d (%d ports, %d modems)", c.Table.Bindings, c.Table.Ports, c.Table.Modems)
	tb.add("Added/changed", "%d/%d", c.Table.Added, c.Table.Changed)
	for _, reason := range slices.Sorted(maps.Keys(c.Table.Removed)) {
		tb.add("Removed: "+reason, "%d", c.Table.Removed[reason])
	}
	tb.add("Stale leasequery answers", "%d", c.Table.Stale)
	tb.add("Removals refused (owner)", "%d", c.Table.NotOwner)
	lq := c.Leasequery
	l.add("Queries submitted", "%d (%d merged, %d from cache)", lq.Submitted, lq.Merged, lq.CacheHits)
	l.add("Refused", "%d outside subscriber networks, %d at the limit", lq.Restricted, lq.RejectedFull)
	l.add("Completed", "%d (%d unanswered, %d updates)", lq.Completed, lq.NoAnswer, lq.Updates)
	l.add("Sent/retransmitted", "%d/%d (%d send errors)", lq.Sent, lq.Retransmitted, lq.SendErrors)
	l.add("Answers", "%d active, %d unassigned, %d unknown, %d timeouts", lq.Active, lq.Unassigned, lq.Unknown, lq.Timeouts)
	l.add("In flight", "%d (cache %d entries)", lq.Live, lq.CacheEntries)
	if c.BPI != nil {
		sections = append(sections, struct {
			title string
			p     pairs
		}{title: "BPI+"})
		addBPICounters(&sections[3].p, *c.BPI)
	}
	width := 0
	for _, s := range sections {
		width = max(width, s.p.width())
	}
	for _, s := range sections {
		if _, err := fmt.Fprintln(w, s.title); err != nil {
			return err
		}
		if err := s.p.writeWidth(w, "  ", width); err != nil {
			return err
		}
	}
	if !c.Since.IsZero() {
		_, err := fmt.Fprintf(w, "Counters cleared %s (%s ago)\n", c.Since.Format(timeLayout), ago(c.Since, now))
		return err
	}
	return nil
}

// WriteNft writes the anti-spoof ruleset's state and its non-zero drop
// counters: the netdev table's per port, then the ip table's (unknown
// destinations, forwarded client DHCP).
func WriteNft(w io.Writer, n ops.Nft) error {
	p := n.Programming
	if _, err := fmt.Fprintf(w, "Table netdev %s: %d allowed, %d unknown sources recently reported\n"+
		"Programming: %d rebuilds, %d applies, %d failures; latency last %.1f ms, mean %.1f ms, max %.1f ms\n",
		n.Table, n.Allowed, n.Reported, p.Rebuilds, p.Applies, p.Failures, p.LastMillis, p.MeanMillis, p.MaxMillis); err != nil {
		return err
	}
	if p.LastError != "" {
		if _, err := fmt.Fprintf(w, "Last failure: %s\n", p.LastError); err != nil {
			return err
		}
	}
	if err := writeDrops(w, n.Drops); err != nil {
		return err
	}
	return writeDownstream(w, n)
}

func writeDrops(w io.Writer, drops []ops.NftDrop) error {
	t := table{header: []string{"Port", "Interface", "Reason", "Packets", "Bytes"}}
	for _, d := range drops {
		if d.Packets > 0 {
			t.add(orDash(d.Port), d.Interface, d.Reason, utoa(d.Packets), utoa(d.Bytes))
		}
	}
	if len(t.rows) == 0 {
		_, err := fmt.Fprintln(w, "No packets dropped.")
		return err
	}
	if err := t.write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Counters at zero not shown; reported: unknown sources sent to NFLOG, also counted under their reason.")
	return err
}

// writeDownstream writes the ip table's counters.
func writeDownstream(w io.Writer, n ops.Nft) error {
	d := n.Downstream
	if _, err := fmt.Fprintf(w, "Table ip %s: %d packets (%d bytes) to unknown subscriber addresses dropped, %d reported; %d addresses recently reported\n",
		n.Table, d.Dropped.Packets, d.Dropped.Bytes, d.Reported.Packets, d.Addresses); err != nil {
		return err
	}
	t := table{header: []string{"Port", "Interface", "Packets", "Bytes"}}
	for _, f := range n.ForwardedDHCP {
		if f.Packets > 0 {
			t.add(orDash(f.Port), f.Interface, utoa(f.Packets), utoa(f.Bytes))
		}
	}
	if len(t.rows) == 0 {
		_, err := fmt.Fprintln(w, "No forwarded client DHCP dropped.")
		return err
	}
	if _, err := fmt.Fprintln(w, "Forwarded client DHCP dropped (the relay relays renewals):"); err != nil {
		return err
	}
	return t.write(w)
}

// WriteLeasequery writes each server's answer and the winner.
func WriteLeasequery(w io.Writer, r ops.LeasequeryResult) error {
	if _, err := fmt.Fprintf(w, "Leasequery %s\n", r.Query); err != nil {
		return err
	}
	for _, a := range r.Answers {
		if _, err := fmt.Fprintln(w, answerLine(a)); err != nil {
			return err
		}
	}
	if r.Type == "none" {
		_, err := fmt.Fprintln(w, "Winner: none (no server answered)")
		return err
	}
	line := fmt.Sprintf("Winner: %v %s", r.Winner, strings.ToUpper(r.Type))
	if r.Binding != nil {
		line += fmt.Sprintf(" %v chaddr %s", r.Binding.IP, r.Binding.MAC)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func answerLine(a ops.LeasequeryAnswer) string {
	if a.Outcome != "answered" {
		return fmt.Sprintf("  server %-15s %-10s (%d transmissions)", a.Server, strings.ToUpper(a.Outcome), a.Transmissions)
	}
	s := fmt.Sprintf("  server %-15s %-10s", a.Server, strings.ToUpper(a.Type))
	if b := a.Binding; b != nil {
		s += fmt.Sprintf(" %v chaddr %s", b.IP, b.MAC)
		if b.CircuitID != "" {
			s += " circuit " + b.CircuitID
		}
	}
	return s + fmt.Sprintf(" rtt %.1f ms", a.RTTMillis)
}

// WriteConfig writes the running configuration as its JSON file.
func WriteConfig(w io.Writer, st ops.ConfigState, now time.Time) error {
	if _, err := fmt.Fprintf(w, "! generation %d, applied %s (%s ago) by %s\n", st.Generation,
		st.AppliedAt.Format(timeLayout), ago(st.AppliedAt, now), st.Origin); err != nil {
		return err
	}
	if st.Inconsistent != "" {
		if _, err := fmt.Fprintf(w, "! WARNING: the last apply failed and so did its rollback: %s\n", st.Inconsistent); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(st.Config, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteLogging writes the log levels and debug traces.
func WriteLogging(w io.Writer, l ops.Logging) error {
	var p pairs
	p.add("Global level", "%s", l.Level)
	for _, s := range slices.Sorted(maps.Keys(l.Subsystems)) {
		p.add("Level of "+s, "%s", l.Subsystems[s])
	}
	debug := "none"
	if len(l.Debug) > 0 {
		debug = strings.Join(l.Debug, ", ")
	}
	p.add("Debug traces", "%s", debug)
	return p.write(w, "")
}

func itoa(n int) string    { return strconv.Itoa(n) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
