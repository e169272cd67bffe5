package nft

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/nftables"
)

func TestConfigDefaults(t *testing.T) {
	got, err := Config{Ports: []Port{{Name: "p1"}}}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Table: "leaseguard", Ports: []Port{{Name: "p1"}},
		UnknownRate: 10, UnknownBurst: 5, UnknownTimeout: 30 * time.Second, UnknownSize: 65536,
		MaxTimeout: 7 * 24 * time.Hour, Priority: -500, DownstreamRate: 100, DownstreamBurst: 20,
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"long table", Config{Table: strings.Repeat("t", 256)}, "table name"},
		{"port name", Config{Ports: []Port{{Name: "p/1"}}}, "port 0: interface name"},
		{"long port", Config{Ports: []Port{{Name: "p1"}, {Name: "sixteen-bytes-ab"}}}, "port 1: interface name"},
		{"duplicate port", Config{Ports: []Port{{Name: "p1"}, {Name: "p1"}}}, `port 1: "p1" listed twice`},
		{"relay v6", Config{Ports: []Port{{Name: "p1", RelayAddr: netip.MustParseAddr("2001:db8::1")}}}, "not a unicast IPv4"},
		{"relay zero", Config{Ports: []Port{{Name: "p1", RelayAddr: netip.IPv4Unspecified()}}}, "not a unicast IPv4"},
		{"trusted mac", Config{TrustedMACs: []net.HardwareAddr{{1, 2, 3}}}, "trusted MAC 0"},
		{"tiny timeout", Config{UnknownTimeout: time.Microsecond}, "at least 1ms"},
		{"v6 subscriber net", Config{SubscriberNets: []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")}}, "subscriber net 0"},
		{"invalid subscriber net", Config{SubscriberNets: []netip.Prefix{{}}}, "subscriber net 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// ruleShape lists a chain's rules by their expression types, enough to see
// which rules a config produces without a kernel.
func chainRuleCounts(rs *Ruleset) map[string]int {
	out := map[string]int{}
	for _, r := range rs.Rules {
		out[r.Chain.Name]++
	}
	return out
}

func TestBuildShape(t *testing.T) {
	rs, err := Build(Config{Ports: []Port{{Name: "p1", RelayAddr: netip.MustParseAddr("10.0.1.1")}, {Name: "p2"}}, AllowIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	wantRules := map[string]int{"in_p1": 5, "v4_p1": 7, "arp_p1": 5, "in_p2": 5, "v4_p2": 6, "arp_p2": 5}
	if diff := cmp.Diff(wantRules, chainRuleCounts(rs)); diff != "" {
		t.Errorf("rules per chain (-want +got):\n%s", diff)
	}
	if got, want := len(rs.Counters), 2*len(Reasons); got != want {
		t.Errorf("%d counters, want %d", got, want)
	}
	if id := rs.CounterIDs["ipv4_source_p2"]; id != (CounterID{Port: "p2", Reason: ReasonIPv4Source}) {
		t.Errorf("counter ipv4_source_p2 maps to %+v", id)
	}
	for _, c := range rs.Chains {
		base := c.Hooknum != nil
		if base != strings.HasPrefix(c.Name, "in_") {
			t.Errorf("chain %s: base chain %v", c.Name, base)
		}
		if base && (c.Device != c.Name[3:] || *c.Priority != -500 || *c.Policy != 0) {
			t.Errorf("chain %s: device %q priority %d policy %d", c.Name, c.Device, *c.Priority, *c.Policy)
		}
	}
	if rs.Allowed.Timeout != 0 || !rs.Allowed.HasTimeout || rs.Unknown.Timeout != DefaultUnknownTimeout || !rs.Unknown.Dynamic {
		t.Errorf("sets: allowed %+v, unknown %+v", rs.Allowed, rs.Unknown)
	}
}

// TestBuildIPTable: subscriber nets give the downstream chains (one jump
// per net in each hook), forwarded-DHCP drops one rule per port, and
// without either there is no ip table. Validate masks a copy of the nets.
func TestBuildIPTable(t *testing.T) {
	ports := []Port{{Name: "p1"}, {Name: "p2"}}
	nets := []netip.Prefix{netip.MustParsePrefix("10.0.1.7/24"), netip.MustParsePrefix("10.0.4.0/22")}
	tests := []struct {
		name      string
		cfg       Config
		wantRules map[string]int
		wantSets  bool
	}{
		{"none", Config{Ports: ports}, nil, false},
		{"downstream", Config{Ports: ports, SubscriberNets: nets}, map[string]int{"dst_pre": 2, "dst_out": 2, "dst_check": 6}, true},
		{"forwarded DHCP", Config{Ports: ports, DropForwardedDHCP: true}, map[string]int{"fwd_dhcp": 2}, false},
		{"both", Config{Ports: ports, SubscriberNets: nets, DropForwardedDHCP: true},
			map[string]int{"dst_pre": 2, "dst_out": 2, "dst_check": 6, "fwd_dhcp": 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Build(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRules == nil {
				if rs.IP != nil {
					t.Fatalf("ip table built: %+v", rs.IP)
				}
				return
			}
			got := map[string]int{}
			for _, r := range rs.IP.Rules {
				got[r.Chain.Name]++
			}
			if diff := cmp.Diff(tt.wantRules, got); diff != "" {
				t.Errorf("rules per chain (-want +got):\n%s", diff)
			}
			if (rs.IP.Bound != nil) != tt.wantSets || (rs.IP.UnknownDst != nil) != tt.wantSets {
				t.Errorf("sets: bound %v, unknown %v; want present %v", rs.IP.Bound, rs.IP.UnknownDst, tt.wantSets)
			}
			if rs.IP.Table.Name != rs.Table.Name || rs.IP.Table.Family != nftables.TableFamilyIPv4 {
				t.Errorf("ip table %+v", rs.IP.Table)
			}
		})
	}
	if nets[0] != netip.MustParsePrefix("10.0.1.7/24") {
		t.Errorf("Validate changed the caller's nets: %v", nets)
	}
	cfg, err := Config{SubscriberNets: nets}.Validate()
	if err != nil || cfg.SubscriberNets[0] != netip.MustParsePrefix("10.0.1.0/24") {
		t.Errorf("Validate: %v, nets %v; want 10.0.1.0/24 first", err, cfg.SubscriberNets)
	}
}
