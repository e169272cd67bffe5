package location

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaseguard/leaseguard/lq"
)

// t0 is the tests' clock origin; every time in these tests is a whole
// second, the table's resolution.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// cmpOpts compare Bindings: addresses by value, empty slices as nil.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func ipN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func macN(prefix byte, i int) net.HardwareAddr {
	m := net.HardwareAddr{prefix, 0x11, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[2:], uint32(i))
	return m
}

// sample returns the realistic binding number i of a cable line card: two
// CPEs per modem, 16 ports, option 82 with circuit-id, 6-byte remote-id and
// relay-id (30 bytes), client-id 01+MAC, vendor class "docsis3.0",
// expiring an hour after t0.
func sample(i int) Binding {
	hw, modem := macN(0x02, i), macN(0x00, i/2)
	port := fmt.Sprintf("cable3/0/%d", i%16)
	return Binding{
		Binding: lq.Binding{
			IP: ipN(i), HType: 1, HWAddr: hw,
			ClientID:        append([]byte{1}, hw...),
			Expiry:          at(3600),
			T1:              at(1800),
			T2:              at(3150),
			LastTransaction: t0,
			AgentInfo: lq.AgentInfo{
				{Code: lq.SubCircuitID, Data: []byte(port)},
				{Code: lq.SubRemoteID, Data: modem},
				{Code: lq.SubRelayID, Data: []byte{0, 1, 10, 0, 0, 1, 0, 67}},
			},
			VendorClass: []byte("docsis3.0"),
			Server:      netip.MustParseAddr("10.255.0.1"),
		},
		Port:      port,
		CircuitID: []byte(port),
		Modem:     modem,
		Source:    Gleaned,
	}
}

func mustUpsert(t testing.TB, tb *Table, b Binding, now time.Time) Result {
	t.Helper()
	res, err := tb.Upsert(b, now)
	if err != nil {
		t.Fatalf("Upsert(%v): %v", b.IP, err)
	}
	return res
}

func ips(bs []Binding) []netip.Addr {
	var out []netip.Addr
	for _, b := range bs {
		out = append(out, b.IP)
	}
	return out
}
