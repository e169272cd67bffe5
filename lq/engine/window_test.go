package engine

import (
	"net/netip"
	"testing"
	"time"
)

type sweepReport struct {
	results, answered int
	duration          time.Duration
	sent, retrans     uint64
	dropped           int
	maxQueue          int
	lossEvents        uint64
	finalWindow       float64
	// sendsAtOrAbove is how many transmissions left with DropAt or more
	// queries already outstanding, in the second half of the sweep.
	lateSends, lateSendsAbove int
}

// runSweep submits n queries by IP, feeding them as Room allows, against
// one simulated dhcpd, and runs until every one has a result.
func runSweep(t *testing.T, cfg func(*Config), d *simDHCPD, n int) sweepReport {
	t.Helper()
	e := newTestEngine(t, func(c *Config) {
		c.SubscriberPrefixes = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		if cfg != nil {
			cfg(c)
		}
	})
	net := newSimNet(e, t0, d)
	var rep sweepReport
	fed := 0
	net.onPoll = func(now time.Time, txs []Transmit) {
		if fed >= n/2 && d.CountFrom.IsZero() {
			d.CountFrom = now
		}
	}
	deadline := t0.Add(time.Hour)
	for len(net.results) < n {
		for fed < n && e.Room() > 0 {
			mustSubmit(t, e, net.now, ipQuery(nthIP(fed+1).String()))
			fed++
		}
		net.poll()
		if !net.step(deadline) {
			t.Fatalf("sweep stalled at %v with %d of %d results", net.now, len(net.results), n)
		}
	}
	st := e.Stats()
	rep.results = len(net.results)
	for _, r := range net.results {
		if r.Err == nil {
			rep.answered++
		}
	}
	rep.duration = net.now.Sub(t0)
	rep.sent, rep.retrans = st.Sent, st.Retransmitted
	rep.dropped, rep.maxQueue = d.dropped, d.maxQueue
	rep.lossEvents, rep.finalWindow = st.LossEvents, st.Servers[0].Window
	rep.lateSends, rep.lateSendsAbove = d.counted, d.countedAt
	return rep
}

func dhcpdModel() *simDHCPD {
	return &simDHCPD{Addr: srvA, ServiceTime: 200 * time.Microsecond, OneWay: 100 * time.Microsecond, DropAt: 100, DropProb: 0.03}
}

func TestSweepExplore(t *testing.T) {
	for _, mw := range []int{100, 200} {
		rep := runSweep(t, func(c *Config) { c.MaxWindow = mw; c.MaxPending = 2000 }, dhcpdModel(), 10000)
		t.Logf("max %d: %+v", mw, rep)
	}
}
