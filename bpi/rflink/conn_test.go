package rflink_test

import (
	"net"
	"testing"

	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/integration/lab"
)

// BenchmarkWriteDOCSIS measures the RF link write of a full-size frame
// into a veth in a lab namespace (root only), allocations included.
func BenchmarkWriteDOCSIS(b *testing.B) {
	l := lab.New(b)
	a, z := l.NS("rfa"), l.NS("rfz")
	l.Veth(a, "rf0", z, "rf0")
	a.MustIP("link", "set", "rf0", "mtu", "1600")
	z.MustIP("link", "set", "rf0", "mtu", "1600")
	var c *rflink.Conn
	if err := a.Do(func() error {
		ifi, err := net.InterfaceByName("rf0")
		if err != nil {
			return err
		}
		c, err = rflink.Listen(ifi)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	frame := make([]byte, 1529)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteDOCSIS(frame); err != nil {
			b.Fatal(err)
		}
	}
}
