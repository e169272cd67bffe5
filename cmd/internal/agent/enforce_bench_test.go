package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform/fwd"
)

// signalling is an applier that reports each Apply's size once it
// returned: the end of a batch's programming.
type signalling struct {
	nft.Applier
	applied chan int
}

func (s signalling) Apply(adds, deletes []nft.Element, now time.Time) error {
	err := s.Applier.Apply(adds, deletes, now)
	s.applied <- len(adds) + len(deletes)
	return err
}

// benchBinding is binding i on the cable port (interface sub0).
func benchBinding(i int, lease time.Duration) location.Binding {
	return location.Binding{Binding: lq.Binding{IP: netip.AddrFrom4([4]byte{10, 50 + byte(i>>16), byte(i >> 8), byte(i)}), HType: 1,
		HWAddr: net.HardwareAddr{2, 5, 0, byte(i >> 16), byte(i >> 8), byte(i)}, Expiry: time.Now().Add(lease)},
		Port: cablePort, Source: location.Gleaned}
}

// eventPath is a card namespace with the example configuration's ports,
// a table of n bindings and an enforcer programming it for real.
type eventPath struct {
	card  *lab.NS
	table *location.Table
	e     *enforcer
	done  chan int
	stop  func() error
}

func newEventPath(b *testing.B, n int, delay time.Duration) *eventPath {
	b.Helper()
	lab.Need(b, "nft")
	l := lab.New(b)
	card, peer := l.NS("card"), l.NS("peer")
	l.Veth(card, cableIface, peer, "c0")
	l.Veth(card, dslIface, peer, "c1")
	f, err := card.Fd()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	k := nft.NewKernel(nft.KernelOptions{NetNS: int(f.Fd())})
	b.Cleanup(func() { k.Close() })
	fw, err := fwd.New(fwd.Config{NetNS: int(f.Fd())})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fw.Close() })

	cfg := exampleConfigTB(b)
	a, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := a.table.Upsert(benchBinding(i, time.Hour), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	ep := &eventPath{card: card, table: a.table, done: make(chan int, 16)}
	ncfg, err := nftConfig(cfg).Validate()
	if err != nil {
		b.Fatal(err)
	}
	ep.e = a.newEnforcer(ncfg, signalling{k, ep.done}, fw)
	ep.e.delay, ep.e.afterBuild, ep.e.confirm = delay, nil, nil
	ep.stop = runTask(b, ep.e)
	b.Cleanup(func() { ep.stop() })
	<-ep.e.Ready()
	return ep
}

// wait waits until batches programmed n changes.
func (ep *eventPath) wait(b *testing.B, n int) {
	for n > 0 {
		select {
		case k := <-ep.done:
			n -= k
		case <-time.After(30 * time.Second):
			b.Fatalf("%d changes not programmed within 30 s; %+v", n, ep.e.Stats())
		}
	}
}

// nftIP runs nft(8) or ip(8) with args in the card namespace, forked from
// a thread inside it.
func (ep *eventPath) run(b *testing.B, prog string, args ...string) {
	var out []byte
	err := ep.card.Do(func() error {
		var err error
		out, err = exec.Command(prog, args...).CombinedOutput()
		return err
	})
	if err != nil {
		b.Fatalf("%s %s: %v: %s", prog, strings.Join(args, " "), err, out)
	}
}

