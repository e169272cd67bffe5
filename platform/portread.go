package platform

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxMeta is what the kernel says about a received frame besides its bytes.
type rxMeta struct {
	ifindex      int
	pkttype      uint8
	truncated    bool
	csumNotReady bool // TP_STATUS_CSUMNOTREADY: the checksum is partial
}

// auxdataSpace is the control buffer one frame's PACKET_AUXDATA needs.
var auxdataSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

// frameMeta interprets slot i of the last recvmmsg on a packet socket: the
// sender's sockaddr_ll and the PACKET_AUXDATA control message.
func frameMeta(v *mmsgVec, i int) ([]byte, rxMeta) {
	data, oob, truncated := v.received(i)
	from := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&v.names[i]))
	meta := rxMeta{ifindex: int(from.Ifindex), pkttype: from.Pkttype, truncated: truncated}
	status, ok := auxStatus(oob)
	meta.csumNotReady = ok && status&unix.TP_STATUS_CSUMNOTREADY != 0
	return data, meta
}

// auxStatus finds the PACKET_AUXDATA control message in oob and returns
// its tp_status.
func auxStatus(oob []byte) (uint32, bool) {
	hdrLen := unix.CmsgLen(0)
	for len(oob) >= hdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= hdrLen+4 {
			return binary.NativeEndian.Uint32(oob[hdrLen:]), true
		}
		next := unix.CmsgSpace(l - hdrLen)
		if next > len(oob) {
			return 0, false
		}
		oob = oob[next:]
	}
	return 0, false
}
