package ops_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// BenchmarkBindingsPage: one API page (1000) out of a /16 of bindings:
// every page reads and sorts the whole table (the table keeps no address
// order), so a full dump costs pages x this.
func BenchmarkBindingsPage(b *testing.B) {
	env, err := opstest.NewEnv(ops.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1 << 16 {
		bd := opstest.Binding("192.168.10.1", "00:00:00:00:00:01", "cable1/0/1")
		bd.IP = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		bd.HWAddr = net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
		if _, err := env.Backend.Table.Upsert(bd, opstest.Now); err != nil {
			b.Fatal(err)
		}
	}
	after := netip.MustParseAddr("10.1.128.0")
	b.ResetTimer()
	for b.Loop() {
		page, err := env.Ops.Bindings(ops.BindingFilter{Limit: ops.MaxPage, After: after})
		if err != nil || len(page.Bindings) != ops.MaxPage {
			b.Fatal(err, len(page.Bindings))
		}
	}
}

func BenchmarkTableAll(b *testing.B) {
	env, err := opstest.NewEnv(ops.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1 << 16 {
		bd := opstest.Binding("192.168.10.1", "00:00:00:00:00:01", "cable1/0/1")
		bd.IP = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		bd.HWAddr = net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
		if _, err := env.Backend.Table.Upsert(bd, opstest.Now); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for range env.Backend.Table.All() {
			n++
		}
	}
}
