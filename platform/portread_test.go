package platform

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// auxCmsg builds a control message buffer as the kernel writes it.
func auxCmsg(level, typ int32, status uint32) []byte {
	b := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], status)
	return b
}

func TestAuxStatus(t *testing.T) {
	tests := []struct {
		name   string
		oob    []byte
		status uint32
		ok     bool
	}{
		{"auxdata", auxCmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, unix.TP_STATUS_CSUMNOTREADY), unix.TP_STATUS_CSUMNOTREADY, true},
		{"after another message", append(auxCmsg(unix.SOL_SOCKET, 1, 0), auxCmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, 0x80)...), 0x80, true},
		{"other message only", auxCmsg(unix.SOL_SOCKET, unix.PACKET_AUXDATA, 1), 0, false},
		{"empty", nil, 0, false},
		{"truncated header", auxCmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)[:4], 0, false},
	}
	for _, tt := range tests {
		status, ok := auxStatus(tt.oob)
		if status != tt.status || ok != tt.ok {
			t.Errorf("%s: auxStatus = %#x, %v; want %#x, %v", tt.name, status, ok, tt.status, tt.ok)
		}
	}
}

func FuzzAuxStatus(f *testing.F) {
	f.Add(auxCmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, 8))
	f.Add(append(auxCmsg(unix.SOL_SOCKET, 1, 0), auxCmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, 0x80)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The kernel hands over an aligned buffer; so does the port reader.
		aligned := make([]uint64, (len(b)+7)/8)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(aligned))), len(aligned)*8)[:len(b)]
		copy(buf, b)
		auxStatus(buf)
	})
}
