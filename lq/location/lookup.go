package location

import (
	"cmp"
	"hash/maphash"
	"iter"
	"net"
	"net/netip"
	"slices"
)

// Lookups copy compact records out under the read lock and expand them
// into Bindings after releasing it. Results with several bindings are
// sorted by IP.

// ByIP returns the binding of ip.
func (t *Table) ByIP(ip netip.Addr) (Binding, bool) {
	k, err := ipv4(ip, "IP")
	if err != nil || k == 0 {
		return Binding{}, false
	}
	t.mu.RLock()
	h, ok := t.byIP[k]
	var v view
	if ok {
		v = t.view(h)
	}
	t.mu.RUnlock()
	if !ok {
		return Binding{}, false
	}
	return v.binding(), true
}

// ByMAC returns the bindings of a client hardware address (one per subnet
// the client has an address in).
func (t *Table) ByMAC(hw net.HardwareAddr) []Binding {
	if len(hw) == 0 {
		return nil
	}
	return t.chain(t.byMAC, packMAC(hw), func(r *record) uint32 { return r.nextMAC },
		func(r *record) bool { return r.hwAddrEqual(hw) })
}

// ByClientID returns the bindings of a client-id (option 61, type byte
// included).
func (t *Table) ByClientID(id []byte) []Binding {
	if len(id) == 0 {
		return nil
	}
	return t.chain(t.byCID, t.hashClientID(id), func(r *record) uint32 { return r.nextCID },
		func(r *record) bool { return clientID(r.blob) == string(id) })
}

// ByModem returns the bindings behind a cable modem: its own and its CPEs'.
func (t *Table) ByModem(modem net.HardwareAddr) []Binding {
	if len(modem) != 6 {
		return nil
	}
	key := packMAC(modem)
	return t.chain(t.byModem, key, func(r *record) uint32 { return r.nextModem },
		func(r *record) bool { return true })
}

// ByPort returns the bindings behind a subscriber port.
func (t *Table) ByPort(port string) []Binding {
	t.mu.RLock()
	id, ok := t.ports.lookup(port)
	var views []view
	if ok {
		views = make([]view, 0, t.ports.entries[id].n)
		for h := t.ports.entries[id].head; h != 0; h = t.rec(h).nextPort {
			views = append(views, t.view(h))
		}
	}
	t.mu.RUnlock()
	return expandViews(views)
}

// chain collects the records of key's chain in m that match.
func (t *Table) chain(m map[uint64]uint32, key uint64, next func(*record) uint32, match func(*record) bool) []Binding {
	var views []view
	t.mu.RLock()
	for h := m[key]; h != 0; h = next(t.rec(h)) {
		if r := t.rec(h); match(r) {
			views = append(views, t.view(h))
		}
	}
	t.mu.RUnlock()
	return expandViews(views)
}

func (t *Table) hashClientID(id []byte) uint64 {
	return maphash.Bytes(t.seed, id) // equal to maphash.String of the same bytes, as keys uses
}

func expandViews(views []view) []Binding {
	if len(views) == 0 {
		return nil
	}
	slices.SortFunc(views, func(a, b view) int { return cmp.Compare(a.ip, b.ip) })
	bs := make([]Binding, len(views))
	for i := range views {
		bs[i] = views[i].binding()
	}
	return bs
}

// All iterates over every binding without holding the lock for long: it
// copies one chunk of records at a time. It is not a point-in-time
// snapshot: a binding present for the whole iteration is yielded exactly
// once, in its state when its chunk was copied; bindings added or removed
// meanwhile may or may not appear. Pair it with a Subscription to follow
// what changes after (see Subscribe).
func (t *Table) All() iter.Seq[Binding] {
	return func(yield func(Binding) bool) {
		var views []view
		for c := 0; ; c++ {
			views = views[:0]
			t.mu.RLock()
			if c >= len(t.chunks) {
				t.mu.RUnlock()
				return
			}
			for i := range t.chunks[c] {
				if t.chunks[c][i].source != 0 {
					views = append(views, t.view(uint32(c<<chunkShift|i)))
				}
			}
			t.mu.RUnlock()
			for i := range views {
				if !yield(views[i].binding()) {
					return
				}
			}
		}
	}
}
