package nflog_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft/nfttest"
	"github.com/leaseguard/leaseguard/platform/nflog"
)

// TestReaderReceivesReports logs every IPv4 and ARP packet arriving on the
// card's port p1 with nft(8)'s own rule, and reads the reports back.
func TestReaderReceivesReports(t *testing.T) {
	lab.Need(t, "nft")
	tp := nfttest.New(t, 1)
	sub := tp.Subs[0]
	tp.Card.MustExec("nft", `table netdev t { chain c { type filter hook ingress device "p1" priority 0; meta protocol { ip, arp } log prefix "p1" group 9; drop; }; }`)
	f, err := tp.Card.Fd()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := nflog.Listen(nflog.Config{Group: 9, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A second reader cannot take the group.
	if r2, err := nflog.Listen(nflog.Config{Group: 9, NetNS: int(f.Fd())}); err == nil {
		r2.Close()
		t.Error("second Listen on group 9 succeeded, want EBUSY")
	}

	spoofMAC := net.HardwareAddr{2, 0, 0, 0, 0x99, 0x99}
	sub.Inject(t, sub.UDP(netip.MustParseAddr("10.0.1.99"), spoofMAC, sub.Gateway, 1000, 9000, "x"))
	sub.Inject(t, nfttest.ARPFrame(sub.MAC, nfttest.Broadcast, nfttest.ARPRequest, spoofMAC, netip.MustParseAddr("10.0.1.77"), make(net.HardwareAddr, 6), sub.Gateway))

	port := portIndex(t, tp.Card, "p1")
	want := []nflog.Source{
		{Port: "p1", IfIndex: port, IP: netip.MustParseAddr("10.0.1.99"), MAC: spoofMAC},
		{Port: "p1", IfIndex: port, IP: netip.MustParseAddr("10.0.1.77"), MAC: sub.MAC}, // the Ethernet source, not the ARP sender MAC
	}
	got := make(chan nflog.Source, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, func(rep nflog.Report) {
			if rep.Downstream {
				t.Errorf("a netdev report delivered as downstream: %+v", rep)
			}
			got <- rep.Source
		})
	}()
	var sources []nflog.Source
	for len(sources) < len(want) {
		select {
		case s := <-got:
			sources = append(sources, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d reports, want %d: %v", len(sources), len(want), sources)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(want, sources, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
	if st := r.Stats(); st.Delivered != 2 || st.Malformed != 0 {
		t.Errorf("Stats = %+v, want 2 delivered, 0 malformed", st)
	}
}

func portIndex(t *testing.T, ns *lab.NS, name string) int {
	t.Helper()
	var idx int
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			idx = ifi.Index
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
