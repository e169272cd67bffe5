package platform

import (
	"encoding/binary"
	"os"
	"syscall"
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

// portReader receives one frame per recvmsg(2) into a buffer it owns,
// with the sender's sockaddr_ll and the PACKET_AUXDATA control message;
// after setup nothing it does allocates.
type portReader struct {
	rc   syscall.RawConn
	msg  unix.Msghdr
	iov  unix.Iovec
	from unix.RawSockaddrLinklayer
	oob  []byte
	buf  []byte

	n     int
	errno syscall.Errno
	recv  func(fd uintptr) bool
}

func newPortReader(rc syscall.RawConn, size int) *portReader {
	r := &portReader{
		rc:  rc,
		oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))),
		buf: make([]byte, size),
	}
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(size)
	r.msg.Name = (*byte)(unsafe.Pointer(&r.from))
	r.msg.Iov = &r.iov
	r.msg.SetIovlen(1)
	r.msg.Control = &r.oob[0]
	r.recv = r.recvmsg
	return r
}

// recvmsg is the RawConn.Read callback: false asks the poller to wait.
func (r *portReader) recvmsg(fd uintptr) bool {
	for {
		r.msg.Namelen = unix.SizeofSockaddrLinklayer
		r.msg.SetControllen(len(r.oob))
		r.msg.Flags = 0
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), unix.MSG_DONTWAIT)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.n, r.errno = int(n), e
		return true
	}
}

// read waits for one frame and returns it (aliasing the buffer) with its
// metadata.
func (r *portReader) read() ([]byte, rxMeta, error) {
	if err := r.rc.Read(r.recv); err != nil {
		return nil, rxMeta{}, err
	}
	if r.errno != 0 {
		return nil, rxMeta{}, os.NewSyscallError("recvmsg", r.errno)
	}
	meta := rxMeta{
		ifindex:   int(r.from.Ifindex),
		pkttype:   r.from.Pkttype,
		truncated: r.msg.Flags&unix.MSG_TRUNC != 0,
	}
	status, ok := auxStatus(r.oob[:r.msg.Controllen])
	meta.csumNotReady = ok && status&unix.TP_STATUS_CSUMNOTREADY != 0
	return r.buf[:r.n], meta, nil
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
