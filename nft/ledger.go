package nft

import (
	"time"

	"github.com/google/nftables"
)

// ledger remembers what the applier programmed into the allowed set and
// when each element expires (Unix milliseconds; 0 means never), so Stats
// can count the live elements without a dump: the kernel restarts a set
// dump from the first element for every 32 KiB it returns, so dumping
// 100,000 elements costs seconds of kernel CPU.
type ledger map[elementKey]int64

// newLedger records the elements of a Rebuild programmed at now.
func newLedger(elems []nftables.SetElement, now time.Time) ledger {
	l := make(ledger, len(elems))
	for _, e := range elems {
		l[elementKey(e.Key)] = expiryMillis(now, e.Timeout)
	}
	return l
}

// apply records an Apply programmed at now: deletes first, then adds, with
// expired adds removed (as planApply programs them).
func (l ledger) apply(adds, deletes []Element, now time.Time, maxTimeout time.Duration) {
	for _, e := range deletes {
		if k, err := e.key(); err == nil {
			delete(l, k)
		}
	}
	for _, e := range adds {
		k, err := e.key()
		if err != nil {
			continue
		}
		if d, ok := e.timeout(now, maxTimeout); ok {
			l[k] = expiryMillis(now, d)
		} else {
			delete(l, k)
		}
	}
}

// live counts the elements not expired at now and forgets the others.
func (l ledger) live(now time.Time) int {
	ms := now.UnixMilli()
	for k, exp := range l {
		if exp != 0 && exp <= ms {
			delete(l, k)
		}
	}
	return len(l)
}

func expiryMillis(now time.Time, timeout time.Duration) int64 {
	if timeout == 0 {
		return 0
	}
	return now.Add(timeout).UnixMilli()
}
