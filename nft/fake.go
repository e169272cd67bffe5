package nft

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Fake is an in-memory Applier for tests of callers. It validates like the
// kernel applier, keeps elements with their expiry, and answers whether a
// source would pass. Set Err to make the next calls fail.
type Fake struct {
	mu       sync.Mutex
	cfg      *Config
	elements map[elementKey]Element // Expires already capped at MaxTimeout
	prog     Programming

	// Err, when set, is returned by Rebuild and Apply (and counted as a
	// failure) instead of changing anything. Set it before the Fake is in
	// use, or with SetErr while others call it.
	Err error
}

// SetErr sets Err safely while other goroutines use the Fake.
func (f *Fake) SetErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Err = err
}

var _ Applier = (*Fake)(nil)

// Rebuild implements Applier.
func (f *Fake) Rebuild(cfg Config, elements []Element, now time.Time) error {
	rs, err := Build(cfg)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		f.prog.record(true, 0, f.Err)
		return f.Err
	}
	m := make(map[elementKey]Element, len(elements))
	for i, e := range elements {
		k, err := e.key()
		if err != nil {
			return fmt.Errorf("nft rebuild: element %d (%v): %v", i, e, err)
		}
		if e, ok := capExpiry(e, now, rs.Config.MaxTimeout); ok {
			m[k] = e
		}
	}
	f.cfg, f.elements = &rs.Config, m
	f.prog.record(true, 0, nil)
	f.prog.ElementsAdded += uint64(len(m))
	return nil
}

// Apply implements Applier.
func (f *Fake) Apply(adds, deletes []Element, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg == nil {
		return ErrNotBuilt
	}
	if f.Err != nil {
		f.prog.record(false, 0, f.Err)
		return f.Err
	}
	// Validate everything first: a transaction applies all or nothing.
	if _, err := planApply(adds, deletes, now, f.cfg.MaxTimeout, true); err != nil {
		f.prog.record(false, 0, err)
		return err
	}
	for _, e := range deletes {
		k, _ := e.key()
		delete(f.elements, k)
	}
	for _, e := range adds {
		k, _ := e.key()
		if e, ok := capExpiry(e, now, f.cfg.MaxTimeout); ok {
			f.elements[k] = e
		} else {
			delete(f.elements, k)
		}
	}
	f.prog.record(false, 0, nil)
	f.prog.ElementsAdded += uint64(len(adds))
	f.prog.ElementsDeleted += uint64(len(deletes))
	return nil
}

// Stats implements Applier. Counters are empty (no packets flow through a
// fake); Allowed counts the elements not expired at the time of the call.
func (f *Fake) Stats() (Stats, error) {
	return f.StatsAt(time.Now()), nil
}

// StatsAt is Stats with the clock given.
func (f *Fake) StatsAt(now time.Time) Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := Stats{Programming: f.prog, Counters: map[CounterID]Counter{}, ForwardedDHCP: map[string]Counter{}}
	for _, e := range f.elements {
		if alive(e, now) {
			st.Allowed++
		}
	}
	return st
}

// Allows reports whether an IPv4 packet from ip with source MAC mac arriving
// on port would pass at now: a live element or a trusted MAC.
func (f *Fake) Allows(port string, ip netip.Addr, mac net.HardwareAddr, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg == nil {
		return false
	}
	for _, t := range f.cfg.TrustedMACs {
		if string(t) == string(mac) {
			return true
		}
	}
	k, err := Element{Port: port, IP: ip, MAC: mac}.key()
	if err != nil {
		return false
	}
	e, ok := f.elements[k]
	return ok && alive(e, now)
}

// AllowsDestination reports whether a packet towards ip would pass the
// downstream check at now: a live element holds ip, or the ruleset has no
// SubscriberNets, or ip is in none of them.
func (f *Fake) AllowsDestination(ip netip.Addr, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg == nil {
		return true
	}
	inNets := false
	for _, n := range f.cfg.SubscriberNets {
		inNets = inNets || n.Contains(ip)
	}
	if !inNets {
		return true
	}
	for _, e := range f.elements {
		if e.IP == ip && alive(e, now) {
			return true
		}
	}
	return false
}

// ReadAllowed returns the live elements like Kernel.ReadAllowed, or
// ErrNoTable before the first Rebuild or after Wipe.
func (f *Fake) ReadAllowed(table string, now time.Time) ([]Element, error) {
	f.mu.Lock()
	built := f.cfg != nil && f.cfg.Table == table
	f.mu.Unlock()
	if !built {
		return nil, fmt.Errorf("nft fake: %w", ErrNoTable)
	}
	return f.Elements(now), nil
}

// Wipe forgets the ruleset, as a reboot does.
func (f *Fake) Wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg, f.elements = nil, nil
}

// Elements returns the elements alive at now, in no particular order.
func (f *Fake) Elements(now time.Time) []Element {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Element
	for _, e := range f.elements {
		if alive(e, now) {
			out = append(out, e)
		}
	}
	return out
}

// capExpiry applies the kernel applier's timeout rules to e.
func capExpiry(e Element, now time.Time, max time.Duration) (Element, bool) {
	d, ok := e.timeout(now, max)
	if !ok {
		return e, false
	}
	if d > 0 {
		e.Expires = now.Add(d)
	}
	return e, true
}

func alive(e Element, now time.Time) bool {
	return e.Expires.IsZero() || now.Before(e.Expires)
}
