package engine

import (
	"net/netip"
	"testing"

	"github.com/leaseguard/leaseguard/lq"
)

// TestKeyMap: keys of every kind are kept apart, an address key by its
// four bytes, the others by kind and identifier.
func TestKeyMap(t *testing.T) {
	m := newKeyMap[int]()
	keys := []Key{
		{Kind: lq.ByIP, IP: netip.MustParseAddr("10.0.0.1")},
		{Kind: lq.ByIP, IP: netip.MustParseAddr("10.0.0.2")},
		{Kind: lq.ByMAC, ID: "\x01\x02\x00\x00\x00\x00\x01"},
		{Kind: lq.ByClientID, ID: "\x01\x02\x00\x00\x00\x00\x01"},
	}
	for i, k := range keys {
		m.set(k.mapKey(), i)
	}
	if m.len() != len(keys) || len(m.byIP) != 2 {
		t.Fatalf("len %d (%d by address), want %d (2)", m.len(), len(m.byIP), len(keys))
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
		if want := i == 1 || i == 3; ok != want {
			t.Errorf("after deleting keys 0 and 2: get(%v) present %v, want %v", k, ok, want)
		}
	}
	if m.len() != 2 {
		t.Errorf("len %d after two deletes, want 2", m.len())
	}
}
