package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
)

// openBPI builds and opens the BPI task when the configuration enables it
// and adds it to the agent's tasks; Open calls it once the leasequery
// runner exists (unknown destinations are asked about through it).
func (a *Agent) openBPI() error {
	if !a.cfg.BPI.Enabled {
		return nil
	}
	var prefixes []netip.Prefix
	for _, p := range a.cfg.Subscriber {
		prefixes = append(prefixes, p.Prefix)
	}
	index := newModemIndex(a.table)
	known := func(ip netip.Addr) bool {
		b, ok := a.table.ByIP(ip)
		return ok && len(b.Modem) == 6
	}
	c := a.cfg.BPI
	log := a.opts.Logs.For("bpi")
	trigger := newLQTrigger(a.runner.Query, known, prefixes, time.Duration(c.LeasequeryHoldoff), c.LeasequeryPerSecond, a.opts.Now)
	trigger.log = log
	t, err := newBPITask(c, index, trigger, log, a.opts.Now)
	if err != nil {
		return &ConfigError{err}
	}
	if err := t.open(); err != nil {
		return err
	}
	a.Add("bpi", t)
	return nil
}

// BPIStats are the BPI task's counters.
type BPIStats struct {
	Frames          uint64 // read from the downstream interface
	Pairs           uint64 // of Frames, sent two at a time (a second was already queued)
	Encrypted       uint64 // sent on the RF link under a TEK
	Clear           uint64 // sent in clear: privacy disabled for the modem
	UnknownLocation uint64 // dropped: no binding with a modem for the destination
	NoKey           uint64 // dropped: modem not configured, or no valid TEK (never sent in clear)
	NoDestination   uint64 // dropped: no IP destination in the frame
	LinkErrors      uint64 // the RF link refused a frame
	Leasequeries    BPILeasequeries
	KeyRequests     uint64 // BPKM Key Requests received
	KeyReplies      uint64 // answered with the SA's keys
	KeyRejects      uint64 // answered with a Key Reject
	KeyErrors       uint64 // not answered (unknown modem or AK, bad digest) or the reply not sent
	KeyPairs        uint64 // key pairs the manager installed (one per SA at start, then one per rollover)
	UpstreamOther   uint64 // other frames read on the RF link
}

type bpiCounters struct {
	frames, pairs, keyRequests, keyReplies, keyRejects, keyErrors, keyPairs, upstreamOther atomic.Uint64
}

// BPIStats returns the BPI task's counters; ok is false when BPI is off.
func (a *Agent) BPIStats() (s BPIStats, ok bool) {
	if t := a.bpiTask(); t != nil {
		return t.Stats(), true
	}
	return s, false
}

// BPIModem is one modem's privacy as the BPI task holds it.
type BPIModem struct {
	Modem bpi.Modem
	// SA is the modem's primary SA: an immutable snapshot of its two
	// keys (nil until keys are installed; privacy disabled has none).
	SA *bpi.SA
}

// BPIModems returns the modems BPI keys, in configuration order, each
// with its primary SA as it is now; ok is false when BPI is off. It only
// reads: the frame path is not held up.
func (a *Agent) BPIModems() (ms []BPIModem, ok bool) {
	t := a.bpiTask()
	if t == nil {
		return nil, false
	}
	ms = make([]BPIModem, 0, len(t.cfg.Modems))
	for _, c := range t.cfg.Modems {
		m, known := t.keys.Modem(net.HardwareAddr(c.MAC))
		if !known {
			continue
		}
		sa, _ := t.keys.SA(m.PrimarySAID)
		ms = append(ms, BPIModem{Modem: m, SA: sa})
	}
	return ms, true
}

func (a *Agent) bpiTask() *bpiTask {
	for _, t := range a.tasks {
		if b, isBPI := t.Task.(*bpiTask); isBPI {
			return b
		}
	}
	return nil
}

// Stats returns the counters so far.
func (t *bpiTask) Stats() BPIStats {
	e, c := &t.enc.Stats, &t.stats
	return BPIStats{Frames: c.frames.Load(), Pairs: c.pairs.Load(), Encrypted: e.Encrypted.Load(), Clear: e.Clear.Load(),
		UnknownLocation: e.UnknownLocation.Load(), NoKey: e.NoKey.Load(), NoDestination: e.NoDestination.Load(),
		LinkErrors: e.LinkErrors.Load(), Leasequeries: t.lq.stats.snapshot(),
		KeyRequests: c.keyRequests.Load(), KeyReplies: c.keyReplies.Load(), KeyRejects: c.keyRejects.Load(),
		KeyErrors: c.keyErrors.Load(), KeyPairs: c.keyPairs.Load(), UpstreamOther: c.upstreamOther.Load()}
}

