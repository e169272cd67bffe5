package agent

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// trustedSources judges the reports of trusted MACs before they reach
// the verifier, with the running configuration's set: a report source
// wrapped around the verifier's so that a configuration apply can change
// the set (one atomic pointer swap) while reports are delivered. The
// verifier's own set is emptied when this is wired (wireApply): it was
// fixed at start.
//
// The ruleset exempts trusted MACs itself, so their reports only come
// from a MAC the ruleset still verifies: one just removed from the set
// (it must now be asked about) or one just added (a report already in
// flight).
type trustedSources struct {
	reports reportSource
	v       *verifier // counters
	macs    atomic.Pointer[map[string]bool]
}

var _ reportSource = (*trustedSources)(nil)

func newTrustedSources(v *verifier, macs []config.MAC) *trustedSources {
	t := &trustedSources{reports: v.reports, v: v}
	t.set(macs)
	return t
}

// set makes macs the trusted set.
func (t *trustedSources) set(macs []config.MAC) {
	m := make(map[string]bool, len(macs))
	for _, mac := range macs {
		m[string(mac)] = true
	}
	t.macs.Store(&m)
}

// trusted reports whether mac is in the set.
func (t *trustedSources) trusted(mac net.HardwareAddr) bool { return (*t.macs.Load())[string(mac)] }

// Run delivers the reports of MACs not trusted, counting the others as
// the verifier does (a source report, trusted).
func (t *trustedSources) Run(ctx context.Context, deliver func(nflog.Report)) error {
	return t.reports.Run(ctx, func(r nflog.Report) {
		if !r.Downstream && t.trusted(r.Source.MAC) {
			t.v.c.sources.Add(1)
			t.v.c.trusted.Add(1)
			return
		}
		deliver(r)
	})
}

// setLimits changes the leasequery filters' limits. Every port's bucket
// starts over full: a change grants at most one extra burst.
func (f *queryFilter) setLimits(perPort int, every time.Duration, downPerSec int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perPort = map[string]*tokenBucket{}
	f.portN, f.portEvery = perPort, every
	f.down = newBucket(downPerSec, time.Second)
}
