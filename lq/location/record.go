package location

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// secs is a time at one-second resolution in unsigned Unix seconds. 0 is
// the zero time.Time; times past 2106 (an infinite lease) saturate at
// math.MaxUint32, which never expires in practice.
type secs uint32

func toSecs(t time.Time) secs {
	if t.IsZero() {
		return 0
	}
	u := t.Unix()
	switch {
	case u < 1:
		return 1 // before 1970: the earliest non-zero time
	case u > math.MaxUint32:
		return math.MaxUint32
	}
	return secs(u)
}

func (s secs) time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// Bits of payload.flags.
const (
	flagModem          = 1 << iota // modem holds the modem MAC
	flagAgentInfo                  // blob holds option 82
	flagCircuitInAgent             // the circuit-id is option 82's sub-option 1
	flagCircuit                    // blob holds a circuit-id of its own
	flagAssoc                      // blob holds associated addresses
)

// payload is a binding's content in compact form: everything except the
// interned port and vendor class, which the table (record) and events
// (view) hold in their own ways.
//
// The blob holds, in order: uvarint length and client-id; with flagAgentInfo
// a uvarint sub-option count and for each its code, uvarint length and
// data; with flagCircuit a uvarint length and the circuit-id; when hlen > 8
// the hardware address; with flagAssoc a uvarint count of 4-byte addresses.
type payload struct {
	mac    uint64 // hardware address, the first 8 bytes packed big-endian
	modem  uint64 // modem MAC packed big-endian, with flagModem
	blob   string
	ip     uint32 // never 0 in a live record
	server uint32 // 0 when unknown

	expiry, t1, t2, lastTx secs

	htype, hlen uint8
	source      Source // 0 marks a free record
	flags       uint8
}

// packed is a validated Binding ready to enter the table: its payload with
// the blob still as bytes, and the strings to intern.
type packed struct {
	payload
	blob   []byte
	port   string
	vendor []byte
}

// pack validates b and converts it to compact form, appending the blob to
// buf. Errors name the offending field.
func pack(b *Binding, buf []byte) (packed, error) {
	var p packed
	ip, err := ipv4(b.IP, "IP")
	if err != nil {
		return p, err
	}
	if ip == 0 {
		return p, fmt.Errorf("binding IP %v: unspecified", b.IP)
	}
	if p.server, err = ipv4(b.Server, "server"); err != nil {
		return p, err
	}
	if err := checkLengths(b); err != nil {
		return p, fmt.Errorf("binding %v: %w", b.IP, err)
	}
	p.ip, p.htype, p.hlen, p.source = ip, b.HType, uint8(len(b.HWAddr)), b.Source
	p.mac = packMAC(b.HWAddr)
	if b.Modem != nil {
		p.modem, p.flags = packMAC(b.Modem), p.flags|flagModem
	}
	p.expiry, p.t1, p.t2, p.lastTx = toSecs(b.Expiry), toSecs(b.T1), toSecs(b.T2), toSecs(b.LastTransaction)
	p.port, p.vendor = b.Port, b.VendorClass
	p.blob = packBlob(&p.payload, b, buf)
	return p, nil
}

func packBlob(p *payload, b *Binding, buf []byte) []byte {
	buf = appendBytes(buf, b.ClientID)
	if len(b.AgentInfo) > 0 {
		p.flags |= flagAgentInfo
		buf = binary.AppendUvarint(buf, uint64(len(b.AgentInfo)))
		for _, so := range b.AgentInfo {
			buf = append(buf, so.Code)
			buf = appendBytes(buf, so.Data)
		}
	}
	if ci := subOption(b.AgentInfo, lq.SubCircuitID); len(b.CircuitID) > 0 && ci != nil && bytes.Equal(ci, b.CircuitID) {
		p.flags |= flagCircuitInAgent
	} else if len(b.CircuitID) > 0 {
		p.flags |= flagCircuit
		buf = appendBytes(buf, b.CircuitID)
	}
	if len(b.HWAddr) > 8 {
		buf = append(buf, b.HWAddr...)
	}
	if len(b.AssociatedIPs) > 0 {
		p.flags |= flagAssoc
		buf = binary.AppendUvarint(buf, uint64(len(b.AssociatedIPs)))
		for _, a := range b.AssociatedIPs {
			buf = binary.BigEndian.AppendUint32(buf, addrKey(a))
		}
	}
	return buf
}

// checkLengths bounds every variable-length field and checks the addresses
// that must be IPv4.
func checkLengths(b *Binding) error {
	switch {
	case b.Source < Gleaned || b.Source > Snapshot:
		return fmt.Errorf("source %d: not gleaned, leasequery or snapshot", b.Source)
	case len(b.HWAddr) > maxHWAddr:
		return fmt.Errorf("hardware address: length %d exceeds %d", len(b.HWAddr), maxHWAddr)
	case b.Modem != nil && len(b.Modem) != 6:
		return fmt.Errorf("modem: length %d, want a 6-byte MAC", len(b.Modem))
	case len(b.ClientID) > maxField:
		return fmt.Errorf("client-id: length %d exceeds %d", len(b.ClientID), maxField)
	case len(b.VendorClass) > maxField:
		return fmt.Errorf("vendor class: length %d exceeds %d", len(b.VendorClass), maxField)
	case len(b.Port) > maxField:
		return fmt.Errorf("port: length %d exceeds %d", len(b.Port), maxField)
	case len(b.CircuitID) > maxField:
		return fmt.Errorf("circuit-id: length %d exceeds %d", len(b.CircuitID), maxField)
	case len(b.AgentInfo) > maxField:
		return fmt.Errorf("option 82: %d sub-options exceed %d", len(b.AgentInfo), maxField)
	case len(b.AssociatedIPs) > maxField:
		return fmt.Errorf("associated IPs: %d exceed %d", len(b.AssociatedIPs), maxField)
	}
	for i, so := range b.AgentInfo {
		if len(so.Data) > maxField {
			return fmt.Errorf("option 82 sub-option %d (code %d): length %d exceeds %d", i, so.Code, len(so.Data), maxField)
		}
	}
	for i, a := range b.AssociatedIPs {
		if k, err := ipv4(a, "associated IP"); err != nil || k == 0 {
			return fmt.Errorf("associated IP %d: %v is not a unicast IPv4 address", i, a)
		}
	}
	return nil
}

