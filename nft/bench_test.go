package nft_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/nft/nfttest"
)

// benchElement is binding i on p1 with a one-hour lease from now.
func benchElement(i int, now time.Time) nft.Element {
	return nft.Element{Port: "p1", IP: netip.AddrFrom4([4]byte{10, 2 + byte(i>>16), byte(i >> 8), byte(i)}),
		MAC: net.HardwareAddr{2, 1, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Expires: now.Add(time.Hour)}
}

// benchElements are bindings 0..n-1.
func benchElements(n int, now time.Time) []nft.Element {
	out := make([]nft.Element, n)
	for i := range out {
		out[i] = benchElement(i, now)
	}
	return out
}

// runNFT runs nft(8) with args in ns, forked from a thread inside the
// namespace: no `ip netns exec` wrapper inflates its time.
func runNFT(b *testing.B, ns *lab.NS, args ...string) {
	b.Helper()
	var out []byte
	err := ns.Do(func() error {
		var err error
		out, err = exec.Command("nft", args...).CombinedOutput()
		return err
	})
	if err != nil {
		b.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// nftElements writes elements in nft(8) syntax.
func nftElements(elems []nft.Element) string {
	var b strings.Builder
	fmt.Fprintf(&b, "add element netdev %s %s {\n", nft.DefaultTable, nft.AllowedSet)
	for i, e := range elems {
		sep := ",\n"
		if i == len(elems)-1 {
			sep = "\n}\n"
		}
		fmt.Fprintf(&b, "%q . %v . %v timeout 1h%s", e.Port, e.IP, e.MAC, sep)
	}
	return b.String()
}

// benchGuard is a card namespace with port p1 and an applier on it.
func benchGuard(b *testing.B) (*nfttest.Topology, *nft.Kernel, nft.Config) {
	b.Helper()
	lab.Need(b, "nft")
	tp := nfttest.New(b, 1)
	return tp, kernelIn(b, tp.Card), nft.Config{Ports: []nft.Port{{Name: "p1", RelayAddr: tp.Subs[0].Gateway}}, NFLogGroup: 7}
}

func writeFile(b *testing.B, dir, name, text string) string {
	b.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkAllowedSet100k programs 100,000 bindings, side by side with
// nft(8) loading the same elements:
//   - Rebuild: the whole table replaced in one transaction (ours: Rebuild;
//     nft: one file that adds, deletes and re-creates the table with its
//     elements);
//   - Elements: the elements into an existing empty set (ours: Apply, whose
//     adds are upserts and so send every element three times; nft: one
//     add element command).
func BenchmarkAllowedSet100k(b *testing.B) {
	const n = 100_000
	tp, k, cfg := benchGuard(b)
	if err := k.Rebuild(cfg, nil, time.Now()); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	table := tp.Card.MustExec("nft", "list", "table", "netdev", nft.DefaultTable)
	elems := benchElements(n, time.Now())
	rebuildFile := writeFile(b, dir, "rebuild.nft", fmt.Sprintf("add table netdev %[1]s\ndelete table netdev %[1]s\n%s\n%s",
		nft.DefaultTable, table, nftElements(elems)))
	elementsFile := writeFile(b, dir, "elements.nft", nftElements(elems))
	empty := func(b *testing.B) {
		b.StopTimer()
		if err := k.Rebuild(cfg, nil, time.Now()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	// check audits the kernel's set once per sub-benchmark (a dump of
	// 100,000 elements takes seconds).
	check := func(b *testing.B) {
		b.StopTimer()
		if held, err := k.CountElements(nft.AllowedSet); err != nil || held != n {
			b.Fatalf("allowed set holds %d elements (%v), want %d", held, err, n)
		}
		b.StartTimer()
	}
	b.Run("Rebuild/leaseguard", func(b *testing.B) {
		for range b.N {
			if err := k.Rebuild(cfg, elems, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		check(b)
	})
	// With subscriber nets, the ip table's bound set gets every address
	// too, in the same transaction.
	down := cfg
	down.SubscriberNets = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	b.Run("Rebuild/leaseguard-with-bound4", func(b *testing.B) {
		for range b.N {
			if err := k.Rebuild(down, elems, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		check(b)
	})
	b.Run("Rebuild/nft-f", func(b *testing.B) {
		for range b.N {
			runNFT(b, tp.Card, "-f", rebuildFile)
		}
	})
	b.Run("Elements/leaseguard-apply", func(b *testing.B) {
		for range b.N {
			empty(b)
			if err := k.Apply(elems, nil, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		check(b)
	})
	b.Run("Elements/nft-f", func(b *testing.B) {
		for range b.N {
			empty(b)
			runNFT(b, tp.Card, "-f", elementsFile)
		}
	})
}

// BenchmarkBindingChange is the cost of one binding change with 100,000
// bindings programmed: one Apply transaction (an add is one add, or an
// add-delete-add upsert on kernels that keep old timeouts; a delete is an
// add-then-delete) against one nft(8) command.
func BenchmarkBindingChange(b *testing.B) {
	const n = 100_000
	tp, k, cfg := benchGuard(b)
	elems := benchElements(n, time.Now())
	if err := k.Rebuild(cfg, elems, time.Now()); err != nil {
		b.Fatal(err)
	}
	// Adds use addresses not bound yet: leaseguard's from n up, nft's from
	// 2n up.
	b.Run("add/leaseguard", func(b *testing.B) {
		for i := range b.N {
			if err := k.Apply([]nft.Element{benchElement(n+i, time.Now())}, nil, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What kernels without timeout updates (6.1) cost: add-delete-add.
	upserting := kernelWith(b, tp.Card, nft.KernelOptions{ForceUpsert: true})
	if err := upserting.Rebuild(cfg, elems, time.Now()); err != nil {
		b.Fatal(err)
	}
	added := 0
	b.Run("add/leaseguard-upsert", func(b *testing.B) {
		for range b.N {
			added++
			if err := upserting.Apply([]nft.Element{benchElement(3*n+added, time.Now())}, nil, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delete/leaseguard", func(b *testing.B) {
		for i := range b.N {
			if err := k.Apply(nil, elems[i%n:][:1], time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	cmd := func(verb string, e nft.Element) string {
		return fmt.Sprintf("%s element netdev %s %s { %q . %v . %v }", verb, nft.DefaultTable, nft.AllowedSet, e.Port, e.IP, e.MAC)
	}
	b.Run("add/nft", func(b *testing.B) {
		for i := range b.N {
			runNFT(b, tp.Card, cmd("add", benchElement(2*n+i, time.Now())))
		}
	})
	deleted := 0 // across the benchmark's runs: an element is deleted once
	b.Run("delete/nft", func(b *testing.B) {
		for range b.N {
			deleted++
			runNFT(b, tp.Card, cmd("delete", elems[n-deleted]))
		}
	})
}

// BenchmarkReadAllowed100k reads back 100,000 programmed elements, as a
// restarted agent does before its first Rebuild, side by side with nft(8)
// listing the same set.
func BenchmarkReadAllowed100k(b *testing.B) {
	const n = 100_000
	tp, k, cfg := benchGuard(b)
	if err := k.Rebuild(cfg, benchElements(n, time.Now()), time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Run("leaseguard", func(b *testing.B) {
		for range b.N {
			elems, err := k.ReadAllowed(nft.DefaultTable, time.Now())
			if err != nil || len(elems) != n {
				b.Fatalf("read %d elements (%v), want %d", len(elems), err, n)
			}
		}
	})
	b.Run("nft-list", func(b *testing.B) {
		for range b.N {
			runNFT(b, tp.Card, "list", "set", "netdev", nft.DefaultTable, nft.AllowedSet)
		}
	})
}
