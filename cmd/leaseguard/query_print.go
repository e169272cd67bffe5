package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"golang.org/x/sys/unix"
)

// answerJSON is one server's answer as `query --json` prints it.
type answerJSON struct {
	Query            string            `json:"query"`
	Server           string            `json:"server"`
	Type             string            `json:"type"` // active|unassigned|unknown|timeout
	Winner           bool              `json:"winner"`
	CIAddr           *string           `json:"ciaddr"`
	HType            *uint8            `json:"htype"`
	CHAddr           *string           `json:"chaddr"`
	ClientID         *string           `json:"client_id"`
	LeaseRemainingS  *int64            `json:"lease_remaining_s"`
	LastTransactionS *int64            `json:"last_transaction_s"`
	AssociatedIPs    []string          `json:"associated_ips"`
	RelayAgentInfo   map[string]string `json:"relay_agent_info"` // sub-option number -> hex
	VendorClass      *string           `json:"vendor_class"`
	Transmissions    int               `json:"transmissions"`
	RTTMillis        *float64          `json:"rtt_ms"`
}

func answerType(a engine.ServerAnswer) string {
	if a.Outcome != engine.Answered {
		return "timeout"
	}
	switch a.Type {
	case lq.LeaseActive:
		return "active"
	case lq.LeaseUnassigned:
		return "unassigned"
	case lq.LeaseUnknown:
		return "unknown"
	}
	return "timeout"
}

// toAnswerJSON renders a; times are relative to at, when the result was
// decided (the answers' absolute times were computed at their receipt).
func toAnswerJSON(key string, a engine.ServerAnswer, winner bool, at time.Time) answerJSON {
	j := answerJSON{Query: key, Server: a.Server.String(), Type: answerType(a), Winner: winner,
		Transmissions: a.Transmissions, AssociatedIPs: []string{}, RelayAgentInfo: map[string]string{}}
	if a.Outcome == engine.Answered && a.RTT > 0 {
		ms := float64(a.RTT.Microseconds()) / 1000
		j.RTTMillis = &ms
	}
	b := a.Binding
	if a.Outcome != engine.Answered {
		return j
	}
	if b.IP.IsValid() {
		j.CIAddr = ptr(b.IP.String())
	}
	if len(b.HWAddr) > 0 {
		j.HType, j.CHAddr = ptr(b.HType), ptr(net.HardwareAddr(b.HWAddr).String())
	}
	if len(b.ClientID) > 0 {
		j.ClientID = ptr(hex.EncodeToString(b.ClientID))
	}
	if !b.Expiry.IsZero() {
		j.LeaseRemainingS = ptr(int64(b.Expiry.Sub(at).Round(time.Second) / time.Second))
	}
	if !b.LastTransaction.IsZero() {
		j.LastTransactionS = ptr(int64(at.Sub(b.LastTransaction).Round(time.Second) / time.Second))
	}
	for _, ip := range b.AssociatedIPs {
		j.AssociatedIPs = append(j.AssociatedIPs, ip.String())
	}
	for _, s := range b.AgentInfo {
		j.RelayAgentInfo[strconv.Itoa(int(s.Code))] = hex.EncodeToString(s.Data)
	}
	if len(b.VendorClass) > 0 {
		j.VendorClass = ptr(printable(b.VendorClass))
	}
	return j
}

func ptr[T any](v T) *T { return &v }

