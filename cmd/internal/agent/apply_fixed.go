package agent

import (
	"fmt"
	"reflect"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// fixed is a part of the configuration a running agent cannot change:
// what it was opened or built with at start.
type fixed struct {
	field string
	why   string
	value func(c *config.Config) any // compared with reflect.DeepEqual
}

// fixedFields are the parts of the configuration that need a restart.
var fixedFields = []fixed{
	{"board", "the card was prepared for its profile at start", func(c *config.Config) any { return c.Board }},
	{"upstream.interface", "the upstream socket is bound to it", func(c *config.Config) any { return c.Upstream.Interface }},
	{"upstream.address", "the upstream socket is bound to it", func(c *config.Config) any { return c.Upstream.Address }},
	{"ports", "each port has its own socket, counters and ruleset chain, opened at start",
		func(c *config.Config) any { return len(c.Ports) }},
	{"enforcement.enabled", "enforcement's tasks start with the agent", func(c *config.Config) any { return c.Enforcement.Enabled }},
	{"enforcement.table", "the ruleset would have to move to another table", func(c *config.Config) any { return c.Enforcement.Table }},
	{"enforcement.nflog_group", "the report socket is bound to the group", func(c *config.Config) any { return c.Enforcement.NFLogGroup }},
	{"enforcement.forwarding", "routes and IP forwarding are set up at start", func(c *config.Config) any { return c.Enforcement.Forwarding }},
	{"snapshot.path", "the snapshot is restored and written from start", func(c *config.Config) any { return c.Snapshot.Path }},
	{"snapshot.write_delay", "the snapshot writer takes its delay at start", func(c *config.Config) any { return c.Snapshot.WriteDelay }},
	{"bpi", "BPI+ keys, sockets and its modem index are set up at start", func(c *config.Config) any { return c.BPI }},
	{"console", "the serial console is opened at start", func(c *config.Config) any { return c.Console }},
	{"api", "the management API's listeners are opened at start", func(c *config.Config) any { return c.API }},
}

// fixedPortFields are the parts of each port that need a restart.
var fixedPortFields = []struct {
	field, why string
	value      func(p config.Port) any
}{
	{"name", "the table's bindings, the ruleset and the counters name it", func(p config.Port) any { return p.Name }},
	{"interface", "the port's socket and ruleset chain are bound to it", func(p config.Port) any { return p.Interface }},
	{"gateway", "the gateway listener is bound to it and the ruleset allows DHCP to it", func(p config.Port) any { return p.Gateway }},
	{"link_selection", "it decides the giaddr, and so which sockets the replies reach", func(p config.Port) any { return p.LinkSelection }},
}

// needsRestart refuses a change of old into cfg that a running agent
// cannot make, naming the first such field: an *ops.Error of kind
// Invalid (the API answers 422), before anything changed.
func needsRestart(old, cfg *config.Config) error {
	for _, f := range fixedFields {
		if !reflect.DeepEqual(f.value(old), f.value(cfg)) {
			return restartError(f.field, f.why)
		}
	}
	for i := range old.Ports {
		for _, f := range fixedPortFields {
			if !reflect.DeepEqual(f.value(old.Ports[i]), f.value(cfg.Ports[i])) {
				return restartError(fmt.Sprintf("ports[%d].%s", i, f.field), f.why)
			}
		}
	}
	if !old.BPI.Enabled {
		return nil
	}
	// BPI keys each modem's SA and captured the subscriber networks for
	// its leasequery trigger at start.
	for i := range old.Ports {
		if !reflect.DeepEqual(old.Ports[i].Modem, cfg.Ports[i].Modem) {
			return restartError(fmt.Sprintf("ports[%d].modem", i), "BPI+ keys the modem's security association at start")
		}
	}
	if !reflect.DeepEqual(old.Subscriber, cfg.Subscriber) {
		return restartError("subscriber_networks", "BPI+ takes the subscriber networks at start")
	}
	return nil
}

func restartError(field, why string) *ops.Error {
	return &ops.Error{Kind: ops.Invalid, Field: field,
		Err: fmt.Errorf("%s: changing it needs a restart (%s)", field, why)}
}
