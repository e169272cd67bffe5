package engine

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/leaseguard/leaseguard/lq"
)

// TestKeyMap: keys of every kind are kept apart, an address key by its
// four bytes, a MAC key by its bytes when they fit, the others by kind
// and identifier.
func TestKeyMap(t *testing.T) {
	m := newKeyMap[int]()
	keys := []Key{
		{Kind: lq.ByIP, IP: netip.MustParseAddr("10.0.0.1")},
		{Kind: lq.ByIP, IP: netip.MustParseAddr("10.0.0.2")},
		{Kind: lq.ByMAC, ID: "\x01\x02\x00\x00\x00\x00\x01"},
		{Kind: lq.ByClientID, ID: "\x01\x02\x00\x00\x00\x00\x01"},
		{Kind: lq.ByMAC, ID: "\x01\x02\x00\x00\x00\x00\x01\x00"},                                         // a prefix of another is another key
		{Kind: lq.ByMAC, ID: "\x06\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"}, // too long for macKey
	}
	for i, k := range keys {
		m.set(k.mapKey(), i)
	}
	if m.len() != len(keys) || len(m.byIP) != 2 || len(m.byMAC) != 2 || len(m.other) != 2 {
		t.Fatalf("len %d (%d by address, %d by MAC), want %d (2, 2)", m.len(), len(m.byIP), len(m.byMAC), len(keys))
	}
	for i, k := range keys {
		if v, ok := m.get(k.mapKey()); !ok || v != i {
			t.Errorf("get(%v) = %d, %v; want %d", k, v, ok, i)
		}
	}
	m.delete(keys[0].mapKey())
	m.delete(keys[2].mapKey())
	for i, k := range keys {
		_, ok := m.get(k.mapKey())
		if want := i != 0 && i != 2; ok != want {
			t.Errorf("after deleting keys 0 and 2: get(%v) present %v, want %v", k, ok, want)
		}
	}
	if m.len() != len(keys)-2 {
		t.Errorf("len %d after two deletes, want %d", m.len(), len(keys)-2)
	}
}

// BenchmarkOwnerMemoryByMAC: heap bytes per MAC key of the owner memory
// with 10,000 clients, keyMap beside a plain map by mapKey (what the
// owner memory was).
func BenchmarkOwnerMemoryByMAC(b *testing.B) {
	const n = 10_000
	keys := make([]mapKey, n)
	for i := range keys {
		keys[i] = Key{Kind: lq.ByMAC, ID: macID(1, []byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)})}.mapKey()
	}
	fill := map[string]func() any{
		"keyMap": func() any {
			m := newKeyMap[uint8]()
			for _, k := range keys {
				m.set(Key{Kind: k.kind, ID: string([]byte(k.id))}.mapKey(), 1)
			}
			return m
		},
		"map-by-mapKey": func() any {
			m := map[mapKey]uint8{}
			for _, k := range keys {
				m[Key{Kind: k.kind, ID: string([]byte(k.id))}.mapKey()] = 1
			}
			return m
		},
	}
	for _, name := range []string{"keyMap", "map-by-mapKey"} {
		b.Run(name, func(b *testing.B) {
			var sum int64
			for b.Loop() {
				before := heapInUse()
				m := fill[name]()
				sum += heapInUse() - before
				runtime.KeepAlive(m)
			}
			b.ReportMetric(float64(sum)/float64(b.N*n), "B/key")
		})
	}
}
