package ops_test

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq/location"
)

func newEnv(t *testing.T, opts ops.Options) *opstest.Env {
	t.Helper()
	env, err := opstest.NewEnv(opts)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func upsert(t *testing.T, env *opstest.Env, bs ...location.Binding) {
	t.Helper()
	for _, b := range bs {
		if _, err := env.Backend.Table.Upsert(b, opstest.Now); err != nil {
			t.Fatal(err)
		}
	}
}

func mac(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

func ips(p ops.BindingPage) []string {
	var out []string
	for _, b := range p.Bindings {
		out = append(out, b.IP.String())
	}
	return out
}

func fiveBindings(t *testing.T, env *opstest.Env) {
	modemed := opstest.Binding("192.168.10.9", "00:00:00:00:00:09", "cable1/0/1")
	modemed.Modem = mac("00:aa:00:00:00:01")
	snap := opstest.Binding("192.168.20.5", "00:00:00:00:00:05", "dsl2")
	snap.Source = location.Snapshot
	upsert(t, env,
		opstest.Binding("192.168.10.20", "00:00:00:00:00:20", "cable1/0/1"),
		modemed,
		opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1"),
		opstest.Binding("192.168.20.7", "00:00:00:00:00:20", "dsl2"),
	)
	if _, err := env.Backend.Table.Restore([]location.Binding{snap}, opstest.Now); err != nil {
		t.Fatal(err)
	}
}

func TestBindingsFilterAndPage(t *testing.T) {
	env := newEnv(t, ops.Options{})
	fiveBindings(t, env)
	for _, tc := range []struct {
		name   string
		f      ops.BindingFilter
		want   []string
		total  int
		cursor string
	}{
		{"all in address order", ops.BindingFilter{}, []string{"192.168.10.3", "192.168.10.9", "192.168.10.20", "192.168.20.5", "192.168.20.7"}, 5, ""},
		{"port", ops.BindingFilter{Port: "dsl2"}, []string{"192.168.20.5", "192.168.20.7"}, 2, ""},
		{"mac on two ports", ops.BindingFilter{MAC: mac("00:00:00:00:00:20")}, []string{"192.168.10.20", "192.168.20.7"}, 2, ""},
		{"mac and port", ops.BindingFilter{MAC: mac("00:00:00:00:00:20"), Port: "dsl2"}, []string{"192.168.20.7"}, 1, ""},
		{"modem", ops.BindingFilter{Modem: mac("00:aa:00:00:00:01")}, []string{"192.168.10.9"}, 1, ""},
		{"ip", ops.BindingFilter{IP: netip.MustParseAddr("192.168.10.3")}, []string{"192.168.10.3"}, 1, ""},
		{"ip absent", ops.BindingFilter{IP: netip.MustParseAddr("192.168.10.4")}, nil, 0, ""},
		{"source", ops.BindingFilter{Source: "snapshot"}, []string{"192.168.20.5"}, 1, ""},
		{"first page", ops.BindingFilter{Limit: 2}, []string{"192.168.10.3", "192.168.10.9"}, 5, "192.168.10.9"},
		{"second page", ops.BindingFilter{Limit: 2, After: netip.MustParseAddr("192.168.10.9")}, []string{"192.168.10.20", "192.168.20.5"}, 5, "192.168.20.5"},
		{"last page", ops.BindingFilter{Limit: 2, After: netip.MustParseAddr("192.168.20.5")}, []string{"192.168.20.7"}, 5, ""},
		{"exact page", ops.BindingFilter{Limit: 5}, []string{"192.168.10.3", "192.168.10.9", "192.168.10.20", "192.168.20.5", "192.168.20.7"}, 5, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := env.Ops.Bindings(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ips(page), eq); diff != "" {
				t.Errorf("bindings (-want +got):\n%s", diff)
			}
			if page.Total != tc.total || page.Next != tc.cursor {
				t.Errorf("total %d next %q, want %d %q", page.Total, page.Next, tc.total, tc.cursor)
			}
		})
	}
}

func TestBindingsRefuseBadFilters(t *testing.T) {
	env := newEnv(t, ops.Options{})
	for _, tc := range []struct {
		f     ops.BindingFilter
		field string
	}{
		{ops.BindingFilter{Limit: ops.MaxPage + 1}, "limit"},
		{ops.BindingFilter{Limit: -1}, "limit"},
		{ops.BindingFilter{Source: "rumour"}, "source"},
		{ops.BindingFilter{IP: netip.MustParseAddr("2001:db8::1")}, "ip"},
	} {
		_, err := env.Ops.Bindings(tc.f)
		if ops.KindOf(err) != ops.Invalid || ops.FieldOf(err) != tc.field {
			t.Errorf("%+v: err %v (kind %v field %q), want invalid %q", tc.f, err, ops.KindOf(err), ops.FieldOf(err), tc.field)
		}
	}
	if _, err := ops.ParseCursor("10.0.0.x"); ops.FieldOf(err) != "cursor" {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestBindingAndClear(t *testing.T) {
	env := newEnv(t, ops.Options{})
	fiveBindings(t, env)
	stream := env.Ops.Events(0)
	ip := netip.MustParseAddr("192.168.10.9")
	b, err := env.Ops.Binding(ip)
	if err != nil {
		t.Fatal(err)
	}
	want := ops.Binding{IP: ip, MAC: "00:00:00:00:00:09", HType: 1, Port: "cable1/0/1", CircuitID: "cable1/0/1",
		Modem: "00:aa:00:00:00:01", Source: "gleaned", Expiry: opstest.Now.Add(3600e9),
		LastTransaction: opstest.Now, Server: netip.MustParseAddr("10.0.0.1")}
	if diff := cmp.Diff(want, b, eq); diff != "" {
		t.Errorf("binding (-want +got):\n%s", diff)
	}
	cleared, err := env.Ops.ClearBinding(ip, "test")
	if err != nil || cleared.IP != ip {
		t.Fatalf("clear: %v %v", cleared, err)
	}
	if _, ok := env.Backend.Table.ByIP(ip); ok {
		t.Error("binding still in the table after clear")
	}
	if st := env.Backend.Table.Stats(); st.Removed[location.Cleared] != 1 {
		t.Errorf("table removals %v, want one Cleared", st.Removed)
	}
	for _, err := range []error{
		func() error { _, err := env.Ops.Binding(ip); return err }(),
		func() error { _, err := env.Ops.ClearBinding(ip, "test"); return err }(),
	} {
		if ops.KindOf(err) != ops.NotFound || ops.FieldOf(err) != "ip" {
			t.Errorf("after clear: %v, want not found on ip", err)
		}
	}
	if len(drain(stream)) != 0 {
		t.Error("events published without Run following the table")
	}
}

// TestPagesCoverTheTableInOrder: paging through bindings written in a
// shuffled order yields every one once, in address order.
func TestPagesCoverTheTableInOrder(t *testing.T) {
	env := newEnv(t, ops.Options{})
	rnd := rand.New(rand.NewPCG(1, 2))
	var want []string
	for _, i := range rnd.Perm(500) {
		b := opstest.Binding("192.168.10.1", "00:00:00:00:00:01", "cable1/0/1")
		b.IP = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		upsert(t, env, b)
	}
	for i := range 500 {
		want = append(want, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String())
	}
	var got []string
	f := ops.BindingFilter{Limit: 7}
	for {
		page, err := env.Ops.Bindings(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ips(page)...)
		if page.Next == "" {
			break
		}
		f.After = netip.MustParseAddr(page.Next)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}
