package board

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// TestNetlinkLinksPrepare runs Prepare with the real rtnetlink Links in a
// lab namespace: two veths with the profile's MACs get swapped kernel
// names, and Prepare must name them by MAC, address and raise them.
func TestNetlinkLinksPrepare(t *testing.T) {
	l := lab.New(t)
	card, peer := l.NS("card"), l.NS("peer")
	// Kernel names opposite to the profile's order, as QEMU's probe order
	// can make them.
	l.Veth(card, "eth0", peer, "p-up")
	l.Veth(card, "eth1", peer, "p-sub")
	card.MustIP("link", "set", "eth0", "address", "52:54:00:00:00:02")
	card.MustIP("link", "set", "eth1", "address", "52:54:00:00:00:01")
	peer.Addr("p-sub", "10.0.0.2/24")

	var links *NetlinkLinks
	if err := card.Do(func() (err error) { links, err = NewNetlinkLinks(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { links.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Prepare(ctx, twoPortProfile(), Env{Modules: &fakeModules{}, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	want := "nics [sub0=52:54:00:00:00:01(was eth1) up0=52:54:00:00:00:02(was eth0)]"
	if !strings.HasSuffix(r.ReadyLine(), want) {
		t.Errorf("ReadyLine = %s, want suffix %s", r.ReadyLine(), want)
	}
	out := card.MustIP("-br", "addr", "show", "dev", "sub0")
	if !strings.Contains(out, "10.0.0.1/24") || !strings.Contains(out, "UP") {
		t.Errorf("sub0 after Prepare: %s; want UP with 10.0.0.1/24", out)
	}
	if _, err := peer.Exec("ping", "-c1", "-W2", "10.0.0.1"); err != nil {
		t.Errorf("peer cannot reach sub0 after Prepare: %v", err)
	}
}
