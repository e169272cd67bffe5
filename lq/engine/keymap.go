package engine

import "github.com/leaseguard/leaseguard/lq"

// keyMap is a map by query key that keeps its keys in fixed-size arrays
// where it can: by address, most of them (a sweep caches an answer and an
// owner for every address of the subscriber networks), in a map by the
// four address bytes, a slot of 4 bytes plus the value where a mapKey,
// with its string header, takes 24; by MAC (the owner memory notes every
// ACTIVE client's) in a map by the hardware type and address, without
// the string each one held. Client identifiers, and MAC keys longer than
// macKey holds, go to a map by mapKey.
type keyMap[V any] struct {
	byIP  map[[4]byte]V
	byMAC map[macKey]V
	other map[mapKey]V
}

// macKey is a ByMAC identifier (hardware type, then up to 16 address
// bytes) with its length.
type macKey struct {
	n  uint8
	id [17]byte
}

// macKeyOf converts a ByMAC key's identifier; ok is false when it does
// not fit.
func macKeyOf(k mapKey) (m macKey, ok bool) {
	if k.kind != lq.ByMAC || len(k.id) > len(m.id) {
		return m, false
	}
	m.n = uint8(copy(m.id[:], k.id))
	return m, true
}

func newKeyMap[V any]() keyMap[V] {
	return keyMap[V]{byIP: make(map[[4]byte]V), byMAC: make(map[macKey]V), other: make(map[mapKey]V)}
}

func (m *keyMap[V]) get(k mapKey) (V, bool) {
	var v V
	var ok bool
	if k.kind == lq.ByIP {
		v, ok = m.byIP[k.ip]
	} else if mk, fits := macKeyOf(k); fits {
		v, ok = m.byMAC[mk]
	} else {
		v, ok = m.other[k]
	}
	return v, ok
}

func (m *keyMap[V]) set(k mapKey, v V) {
	if k.kind == lq.ByIP {
		m.byIP[k.ip] = v
	} else if mk, fits := macKeyOf(k); fits {
		m.byMAC[mk] = v
	} else {
		m.other[k] = v
	}
}

func (m *keyMap[V]) delete(k mapKey) {
	if k.kind == lq.ByIP {
		delete(m.byIP, k.ip)
	} else if mk, fits := macKeyOf(k); fits {
		delete(m.byMAC, mk)
	} else {
		delete(m.other, k)
	}
}

func (m *keyMap[V]) len() int { return len(m.byIP) + len(m.byMAC) + len(m.other) }
