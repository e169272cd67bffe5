package nft

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// elementDump builds an NFT_MSG_NEWSETELEM dump message body holding elems,
// each with its remaining lifetime from now as the kernel reports it
// (NFTA_SET_ELEM_EXPIRATION in milliseconds; none for Expires zero).
func elementDump(t testing.TB, elems []Element, now time.Time) []byte {
	var list []netlink.Attribute
	for _, e := range elems {
		k, err := e.key()
		if err != nil {
			t.Fatal(err)
		}
		key, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_DATA_VALUE, Data: k[:]}})
		attrs := []netlink.Attribute{{Type: unix.NFTA_SET_ELEM_KEY | unix.NLA_F_NESTED, Data: key}}
		if !e.Expires.IsZero() {
			ms := uint64(e.Expires.Sub(now).Milliseconds())
			attrs = append(attrs,
				netlink.Attribute{Type: unix.NFTA_SET_ELEM_TIMEOUT, Data: binary.BigEndian.AppendUint64(nil, ms+1000)},
				netlink.Attribute{Type: unix.NFTA_SET_ELEM_EXPIRATION, Data: binary.BigEndian.AppendUint64(nil, ms)})
		}
		elem, _ := netlink.MarshalAttributes(attrs)
		list = append(list, netlink.Attribute{Type: unix.NFTA_LIST_ELEM | unix.NLA_F_NESTED, Data: elem})
	}
	body, _ := netlink.MarshalAttributes(list)
	b, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte("leaseguard\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte("allowed4\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_ELEMENTS | unix.NLA_F_NESTED, Data: body},
	})
	return append([]byte{unix.NFPROTO_NETDEV, 0, 0, 0}, b...)
}

func TestParseElementList(t *testing.T) {
	want := []Element{
		{Port: "p1", IP: netip.MustParseAddr("10.0.1.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 1, 0x10}, Expires: t0.Add(90 * time.Minute)},
		{Port: "sixteen-bytes-a", IP: netip.MustParseAddr("10.0.2.11"), MAC: net.HardwareAddr{2, 0, 0, 0, 2, 0x11}},
	}
	got, err := parseElementList(elementDump(t, want, t0), t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("elements (-want +got):\n%s", diff)
	}
}

func TestParseElementListErrors(t *testing.T) {
	short := elementDump(t, nil, t0)
	badKey := func() []byte {
		key, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_DATA_VALUE, Data: make([]byte, 5)}})
		elem, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_SET_ELEM_KEY | unix.NLA_F_NESTED, Data: key}})
		list, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_LIST_ELEM | unix.NLA_F_NESTED, Data: elem}})
		b, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_SET_ELEM_LIST_ELEMENTS | unix.NLA_F_NESTED, Data: list}})
		return append([]byte{5, 0, 0, 0}, b...)
	}()
	emptyName := elementDump(t, []Element{{Port: "p1", IP: netip.MustParseAddr("10.0.0.1"), MAC: make(net.HardwareAddr, 6)}}, t0)
	i := strings.Index(string(emptyName), "p1\x00")
	emptyName[i], emptyName[i+1] = 0, 0
	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"no header", []byte{5, 0}, "shorter than"},
		{"truncated", short[:len(short)-3], ""},
		{"key length", badKey, "key of 5 bytes"},
		{"empty port name", emptyName, "interface name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseElementList(tt.b, t0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// FuzzParseElementList feeds arbitrary dump bodies to the element decoder:
// it never panics, and what it returns are valid keys.
func FuzzParseElementList(f *testing.F) {
	f.Add(elementDump(f, nil, t0))
	f.Add(elementDump(f, []Element{
		{Port: "p1", IP: netip.MustParseAddr("10.0.1.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 1, 0x10}, Expires: t0.Add(time.Hour)},
		{Port: "p2", IP: netip.MustParseAddr("10.0.2.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 2, 0x10}},
	}, t0))
	f.Fuzz(func(t *testing.T, b []byte) {
		elems, err := parseElementList(b, t0)
		if err != nil {
			return
		}
		for _, e := range elems {
			if _, err := e.key(); err != nil {
				t.Fatalf("decoded element %v does not encode: %v", e, err)
			}
		}
	})
}
