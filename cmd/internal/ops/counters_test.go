package ops_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/nft"
	"github.com/leaseguard/leaseguard/platform"
	"github.com/leaseguard/leaseguard/relay"
)

func relayStats(n uint64) relay.ServiceStats {
	return relay.ServiceStats{Stats: relay.Stats{FromClients: 10 * n, ToServers: 9 * n, FromServers: 8 * n, ToClients: 8 * n,
		Binds: 4 * n, Dropped: map[relay.Reason]uint64{relay.ClientOption82: n},
		Ports: []relay.PortStats{{Name: "cable1/0/1", ToServers: 6 * n, ToClients: 5 * n, Dropped: n}, {Name: "dsl2", ToServers: 3 * n, ToClients: 3 * n}}},
		SendErrors: n}
}

func lqStats(n uint64) engine.RunnerStats {
	s1 := netip.MustParseAddr("10.0.0.1")
	return engine.RunnerStats{Stats: engine.Stats{
		Counters: engine.Counters{Sent: 5 * n, Active: 3 * n, Unknown: n},
		Servers: []engine.ServerStats{{Server: s1, Armed: true, TimerDeadline: opstest.Now.Add(time.Minute), Outstanding: 2,
			Window: 32, SRTT: 1500 * time.Microsecond, Counters: engine.Counters{Sent: 5 * n, Active: 3 * n, Unknown: n}}},
		Submitted: 4 * n, Completed: 4 * n, Live: 2}}
}

func setCounters(env *opstest.Env, n uint64) {
	env.Backend.Relay.Set(relayStats(n))
	env.Backend.Querier.SetStats(lqStats(n))
	env.Backend.Ports.Set(map[string]platform.PortStats{"lgc0": {Received: 10 * n, KernelDrops: n}, "lgd0": {Received: 3 * n}})
}

func TestCountersAndClear(t *testing.T) {
	env := newEnv(t, ops.Options{})
	fiveBindings(t, env)
	setCounters(env, 1)
	c := env.Ops.Counters()
	if c.Relay.FromClients != 10 || c.Relay.Dropped[relay.ClientOption82.String()] != 1 ||
		c.Table.Bindings != 5 || c.Leasequery.Active != 3 {
		t.Errorf("counters %+v", c)
	}
	if err := env.Ops.ClearCounters("test"); err != nil {
		t.Fatal(err)
	}
	setCounters(env, 3)
	c = env.Ops.Counters()
	want := ops.RelayCounters{FromClients: 20, ToServers: 18, FromServers: 16, ToClients: 16, Binds: 8, SendErrors: 2,
		Dropped: map[string]uint64{relay.ClientOption82.String(): 2}}
	if diff := cmp.Diff(want, c.Relay); diff != "" {
		t.Errorf("relay counters after clear (-want +got):\n%s", diff)
	}
	if c.Since != opstest.Now || c.Table.Bindings != 5 || c.Leasequery.Live != 2 || c.Leasequery.Submitted != 8 {
		t.Errorf("after clear: since %v, gauges bindings %d live %d, submitted %d", c.Since, c.Table.Bindings, c.Leasequery.Live, c.Leasequery.Submitted)
	}
	ports, err := env.Ops.Ports()
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []ops.Port{
		{Name: "cable1/0/1", Interface: "lgc0", Kind: "cable", Bindings: 3, ToServers: 12, ToClients: 10, RelayDropped: 2, Received: 20, KernelDrops: 2},
		{Name: "dsl2", Interface: "lgd0", Kind: "dsl", Bindings: 2, ToServers: 6, ToClients: 6, Received: 6},
	}
	if diff := cmp.Diff(wantPorts, ports); diff != "" {
		t.Errorf("ports after clear (-want +got):\n%s", diff)
	}
	servers, err := env.Ops.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if s := servers[0]; s.Sent != 10 || s.Active != 6 || s.Outstanding != 2 || s.Window != 32 || s.State != ops.StateUp || s.SRTTMillis != 1.5 {
		t.Errorf("server after clear %+v", s)
	}

	// A counter that restarted (a subsystem rebuilt) shows as it is.
	setCounters(env, 0)
	env.Backend.Relay.Set(relay.ServiceStats{Stats: relay.Stats{FromClients: 4}})
	if got := env.Ops.Counters().Relay.FromClients; got != 4 {
		t.Errorf("restarted counter shows %d, want 4", got)
	}
}

func TestNftView(t *testing.T) {
	env := newEnv(t, ops.Options{})
	if err := env.Backend.Nft.Apply([]nft.Element{{Port: "lgc0", IP: netip.MustParseAddr("192.168.10.3"), MAC: mac("00:00:00:00:00:03"),
		Expires: opstest.Now.Add(time.Hour)}}, nil, opstest.Now); err != nil {
		t.Fatal(err)
	}
	drops := map[nft.CounterID]nft.Counter{}
	for _, port := range []string{"lgc0", "lgd0"} {
		for _, r := range nft.Reasons {
			drops[nft.CounterID{Port: port, Reason: r}] = nft.Counter{Packets: 2, Bytes: 120}
		}
	}
	env.Backend.Drops.Set(drops)
	v, err := env.Ops.Nft()
	if err != nil {
		t.Fatal(err)
	}
	if v.Table != "leaseguard" || v.Programming.Rebuilds != 1 || v.Programming.Applies != 1 {
		t.Errorf("nft %+v", v)
	}
	for _, d := range v.Drops {
		if d.Port == "" || (d.Interface == "lgc0") != (d.Port == "cable1/0/1") {
			t.Errorf("drop counter %+v not mapped to its port", d)
		}
	}
	if len(v.Drops) != 2*len(nft.Reasons) {
		t.Errorf("%d drop counters, want %d", len(v.Drops), 2*len(nft.Reasons))
	}
	ports, _ := env.Ops.Ports()
	if ports[0].SpoofDrops != 2*uint64(len(nft.Reasons)-1) {
		t.Errorf("port %s: %d spoof drops, want every reason but reported", ports[0].Name, ports[0].SpoofDrops)
	}
	if err := env.Ops.ClearCounters("test"); err != nil {
		t.Fatal(err)
	}
	if v, _ = env.Ops.Nft(); v.Drops[0].Packets != 0 || v.Allowed != 1 {
		t.Errorf("after clear: %+v, allowed %d", v.Drops[0], v.Allowed)
	}
	deps := env.Backend.Deps()
	deps.Nft = nil
	o, _ := ops.New(deps, env.Config, ops.Options{})
	if _, err := o.Nft(); ops.KindOf(err) != ops.Unavailable {
		t.Errorf("nft with enforcement off: %v", err)
	}
}
