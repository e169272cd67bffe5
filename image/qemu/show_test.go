package qemu

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// What the agent's console prints (cmd/internal/cli's renderers), read
// back by the boot test. The renderers are internal to cmd/, so the
// samples below are copied from their output in a guest.

// shownBinding is one row of `show bindings`.
type shownBinding struct {
	IP     netip.Addr
	MAC    string
	Port   string
	Source string
}

// shownBindings is `show bindings`: its rows and the table's total.
type shownBindings struct {
	Rows  []shownBinding
	Total int
}

var bindingsTotalRE = regexp.MustCompile(`(?m)^(?:Total bindings: (\d+)|No bindings \((\d+) in all\)\.|Bindings shown: \d+ of (\d+))\s*$`)

func parseBindings(out string) (shownBindings, error) {
	var s shownBindings
	m := bindingsTotalRE.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("show bindings: no total line in %q", out)
	}
	s.Total, _ = strconv.Atoi(m[1] + m[2] + m[3])
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue // header, dashes, totals
		}
		s.Rows = append(s.Rows, shownBinding{IP: ip, MAC: f[1], Port: f[2], Source: f[3]})
	}
	return s, nil
}

// row returns the row of ip.
func (s shownBindings) row(ip netip.Addr) (shownBinding, bool) {
	for _, r := range s.Rows {
		if r.IP == ip {
			return r, true
		}
	}
	return shownBinding{}, false
}

// shownNft is `show nft`: the allowed set's size and the non-zero drop
// counters by interface and reason.
type shownNft struct {
	Allowed int
	Drops   map[string]uint64 // "sub0 ipv4_source" -> packets
}

var nftAllowedRE = regexp.MustCompile(`(?m)^Table netdev \S+: (\d+) allowed,`)

func parseNft(out string) (shownNft, error) {
	m := nftAllowedRE.FindStringSubmatch(out)
	if m == nil {
		return shownNft{}, fmt.Errorf("show nft: no table line in %q", out)
	}
	s := shownNft{Drops: map[string]uint64{}}
	s.Allowed, _ = strconv.Atoi(m[1])
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			continue
		}
		pk, err1 := strconv.ParseUint(f[3], 10, 64)
		_, err2 := strconv.ParseUint(f[4], 10, 64)
		if err1 != nil || err2 != nil {
			continue // header, dashes
		}
		s.Drops[f[1]+" "+f[2]] = pk
	}
	return s, nil
}

var countersBindingsRE = regexp.MustCompile(`(?m)^\s+Bindings\s+(\d+) \(`)

// parseCountersBindings reads the location table's size from `show counters`.
func parseCountersBindings(out string) (int, error) {
	m := countersBindingsRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("show counters: no Bindings line in %q", out)
	}
	return strconv.Atoi(m[1])
}

func TestParseBindings(t *testing.T) {
	tests := []struct {
		name, out string
		want      shownBindings
	}{
		{"empty", "No bindings (0 in all).\n", shownBindings{Total: 0}},
		{"two", `IP address  MAC address        Port                 Source      Lease left
----------  -----------------  -------------------  ----------  ----------
10.64.0.5   02:a1:b2:c3:d4:e5  qemu-arm64-lc0/sub0  gleaned     9m58s
10.64.1.5   02:a1:b2:c3:d4:e6  qemu-arm64-lc0/sub1  leasequery  1h2m
Total bindings: 2
`, shownBindings{Total: 2, Rows: []shownBinding{
			{netip.MustParseAddr("10.64.0.5"), "02:a1:b2:c3:d4:e5", "qemu-arm64-lc0/sub0", "gleaned"},
			{netip.MustParseAddr("10.64.1.5"), "02:a1:b2:c3:d4:e6", "qemu-arm64-lc0/sub1", "leasequery"},
		}}},
		{"a page", `IP address  MAC address        Port  Source   Lease left
----------  -----------------  ----  -------  ----------
10.64.0.5   02:a1:b2:c3:d4:e5  -     gleaned  expired
Bindings shown: 1 of 10000
`, shownBindings{Total: 10000, Rows: []shownBinding{{netip.MustParseAddr("10.64.0.5"), "02:a1:b2:c3:d4:e5", "-", "gleaned"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBindings(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("parseBindings (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := parseBindings("% no port named \"x\"\n"); err == nil {
		t.Error("parseBindings accepted output without a total")
	}
}

func TestParseNft(t *testing.T) {
	tests := []struct {
		name, out string
		want      shownNft
	}{
		{"no drops", "Table netdev leaseguard: 0 allowed, 0 unknown sources recently reported\n" +
			"Programming: 1 rebuilds, 0 applies, 0 failures; latency last 3.1 ms, mean 3.1 ms, max 3.1 ms\nNo packets dropped.\n",
			shownNft{Allowed: 0, Drops: map[string]uint64{}}},
		{"drops", `Table netdev leaseguard: 2 allowed, 1 unknown sources recently reported
Programming: 1 rebuilds, 4 applies, 0 failures; latency last 1.0 ms, mean 1.2 ms, max 2.0 ms
Port                 Interface  Reason       Packets  Bytes
-------------------  ---------  -----------  -------  -----
qemu-malta-lc0/sub0  sub0       ipv4_source  3        252
qemu-malta-lc0/sub0  sub0       reported     1        84
-                    sub9       other        7        420
Counters at zero not shown; reported: unknown sources sent to NFLOG, also counted under their reason.
`, shownNft{Allowed: 2, Drops: map[string]uint64{"sub0 ipv4_source": 3, "sub0 reported": 1, "sub9 other": 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNft(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseNft (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCountersBindings(t *testing.T) {
	out := "DHCP relay\n  Messages from clients     4\nLocation table\n  Bindings                  10000 (2 ports, 0 modems)\n  Added/changed             10000/0\n"
	got, err := parseCountersBindings(out)
	if err != nil || got != 10000 {
		t.Errorf("parseCountersBindings = %d, %v; want 10000", got, err)
	}
}

func TestCommandOutput(t *testing.T) {
	// The line editor echoes what was typed (with redraws), then CRLF.
	got := commandOutput("show nft\r\nTable netdev x: 1 allowed,\r\nNo packets dropped.\r\n")
	if want := "Table netdev x: 1 allowed,\nNo packets dropped.\n"; got != want {
		t.Errorf("commandOutput = %q, want %q", got, want)
	}
	if got := commandOutput("terminal length 0"); got != "" {
		t.Errorf("commandOutput without a line break = %q, want empty", got)
	}
}
