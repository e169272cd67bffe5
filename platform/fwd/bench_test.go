package fwd_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/leaseguard/leaseguard/platform/fwd"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func benchBindings(n int) []fwd.Binding {
	out := make([]fwd.Binding, n)
	for i := range out {
		out[i] = fwd.Binding{Port: "p1", IP: netip.AddrFrom4([4]byte{10, 3, byte(i >> 8), byte(i)}),
			MAC: net.HardwareAddr{2, 3, 0, 0, byte(i >> 8), byte(i)}}
	}
	return out
}

// ipBatch writes the ip(8) batch file doing what Add or Remove does.
func ipBatch(b *testing.B, bs []fwd.Binding, add bool) string {
	b.Helper()
	var s strings.Builder
	for _, x := range bs {
		if add {
			fmt.Fprintf(&s, "neigh replace %v lladdr %v dev %s nud permanent\n", x.IP, x.MAC, x.Port)
			fmt.Fprintf(&s, "route replace %v/32 dev %s scope link proto %d\n", x.IP, x.Port, fwd.DefaultProtocol)
		} else {
			fmt.Fprintf(&s, "route del %v/32 dev %s\n", x.IP, x.Port)
			fmt.Fprintf(&s, "neigh del %v dev %s\n", x.IP, x.Port)
		}
	}
	path := filepath.Join(b.TempDir(), "batch")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkForwarding10k installs and removes the routes and permanent
// neighbours of 10,000 bindings: fwd's pipelined batches side by side with
// `ip -batch` running the same commands, and with vishvananda/netlink
// calls one request at a time.
func BenchmarkForwarding10k(b *testing.B) {
	const n = 10_000
	tp := nfttest.New(b, 1)
	p := programmerIn(b, tp.Card)
	bs := benchBindings(n)
	addFile, delFile := ipBatch(b, bs, true), ipBatch(b, bs, false)
	f, err := tp.Card.Fd()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h, err := vnl.NewHandleAt(netns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName("p1")
	if err != nil {
		b.Fatal(err)
	}

	// installed checks (untimed) that every binding is in place, or none.
	installed := func(b *testing.B, want int) {
		b.Helper()
		b.StopTimer()
		defer b.StartTimer()
		owned, err := p.Owned()
		if err != nil {
			b.Fatal(err)
		}
		withMAC := 0
		for _, o := range owned {
			if o.MAC != nil {
				withMAC++
			}
		}
		if len(owned) != want || withMAC != want {
			b.Fatalf("%d routes (%d with permanent neighbours) installed, want %d", len(owned), withMAC, want)
		}
	}
	untimed := func(b *testing.B, fn func() error) {
		b.Helper()
		b.StopTimer()
		defer b.StartTimer()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	add := func() error { return p.Add(bs) }
	remove := func() error { return p.Remove(bs) }
	ip := func(file string) func() error {
		return func() error { _, err := tp.Card.IP("-batch", file); return err }
	}

	b.Run("add/fwd", func(b *testing.B) {
		for range b.N {
			untimed(b, remove)
			if err := add(); err != nil {
				b.Fatal(err)
			}
		}
		installed(b, n)
	})
	b.Run("add/ip-batch", func(b *testing.B) {
		for range b.N {
			untimed(b, remove)
			if err := ip(addFile)(); err != nil {
				b.Fatal(err)
			}
		}
		installed(b, n)
	})
	b.Run("add/vishvananda-one-by-one", func(b *testing.B) {
		for range b.N {
			untimed(b, remove)
			for _, x := range bs {
				ip := net.IP(x.IP.AsSlice())
				err := h.NeighSet(&vnl.Neigh{LinkIndex: link.Attrs().Index, Family: unix.AF_INET, State: unix.NUD_PERMANENT, IP: ip, HardwareAddr: x.MAC})
				if err == nil {
					err = h.RouteReplace(&vnl.Route{LinkIndex: link.Attrs().Index, Dst: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)},
						Scope: vnl.SCOPE_LINK, Protocol: fwd.DefaultProtocol})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		installed(b, n)
	})
	b.Run("remove/fwd", func(b *testing.B) {
		for range b.N {
			untimed(b, add)
			if err := remove(); err != nil {
				b.Fatal(err)
			}
		}
		installed(b, 0)
	})
	b.Run("remove/ip-batch", func(b *testing.B) {
		for range b.N {
			untimed(b, add)
			if err := ip(delFile)(); err != nil {
				b.Fatal(err)
			}
		}
		installed(b, 0)
	})
}
