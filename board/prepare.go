package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
)

// ModuleLoader loads a kernel module and the modules it depends on.
// Loading a module that is loaded or built in succeeds.
type ModuleLoader interface {
	Load(name string) error
}

// Link is a network interface as Prepare needs to see it.
type Link struct {
	Index int
	Name  string
	MAC   net.HardwareAddr
	PCI   string // PCI address of the device, "" when not on PCI
}

// Links is the part of rtnetlink Prepare uses.
type Links interface {
	List() ([]Link, error)
	// Changed receives a value whenever links appear, vanish or change,
	// so Prepare can wait for NICs whose driver is still probing.
	Changed() <-chan struct{}
	SetName(index int, name string) error // the link must be down
	SetDown(index int) error
	SetUp(index int) error
	// AddAddr assigns an address; one already assigned is not an error.
	AddAddr(index int, addr netip.Prefix) error
}

// Env is what Prepare acts on.
type Env struct {
	Modules ModuleLoader
	Links   Links
	Log     *slog.Logger // nil discards
}

// Report says what Prepare did.
type Report struct {
	Board   string
	Modules []string // loaded in this order (each with its dependencies)
	NICs    []NamedNIC
}

// NamedNIC is one port's NIC after Prepare.
type NamedNIC struct {
	Port string
	Was  string // the kernel's name before renaming
	MAC  string
}

// ReadyLine is the one line the console shows when the board is prepared.
func (r Report) ReadyLine() string {
	nics := make([]string, len(r.NICs))
	for i, n := range r.NICs {
		nics[i] = fmt.Sprintf("%s=%s(was %s)", n.Port, n.MAC, n.Was)
	}
	return fmt.Sprintf("leaseguard: board %s ready: %d modules [%s] nics [%s]",
		r.Board, len(r.Modules), strings.Join(r.Modules, " "), strings.Join(nics, " "))
}

// Prepare loads the profile's modules in order, waits until every port's
// NIC has appeared, names each NIC after its port, assigns the port's
// addresses and brings the links up. It waits for NICs until ctx ends:
// the caller bounds it. Errors name the module, port or NIC.
func Prepare(ctx context.Context, p Profile, env Env) (Report, error) {
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := Report{Board: p.Name}
	for _, m := range p.Modules {
		if err := env.Modules.Load(m); err != nil {
			return r, fmt.Errorf("board %s: module %s: %w", p.Name, m, err)
		}
		log.Debug("module loaded", "module", m)
		r.Modules = append(r.Modules, m)
	}
	found, err := waitForNICs(ctx, p, env.Links)
	if err != nil {
		return r, fmt.Errorf("board %s: %w", p.Name, err)
	}
	if err := renameAll(p, env.Links, found); err != nil {
		return r, fmt.Errorf("board %s: %w", p.Name, err)
	}
	for i, port := range p.Ports {
		if err := bringUp(env.Links, port, found[i].Index); err != nil {
			return r, fmt.Errorf("board %s: port %s: %w", p.Name, port.Name, err)
		}
		r.NICs = append(r.NICs, NamedNIC{Port: port.Name, Was: found[i].Name, MAC: found[i].MAC.String()})
		log.Debug("port up", "port", port.Name, "was", found[i].Name, "mac", found[i].MAC)
	}
	return r, nil
}

// waitForNICs lists links until every port's NIC is there, waiting for
// link changes in between; found[i] is the NIC of p.Ports[i].
func waitForNICs(ctx context.Context, p Profile, links Links) ([]Link, error) {
	for {
		all, err := links.List()
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		found, missing := matchPorts(p.Ports, all)
		if len(missing) == 0 {
			return found, nil
		}
		select {
		case <-links.Changed():
		case <-ctx.Done():
			return nil, fmt.Errorf("no NIC for %s (have %s): %w", strings.Join(missing, ", "), linkNames(all), ctx.Err())
		}
	}
}

// matchPorts finds each port's NIC; missing describes the ports without one.
func matchPorts(ports []Port, all []Link) (found []Link, missing []string) {
	found = make([]Link, len(ports))
	for i, port := range ports {
		l, ok := findNIC(port.NIC, all)
		if !ok {
			missing = append(missing, fmt.Sprintf("port %s (%s)", port.Name, port.NIC))
			continue
		}
		found[i] = l
	}
	return found, missing
}

func findNIC(m NICMatch, all []Link) (Link, bool) {
	for _, l := range all {
		switch {
		case m.MAC != "" && strings.EqualFold(l.MAC.String(), m.MAC),
			m.PCI != "" && l.PCI == m.PCI,
			m.Name != "" && l.Name == m.Name:
			return l, true
		}
	}
	return Link{}, false
}

func linkNames(all []Link) string {
	names := make([]string, len(all))
	for i, l := range all {
		names[i] = l.Name
		if len(l.MAC) > 0 {
			names[i] += "=" + l.MAC.String()
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

// errNameTaken is returned when a port's name belongs to a NIC that is not
// one of the profile's ports: renaming it away could break whatever
// configured it.
var errNameTaken = errors.New("name is taken by a NIC that is no port of this board")

// renameAll gives every found NIC its port's name. NICs are first moved to
// temporary names so that two ports may swap the kernel's names
// (eth0<->eth1) without a collision.
func renameAll(p Profile, links Links, found []Link) error {
	byIndex := map[int]bool{}
	for _, l := range found {
		byIndex[l.Index] = true
	}
	all, err := links.List()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for i, port := range p.Ports {
		for _, l := range all {
			if l.Name == port.Name && !byIndex[l.Index] {
				return fmt.Errorf("port %s (%s is %s): %w", port.Name, port.NIC, found[i].Name, errNameTaken)
			}
		}
	}
	var moves []int // indexes into found that need renaming
	for i, port := range p.Ports {
		if found[i].Name != port.Name {
			moves = append(moves, i)
		}
	}
	for n, i := range moves {
		if err := rename(links, found[i], fmt.Sprintf("lgtmp%d", n)); err != nil {
			return fmt.Errorf("port %s: %w", p.Ports[i].Name, err)
		}
	}
	for _, i := range moves {
		if err := links.SetName(found[i].Index, p.Ports[i].Name); err != nil {
			return fmt.Errorf("port %s: rename NIC %s (%s) to %s: %w", p.Ports[i].Name, found[i].Name, found[i].MAC, p.Ports[i].Name, err)
		}
	}
	return nil
}

func rename(links Links, l Link, name string) error {
	if err := links.SetDown(l.Index); err != nil {
		return fmt.Errorf("set NIC %s down: %w", l.Name, err)
	}
	if err := links.SetName(l.Index, name); err != nil {
		return fmt.Errorf("rename NIC %s (%s) to %s: %w", l.Name, l.MAC, name, err)
	}
	return nil
}

func bringUp(links Links, port Port, index int) error {
	for _, a := range port.Addrs {
		if err := links.AddAddr(index, a); err != nil {
			return fmt.Errorf("add address %s: %w", a, err)
		}
	}
	if err := links.SetUp(index); err != nil {
		return fmt.Errorf("set link up: %w", err)
	}
	return nil
}