// peerCommands are what a script doing the enforcer's job runs for new
// bindings: nft(8) adding the elements, ip(8) the neighbours and routes.
func peerCommands(b *testing.B, bs []location.Binding) (nftFile, ipFile string) {
	var n, ip strings.Builder
	fmt.Fprintf(&n, "add element netdev %s %s {\n", nft.DefaultTable, nft.AllowedSet)
	for i, x := range bs {
		sep := ",\n"
		if i == len(bs)-1 {
			sep = "\n}\n"
		}
		fmt.Fprintf(&n, "%q . %v . %v timeout 1h%s", cableIface, x.IP, x.HWAddr, sep)
		fmt.Fprintf(&ip, "neigh replace %v lladdr %v dev %s nud permanent\n", x.IP, x.HWAddr, cableIface)
		fmt.Fprintf(&ip, "route replace %v/32 dev %s scope link proto %d\n", x.IP, cableIface, fwd.DefaultProtocol)
	}
	fmt.Fprintf(&n, "add element ip %s %s {", nft.DefaultTable, nft.BoundSet)
	for i, x := range bs {
		if i > 0 {
			n.WriteString(",")
		}
		fmt.Fprintf(&n, " %v timeout 1h", x.IP)
	}
	n.WriteString(" }\n")
	dir := b.TempDir()
	nftFile, ipFile = filepath.Join(dir, "elements.nft"), filepath.Join(dir, "routes.ip")
	if err := os.WriteFile(nftFile, []byte(n.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(ipFile, []byte(ip.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return nftFile, ipFile
}

// BenchmarkBindingChanges is the incremental cost of binding changes
// through the agent's event path with 100,000 bindings programmed: a
// table write, the enforcer's batch (5 ms of coalescing by default), one
// nftables transaction (allowed and bound sets) and one rtnetlink batch
// (neighbour and route), side by side with a script doing the same with
// nft -f and ip -batch. ns/op is per change: one at a time (latency), or
// in bursts of 1,000 (cost).
func BenchmarkBindingChanges(b *testing.B) {
	const n = 100_000
	next, renewals := n, 0
	fresh := func(k int) []location.Binding {
		out := make([]location.Binding, k)
		for i := range out {
			out[i] = benchBinding(next, time.Hour)
			next++
		}
		return out
	}
	for _, delay := range []time.Duration{defaultBatchDelay, 0} {
		ep := newEventPath(b, n, delay)
		b.Run(fmt.Sprintf("new/one/leaseguard-delay=%v", delay), func(b *testing.B) {
			for range b.N {
				upsertB(b, ep.table, fresh(1)[0])
				ep.wait(b, 1)
			}
		})
		b.Run(fmt.Sprintf("renewal/one/leaseguard-delay=%v", delay), func(b *testing.B) {
			for range b.N {
				renewals++ // a later expiry every time, across runs (the table keeps seconds)
				upsertB(b, ep.table, benchBinding(renewals%n, time.Hour+time.Duration(renewals)*time.Second))
				ep.wait(b, 1)
			}
		})
		b.Run(fmt.Sprintf("new/burst1000/leaseguard-delay=%v", delay), func(b *testing.B) {
			for range b.N {
				for _, x := range fresh(1000) {
					upsertB(b, ep.table, x)
				}
				ep.wait(b, 1000)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(1000*b.N), "ns/change")
		})
		if delay == 0 {
			b.Run("new/one/nft+ip", func(b *testing.B) {
				for range b.N {
					nf, ipf := peerCommands(b, fresh(1))
					ep.run(b, "nft", "-f", nf)
					ep.run(b, "ip", "-batch", ipf)
				}
			})
			b.Run("new/burst1000/nft-f+ip-batch", func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					nf, ipf := peerCommands(b, fresh(1000))
					b.StartTimer()
					ep.run(b, "nft", "-f", nf)
					ep.run(b, "ip", "-batch", ipf)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(1000*b.N), "ns/change")
			})
		}
		if err := ep.stop(); err != context.Canceled {
			b.Fatalf("enforcer: %v", err)
		}
	}
}

func upsertB(b *testing.B, t *location.Table, x location.Binding) {
	if _, err := t.Upsert(x, time.Now()); err != nil {
		b.Fatal(err)
	}
}

// exampleConfigTB is the example configuration, for benchmarks.
func exampleConfigTB(tb testing.TB) *config.Config {
	tb.Helper()
	data, err := os.ReadFile("../../../docs/agent.example.json")
	if err != nil {
		tb.Fatal(err)
	}
	c, err := config.Parse(data)
	if err != nil {
		tb.Fatalf("example config: %v", err)
	}
	return c
}
