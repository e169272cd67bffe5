package fwd

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// attrs decodes the attributes after a fixed header of n bytes.
func attrs(t *testing.T, b []byte, n int) map[uint16][]byte {
	t.Helper()
	as, err := netlink.UnmarshalAttributes(b[n:])
	if err != nil {
		t.Fatal(err)
	}
	m := map[uint16][]byte{}
	for _, a := range as {
		m[a.Type] = a.Data
	}
	return m
}

func TestNeighMsg(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 1, 0x10}
	m := neighMsg(true, 7, netip.MustParseAddr("10.0.1.10"), mac, 108)
	if m.Header.Type != unix.RTM_NEWNEIGH || m.Header.Flags != netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Replace {
		t.Errorf("header %+v, want RTM_NEWNEIGH create|replace|ack", m.Header)
	}
	if fam, idx, state := m.Data[0], binary.NativeEndian.Uint32(m.Data[4:]), binary.NativeEndian.Uint16(m.Data[8:]); fam != unix.AF_INET || idx != 7 || state != unix.NUD_PERMANENT {
		t.Errorf("ndmsg family %d ifindex %d state %#x", fam, idx, state)
	}
	want := map[uint16][]byte{unix.NDA_DST: {10, 0, 1, 10}, unix.NDA_LLADDR: mac, ndaProtocol: {108}}
	if diff := cmp.Diff(want, attrs(t, m.Data, 12)); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	del := neighMsg(false, 7, netip.MustParseAddr("10.0.1.10"), nil, 108)
	if del.Header.Type != unix.RTM_DELNEIGH || len(attrs(t, del.Data, 12)) != 1 {
		t.Errorf("delete: type %d, attributes %v", del.Header.Type, attrs(t, del.Data, 12))
	}
}

func TestRouteMsg(t *testing.T) {
	m := routeMsg(true, 7, netip.MustParseAddr("10.0.1.10"), 108, mainTable)
	want := []byte{unix.AF_INET, 32, 0, 0, unix.RT_TABLE_MAIN, 108, unix.RT_SCOPE_LINK, unix.RTN_UNICAST, 0, 0, 0, 0}
	if diff := cmp.Diff(want, m.Data[:12]); diff != "" {
		t.Errorf("rtmsg (-want +got):\n%s", diff)
	}
	wantAttrs := map[uint16][]byte{
		unix.RTA_DST:   {10, 0, 1, 10},
		unix.RTA_OIF:   binary.NativeEndian.AppendUint32(nil, 7),
		unix.RTA_TABLE: binary.NativeEndian.AppendUint32(nil, mainTable),
	}
	if diff := cmp.Diff(wantAttrs, attrs(t, m.Data, 12)); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	// A table above 255 only fits the attribute.
	if big := routeMsg(false, 7, netip.MustParseAddr("10.0.1.10"), 108, 1000); big.Data[4] != unix.RT_TABLE_UNSPEC || big.Data[6] != unix.RT_SCOPE_NOWHERE {
		t.Errorf("delete in table 1000: rtm_table %d scope %d", big.Data[4], big.Data[6])
	}
}

func TestErrorsMessage(t *testing.T) {
	b := Binding{Port: "p1", IP: netip.MustParseAddr("10.0.1.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 1, 0x10}}
	e := &Errors{Failed: []Error{{b, "route add", unix.ENETDOWN}, {b, "neighbour add", unix.ENODEV}, {b, "resolve", unix.ENOENT}, {b, "resolve", unix.ENOENT}}}
	want := "fwd: 4 requests failed: route add for p1 10.0.1.10 02:00:00:00:01:10: network is down; neighbour add for p1 10.0.1.10 02:00:00:00:01:10: no such device; resolve for p1 10.0.1.10 02:00:00:00:01:10: no such file or directory; ..."
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}
