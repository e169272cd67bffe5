package agent

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
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
	trigger := newLQTrigger(a.runner.Query, known, prefixes, time.Duration(c.LeasequeryHoldoff), c.LeasequeryPerSecond, a.opts.Now)
	t, err := newBPITask(c, index, trigger, a.opts.Logs.For("bpi"), a.opts.Now)
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
