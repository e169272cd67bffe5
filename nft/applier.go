package nft

import (
	"errors"
	"time"
)

// Applier programs the owned ruleset. Kernel is the real one; Fake keeps the
// state in memory for tests of callers.
type Applier interface {
	// Rebuild replaces the owned table with the ruleset for cfg holding
	// elements, in one transaction: there is no moment without rules.
	Rebuild(cfg Config, elements []Element, now time.Time) error
	// Apply deletes then adds elements in one transaction. Adding an
	// element that is present renews its timeout; deleting one that is
	// missing or expired is not an error. Elements already expired at now
	// are deleted rather than added.
	Apply(adds, deletes []Element, now time.Time) error
	// Stats reports set sizes, counters and programming figures.
	Stats() (Stats, error)
}

// ErrNotBuilt is returned by Apply before the first successful Rebuild: the
// applier does not know the table it owns yet.
var ErrNotBuilt = errors.New("nft: Apply before Rebuild")

// Stats is what an operator asks of the ruleset.
type Stats struct {
	// Allowed is the number of live elements in the allowed set (expired
	// ones excluded), as programmed by this applier.
	Allowed int
	// Unknown is the number of unknown sources reported within the
	// de-duplication window.
	Unknown int
	// Counters holds every named counter, by port and reason.
	Counters map[CounterID]Counter
	// UnknownDestination counts packets towards subscriber addresses
	// without a binding, dropped before routing; ReportedDestination
	// those of them reported (the first of each address per window);
	// UnknownDst is the number of addresses reported within the window.
	// All zero without Config.SubscriberNets.
	UnknownDestination, ReportedDestination Counter
	UnknownDst                              int
	// ForwardedDHCP counts client DHCP from each port dropped instead of
	// forwarded (Config.DropForwardedDHCP), by port.
	ForwardedDHCP map[string]Counter
	// Programming describes the transactions this applier sent.
	Programming Programming
}

// Counter is a packet and byte count.
type Counter struct {
	Packets, Bytes uint64
}

// Programming counts transactions and their latency.
type Programming struct {
	Rebuilds, Applies uint64 // successful transactions
	Failures          uint64 // transactions the kernel refused or that failed to send
	ElementsAdded     uint64 // elements sent in add operations (renewals included)
	ElementsDeleted   uint64
	LastLatency       time.Duration // of the last successful transaction
	MaxLatency        time.Duration
	TotalLatency      time.Duration // over successful transactions
	LastError         string        // of the last failure, "" if none
	// TimeoutUpdate is true once the kernel was found to replace an
	// element's timeout on a plain add, so renewals are single adds.
	TimeoutUpdate bool
}

// record accounts one transaction.
func (p *Programming) record(rebuild bool, latency time.Duration, err error) {
	if err != nil {
		p.Failures++
		p.LastError = err.Error()
		return
	}
	if rebuild {
		p.Rebuilds++
	} else {
		p.Applies++
	}
	p.LastLatency = latency
	p.MaxLatency = max(p.MaxLatency, latency)
	p.TotalLatency += latency
}
