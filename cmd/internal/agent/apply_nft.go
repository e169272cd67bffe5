package agent

import (
	"fmt"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/nft"
)

// liveRuleset stands between the enforcer and its nftables applier so
// that a configuration apply can change the ruleset (trusted MACs, IPv6,
// report rates, subscriber networks, forwarded DHCP) while the enforcer
// runs:
//
//   - it serialises the enforcer's transactions with the apply's rebuild,
//     so that no binding change lands between reading the allowed set
//     back and replacing the table;
//   - every rebuild uses the running ruleset configuration, the
//     enforcer's own (after a refused transaction) included;
//   - it keeps the drop counters monotonic: a rebuild replaces the table,
//     counters and all, so their values before it are carried and added
//     to what the kernel counts after.
//
// The nft.Applier's Rebuild is one transaction: the old table enforces
// until the new one replaces it, or stays whole if the kernel refuses.
type liveRuleset struct {
	inner nft.Applier
	read  carrier // the kernel's allowed set, read back

	mu      sync.Mutex
	cfg     nft.Config // running, validated
	carried nftCounts  // counted by the tables rebuilds replaced
}

// nftCounts are the counters of nft.Stats.
type nftCounts struct {
	drops                map[nft.CounterID]nft.Counter
	unknownDst, reported nft.Counter
	forwardedDHCP        map[string]nft.Counter
}

var _ nft.Applier = (*liveRuleset)(nil)

func newLiveRuleset(inner nft.Applier, read carrier, cfg nft.Config) *liveRuleset {
	return &liveRuleset{inner: inner, read: read, cfg: cfg,
		carried: nftCounts{drops: map[nft.CounterID]nft.Counter{}, forwardedDHCP: map[string]nft.Counter{}}}
}

// Rebuild implements nft.Applier for the enforcer: the table under the
// running configuration (cfg, the enforcer's copy of the start-up one,
// is not used).
func (l *liveRuleset) Rebuild(_ nft.Config, elements []nft.Element, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rebuildLocked(l.cfg, elements, now)
}

// Apply implements nft.Applier.
func (l *liveRuleset) Apply(adds, deletes []nft.Element, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Apply(adds, deletes, now)
}

// ReadAllowed passes the kernel's allowed set through (carrier).
func (l *liveRuleset) ReadAllowed(table string, now time.Time) ([]nft.Element, error) {
	return l.read.ReadAllowed(table, now)
}

// Stats implements nft.Applier: the kernel's figures, with the counters
// of replaced tables added.
func (l *liveRuleset) Stats() (nft.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := l.inner.Stats()
	l.carried.addTo(&st)
	return st, err
}

// reconfigure replaces the ruleset with one for cfg holding exactly the
// elements the kernel holds now, each with its remaining lifetime: what
// passes before passes after, and nothing else. On error the running
// table is untouched (the kernel refused the one transaction, or it was
// never sent).
func (l *liveRuleset) reconfigure(cfg nft.Config, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	elements, err := l.read.ReadAllowed(l.cfg.Table, now)
	if err != nil {
		return fmt.Errorf("reading the allowed set back: %w", err)
	}
	if err := l.rebuildLocked(cfg, elements, now); err != nil {
		return err
	}
	l.cfg = cfg
	return nil
}

// running is the ruleset configuration in force.
func (l *liveRuleset) running() nft.Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// rebuildLocked rebuilds and, once the kernel took it, carries the old
// table's counters. A table not built yet counts nothing.
func (l *liveRuleset) rebuildLocked(cfg nft.Config, elements []nft.Element, now time.Time) error {
	before, serr := l.inner.Stats()
	if err := l.inner.Rebuild(cfg, elements, now); err != nil {
		return err
	}
	if serr == nil {
		l.carried.add(before)
	}
	return nil
}

func (c *nftCounts) add(st nft.Stats) {
	for id, n := range st.Counters {
		c.drops[id] = sum(c.drops[id], n)
	}
	for port, n := range st.ForwardedDHCP {
		c.forwardedDHCP[port] = sum(c.forwardedDHCP[port], n)
	}
	c.unknownDst = sum(c.unknownDst, st.UnknownDestination)
	c.reported = sum(c.reported, st.ReportedDestination)
}

// addTo adds the carried counts to st's, for the counters st has (a
// counter of a reason or port the ruleset no longer has is not shown).
func (c *nftCounts) addTo(st *nft.Stats) {
	for id, n := range st.Counters {
		st.Counters[id] = sum(n, c.drops[id])
	}
	for port, n := range st.ForwardedDHCP {
		st.ForwardedDHCP[port] = sum(n, c.forwardedDHCP[port])
	}
	st.UnknownDestination = sum(st.UnknownDestination, c.unknownDst)
	st.ReportedDestination = sum(st.ReportedDestination, c.reported)
}

func sum(a, b nft.Counter) nft.Counter {
	return nft.Counter{Packets: a.Packets + b.Packets, Bytes: a.Bytes + b.Bytes}
}
