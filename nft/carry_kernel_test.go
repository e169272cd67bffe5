package nft_test

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/nft"
)

// TestReadAllowed reads back what a Rebuild and an Apply programmed, as a
// restarted agent does: keys exact, remaining lifetimes within the time
// the test took; several dump messages for thousands of elements; and
// ErrNoTable on a card where nothing was programmed.
func TestReadAllowed(t *testing.T) {
	g := newGuard(t, 2)
	if _, err := g.k.ReadAllowed(nft.DefaultTable, time.Now()); !errors.Is(err, nft.ErrNoTable) {
		t.Fatalf("ReadAllowed before any Rebuild: %v, want ErrNoTable", err)
	}
	start := time.Now()
	elems := append(benchElements(3000, start), g.binding(0, time.Hour), g.binding(1, 0))
	elems[len(elems)-1].Expires = time.Time{} // infinite
	for i := range 3000 {
		elems[i].Port = "p2"
	}
	g.rebuild(t, elems[:3000]...)
	if err := g.k.Apply(elems[3000:], nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := g.k.ReadAllowed(nft.DefaultTable, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	key := func(e nft.Element) string { return e.String() }
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(elems, func(i, j int) bool { return key(elems[i]) < key(elems[j]) })
	if len(got) != len(elems) {
		t.Fatalf("read %d elements, want %d", len(got), len(elems))
	}
	for i := range elems {
		w, g := elems[i], got[i]
		if key(w) != key(g) {
			t.Fatalf("element %d: %v, want %v", i, g, w)
		}
		if w.Expires.IsZero() != g.Expires.IsZero() {
			t.Errorf("%v: expires %v, want %v", w, g.Expires, w.Expires)
		}
		if d := g.Expires.Sub(w.Expires); !w.Expires.IsZero() && (d > time.Second || d < -took-time.Second) {
			t.Errorf("%v: expires %v, want within %v before %v", w, g.Expires, took, w.Expires)
		}
	}
}
