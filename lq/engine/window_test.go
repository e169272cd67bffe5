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

// TestAdaptiveWindowUnderLoss sweeps 10,000 addresses through a simulated
// dhcpd that drops 3 % of queries arriving with 100 or more queued. With
// a cap of 200, the window must settle where the queue mostly stays below
// 100, and every query must end answered (retransmissions recover drops).
func TestAdaptiveWindowUnderLoss(t *testing.T) {
	const n = 10000
	d := dhcpdModel()
	rep := runSweep(t, func(c *Config) { c.MaxWindow = 200; c.MaxPending = 2000 }, d, n)
	t.Logf("cap 200: %+v", rep)
	if rep.results != n || rep.answered != n {
		t.Fatalf("%d results, %d answered; want %d of each", rep.results, rep.answered, n)
	}
	if rep.lossEvents == 0 || rep.finalWindow >= 120 {
		t.Errorf("loss events %d, final window %.1f: the window did not adapt", rep.lossEvents, rep.finalWindow)
	}
	if limit := d.received / 200; rep.dropped > limit {
		t.Errorf("%d of %d queries dropped, want at most 0.5%% (a fixed window of 200 loses ~3%%)", rep.dropped, d.received)
	}
	if share := float64(rep.lateSendsAbove) / float64(rep.lateSends); share > 0.10 {
		t.Errorf("second half: %.1f%% of queries found >= %d queued, want under 10%%", 100*share, d.DropAt)
	}
	if rep.retrans != uint64(rep.dropped) {
		t.Errorf("%d retransmissions for %d drops: only lost queries should be resent", rep.retrans, rep.dropped)
	}
}

// TestDefaultCapAvoidsLoss: the default cap, 64, keeps this dhcpd's queue
// below its drop threshold altogether.
func TestDefaultCapAvoidsLoss(t *testing.T) {
	d := dhcpdModel()
	rep := runSweep(t, func(c *Config) { c.MaxPending = 2000 }, d, 10000)
	if rep.answered != 10000 || rep.dropped != 0 || rep.retrans != 0 {
		t.Errorf("default cap: %+v; want every query answered at the first attempt", rep)
	}
}
