package rflink

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sum16 is RFC 1071 the plain way, 16 bits at a time.
func sum16(parts ...[]byte) uint32 {
	var s uint32
	for _, b := range parts {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// l4Frame builds an Ethernet frame (IPv4 or IPv6, optionally tagged)
// carrying a TCP or UDP segment, and returns it with its correct checksum
// and with the partial one the kernel leaves for the NIC.
func l4Frame(v6, tagged bool, proto uint8, payload int) (full, partial []byte) {
	var b []byte
	b = append(b, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2)
	if tagged {
		b = append(b, 0x81, 0x00, 0x00, 0x07)
	}
	hdr := 8
	field := 6
	if proto == 6 {
		hdr, field = 20, 16
	}
	l4 := make([]byte, hdr+payload)
	binary.BigEndian.PutUint16(l4[0:], 4000)
	binary.BigEndian.PutUint16(l4[2:], 5000)
	if proto == 17 {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	} else {
		l4[12] = 5 << 4
	}
	for i := hdr; i < len(l4); i++ {
		l4[i] = byte(i*7 + 3)
	}
	var pseudo []byte
	if v6 {
		b = append(b, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, proto, 64
		binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
		ip[8], ip[23] = 0x20, 1
		ip[24], ip[39] = 0x20, 2
		b = append(b, ip...)
		pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, proto)
	} else {
		b = append(b, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, proto
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		copy(ip[12:], []byte{10, 0, 0, 1, 192, 168, 10, 100})
		b = append(b, ip...)
		pseudo = append(append([]byte{}, ip[12:20]...), 0, proto, byte(len(l4)>>8), byte(len(l4)))
	}
	binary.BigEndian.PutUint16(l4[field:], ^fold(sum16(pseudo, l4)))
	full = append(append([]byte{}, b...), l4...)
	binary.BigEndian.PutUint16(l4[field:], fold(sum16(pseudo)))
	partial = append(append([]byte{}, b...), l4...)
	return full, partial
}

func TestCompleteChecksum(t *testing.T) {
	for _, tt := range []struct {
		name       string
		v6, tagged bool
		proto      uint8
		payload    int
	}{
		{"udp4", false, false, 17, 5}, {"udp4 even", false, false, 17, 1400}, {"tcp4", false, false, 6, 37},
		{"udp6", true, false, 17, 99}, {"tcp6", true, false, 6, 1000}, {"udp4 tagged", false, true, 17, 64},
	} {
		full, partial := l4Frame(tt.v6, tt.tagged, tt.proto, tt.payload)
		if !completeChecksum(partial) {
			t.Errorf("%s: not completed", tt.name)
			continue
		}
		if string(partial) != string(full) {
			t.Errorf("%s: completed frame\n%x\nwant\n%x", tt.name, partial, full)
		}
	}
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	if completeChecksum(arp) || completeChecksum(nil) {
		t.Error("completed a frame that has no TCP or UDP checksum")
	}
}

func FuzzCompleteChecksum(f *testing.F) {
	full, partial := l4Frame(false, false, 17, 20)
	f.Add(full)
	f.Add(partial)
	f6, _ := l4Frame(true, true, 6, 3)
	f.Add(f6)
	f.Fuzz(func(t *testing.T, b []byte) {
		n := len(b)
		completeChecksum(b)
		if len(b) != n {
			t.Fatal("length changed")
		}
	})
}

// FuzzAuxdata: the control-message walk never panics or reads past oob.
func FuzzAuxdata(f *testing.F) {
	f.Add(make([]byte, auxdataSpace))
	good := make([]byte, auxdataSpace)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&good[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	binary.NativeEndian.PutUint32(good[unix.CmsgLen(0):], unix.TP_STATUS_CSUMNOTREADY)
	f.Add(good)
	f.Fuzz(func(t *testing.T, oob []byte) {
		if len(oob) > 0 && uintptr(unsafe.Pointer(&oob[0]))%8 != 0 {
			oob = append(make([]byte, 0, len(oob)+8), oob...) // the kernel's buffer is aligned
		}
		aux, ok := auxdata(oob)
		if !ok && aux != (unix.TpacketAuxdata{}) {
			t.Fatal("data without ok")
		}
	})
}

func TestAuxdataFindsStatus(t *testing.T) {
	oob := make([]byte, auxdataSpace)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], unix.TP_STATUS_CSUMNOTREADY|unix.TP_STATUS_VLAN_VALID)
	aux, ok := auxdata(oob)
	if !ok || aux.Status != unix.TP_STATUS_CSUMNOTREADY|unix.TP_STATUS_VLAN_VALID {
		t.Fatalf("auxdata = %+v, %v", aux, ok)
	}
	if _, ok := auxdata(oob[:unix.CmsgLen(0)+4]); ok {
		t.Error("found auxdata in a truncated message")
	}
}
