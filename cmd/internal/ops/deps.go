package ops

import (
	"context"
	"iter"
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform"
	"github.com/leaseguard/leaseguard/relay"
)

// Table is the location table: *location.Table.
type Table interface {
	All() iter.Seq[location.Binding]
	ByIP(ip netip.Addr) (location.Binding, bool)
	ByMAC(hw net.HardwareAddr) []location.Binding
	ByPort(port string) []location.Binding
	ByModem(modem net.HardwareAddr) []location.Binding
	Remove(r location.Removal, now time.Time) (location.Result, error)
	Subscribe(name string) *location.Subscription
	Stats() location.Stats
}

// Querier is the leasequery client: *engine.Runner. Its OnResult sends
// results to the table whoever asked, so an operator's query updates it.
type Querier interface {
	QueryFresh(ctx context.Context, q lq.Query) (engine.Result, error)
	Stats() engine.RunnerStats
}

// RelayStats are the relay's counters: *relay.Service.
type RelayStats interface {
	Stats() relay.ServiceStats
}

// PortStats are the subscriber ports' socket counters, by Linux interface.
type PortStats interface {
	PortStats() map[string]platform.PortStats
}

// NftStats is the anti-spoof ruleset: nft.Applier (*nft.Kernel, *nft.Fake).
type NftStats interface {
	Stats() (nft.Stats, error)
}

// BPIState is DOCSIS BPI+ downstream encryption: the agent's BPI task.
type BPIState interface {
	// BPIStats are the task's counters, as they are (ops takes the
	// cleared baseline away).
	BPIStats() BPICounters
	// BPIModems are the modems BPI keys, each with its primary SA as it
	// is now.
	BPIModems() []BPIModemState
}

// BPIModemState is one modem as the BPI task holds it: its privacy and
// its primary SA, an immutable snapshot of its two keys (nil: none
// installed).
type BPIModemState struct {
	Modem bpi.Modem
	SA    *bpi.SA
}

// Applier runs a configuration. The contract: Apply either leaves the
// agent running cfg entirely, or returns an error and leaves the
// configuration it replaced running, kernel state included (RunSteps
// builds such an Apply out of reversible steps). Apply is never called
// concurrently with itself. cfg is validated and must not be modified.
// A change the agent cannot make without a restart is refused before
// anything changes with an *Error of kind Invalid naming the field
// (answered 422 rather than 500).
type Applier interface {
	Apply(ctx context.Context, cfg *config.Config) error
}

// Deps are what the operations run on. Table is required; a nil field
// makes the operations that need it answer Unavailable (Nft is nil when
// enforcement is off, BPI when BPI+ is off; Applier nil refuses config
// changes).
type Deps struct {
	Table   Table
	Querier Querier
	Relay   RelayStats
	Ports   PortStats
	Nft     NftStats
	BPI     BPIState
	Applier Applier
}
