package location

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
	"net"
	"net/netip"
	"time"

	"github.com/leaseguard/leaseguard/lq"
)

// The snapshot file saves the table across a reboot. Layout, version 1:
//
//	magic "LGLT" | version 1 | written-at: int64 Unix seconds, big-endian
//	records: uvarint body length (> 0) | body
//	end: 0x00 | record count: uint32 | CRC-32C of all preceding bytes: uint32
//
// A body is: IPv4 (4) | source (1) | htype (1) | hardware address |
// client-id | expiry, T1, T2, last transaction (uvarint Unix seconds, 0 for
// none) | server IPv4 (4, zero for none) | option 82 (uvarint count, then
// code (1) and bytes per sub-option) | vendor class | associated IPs
// (uvarint count, 4 each) | port | circuit-id | modem; "bytes" fields are a
// uvarint length and the bytes. Times are kept to the second, as in the
// table. The checksum comes first when parsing, so a truncated or damaged
// file is rejected before any record is believed.

const (
	snapshotMagic   = "LGLT"
	snapshotVersion = 1
	snapshotHeader  = len(snapshotMagic) + 1 + 8
	snapshotTrailer = 1 + 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotFile is a parsed snapshot file.
type SnapshotFile struct {
	At       time.Time // when it was written
	Bindings []Binding
}

// MarshalSnapshot encodes bindings (typically Table.All) written at at.
func MarshalSnapshot(at time.Time, bindings iter.Seq[Binding]) ([]byte, error) {
	buf := append([]byte(snapshotMagic), snapshotVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(at.Unix()))
	var body []byte
	n := 0
	for b := range bindings {
		var err error
		if body, err = appendRecord(body[:0], &b); err != nil {
			return nil, fmt.Errorf("snapshot record %d: %w", n, err)
		}
		buf = appendBytes(buf, body)
		n++
	}
	buf = append(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli)), nil
}

func appendRecord(buf []byte, b *Binding) ([]byte, error) {
	ip, err := ipv4(b.IP, "IP")
	if err == nil && ip == 0 {
		err = fmt.Errorf("binding IP %v: unspecified", b.IP)
	}
	if err != nil {
		return nil, err
	}
	server, err := ipv4(b.Server, "server")
	if err != nil {
		return nil, err
	}
	if err := checkLengths(b); err != nil {
		return nil, fmt.Errorf("binding %v: %w", b.IP, err)
	}
	buf = binary.BigEndian.AppendUint32(buf, ip)
	buf = append(buf, byte(b.Source), b.HType)
	buf = appendBytes(buf, b.HWAddr)
	buf = appendBytes(buf, b.ClientID)
	for _, tm := range [...]time.Time{b.Expiry, b.T1, b.T2, b.LastTransaction} {
		buf = binary.AppendUvarint(buf, uint64(toSecs(tm)))
	}
	buf = binary.BigEndian.AppendUint32(buf, server)
	buf = binary.AppendUvarint(buf, uint64(len(b.AgentInfo)))
	for _, so := range b.AgentInfo {
		buf = appendBytes(append(buf, so.Code), so.Data)
	}
	buf = appendBytes(buf, b.VendorClass)
	buf = binary.AppendUvarint(buf, uint64(len(b.AssociatedIPs)))
	for _, a := range b.AssociatedIPs {
		buf = binary.BigEndian.AppendUint32(buf, addrKey(a))
	}
	buf = appendBytes(buf, []byte(b.Port))
	buf = appendBytes(buf, b.CircuitID)
	return appendBytes(buf, b.Modem), nil
}

// ErrSnapshotCorrupt is matched (errors.Is) by every error of
// ParseSnapshot about the content of the file.
var ErrSnapshotCorrupt = errors.New("location: snapshot corrupt")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSnapshotCorrupt}, args...)...)
}

