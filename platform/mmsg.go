package platform

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgReader receives up to len(hdrs) datagrams per recvmmsg(2) into
// buffers it owns; after setup nothing it does allocates.
type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	bufs  []byte
	size  int

	n     int
	errno syscall.Errno
	recv  func(fd uintptr) bool // built once: a method value per call would allocate
}

func newMmsgReader(rc syscall.RawConn, batch, size int) *mmsgReader {
	r := &mmsgReader{
		rc:    rc,
		hdrs:  make([]unix.Mmsghdr, batch),
		iovs:  make([]unix.Iovec, batch),
		names: make([]unix.RawSockaddrInet4, batch),
		bufs:  make([]byte, batch*size),
		size:  size,
	}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i*size]
		r.iovs[i].SetLen(size)
		r.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	r.recv = r.recvmmsg
	return r
}

// recvmmsg is the RawConn.Read callback: false asks the poller to wait.
func (r *mmsgReader) recvmmsg(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		r.hdrs[i].Hdr.Flags = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
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

// read waits for at least one datagram and returns how many arrived.
func (r *mmsgReader) read() (int, error) {
	if err := r.rc.Read(r.recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	return r.n, nil
}

// datagram returns the i-th datagram of the last read, its sender and
// whether it was truncated.
func (r *mmsgReader) datagram(i int) (b []byte, from netip.AddrPort, truncated bool) {
	h := &r.hdrs[i]
	sa := &r.names[i]
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	return r.bufs[i*r.size : i*r.size+int(h.Len)], from, h.Hdr.Flags&unix.MSG_TRUNC != 0
}

// runBatch is Run with recvmmsg.
func (u *Upstream) runBatch(ctx context.Context) error {
	rc, err := u.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("upstream %v: %w", u.local, err)
	}
	r := newMmsgReader(rc, u.batch, maxDatagram)
	for {
		n, err := r.read()
		if err != nil {
			if err := u.readError(ctx, err); err != nil {
				return err
			}
			continue
		}
		for i := range n {
			b, from, truncated := r.datagram(i)
			if truncated {
				u.truncated.Add(1)
				continue
			}
			u.Dispatch(b, from)
		}
	}
}
