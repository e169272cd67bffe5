package engine

import "github.com/leaseguard/leaseguard/lq"

// keyMap is a map by query key that keeps the keys by address, most of
// them (a sweep caches an answer and an owner for every address of the
// subscriber networks), in a map by the four address bytes: a slot of
// 4 bytes plus the value where a mapKey, with its string header, takes
// 24. Keys by MAC or client-id go to a map by mapKey.
type keyMap[V any] struct {
	byIP  map[[4]byte]V
	other map[mapKey]V
}

func newKeyMap[V any]() keyMap[V] {
	return keyMap[V]{byIP: make(map[[4]byte]V), other: make(map[mapKey]V)}
}

func (m *keyMap[V]) get(k mapKey) (V, bool) {
	if k.kind == lq.ByIP {
		v, ok := m.byIP[k.ip]
		return v, ok
	}
	v, ok := m.other[k]
	return v, ok
}

func (m *keyMap[V]) set(k mapKey, v V) {
	if k.kind == lq.ByIP {
		m.byIP[k.ip] = v
		return
	}
	m.other[k] = v
}

func (m *keyMap[V]) delete(k mapKey) {
	if k.kind == lq.ByIP {
		delete(m.byIP, k.ip)
		return
	}
	delete(m.other, k)
}

func (m *keyMap[V]) len() int { return len(m.byIP) + len(m.other) }
