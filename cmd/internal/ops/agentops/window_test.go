package agentops_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// TestApplyOpensNoWindow: while applies rebuild the ruleset over and over
// (trusted MACs, IPv6, filters changing; one rebuild refused by the
// kernel and rolled back), a subscriber keeps sending from its bound
// address and, from the same port and MAC, from an address it holds no
// lease for. Every datagram of the spoofed flow stays dropped; the
// legitimate flow keeps arriving.
func TestApplyOpensNoWindow(t *testing.T) {
	dir, child := inCard(t)
	if !child {
		return
	}
	c := startCard(t, dir, cardJSON)
	now := time.Now()
	bound := opstest.Binding("192.168.10.3", "02:00:00:00:00:03", "cable1/0/1")
	bound.Expiry = now.Add(time.Hour)
	if _, err := c.agent.Table().Upsert(bound, now); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the binding programmed", func() bool { return c.agent.Stats().Enforcement.Enforce.Programmed == 1 })

	sink, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 9999})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var legit, spoofed atomic.Uint64
	go countBySource(sink, map[netip.Addr]*atomic.Uint64{
		netip.MustParseAddr("192.168.10.3"): &legit, netip.MustParseAddr("192.168.10.66"): &spoofed})

	// The subscriber, behind lgc0: the bound address and MAC, and an
	// address without a lease on the same interface; the gateway's MAC
	// is static, so no ARP is needed (an ARP from the unleased address
	// would be dropped too).
	far := os.Getenv(farEnv)
	lgc0, err := net.InterfaceByName("lgc0")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"link", "set", "cl0", "address", "02:00:00:00:00:03"},
		{"addr", "add", "192.168.10.3/24", "dev", "cl0"},
		{"addr", "add", "192.168.10.66/24", "dev", "cl0"},
		{"neigh", "replace", "192.168.10.1", "lladdr", lgc0.HardwareAddr.String(), "dev", "cl0", "nud", "permanent"},
	} {
		if out, err := run("ip", append([]string{"netns", "exec", far, "ip"}, args...)...); err != nil {
			t.Fatalf("ip %v in %s: %v\n%s", args, far, err, out)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	var senders sync.WaitGroup
	var sent [2]atomic.Uint64
	for i, src := range []string{"192.168.10.3", "192.168.10.66"} {
		conn := udpIn(t, far, src)
		defer conn.Close()
		senders.Go(func() { sendEvery(ctx, conn, "192.168.10.1:9999", time.Millisecond, &sent[i]) })
	}
	waitFor(t, "the legitimate flow", func() bool { return legit.Load() > 0 })

	cur, err := c.client.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen := cur.Generation
	for i := range 8 {
		cfg := c.edited(t, func(m map[string]any) {
			m["enforcement"] = map[string]any{"enabled": true, "forwarding": true, "allow_ipv6": i%2 == 0,
				"trusted_macs": []string{fmt.Sprintf("02:ee:00:00:00:%02x", i)}, "per_port_queries": 5 + i}
		})
		if i == 4 { // a rebuild the kernel refuses, rolled back
			fill := fmt.Sprintf("lgfill%d", os.Getpid())
			fillHooks(t, fill, "lgc0")
			if _, err := c.client.ApplyConfig(ctx, cfg, gen); err == nil {
				t.Error("an apply succeeded with the port's hook full")
			}
			if out, err := run("nft", "delete", "table", "netdev", fill); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		st, err := c.client.ApplyConfig(ctx, cfg, gen)
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		gen = st.Generation
	}
	legitBefore := legit.Load()
	waitFor(t, "the legitimate flow after the applies", func() bool { return legit.Load() > legitBefore })
	stop()
	senders.Wait()
	t.Logf("during 8 applies and a refused one: %d of %d legitimate datagrams arrived, %d of %d spoofed",
		legit.Load(), sent[0].Load(), spoofed.Load(), sent[1].Load())
	if spoofed.Load() != 0 {
		t.Errorf("%d spoofed datagrams passed the ruleset", spoofed.Load())
	}
	// Each spoofed datagram was dropped by the ruleset and counted, its
	// counter carried across the nine tables the applies built.
	// The spoofed datagrams were dropped by the ruleset and counted, the
	// counter carried across the nine tables the applies built; those
	// counted between a rebuild reading the old table's counters and
	// replacing it (a few milliseconds) are lost.
	n, err := c.ops.Nft()
	if err != nil {
		t.Fatal(err)
	}
	var counted uint64
	for _, d := range n.Drops {
		if d.Interface == "lgc0" && d.Reason == "ipv4_source" {
			counted = d.Packets
		}
	}
	t.Logf("ipv4_source drops counted on lgc0: %d of the %d spoofed", counted, sent[1].Load())
	// At one datagram a millisecond, at most 25 ms lost per rebuild.
	if lost := sent[1].Load() - min(counted, sent[1].Load()); counted > sent[1].Load() || lost > 9*25 {
		t.Errorf("%d ipv4_source drops counted on lgc0 for %d spoofed datagrams", counted, sent[1].Load())
	}
	if st := c.agent.Stats().Enforcement.Enforce; st.Programmed != 1 {
		t.Errorf("%d addresses programmed after the applies, want the one binding", st.Programmed)
	}
}

// countBySource counts the datagrams conn receives from each address.
func countBySource(conn *net.UDPConn, counts map[netip.Addr]*atomic.Uint64) {
	buf := make([]byte, 64)
	for {
		_, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n, ok := counts[from.Addr().Unmap()]; ok {
			n.Add(1)
		}
	}
}

// sendEvery sends a datagram to dst every interval until ctx ends.
func sendEvery(ctx context.Context, conn *net.UDPConn, dst string, every time.Duration, sent *atomic.Uint64) {
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(dst))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := conn.WriteToUDP([]byte("x"), to); err == nil {
				sent.Add(1)
			}
		}
	}
}

// udpIn opens a UDP socket bound to src in network namespace ns (a name
// under /run/netns), on a thread switched into it; the socket stays
// there. The thread is never switched back: the runtime discards it.
func udpIn(t *testing.T, ns, src string) *net.UDPConn {
	t.Helper()
	type result struct {
		conn *net.UDPConn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(src), 0)))
		ch <- result{conn, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("socket in %s bound to %s: %v", ns, src, r.err)
	}
	return r.conn
}
