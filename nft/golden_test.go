package nft_test

import (
	"flag"
	"net"
	"net/netip"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft"
)

var update = flag.Bool("update", false, "rewrite testdata/golden*.nft from the kernel's listing")

// goldenConfig is the ruleset of testdata/golden.nft.
func goldenConfig() nft.Config {
	return nft.Config{
		Ports: []nft.Port{
			{Name: "p1", RelayAddr: netip.MustParseAddr("10.0.1.1")},
			{Name: "p2"},
		},
		NFLogGroup:        5,
		TrustedMACs:       []net.HardwareAddr{{0x02, 0xaa, 0, 0, 0, 1}},
		SubscriberNets:    []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("10.0.2.0/23")},
		DropForwardedDHCP: true,
	}
}

func goldenElements(now time.Time) []nft.Element {
	return []nft.Element{
		{Port: "p1", IP: netip.MustParseAddr("10.0.1.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 1, 0x10}, Expires: now.Add(time.Hour)},
		{Port: "p2", IP: netip.MustParseAddr("10.0.2.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 2, 0x10}, Expires: now.Add(90 * time.Minute)},
		{Port: "p2", IP: netip.MustParseAddr("10.0.2.11"), MAC: net.HardwareAddr{2, 0, 0, 0, 2, 0x11}}, // infinite lease
	}
}

// Remaining lifetimes depend on when the table is listed, counters on
// whether the peers sent IPv6 router solicitations yet.
var (
	expires  = regexp.MustCompile(` expires [0-9hmsd]+`)
	counters = regexp.MustCompile(`packets [0-9]+ bytes [0-9]+`)
)

// listTable is `nft list table FAMILY NAME` in ns, normalized.
func listTable(t *testing.T, ns *lab.NS, family, table string) string {
	t.Helper()
	out := ns.MustExec("nft", "list", "table", family, table)
	return counters.ReplaceAllString(expires.ReplaceAllString(out, ""), "packets 0 bytes 0")
}

// TestGoldenRuleset programs the golden config and compares nft(8)'s
// listing of the kernel's tables with testdata/golden.nft (netdev) and
// testdata/golden_ip.nft (ip); then loads the golden files with nft(8)
// into a fresh namespace and lists them again, so the golden text is what
// nft itself makes of that ruleset, not only of ours.
func TestGoldenRuleset(t *testing.T) {
	lab.Need(t, "nft")
	l := lab.New(t)
	ours, ref, peer := l.NS("ours"), l.NS("ref"), l.NS("peer")
	for _, ns := range []*lab.NS{ours, ref} {
		l.Veth(ns, "p1", peer, ns.Name[len(ns.Name)-3:]+"1")
		l.Veth(ns, "p2", peer, ns.Name[len(ns.Name)-3:]+"2")
	}
	k := kernelIn(t, ours)
	now := time.Now()
	if err := k.Rebuild(goldenConfig(), goldenElements(now), now); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	for _, tt := range []struct{ family, file string }{{"netdev", "testdata/golden.nft"}, {"ip", "testdata/golden_ip.nft"}} {
		compareGolden(t, ours, ref, tt.family, tt.file)
	}
}

func compareGolden(t *testing.T, ours, ref *lab.NS, family, file string) {
	t.Helper()
	got := listTable(t, ours, family, nft.DefaultTable)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("kernel listing of our %s table differs from %s (-want +got):\n%s", family, file, diff)
	}
	ref.MustExec("nft", "-f", file)
	if diff := cmp.Diff(string(want), listTable(t, ref, family, nft.DefaultTable)); diff != "" {
		t.Errorf("nft -f %s lists differently (-want +got):\n%s", file, diff)
	}
}
