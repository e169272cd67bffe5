package fwd

import (
	"fmt"
	"net/netip"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Owned lists the bindings whose routes carry our protocol tag in our
// table, with the MAC of the permanent neighbour entry beside each (nil if
// there is none). After a restart the agent removes those it no longer
// knows.
func (p *Programmer) Owned() ([]Binding, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	routes, err := p.h.RouteListFiltered(unix.AF_INET,
		&vnl.Route{Protocol: vnl.RouteProtocol(p.cfg.Protocol), Table: int(p.cfg.Table)},
		vnl.RT_FILTER_PROTOCOL|vnl.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("fwd: list routes: %w", err)
	}
	neighs, err := p.h.NeighList(0, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("fwd: list neighbours: %w", err)
	}
	type at struct {
		ifindex int
		ip      netip.Addr
	}
	macs := map[at][]byte{}
	for _, n := range neighs {
		ip, ok := netip.AddrFromSlice(n.IP)
		if ok && n.State&unix.NUD_PERMANENT != 0 {
			macs[at{n.LinkIndex, ip.Unmap()}] = n.HardwareAddr
		}
	}
	names := map[int]string{}
	var out []Binding
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(r.Dst.IP)
		if ones, bits := r.Dst.Mask.Size(); !ok || ones != 32 || bits != 32 {
			continue
		}
		name, err := p.linkName(names, r.LinkIndex)
		if err != nil {
			return nil, err
		}
		ip = ip.Unmap()
		out = append(out, Binding{Port: name, IP: ip, MAC: macs[at{r.LinkIndex, ip}]})
	}
	return out, nil
}

func (p *Programmer) linkName(cache map[int]string, index int) (string, error) {
	if n, ok := cache[index]; ok {
		return n, nil
	}
	l, err := p.h.LinkByIndex(index)
	if err != nil {
		return "", fmt.Errorf("fwd: interface %d: %w", index, err)
	}
	cache[index] = l.Attrs().Name
	return cache[index], nil
}
