package agent

import (
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/relay"
)

// relayConfig turns the validated agent configuration into the relay's.
func relayConfig(c *config.Config) relay.Config {
	rc := relay.Config{
		Upstream:         c.Upstream.Address,
		Servers:          c.Servers,
		MaxHops:          c.Relay.MaxHops,
		ServerIDOverride: c.Relay.ServerIDOverride,
		Renewals:         relay.RelayRenewals,
	}
	if c.Relay.Renewals == "route" {
		rc.Renewals = relay.RouteRenewals
	}
	if c.RelayID != "" {
		rc.RelayID = []byte(c.RelayID)
	}
	for _, p := range c.Ports {
		rc.Ports = append(rc.Ports, portConfig(p))
	}
	return rc
}

// portConfig maps one port. A cable port's remote-id defaults to its
// modem's MAC (RFC 3046 §2.1.2 as DOCSIS CMTSs use it); a DSL port's is
// configured or absent.
func portConfig(p config.Port) relay.PortConfig {
	pc := relay.PortConfig{
		Name: p.Name, Interface: p.Interface, Gateway: p.Gateway, LinkSelection: p.LinkSelection,
		CircuitID: []byte(p.CircuitID), SubscriberID: p.SubscriberID,
		Trusted: p.Trust == config.Trusted, Policy: policy(p.Policy),
	}
	if p.Kind == config.Cable && !p.Modem.IsZero() {
		pc.Modem = net.HardwareAddr(p.Modem)
	}
	switch {
	case p.RemoteID != "":
		pc.RemoteID = []byte(p.RemoteID)
	case pc.Modem != nil:
		pc.RemoteID = pc.Modem
	}
	if p.Kind == config.Cable && p.DeviceClass != 0 {
		pc.DeviceClass, pc.HasDeviceClass = lq.DeviceClass(p.DeviceClass), true
	}
	return pc
}

func policy(p config.Option82Policy) relay.Policy {
	switch p {
	case config.PolicyReplace:
		return relay.PolicyReplace
	case config.PolicyKeep:
		return relay.PolicyKeep
	}
	return relay.PolicyDrop
}

// engineConfig turns the leasequery section into the engine's.
func engineConfig(c *config.Config) engine.Config {
	ec := engine.Config{
		Servers:         c.Servers,
		InitialWindow:   c.Leasequery.InitialWindow,
		MaxWindow:       c.Leasequery.MaxOutstanding,
		Retransmissions: c.Leasequery.Retries,
		UnknownTTL:      time.Duration(c.Leasequery.UnknownTTL),
	}
	for _, p := range c.Subscriber {
		ec.SubscriberPrefixes = append(ec.SubscriberPrefixes, p.Prefix)
	}
	return ec
}

// gateways returns the distinct port gateways that are not the upstream
// address, with whether any port using it relays with that giaddr (so
// that the servers' replies come to it): those must be bound.
func gateways(c *config.Config) []gateway {
	var out []gateway
	seen := map[netip.Addr]int{}
	for _, p := range c.Ports {
		if p.Gateway == c.Upstream.Address {
			continue
		}
		i, ok := seen[p.Gateway]
		if !ok {
			i = len(out)
			seen[p.Gateway] = i
			out = append(out, gateway{addr: p.Gateway, iface: p.Interface})
		}
		if !p.LinkSelection.IsValid() {
			out[i].giaddr = true
		}
	}
	return out
}

type gateway struct {
	addr   netip.Addr
	iface  string // of the first port using it, for error messages
	giaddr bool
}