// printable returns b as text when it is, else as hex.
func printable(b []byte) string {
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

func printResult(w io.Writer, o queryOptions, res engine.Result) error {
	key := res.Key.String()
	if o.json {
		enc := json.NewEncoder(w)
		for _, a := range res.Answers {
			if err := enc.Encode(toAnswerJSON(key, a, a.Server == res.Server && res.Type != 0, res.At)); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(w, "leasequery %s via giaddr %v\n", key, o.giaddr)
	for _, a := range res.Answers {
		printAnswer(w, toAnswerJSON(key, a, false, res.At))
	}
	if res.Type == 0 {
		_, err := fmt.Fprintln(w, "winner: none (no server answered)")
		return err
	}
	_, err := fmt.Fprintf(w, "winner: %v %s\n", res.Server, strings.ToUpper(answerTypeOf(res.Type)))
	return err
}

func answerTypeOf(t lq.MessageType) string {
	return answerType(engine.ServerAnswer{Outcome: engine.Answered, Type: t})
}

func printAnswer(w io.Writer, j answerJSON) {
	fmt.Fprintf(w, "  server %-15s %-10s", j.Server, strings.ToUpper(j.Type))
	if j.Type == "timeout" {
		fmt.Fprintf(w, " (%d transmissions)\n", j.Transmissions)
		return
	}
	if j.CIAddr != nil {
		fmt.Fprintf(w, " %s", *j.CIAddr)
	}
	if j.CHAddr != nil {
		fmt.Fprintf(w, " chaddr %s", *j.CHAddr)
	}
	if j.LeaseRemainingS != nil {
		fmt.Fprintf(w, " lease %ds", *j.LeaseRemainingS)
	}
	if j.LastTransactionS != nil {
		fmt.Fprintf(w, " last-transaction %ds ago", *j.LastTransactionS)
	}
	if j.RTTMillis != nil {
		fmt.Fprintf(w, " rtt %.1fms", *j.RTTMillis)
	}
	fmt.Fprintln(w)
	var extra []string
	if j.ClientID != nil {
		extra = append(extra, "client-id "+*j.ClientID)
	}
	if j.VendorClass != nil {
		extra = append(extra, "vendor-class "+strconv.Quote(*j.VendorClass))
	}
	if len(j.AssociatedIPs) > 0 {
		extra = append(extra, "associated "+strings.Join(j.AssociatedIPs, ","))
	}
	for code := 1; code < 256; code++ {
		if v, ok := j.RelayAgentInfo[strconv.Itoa(code)]; ok {
			extra = append(extra, subOptionText(uint8(code), v))
		}
	}
	if len(extra) > 0 {
		fmt.Fprintf(w, "    %s\n", strings.Join(extra, "  "))
	}
}

// sweepJSON is the summary `query --sweep --json` prints.
type sweepJSON struct {
	Prefix       string  `json:"prefix"`
	Total        int     `json:"total"`
	Active       int     `json:"active"`
	Unassigned   int     `json:"unassigned"`
	Unknown      int     `json:"unknown"`
	Timeout      int     `json:"timeout"`
	DurationS    float64 `json:"duration_s"`
	AnswersPerS  float64 `json:"answers_per_s"`
	Transmitted  uint64  `json:"transmitted"`
	Retransmits  uint64  `json:"retransmitted"`
	ServerErrors uint64  `json:"send_errors"`
}

func runSweep(ctx context.Context, r *engine.Runner, o queryOptions, stdout, stderr io.Writer) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var progress func(engine.SweepProgress)
	if isTerminal(stderr) {
		progress = func(p engine.SweepProgress) {
			fmt.Fprintf(stderr, "\r%s: %d/%d  active %d  unassigned %d  unknown %d  timeout %d ",
				o.sweep, p.Done, p.Total, p.Active, p.Unassigned, p.Unknown, p.Failed)
		}
	}
	var found []engine.Result
	var each func(engine.Result)
	if o.bindings {
		each = func(res engine.Result) {
			if res.Type == lq.LeaseActive {
				found = append(found, res)
			}
		}
	}
	start := time.Now()
	p, err := r.Sweep(ctx, o.sweep, each, progress)
	elapsed := time.Since(start)
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	st := r.Stats()
	s := sweepJSON{Prefix: o.sweep.String(), Total: p.Total, Active: p.Active, Unassigned: p.Unassigned,
		Unknown: p.Unknown, Timeout: p.Failed, DurationS: elapsed.Seconds(),
		AnswersPerS: float64(p.Active+p.Unassigned+p.Unknown) / elapsed.Seconds(),
		Transmitted: st.Sent, Retransmits: st.Retransmitted, ServerErrors: st.SendErrors}
	slices.SortFunc(found, func(a, b engine.Result) int { return a.Binding.IP.Compare(b.Binding.IP) })
	if err := printBindings(stdout, o.json, found); err != nil {
		return err
	}
	if o.json {
		if jerr := json.NewEncoder(stdout).Encode(s); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintf(stdout, "sweep %s: %d addresses in %.2fs (%.0f answers/s)\n", s.Prefix, s.Total, s.DurationS, s.AnswersPerS)
		fmt.Fprintf(stdout, "  active %d  unassigned %d  unknown %d  timeout %d\n", s.Active, s.Unassigned, s.Unknown, s.Timeout)
		fmt.Fprintf(stdout, "  queries sent %d  retransmitted %d  send errors %d\n", s.Transmitted, s.Retransmits, s.ServerErrors)
	}
	if err != nil {
		return fmt.Errorf("sweep %s: %w", o.sweep, err)
	}
	return nil
}

// isTerminal reports whether w is a terminal, for the progress line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// printBindings lists the ACTIVE answers of a sweep: the recovered table.
func printBindings(w io.Writer, asJSON bool, found []engine.Result) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, res := range found {
			if err := enc.Encode(toAnswerJSON(res.Key.String(), engine.ServerAnswer{Server: res.Server,
				Outcome: engine.Answered, Type: res.Type, Binding: res.Binding}, true, res.At)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(found) == 0 {
		return nil
	}
	fmt.Fprintf(w, "%-15s %-17s %8s  %-16s %-17s %s\n", "IP", "MAC", "LEASE", "CIRCUIT", "REMOTE-ID", "SERVER")
	for _, res := range found {
		b := res.Binding
		remaining := "-"
		if !b.Expiry.IsZero() {
			remaining = b.Expiry.Sub(res.At).Round(time.Second).String()
		}
		circuit, _ := b.AgentInfo.CircuitID()
		remote, _ := b.AgentInfo.RemoteID()
		_, err := fmt.Fprintf(w, "%-15v %-17v %8s  %-16s %-17s %v\n", b.IP, net.HardwareAddr(b.HWAddr), remaining,
			printable(circuit), remoteText(remote), res.Server)
		if err != nil {
			return err
		}
	}
	return nil
}

// remoteText shows a 6-byte remote-id as the modem MAC it usually is.
func remoteText(b []byte) string {
	if len(b) == 6 {
		return net.HardwareAddr(b).String()
	}
	return printable(b)
}

// subOptionText names a relay agent information sub-option and shows its
// value readably: text for identifiers, a MAC for a 6-byte remote-id.
func subOptionText(code uint8, hexValue string) string {
	b, _ := hex.DecodeString(hexValue)
	switch code {
	case lq.SubCircuitID:
		return "circuit-id " + strconv.Quote(printable(b))
	case lq.SubRemoteID:
		return "remote-id " + remoteText(b)
	case lq.SubSubscriberID:
		return "subscriber-id " + strconv.Quote(printable(b))
	case lq.SubRelayID:
		return "relay-id " + strconv.Quote(printable(b))
	}
	return fmt.Sprintf("opt82.%d %s", code, hexValue)
}
