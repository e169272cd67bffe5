package nft

import (
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// setElemDump builds an NFT_MSG_NEWSETELEM dump message body with n
// elements.
func setElemDump(n int) []byte {
	var elems []netlink.Attribute
	for range n {
		key, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_DATA_VALUE, Data: make([]byte, keyLen)}})
		elem, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_SET_ELEM_KEY | unix.NLA_F_NESTED, Data: key}})
		elems = append(elems, netlink.Attribute{Type: unix.NFTA_LIST_ELEM | unix.NLA_F_NESTED, Data: elem})
	}
	list, _ := netlink.MarshalAttributes(elems)
	b, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte("leaseguard\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte("allowed4\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_ELEMENTS | unix.NLA_F_NESTED, Data: list},
	})
	return append([]byte{unix.NFPROTO_NETDEV, 0, 0, 0}, b...)
}

func TestCountListElements(t *testing.T) {
	for _, n := range []int{0, 1, 37} {
		got, err := countListElements(setElemDump(n))
		if err != nil || got != n {
			t.Errorf("countListElements(%d elements) = %d, %v", n, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, {5, 0, 0, 0, 9, 0, 1}} {
		if _, err := countListElements(bad); err == nil {
			t.Errorf("countListElements(%v) succeeded", bad)
		}
	}
}

// FuzzCountListElements feeds arbitrary dump bodies to the element counter.
func FuzzCountListElements(f *testing.F) {
	f.Add(setElemDump(0))
	f.Add(setElemDump(3))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := countListElements(b)
		if err == nil && (n < 0 || n > len(b)/4) {
			t.Fatalf("%d elements in %d bytes", n, len(b))
		}
	})
}
