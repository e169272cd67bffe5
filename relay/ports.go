package relay

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
)

// Port is one subscriber port as the relay resolved it from its
// PortConfig. Its slices are shared: read them, never modify them.
type Port struct {
	Index     int    // position in Config.Ports
	Name      string // operator's name; the table's Port
	Interface string // Linux interface
	// GIAddr is what the relay writes into giaddr for the port's clients:
	// the gateway, or the upstream address with link selection.
	GIAddr    netip.Addr
	Gateway   netip.Addr
	CircuitID []byte
	Modem     net.HardwareAddr // nil on ports without a modem
	// AgentInfo is the option 82 the relay inserts, and Option82 its
	// encoding (the option's payload), built once.
	AgentInfo lq.AgentInfo
	Option82  []byte
	Trusted   bool
	Policy    Policy
}

// PortMap finds a port by interface or by the option 82 the relay
// inserted: how a server's reply, a leasequery answer or an enforcement
// decision finds where an address lives. Immutable once built; safe for
// concurrent use.
type PortMap struct {
	ports       []Port
	byCircuit   map[string]int
	byInterface map[string]int
	relayID     []byte // nil when the relay sends none
	addrs       []netip.Addr
}

// NewPortMap resolves the ports of cfg and encodes their option 82. It is
// what New does first; enforcement can build one from the same Config
// without a running relay.
func NewPortMap(cfg Config) (*PortMap, error) {
	m := &PortMap{
		byCircuit:   make(map[string]int, len(cfg.Ports)),
		byInterface: make(map[string]int, len(cfg.Ports)),
		addrs:       []netip.Addr{cfg.Upstream},
	}
	if len(cfg.RelayID) > 0 {
		m.relayID = bytes.Clone(cfg.RelayID)
	}
	for i, pc := range cfg.Ports {
		p, err := buildPort(i, pc, cfg)
		if err != nil {
			return nil, fmt.Errorf("relay: ports[%d] (%s): %w", i, pc.Name, err)
		}
		if j, dup := m.byCircuit[string(p.CircuitID)]; dup {
			return nil, fmt.Errorf("relay: ports[%d] (%s): circuit-id %q is also that of ports[%d]", i, pc.Name, p.CircuitID, j)
		}
		if j, dup := m.byInterface[p.Interface]; dup {
			return nil, fmt.Errorf("relay: ports[%d] (%s): interface %q is also that of ports[%d]", i, pc.Name, p.Interface, j)
		}
		m.byCircuit[string(p.CircuitID)] = i
		m.byInterface[p.Interface] = i
		m.ports = append(m.ports, p)
		if !m.isOurs(p.GIAddr) {
			m.addrs = append(m.addrs, p.GIAddr)
		}
		if !m.isOurs(p.Gateway) {
			m.addrs = append(m.addrs, p.Gateway)
		}
	}
	return m, nil
}

// buildPort checks one port and encodes its option 82 in the order of the
// sub-option codes.
func buildPort(i int, pc PortConfig, cfg Config) (Port, error) {
	switch {
	case pc.Name == "" || pc.Interface == "":
		return Port{}, fmt.Errorf("name and interface are required")
	case !pc.Gateway.Is4() || pc.Gateway.IsUnspecified():
		return Port{}, fmt.Errorf("gateway %v is not a usable IPv4 address", pc.Gateway)
	case len(pc.CircuitID) == 0:
		return Port{}, fmt.Errorf("circuit-id is required: replies find their port by it")
	case pc.Modem != nil && len(pc.Modem) != 6:
		return Port{}, fmt.Errorf("modem %v is not a 6-byte MAC", pc.Modem)
	}
	p := Port{
		Index: i, Name: pc.Name, Interface: pc.Interface, GIAddr: pc.Gateway, Gateway: pc.Gateway,
		CircuitID: bytes.Clone(pc.CircuitID), Modem: bytes.Clone(pc.Modem),
		Trusted: pc.Trusted, Policy: pc.Policy,
	}
	ai, err := agentInfo(pc, cfg)
	if err != nil {
		return Port{}, err
	}
	if pc.LinkSelection.IsValid() {
		p.GIAddr = cfg.Upstream
	}
	p.AgentInfo = ai
	if p.Option82, err = ai.Marshal(); err != nil {
		return Port{}, fmt.Errorf("option 82: %w", err)
	}
	return p, nil
}