// ipv4 converts an IPv4 (or IPv4-mapped) address to its uint32 key; the
// zero Addr gives 0.
func ipv4(a netip.Addr, what string) (uint32, error) {
	if !a.IsValid() {
		return 0, nil
	}
	a = a.Unmap()
	if !a.Is4() {
		return 0, fmt.Errorf("binding %s %v: not IPv4", what, a)
	}
	return addrKey(a), nil
}

func addrKey(a netip.Addr) uint32 {
	b := a.Unmap().As4()
	return binary.BigEndian.Uint32(b[:])
}

func keyAddr(k uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], k)
	return netip.AddrFrom4(b)
}

// packMAC packs the first 8 bytes of a hardware address big-endian.
func packMAC(hw []byte) uint64 {
	var b [8]byte
	copy(b[:], hw)
	return binary.BigEndian.Uint64(b[:])
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// view is a binding as readers and events see it: its payload and its
// interned strings, copied out so that it stays valid after the table
// changes.
type view struct {
	payload
	port, vendor string
}

// binding expands a view into a Binding. All its byte slices share one
// allocation, each capped so that appending to one cannot overwrite
// another.
func (v *view) binding() Binding {
	n := len(v.blob) + 8 + 8 + len(v.vendor)
	mem := make([]byte, 0, n)
	mem = append(mem, v.blob...)
	b := Binding{Port: v.port, Source: v.source}
	b.IP, b.HType = keyAddr(v.ip), v.htype
	if v.server != 0 {
		b.Server = keyAddr(v.server)
	}
	b.Expiry, b.T1, b.T2, b.LastTransaction = v.expiry.time(), v.t1.time(), v.t2.time(), v.lastTx.time()
	r := blobReader{b: mem}
	b.ClientID = r.bytes()
	if v.flags&flagAgentInfo != 0 {
		b.AgentInfo = make(lq.AgentInfo, r.uvarint())
		for i := range b.AgentInfo {
			b.AgentInfo[i].Code = r.byte()
			b.AgentInfo[i].Data = r.bytes()
		}
	}
	switch {
	case v.flags&flagCircuitInAgent != 0:
		b.CircuitID = subOption(b.AgentInfo, lq.SubCircuitID)
	case v.flags&flagCircuit != 0:
		b.CircuitID = r.bytes()
	}
	var hw []byte
	if v.hlen > 8 {
		hw = r.next(int(v.hlen))
	} else if v.hlen > 0 {
		mem = binary.BigEndian.AppendUint64(mem, v.mac)
		hw = mem[len(mem)-8 : len(mem)-8+int(v.hlen) : len(mem)-8+int(v.hlen)]
	}
	if v.hlen > 0 {
		b.HWAddr = net.HardwareAddr(hw)
	}
	if v.flags&flagAssoc != 0 {
		b.AssociatedIPs = make([]netip.Addr, r.uvarint())
		for i := range b.AssociatedIPs {
			b.AssociatedIPs[i] = keyAddr(binary.BigEndian.Uint32(r.next(4)))
		}
	}
	if v.flags&flagModem != 0 {
		mem = binary.BigEndian.AppendUint64(mem, v.modem)
		b.Modem = net.HardwareAddr(mem[len(mem)-8 : len(mem)-2 : len(mem)-2])
	}
	if v.vendor != "" {
		mem = append(mem, v.vendor...)
		b.VendorClass = mem[len(mem)-len(v.vendor) : len(mem) : len(mem)]
	}
	return b
}

// blobReader reads a blob the table wrote itself, so it cannot be short;
// nil results stand for empty fields.
type blobReader struct {
	b   []byte
	off int
}

func (r *blobReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	r.off += n
	return v
}

func (r *blobReader) byte() byte {
	r.off++
	return r.b[r.off-1]
}

func (r *blobReader) next(n int) []byte {
	if n == 0 {
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off : r.off]
}

func (r *blobReader) bytes() []byte {
	return r.next(int(r.uvarint()))
}

// clientID returns the client-id at the start of a blob without allocating.
func clientID(blob string) string {
	n, w := uvarintString(blob)
	return blob[w : w+int(n)]
}

func uvarintString(s string) (uint64, int) {
	var v uint64
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// hwAddrEqual reports whether the payload's hardware address is hw.
func (p *payload) hwAddrEqual(hw []byte) bool {
	if len(hw) != int(p.hlen) || packMAC(hw) != p.mac {
		return false
	}
	if p.hlen <= 8 {
		return true
	}
	v := view{payload: *p}
	return bytes.Equal(v.binding().HWAddr, hw)
}