// ParseSnapshot decodes a snapshot file, rejecting a truncated, damaged or
// unknown one as a whole.
func ParseSnapshot(b []byte) (SnapshotFile, error) {
	if len(b) < snapshotHeader+snapshotTrailer {
		return SnapshotFile{}, corrupt("%d bytes, shorter than the %d-byte minimum (truncated?)", len(b), snapshotHeader+snapshotTrailer)
	}
	if string(b[:4]) != snapshotMagic {
		return SnapshotFile{}, corrupt("magic %q, want %q", b[:4], snapshotMagic)
	}
	if b[4] != snapshotVersion {
		return SnapshotFile{}, corrupt("version %d, want %d", b[4], snapshotVersion)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return SnapshotFile{}, corrupt("checksum %08x, file says %08x (truncated or damaged)", got, sum)
	}
	s := SnapshotFile{At: time.Unix(int64(binary.BigEndian.Uint64(b[5:13])), 0).UTC()}
	d := decoder{b: body[:len(body)-4], off: snapshotHeader}
	for {
		n := d.uvarint("record length")
		if d.err != nil || n == 0 {
			break
		}
		start := d.off
		rec := d.next(n, "record")
		if d.err != nil {
			break
		}
		bd, err := parseRecord(rec)
		if err != nil {
			return SnapshotFile{}, corrupt("record %d at offset %d: %v", len(s.Bindings), start, err)
		}
		s.Bindings = append(s.Bindings, bd)
	}
	if d.err != nil {
		return SnapshotFile{}, corrupt("after record %d: %v", len(s.Bindings), d.err)
	}
	if d.off != len(d.b) {
		return SnapshotFile{}, corrupt("%d bytes between the end marker and the record count", len(d.b)-d.off)
	}
	if want := binary.BigEndian.Uint32(body[len(body)-4:]); uint64(want) != uint64(len(s.Bindings)) {
		return SnapshotFile{}, corrupt("%d records, trailer says %d", len(s.Bindings), want)
	}
	return s, nil
}

func parseRecord(rec []byte) (Binding, error) {
	d := decoder{b: rec}
	var b Binding
	b.IP = keyAddr(d.uint32("IP"))
	b.Source, b.HType = Source(d.byte("source")), d.byte("htype")
	b.HWAddr = net.HardwareAddr(d.bytes("hardware address", maxHWAddr))
	b.ClientID = d.bytes("client-id", maxField)
	for _, tm := range [...]*time.Time{&b.Expiry, &b.T1, &b.T2, &b.LastTransaction} {
		*tm = d.time()
	}
	if server := d.uint32("server"); server != 0 {
		b.Server = keyAddr(server)
	}
	b.AgentInfo = d.agentInfo()
	b.VendorClass = d.bytes("vendor class", maxField)
	if n := d.count("associated IPs"); n > 0 {
		b.AssociatedIPs = make([]netip.Addr, n)
		for i := range b.AssociatedIPs {
			b.AssociatedIPs[i] = keyAddr(d.uint32("associated IP"))
		}
	}
	b.Port = string(d.bytes("port", maxField))
	b.CircuitID = d.bytes("circuit-id", maxField)
	b.Modem = net.HardwareAddr(d.bytes("modem", 6))
	if d.err == nil && d.off != len(rec) {
		d.err = fmt.Errorf("%d trailing bytes", len(rec)-d.off)
	}
	if d.err != nil {
		return Binding{}, d.err
	}
	if b.IP == netip.IPv4Unspecified() {
		return Binding{}, errors.New("IP 0.0.0.0")
	}
	return b, checkLengths(&b)
}

// decoder reads untrusted bytes, remembering the first error so that a
// record parses in straight-line code; after an error it returns zeros.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string, need int) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at offset %d: need %d bytes, %d remain", what, d.off, need, len(d.b)-d.off)
	}
}

func (d *decoder) next(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(what, int(min(n, 1<<31)))
		return nil
	}
	d.off += int(n)
	return d.b[d.off-int(n) : d.off]
}

func (d *decoder) byte(what string) byte {
	if p := d.next(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) uint32(what string) uint32 {
	if p := d.next(4, what); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("%s at offset %d: bad uvarint", what, d.off)
		return 0
	}
	d.off += n
	return v
}

// count reads a uvarint count bounded by maxField; 0 after an error.
func (d *decoder) count(what string) uint64 {
	n := d.uvarint(what)
	if d.err == nil && n > maxField {
		d.err = fmt.Errorf("%s at offset %d: count %d exceeds %d", what, d.off, n, maxField)
	}
	if d.err != nil {
		return 0 // callers allocate n
	}
	return n
}

// bytes reads a uvarint length (at most limit) and that many bytes,
// copied; nil when empty.
func (d *decoder) bytes(what string, limit uint64) []byte {
	n := d.uvarint(what + " length")
	if d.err == nil && n > limit {
		d.err = fmt.Errorf("%s at offset %d: length %d exceeds %d", what, d.off, n, limit)
	}
	if p := d.next(n, what); len(p) > 0 {
		return append([]byte(nil), p...)
	}
	return nil
}

func (d *decoder) time() time.Time {
	s := d.uvarint("time")
	if d.err == nil && s > 1<<32-1 {
		d.err = fmt.Errorf("time at offset %d: %d exceeds 32 bits", d.off, s)
	}
	return secs(s).time()
}

func (d *decoder) agentInfo() lq.AgentInfo {
	n := d.count("option 82 sub-option count")
	if d.err != nil || n == 0 {
		return nil
	}
	ai := make(lq.AgentInfo, n)
	for i := range ai {
		ai[i].Code = d.byte("option 82 sub-option code")
		ai[i].Data = d.bytes("option 82 sub-option data", maxField)
	}
	return ai
}
