package ops_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/relay"
)

// scrape collects the metrics and reads them back, by family name,
// suffix and labels ("name label=value ...").
func scrape(t *testing.T, env *opstest.Env) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if _, err := env.Ops.Metrics().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	fams, err := metrics.Parse(&buf)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.Samples {
			key := f.Name + s.Suffix
			for _, l := range s.Labels {
				key += " " + l.Name + "=" + l.Value
			}
			got[key] = s.Value
		}
	}
	return got
}

// TestMetricsByTypeReasonAndDownstream: relayed messages by port and
// message type, option 82 drops by port and reason (those placed on no
// port under "unknown"), and the ip table's counters.
func TestMetricsByTypeReasonAndDownstream(t *testing.T) {
	env := newEnv(t, ops.Options{})
	env.Backend.Relay.Set(relay.ServiceStats{Stats: relay.Stats{
		Dropped: map[relay.Reason]uint64{relay.ClientOption82: 3, relay.UnknownCircuit: 5},
		Ports: []relay.PortStats{
			{Name: "cable1/0/1", ToServersByType: map[lq.MessageType]uint64{lq.Discover: 4, lq.Request: 2, 0: 1},
				ToClientsByType: map[lq.MessageType]uint64{lq.Offer: 4, lq.Ack: 2},
				DroppedBy:       map[relay.Reason]uint64{relay.ClientOption82: 3, relay.UnknownCircuit: 1}},
			{Name: "dsl2"}}}})
	env.Backend.Downstream.Set(nft.Stats{UnknownDestination: nft.Counter{Packets: 9, Bytes: 540},
		ReportedDestination: nft.Counter{Packets: 2}, UnknownDst: 2,
		ForwardedDHCP: map[string]nft.Counter{"lgc0": {Packets: 3, Bytes: 1000}, "lgd0": {}}})
	got := scrape(t, env)
	for key, want := range map[string]float64{
		"leaseguard_relay_packets_by_type_total port=cable1/0/1 direction=to_server type=discover": 4,
		"leaseguard_relay_packets_by_type_total port=cable1/0/1 direction=to_server type=request":  2,
		"leaseguard_relay_packets_by_type_total port=cable1/0/1 direction=to_server type=bootp":    1,
		"leaseguard_relay_packets_by_type_total port=cable1/0/1 direction=to_server type=release":  0,
		"leaseguard_relay_packets_by_type_total port=cable1/0/1 direction=to_client type=ack":      2,
		"leaseguard_relay_packets_by_type_total port=dsl2 direction=to_client type=offer":          0,
		"leaseguard_relay_option82_dropped_total port=cable1/0/1 reason=client option 82":          3,
		"leaseguard_relay_option82_dropped_total port=cable1/0/1 reason=unknown circuit":           1,
		"leaseguard_relay_option82_dropped_total port=unknown reason=unknown circuit":              4,
		"leaseguard_relay_option82_dropped_total port=unknown reason=client option 82":             0,
		"leaseguard_relay_option82_dropped_total port=dsl2 reason=foreign relay-id":                0,
		"leaseguard_nft_unknown_destination_packets_total what=dropped":                            9,
		"leaseguard_nft_unknown_destination_packets_total what=reported":                           2,
		"leaseguard_nft_unknown_destination_bytes_total":                                           540,
		"leaseguard_nft_unknown_destinations":                                                      2,
		"leaseguard_nft_forwarded_dhcp_dropped_packets_total port=cable1/0/1 interface=lgc0":       3,
		"leaseguard_nft_forwarded_dhcp_dropped_packets_total port=dsl2 interface=lgd0":             0,
		"leaseguard_nft_transactions_total kind=rebuild":                                           1,
		"leaseguard_nft_elements_total op=added":                                                   0,
		"leaseguard_nft_unknown_sources":                                                           0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}

// TestNftDownstreamAndClear: show nft carries the ip table's counters by
// port name, and clear counters starts them from zero (the gauge stays).
func TestNftDownstreamAndClear(t *testing.T) {
	env := newEnv(t, ops.Options{})
	set := func(n uint64) {
		env.Backend.Downstream.Set(nft.Stats{UnknownDestination: nft.Counter{Packets: 3 * n, Bytes: 180 * n},
			ReportedDestination: nft.Counter{Packets: n, Bytes: 60 * n}, UnknownDst: 1,
			ForwardedDHCP: map[string]nft.Counter{"lgd0": {Packets: 2 * n, Bytes: 600 * n}, "lgc0": {}}})
	}
	set(1)
	v, err := env.Ops.Nft()
	if err != nil {
		t.Fatal(err)
	}
	want := ops.Nft{Downstream: ops.NftDownstream{Dropped: ops.NftCounter{Packets: 3, Bytes: 180}, Reported: ops.NftCounter{Packets: 1, Bytes: 60}, Addresses: 1},
		ForwardedDHCP: []ops.NftPortCounter{{Port: "cable1/0/1", Interface: "lgc0"}, {Port: "dsl2", Interface: "lgd0", Packets: 2, Bytes: 600}}}
	if diff := cmp.Diff(want, ops.Nft{Downstream: v.Downstream, ForwardedDHCP: v.ForwardedDHCP}); diff != "" {
		t.Errorf("nft (-want +got):\n%s", diff)
	}
	if err := env.Ops.ClearCounters("test"); err != nil {
		t.Fatal(err)
	}
	set(3)
	v, _ = env.Ops.Nft()
	want.Downstream.Dropped, want.Downstream.Reported = ops.NftCounter{Packets: 6, Bytes: 360}, ops.NftCounter{Packets: 2, Bytes: 120}
	want.ForwardedDHCP[1].Packets, want.ForwardedDHCP[1].Bytes = 4, 1200
	if diff := cmp.Diff(want, ops.Nft{Downstream: v.Downstream, ForwardedDHCP: v.ForwardedDHCP}); diff != "" {
		t.Errorf("nft after clear (-want +got):\n%s", diff)
	}
}

// TestRelayRepliesByServer: the relay's replies by server reach show
// servers (beside the leasequery state of the same server) and /metrics,
// replies from unconfigured sources under server="other".
func TestRelayRepliesByServer(t *testing.T) {
	env := newEnv(t, ops.Options{})
	srv := netip.MustParseAddr("10.0.0.1")
	last := opstest.Now.Add(-time.Minute)
	env.Backend.Querier.SetStats(engine.RunnerStats{Stats: engine.Stats{Servers: []engine.ServerStats{{Server: srv}}}})
	env.Backend.Relay.Set(relay.ServiceStats{Stats: relay.Stats{
		Servers:    []relay.ServerStats{{Addr: srv, Replies: 7, Relayed: 5, LastReply: last}},
		FromOthers: relay.ServerStats{Replies: 2}}})
	servers, err := env.Ops.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 || servers[0].RelayReplies != 7 || servers[0].RelayRelayed != 5 || !servers[0].LastRelayReply.Equal(last) {
		t.Errorf("Servers: %+v, want 7 replies, 5 relayed, the last at %v", servers, last)
	}
	got := scrape(t, env)
	for key, want := range map[string]float64{
		"leaseguard_relay_server_replies_total server=10.0.0.1 outcome=relayed": 5,
		"leaseguard_relay_server_replies_total server=10.0.0.1 outcome=dropped": 2,
		"leaseguard_relay_server_replies_total server=other outcome=dropped":    2,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}
