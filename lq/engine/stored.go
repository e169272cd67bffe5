package engine

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// storedBinding is a cached answer's binding in compact form: about 140
// bytes for an ACTIVE with option 82 where an lq.Binding copy took 384
// (the struct 288, of which 96 for its four times and 168 for its five
// slice headers and two addresses, then the sub-option array and the
// bytes; BenchmarkCacheMemory, BenchmarkAgentHeap). A sweep after a
// reboot caches one per subscriber, beside the location table's own copy.
//
// The times are kept as offsets from the moment of receipt, from which
// lq.Reply.Binding computed them, and each is checked to come back
// identical (wall clock, monotonic reading and location); the byte fields
// share one string. A binding that would not come back identical (times
// not from one base, an address that is not plain IPv4) is kept whole in
// full instead.
type storedBinding struct {
	base   time.Time
	times  [4]time.Duration // Expiry, T1, T2, LastTransaction from base
	data   string           // see appendData
	full   *lq.Binding      // when the compact form cannot hold it exactly
	ip     [4]byte
	server [4]byte
	htype  uint8
	flags  uint16
}

// Bits of storedBinding.flags.
const (
	storedTime0 = 1 << iota // times[0] (Expiry) is set; one bit per time
	_
	_
	_
	storedIP       // IP is valid
	storedServer   // Server is valid
	storedHWAddr   // HWAddr is not nil; likewise for the slices below
	storedClientID //
	storedVendor   //
	storedAgent    //
	storedAssoc    //
)

// storeBinding keeps b, whose times were computed at base.
func storeBinding(b *lq.Binding, base time.Time) *storedBinding {
	s := &storedBinding{base: base, htype: b.HType}
	if !s.setTimes(b) || !s.setAddrs(b) {
		return &storedBinding{full: compactBinding(b)}
	}
	s.data = string(s.appendData(make([]byte, 0, dataLen(b)), b))
	return s
}

func (s *storedBinding) setTimes(b *lq.Binding) bool {
	for i, t := range [4]time.Time{b.Expiry, b.T1, b.T2, b.LastTransaction} {
		if t.IsZero() {
			continue
		}
		d := t.Sub(s.base)
		if s.base.Add(d) != t {
			return false
		}
		s.times[i], s.flags = d, s.flags|storedTime0<<i
	}
	return true
}

func (s *storedBinding) setAddrs(b *lq.Binding) bool {
	for _, a := range b.AssociatedIPs {
		if !a.Is4() {
			return false
		}
	}
	for _, f := range []struct {
		a    netip.Addr
		to   *[4]byte
		flag uint16
	}{{b.IP, &s.ip, storedIP}, {b.Server, &s.server, storedServer}} {
		switch {
		case !f.a.IsValid():
		case !f.a.Is4():
			return false
		default:
			*f.to, s.flags = f.a.As4(), s.flags|f.flag
		}
	}
	return true
}

func dataLen(b *lq.Binding) int {
	n := 3*binary.MaxVarintLen16 + len(b.HWAddr) + len(b.ClientID) + len(b.VendorClass) + 2*binary.MaxVarintLen16
	for _, so := range b.AgentInfo {
		n += 2 + binary.MaxVarintLen16 + len(so.Data)
	}
	return n + 4*len(b.AssociatedIPs)
}

// appendData encodes the slices: HWAddr, ClientID and VendorClass each as
// a uvarint length and bytes; the sub-option count, then each sub-option's
// code, whether its data is nil (1) or not (0), length and data; the
// associated address count, then 4 bytes each. flags tells nil slices
// from empty ones.
func (s *storedBinding) appendData(buf []byte, b *lq.Binding) []byte {
	for _, f := range []struct {
		v    []byte
		flag uint16
	}{{b.HWAddr, storedHWAddr}, {b.ClientID, storedClientID}, {b.VendorClass, storedVendor}} {
		if f.v != nil {
			s.flags |= f.flag
		}
		buf = binary.AppendUvarint(buf, uint64(len(f.v)))
		buf = append(buf, f.v...)
	}
	if b.AgentInfo != nil {
		s.flags |= storedAgent
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.AgentInfo)))
	for _, so := range b.AgentInfo {
		isNil := byte(0)
		if so.Data == nil {
			isNil = 1
		}
		buf = append(buf, so.Code, isNil)
		buf = binary.AppendUvarint(buf, uint64(len(so.Data)))
		buf = append(buf, so.Data...)
	}
	if b.AssociatedIPs != nil {
		s.flags |= storedAssoc
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.AssociatedIPs)))
	for _, a := range b.AssociatedIPs {
		a4 := a.As4()
		buf = append(buf, a4[:]...)
	}
	return buf
}

// binding expands s: a Binding of its own (its slices share one fresh
// allocation, each capped), equal field for field to the one stored.
func (s *storedBinding) binding() lq.Binding {
	if s.full != nil {
		return *compactBinding(s.full)
	}
	b := lq.Binding{HType: s.htype}
	for i, t := range [4]*time.Time{&b.Expiry, &b.T1, &b.T2, &b.LastTransaction} {
		if s.flags&(storedTime0<<i) != 0 {
			*t = s.base.Add(s.times[i])
		}
	}
	if s.flags&storedIP != 0 {
		b.IP = netip.AddrFrom4(s.ip)
	}
	if s.flags&storedServer != 0 {
		b.Server = netip.AddrFrom4(s.server)
	}
	r := storedReader{b: []byte(s.data)}
	b.HWAddr = r.bytes(s.flags&storedHWAddr != 0)
	b.ClientID = r.bytes(s.flags&storedClientID != 0)
	b.VendorClass = r.bytes(s.flags&storedVendor != 0)
	if n := r.uvarint(); s.flags&storedAgent != 0 {
		b.AgentInfo = make(lq.AgentInfo, n)
		for i := range b.AgentInfo {
			code, isNil := r.byte(), r.byte()
			b.AgentInfo[i] = lq.SubOption{Code: code, Data: r.bytes(isNil == 0)}
		}
	}
	if n := r.uvarint(); s.flags&storedAssoc != 0 {
		b.AssociatedIPs = make([]netip.Addr, n)
		for i := range b.AssociatedIPs {
			b.AssociatedIPs[i] = netip.AddrFrom4([4]byte(r.next(4)))
		}
	}
	return b
}

// storedReader reads data that appendData wrote, so it cannot be short.
type storedReader struct {
	b   []byte
	off int
}

func (r *storedReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	r.off += n
	return v
}

func (r *storedReader) byte() byte {
	r.off++
	return r.b[r.off-1]
}

func (r *storedReader) next(n int) []byte {
	r.off += n
	return r.b[r.off-n : r.off : r.off]
}

// bytes reads a length and the bytes; nil unless present.
func (r *storedReader) bytes(present bool) []byte {
	v := r.next(int(r.uvarint()))
	if !present {
		return nil
	}
	return v
}
