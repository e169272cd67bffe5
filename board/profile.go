// Package board describes the line cards leaseguard runs on and prepares one
// for the agent: which serial port carries the kernel console and which the
// operator CLI, which NICs face the subscribers and which the DHCP servers,
// how to recognise each NIC and what to call it, and which kernel modules
// must be loaded first.
//
// A Profile is data (JSON, parsed strictly); Detect picks one from what the
// kernel says about the machine; Prepare loads the modules and names the
// NICs through small OS interfaces, so all of it is testable without a
// line card.
package board

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Profile describes one kind of line card.
type Profile struct {
	// Name selects the profile (--board NAME), like "qemu-virt-arm64".
	Name string `json:"name"`
	// Description is one line for people.
	Description string `json:"description,omitempty"`
	// Arch is the GOARCH of the card's CPU: "arm64", "mipsle", "mips".
	Arch string `json:"arch"`
	// Models are the strings that identify the card to Detect: the
	// device-tree model, or the "system type" of /proc/cpuinfo.
	Models []string `json:"models,omitempty"`
	// Console is the kernel console (console=DEVICE,BAUD).
	Console Serial `json:"console"`
	// CLI is the second serial port, where the operator CLI listens.
	CLI Serial `json:"cli"`
	// RelayID identifies this relay agent in option 82 (remote-id) and in
	// the circuit-id templates ({relay}).
	RelayID string `json:"relay_id"`
	// Modules are the kernel modules to load, in this order; each one's
	// dependencies come from modules.dep.
	Modules []string `json:"modules,omitempty"`
	// Ports are the NICs leaseguard uses.
	Ports []Port `json:"ports"`
}

// Serial is a serial port: a device name under /dev and its speed.
type Serial struct {
	Device string `json:"device"`
	Baud   int    `json:"baud"`
}

// Role is what a port faces.
type Role string

const (
	// Subscriber ports face the modems and CPEs: the relay listens there,
	// inserts option 82, and nftables enforces source addresses.
	Subscriber Role = "subscriber"
	// Upstream ports face the DHCP servers and the core.
	Upstream Role = "upstream"
)

// Port is one NIC as leaseguard sees it.
type Port struct {
	// Name is the interface name the NIC gets (at most 15 bytes).
	Name string `json:"name"`
	Role Role   `json:"role"`
	// NIC says how to find the device among the kernel's interfaces.
	NIC NICMatch `json:"nic"`
	// CircuitID is the option 82 circuit-id template for subscriber
	// ports: {relay} is the profile's RelayID, {port} the port name,
	// {vlan} the subscriber VLAN (empty when untagged).
	CircuitID string `json:"circuit_id,omitempty"`
	// Addrs are assigned to the interface when it is brought up, like
	// "10.64.0.1/24" (the relay's giaddr on a subscriber port).
	Addrs []netip.Prefix `json:"addrs,omitempty"`
}

// NICMatch finds a NIC. Exactly one field is set: by MAC where the MAC is
// fixed but probe order is not (QEMU: interfaces are numbered in probe
// order, not command-line order), by PCI address or kernel name on
// hardware whose MACs differ per unit.
type NICMatch struct {
	MAC  string `json:"mac,omitempty"`
	PCI  string `json:"pci,omitempty"`  // like "0000:01:00.0"
	Name string `json:"name,omitempty"` // the kernel's name, like "eth1"
}

func (m NICMatch) String() string {
	switch {
	case m.MAC != "":
		return "mac " + m.MAC
	case m.PCI != "":
		return "pci " + m.PCI
	default:
		return "name " + m.Name
	}
}

// ParseProfile decodes a profile from JSON and validates it; unknown keys
// are errors, so a misspelt field does not silently take its default.
func ParseProfile(b []byte) (Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("board profile: %w", err)
	}
	if dec.More() {
		return Profile{}, fmt.Errorf("board profile: trailing data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// Validate checks the profile's invariants; errors name the field.
func (p Profile) Validate() error {
	if p.Name == "" {
		return fmt.Errorf("board profile: name is empty")
	}
	where := "board profile " + p.Name
	switch p.Arch {
	case "arm64", "arm", "mips", "mipsle", "mips64", "mips64le", "amd64":
	default:
		return fmt.Errorf("%s: arch %q is not a supported GOARCH", where, p.Arch)
	}
	if err := p.Console.validate(where + ": console"); err != nil {
		return err
	}
	if err := p.CLI.validate(where + ": cli"); err != nil {
		return err
	}
	if p.CLI.Device == p.Console.Device {
		return fmt.Errorf("%s: cli and console share device %s", where, p.CLI.Device)
	}
	if p.RelayID == "" {
		return fmt.Errorf("%s: relay_id is empty", where)
	}
	return p.validatePorts(where)
}

func (p Profile) validatePorts(where string) error {
	names := map[string]bool{}
	matches := map[NICMatch]bool{}
	roles := map[Role]int{}
	for i, port := range p.Ports {
		pw := fmt.Sprintf("%s: port %d (%s)", where, i, port.Name)
		if err := port.validate(pw); err != nil {
			return err
		}
		if names[port.Name] {
			return fmt.Errorf("%s: name used twice", pw)
		}
		if matches[port.NIC] {
			return fmt.Errorf("%s: %s matches another port's NIC", pw, port.NIC)
		}
		names[port.Name], matches[port.NIC] = true, true
		roles[port.Role]++
	}
	if roles[Subscriber] == 0 || roles[Upstream] == 0 {
		return fmt.Errorf("%s: needs at least one subscriber and one upstream port", where)
	}
	return nil
}

func (s Serial) validate(where string) error {
	if s.Device == "" || strings.Contains(s.Device, "/") {
		return fmt.Errorf("%s: device %q is not a name under /dev", where, s.Device)
	}
	if s.Baud <= 0 {
		return fmt.Errorf("%s: baud %d is not positive", where, s.Baud)
	}
	return nil
}

func (port Port) validate(where string) error {
	if port.Name == "" || len(port.Name) > 15 || strings.ContainsAny(port.Name, "/ :") {
		return fmt.Errorf("%s: %q is not a valid interface name (1-15 bytes, no '/', ':' or space)", where, port.Name)
	}
	if port.Role != Subscriber && port.Role != Upstream {
		return fmt.Errorf("%s: role %q is neither %q nor %q", where, port.Role, Subscriber, Upstream)
	}
	if port.Role == Subscriber && port.CircuitID == "" {
		return fmt.Errorf("%s: subscriber port without circuit_id", where)
	}
	return port.NIC.validate(where)
}

func (m NICMatch) validate(where string) error {
	set := 0
	for _, f := range []string{m.MAC, m.PCI, m.Name} {
		if f != "" {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%s: nic must set exactly one of mac, pci, name (%d set)", where, set)
	}
	if m.MAC != "" {
		hw, err := net.ParseMAC(m.MAC)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("%s: nic mac %q is not an Ethernet MAC", where, m.MAC)
		}
	}
	return nil
}

// CircuitID expands the port's circuit-id template.
func (p Profile) CircuitID(port Port, vlan string) string {
	return strings.NewReplacer("{relay}", p.RelayID, "{port}", port.Name, "{vlan}", vlan).Replace(port.CircuitID)
}

// PortsWithRole returns the ports of one role, in profile order.
func (p Profile) PortsWithRole(r Role) []Port {
	var out []Port
	for _, port := range p.Ports {
		if port.Role == r {
			out = append(out, port)
		}
	}
	return out
}
