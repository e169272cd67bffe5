package agent

import (
	"sync"
	"time"
)

// Defaults of the leasequery filters for traffic-triggered queries, used
// when the configuration leaves them zero. Per port, 20 queries a second:
// a port of 1,000 subscribers recovers on demand within a minute after a
// reboot, while a spoofing host costs the servers at most that much (and
// less: the engine caches UNKNOWN and UNASSIGNED answers for
// leasequery.unknown_ttl, and nftables reports each source once per 30 s).
// Unknown destinations, all ports together: 100 a second.
const (
	DefaultPerPortQueries   = 20
	DefaultPerPortInterval  = time.Second
	DefaultDownstreamPerSec = 100
)

// tokenBucket admits up to burst events at once and rate per second on
// average. The zero value admits nothing. It takes the time as input.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(n int, per time.Duration) tokenBucket {
	return tokenBucket{rate: float64(n) / per.Seconds(), burst: float64(n), tokens: float64(n)}
}

// allow takes a token at now if there is one.
func (b *tokenBucket) allow(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// queryFilter limits traffic-triggered leasequeries like Cisco's
// leasequery filters: per subscriber port per interval for unknown
// sources, and one global rate for unknown destinations. Safe for
// concurrent use.
type queryFilter struct {
	mu        sync.Mutex
	perPort   map[string]*tokenBucket
	portN     int
	portEvery time.Duration
	down      tokenBucket
}

func newQueryFilter(perPort int, every time.Duration, downPerSec int) *queryFilter {
	return &queryFilter{perPort: map[string]*tokenBucket{}, portN: perPort, portEvery: every,
		down: newBucket(downPerSec, time.Second)}
}

// source reports whether an unknown source on port may be queried at now.
func (f *queryFilter) source(port string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.perPort[port]
	if !ok {
		nb := newBucket(f.portN, f.portEvery)
		b = &nb
		f.perPort[port] = b
	}
	return b.allow(now)
}

// destination reports whether an unknown destination may be queried at now.
func (f *queryFilter) destination(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down.allow(now)
}