// The traces of `debug bpi on`: key messages and key pairs as they come
// (a few per modem per TEK lifetime), dropped frames at most
// dropTracesPerSecond (a flood to unknown destinations must not bury the
// console; the count of those left out rides on the next line traced).

// dropTracesPerSecond is how many dropped frames a second are traced.
const dropTracesPerSecond = 10

// dropTraces is the dropped-frame trace budget of the current second.
type dropTraces struct {
	perSec  int
	second  time.Time // the start of the current second
	traced  int       // in the current second
	skipped int       // not traced since the last line
}

// admit says whether a drop at now is traced, counting those that are not.
func (d *dropTraces) admit(now time.Time) bool {
	if now.Sub(d.second) >= time.Second || now.Before(d.second) {
		d.second, d.traced = now, 0
	}
	if d.traced >= d.perSec {
		d.skipped++
		return false
	}
	d.traced++
	return true
}

// traceDrop traces one frame the Encoder dropped: its destination and why.
func (t *bpiTask) traceDrop(eth []byte, err error, now time.Time) {
	if !t.drops.admit(now) {
		return
	}
	args := []any{"reason", dropReason(err)}
	if ip, ipErr := bpi.DestinationIP(eth); ipErr == nil {
		args = append([]any{"ip", ip}, args...)
	}
	var ke *bpi.KeyError
	if errors.As(err, &ke) {
		args = append(args, "modem", ke.Modem, "said", ke.SAID)
	}
	if t.drops.skipped > 0 {
		args = append(args, "not_traced", t.drops.skipped)
		t.drops.skipped = 0
	}
	t.log.Debug("downstream frame dropped", args...)
}

// dropReason names err as leaseguard_bpi_frames_dropped_total does.
func dropReason(err error) string {
	switch {
	case errors.Is(err, bpi.ErrUnknownLocation):
		return "unknown_location"
	case errors.Is(err, bpi.ErrUnknownModem):
		return "unknown_modem"
	case errors.Is(err, bpi.ErrNoKey):
		return "no_key"
	case errors.Is(err, bpi.ErrNoDestination):
		return "no_destination"
	}
	return "link_error"
}

// traceKeyMessage traces a BPKM key message to or from modem.
func (t *bpiTask) traceKeyMessage(what string, modem net.HardwareAddr, raw []byte) {
	if !t.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	km, err := readKeyMessage(raw)
	if err != nil {
		t.log.Debug(what, "modem", modem, "err", err)
		return
	}
	args := []any{"modem", modem, "said", km.said, "ak_seq", km.akSeq, "id", km.id}
	for i, seq := range km.teks {
		args = append(args, []string{"older_seq", "newer_seq"}[min(i, 1)], seq)
	}
	t.log.Debug(what, args...)
}

// keyMessage is what a trace shows of a BPKM Key Request, Reply or
// Reject: its identifier, SAID, AK sequence and TEK sequences.
type keyMessage struct {
	id, akSeq uint8
	said      uint16
	teks      []uint8 // of a Key Reply: the older, then the newer
}

func readKeyMessage(raw []byte) (keyMessage, error) {
	m, err := bpkm.ParseMessage(raw)
	if err != nil {
		return keyMessage{}, err
	}
	km := keyMessage{id: m.Identifier}
	if v, ok := bpkm.Find(m.Attrs, bpkm.AttrSAID); ok && len(v) == 2 {
		km.said = binary.BigEndian.Uint16(v)
	}
	if v, ok := bpkm.Find(m.Attrs, bpkm.AttrKeySequence); ok && len(v) == 1 {
		km.akSeq = v[0] & 0x0f
	}
	for i, p := range bpkm.FindAll(m.Attrs, bpkm.AttrTEKParameters) {
		attrs, err := bpkm.ParseAttrs(p)
		if err != nil {
			return km, fmt.Errorf("TEK parameters %d: %w", i, err)
		}
		if v, ok := bpkm.Find(attrs, bpkm.AttrKeySequence); ok && len(v) == 1 {
			km.teks = append(km.teks, v[0]&0x0f)
		}
	}
	return km, nil
}

// tekSeq and tekExpiry are what a trace shows of a key that may be
// missing (a configured SA may have one key): "-".
func tekSeq(k *bpi.TEK) string {
	if k == nil {
		return "-"
	}
	return strconv.Itoa(int(k.Seq))
}

func tekExpiry(k *bpi.TEK) string {
	if k == nil {
		return "-"
	}
	return k.Expires.UTC().Format(time.RFC3339)
}

// unknownLocation is errors.As for a *bpi.LocationError without its
// allocation (the target would escape), as the frame path needs.
func unknownLocation(err error) (netip.Addr, bool) {
	for ; err != nil; err = errors.Unwrap(err) {
		if le, ok := err.(*bpi.LocationError); ok {
			return le.IP, true
		}
	}
	return netip.Addr{}, false
}
