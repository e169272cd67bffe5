package ops

import (
	"net"
	"net/netip"
	"slices"

	"github.com/leaseguard/leaseguard/lq/location"
)

// MaxPage is the most bindings one page may hold.
const MaxPage = 1000

// BindingFilter selects bindings; empty fields match everything, set
// ones must all match.
type BindingFilter struct {
	Port   string
	IP     netip.Addr
	MAC    net.HardwareAddr
	Modem  net.HardwareAddr
	Source string // gleaned, leasequery, snapshot
	// After is the cursor: only bindings with a higher address.
	After netip.Addr
	// Limit is the page size, 1-MaxPage; 0 means every binding (the
	// console, which pages on the terminal).
	Limit int
}

// Bindings returns the bindings f selects, in address order.
func (o *Ops) Bindings(f BindingFilter) (BindingPage, error) {
	if err := f.check(); err != nil {
		return BindingPage{}, err
	}
	all := o.candidates(f)
	slices.SortFunc(all, func(a, b location.Binding) int { return a.IP.Compare(b.IP) })
	page := BindingPage{Bindings: []Binding{}}
	for _, b := range all {
		if !f.match(b) {
			continue
		}
		page.Total++
		if f.After.IsValid() && b.IP.Compare(f.After) <= 0 {
			continue
		}
		if f.Limit > 0 && len(page.Bindings) == f.Limit {
			page.Next = page.Bindings[len(page.Bindings)-1].IP.String()
			continue
		}
		page.Bindings = append(page.Bindings, BindingOf(b))
	}
	return page, nil
}

func (f BindingFilter) check() error {
	if f.Limit < 0 || f.Limit > MaxPage {
		return errorf(Invalid, "limit", "%d is outside 1-%d", f.Limit, MaxPage)
	}
	if f.IP.IsValid() && !f.IP.Is4() {
		return errorf(Invalid, "ip", "%v is not an IPv4 address", f.IP)
	}
	if f.After.IsValid() && !f.After.Is4() {
		return errorf(Invalid, "cursor", "%v is not a cursor this server gave", f.After)
	}
	switch f.Source {
	case "", "gleaned", "leasequery", "snapshot":
		return nil
	}
	return errorf(Invalid, "source", "%q is not one of gleaned, leasequery, snapshot", f.Source)
}

// candidates uses the table's narrowest index for f.
func (o *Ops) candidates(f BindingFilter) []location.Binding {
	t := o.deps.Table
	switch {
	case f.IP.IsValid():
		if b, ok := t.ByIP(f.IP); ok {
			return []location.Binding{b}
		}
		return nil
	case len(f.MAC) > 0:
		return t.ByMAC(f.MAC)
	case len(f.Modem) > 0:
		return t.ByModem(f.Modem)
	case f.Port != "":
		return t.ByPort(f.Port)
	}
	return slices.Collect(t.All())
}

func (f BindingFilter) match(b location.Binding) bool {
	return (f.Port == "" || b.Port == f.Port) &&
		(!f.IP.IsValid() || b.IP == f.IP) &&
		(len(f.MAC) == 0 || slices.Equal(b.HWAddr, f.MAC)) &&
		(len(f.Modem) == 0 || slices.Equal(b.Modem, f.Modem)) &&
		(f.Source == "" || b.Source.String() == f.Source)
}

// Binding returns the binding of ip.
func (o *Ops) Binding(ip netip.Addr) (Binding, error) {
	if !ip.Is4() {
		return Binding{}, errorf(Invalid, "ip", "%v is not an IPv4 address", ip)
	}
	b, ok := o.deps.Table.ByIP(ip)
	if !ok {
		return Binding{}, errorf(NotFound, "ip", "no binding for %v", ip)
	}
	return BindingOf(b), nil
}

// ClearBinding removes the binding of ip from the table (reason
// Cleared); the table's Removed event takes its kernel state (allowed
// set element, route, neighbour) away through the enforcement that
// follows the table.
func (o *Ops) ClearBinding(ip netip.Addr, who string) (Binding, error) {
	cur, err := o.Binding(ip)
	if err != nil {
		return Binding{}, err
	}
	res, err := o.deps.Table.Remove(location.Removal{IP: ip, Reason: location.Cleared}, o.now())
	switch {
	case err != nil:
		return Binding{}, &Error{Kind: Failed, Field: "ip", Err: err}
	case res == location.ResultAbsent:
		return Binding{}, errorf(NotFound, "ip", "no binding for %v", ip)
	case res != location.ResultRemoved:
		return Binding{}, errorf(Failed, "ip", "binding of %v not removed: %v", ip, res)
	}
	o.log.Info("binding cleared by operator", "ip", ip, "mac", cur.MAC, "port", cur.Port, "by", who)
	return cur, nil
}

// ParseCursor reads a cursor given by Bindings.
func ParseCursor(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, errorf(Invalid, "cursor", "%q is not a cursor this server gave", s)
	}
	return a, nil
}

// PortNames returns the configured port names, in configuration order.
func (o *Ops) PortNames() []string {
	cfg := o.Config().Config
	names := make([]string, 0, len(cfg.Ports))
	for _, p := range cfg.Ports {
		names = append(names, p.Name)
	}
	return names
}
