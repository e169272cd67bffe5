package ops

import (
	"iter"
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

// Bindings returns the bindings f selects, in address order. The table
// keeps no address order, so each call reads every candidate once and
// keeps only the page's worth with the lowest addresses after the cursor
// (BenchmarkBindingsPage).
func (o *Ops) Bindings(f BindingFilter) (BindingPage, error) {
	if err := f.check(); err != nil {
		return BindingPage{}, err
	}
	page := BindingPage{Bindings: []Binding{}}
	sel := selection{n: f.Limit + 1}
	if f.Limit == 0 {
		sel.n = 0
	}
	for b := range o.candidates(f) {
		if !f.match(b) {
			continue
		}
		page.Total++
		if !f.After.IsValid() || b.IP.Compare(f.After) > 0 {
			sel.offer(b)
		}
	}
	kept := sel.sorted()
	if f.Limit > 0 && len(kept) > f.Limit {
		kept = kept[:f.Limit]
		page.Next = kept[f.Limit-1].IP.String()
	}
	for _, b := range kept {
		page.Bindings = append(page.Bindings, BindingOf(*b))
	}
	return page, nil
}

// selection keeps the n bindings with the lowest addresses offered (every
// one when n is 0) in a max-heap on the address, copying a binding only
// when it is kept.
type selection struct {
	n    int
	heap []*location.Binding
}

func (s *selection) offer(b location.Binding) {
	if s.n > 0 && len(s.heap) == s.n {
		if b.IP.Compare(s.heap[0].IP) >= 0 {
			return
		}
		*s.heap[0] = b
		s.down(0)
		return
	}
	p := new(location.Binding)
	*p = b
	s.heap = append(s.heap, p)
	if s.n > 0 {
		s.up(len(s.heap) - 1)
	}
}

func (s *selection) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if s.heap[parent].IP.Compare(s.heap[i].IP) >= 0 {
			return
		}
		s.heap[parent], s.heap[i] = s.heap[i], s.heap[parent]
		i = parent
	}
}

func (s *selection) down(i int) {
	for {
		largest := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(s.heap) && s.heap[c].IP.Compare(s.heap[largest].IP) > 0 {
				largest = c
			}
		}
		if largest == i {
			return
		}
		s.heap[i], s.heap[largest] = s.heap[largest], s.heap[i]
		i = largest
	}
}

func (s *selection) sorted() []*location.Binding {
	slices.SortFunc(s.heap, func(a, b *location.Binding) int { return a.IP.Compare(b.IP) })
	return s.heap
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
func (o *Ops) candidates(f BindingFilter) iter.Seq[location.Binding] {
	t := o.deps.Table
	switch {
	case f.IP.IsValid():
		b, ok := t.ByIP(f.IP)
		return func(yield func(location.Binding) bool) {
			if ok {
				yield(b)
			}
		}
	case len(f.MAC) > 0:
		return slices.Values(t.ByMAC(f.MAC))
	case len(f.Modem) > 0:
		return slices.Values(t.ByModem(f.Modem))
	case f.Port != "":
		return slices.Values(t.ByPort(f.Port))
	}
	return t.All()
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