// agentInfo assembles the sub-options the relay inserts for a port.
func agentInfo(pc PortConfig, cfg Config) (lq.AgentInfo, error) {
	var ai lq.AgentInfo
	if err := ai.SetCircuitID(pc.CircuitID); err != nil {
		return nil, err
	}
	if len(pc.RemoteID) > 0 {
		if err := ai.SetRemoteID(pc.RemoteID); err != nil {
			return nil, err
		}
	}
	if pc.HasDeviceClass {
		ai.SetDeviceClass(pc.DeviceClass)
	}
	if pc.LinkSelection.IsValid() {
		if err := ai.SetLinkSelection(pc.LinkSelection); err != nil {
			return nil, err
		}
	}
	if pc.SubscriberID != "" {
		if err := ai.SetSubscriberID(pc.SubscriberID); err != nil {
			return nil, err
		}
	}
	if cfg.ServerIDOverride {
		if err := ai.SetServerIDOverride(pc.Gateway); err != nil {
			return nil, err
		}
	}
	if len(cfg.RelayID) > 0 {
		if err := ai.SetRelayID(cfg.RelayID); err != nil {
			return nil, err
		}
	}
	return ai, ai.Validate()
}

func (m *PortMap) isOurs(a netip.Addr) bool {
	for _, o := range m.addrs {
		if o == a {
			return true
		}
	}
	return false
}

// Len is the number of ports.
func (m *PortMap) Len() int { return len(m.ports) }

// Port returns the port at index i of Config.Ports.
func (m *PortMap) Port(i int) *Port { return &m.ports[i] }

// Ports returns every port in configuration order.
func (m *PortMap) Ports() []Port { return append([]Port(nil), m.ports...) }

// ByInterface returns the index of the port on Linux interface iface.
func (m *PortMap) ByInterface(iface string) (int, bool) {
	i, ok := m.byInterface[iface]
	return i, ok
}

// Addrs returns the relay's own addresses: the upstream address and every
// port's giaddr and gateway, without duplicates, upstream first.
func (m *PortMap) Addrs() []netip.Addr { return append([]netip.Addr(nil), m.addrs...) }

// RelayID is the sub-option 12 the relay sends, nil when none.
func (m *PortMap) RelayID() []byte { return m.relayID }

// Locate returns the port an option 82 names: its circuit-id must be one
// of ours and, when the relay sends a relay-id, its relay-id ours too
// (another card's circuits may have the same names).
func (m *PortMap) Locate(ai lq.AgentInfo) (*Port, bool) {
	circuit, _ := ai.CircuitID()
	relayID, hasRelayID := ai.RelayID()
	i, ok := m.locate(circuit, relayID, hasRelayID)
	if !ok {
		return nil, false
	}
	return &m.ports[i], true
}

// locate is Locate on raw sub-options; it does not allocate.
func (m *PortMap) locate(circuit, relayID []byte, hasRelayID bool) (int, bool) {
	if m.relayID != nil && (!hasRelayID || !bytes.Equal(relayID, m.relayID)) {
		return 0, false
	}
	i, ok := m.byCircuit[string(circuit)]
	return i, ok
}

// Bind places a binding a server reported (a leasequery DHCPLEASEACTIVE)
// on this card: the port its option 82 names, that option's circuit-id,
// and the port's modem. ok is false when the option names no port of
// ours: the address is not behind this card, or its option 82 was
// inserted by someone else.
func (m *PortMap) Bind(b lq.Binding, src location.Source) (location.Binding, bool) {
	p, ok := m.Locate(b.AgentInfo)
	if !ok {
		return location.Binding{}, false
	}
	return location.Binding{Binding: b, Port: p.Name, CircuitID: p.CircuitID, Modem: p.Modem, Source: src}, true
}
