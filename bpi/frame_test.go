package bpi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustTEK(t testing.TB, s Suite, seq uint8, fillByte byte, expires time.Time) *TEK {
	t.Helper()
	key := bytes.Repeat([]byte{fillByte}, s.KeyLen())
	iv := bytes.Repeat([]byte{fillByte ^ 0x5a}, s.KeyLen())
	k, err := NewTEK(s, key, iv, seq, expires)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ethFrame builds an IPv4 Ethernet frame of n bytes (no FCS) to dst.
func ethFrame(n int, dstMAC, srcMAC []byte, dst [4]byte) []byte {
	b := make([]byte, n)
	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv4)
	if n >= 34 {
		b[14] = 0x45
		copy(b[30:34], dst[:])
	}
	for i := 34; i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

func TestDownstreamLayout(t *testing.T) {
	eth := ethFrame(60, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
	tek := mustTEK(t, SuiteAES128CBC, 5, 0x11, t0.Add(time.Hour))
	b, err := AppendDownstream(nil, eth, 0x123, tek)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(b), len(eth)+DownstreamOverhead; got != want {
		t.Fatalf("frame length %d, want %d", got, want)
	}
	hdr := b[:11]
	wantHdr := []byte{0x01, 5, 0, byte(5 + 60 + 4), 0x44, 5<<4 | PrivacyVersion, 0x80 | 0x40 | 0x01, 0x23, 0}
	if diff := cmp.Diff(wantHdr, hdr[:9]); diff != "" {
		t.Errorf("MAC header (-want +got):\n%s", diff)
	}
	pdu := b[11:]
	if !bytes.Equal(pdu[:12], eth[:12]) {
		t.Error("DA and SA are not in clear")
	}
	if bytes.Equal(pdu[12:60], eth[12:]) {
		t.Error("payload is in clear")
	}
	// Decrypting by hand gives the frame and its little-endian CRC-32.
	plain := append([]byte(nil), pdu...)
	tek.Decrypt(plain[12:])
	if !bytes.Equal(plain[:60], eth) {
		t.Error("decrypted PDU differs from the frame")
	}
	if got, want := binary.LittleEndian.Uint32(plain[60:]), crc32.ChecksumIEEE(eth); got != want {
		t.Errorf("CRC %#x, want %#x", got, want)
	}
}

func TestDownstreamRoundTripEveryLength(t *testing.T) {
	for _, s := range []Suite{SuiteDES56CBC, SuiteAES128CBC} {
		tek := mustTEK(t, s, 3, 0x42, t0.Add(time.Hour))
		var buf []byte
		for n := MinEthernetLen; n <= 1518; n++ {
			eth := ethFrame(n, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
			var err error
			buf, err = AppendDownstream(buf[:0], eth, 77, tek)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ParseDownstream(buf)
			if err != nil {
				t.Fatalf("%v len %d: %v", s, n, err)
			}
			if !d.Encrypted() || d.Privacy.SAID != 77 || d.Privacy.KeySeq != 3 {
				t.Fatalf("%v len %d: privacy %+v", s, n, d.Privacy)
			}
			got, err := d.Open(tek)
			if err != nil {
				t.Fatalf("%v len %d: %v", s, n, err)
			}
			if !bytes.Equal(got, eth) {
				t.Fatalf("%v len %d: frame differs after round trip", s, n)
			}
		}
	}
}

func TestDownstreamWrongKeyFailsCRC(t *testing.T) {
	eth := ethFrame(100, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
	mine := mustTEK(t, SuiteAES128CBC, 1, 0x01, t0)
	theirs := mustTEK(t, SuiteAES128CBC, 1, 0x02, t0)
	b, _ := AppendDownstream(nil, eth, 9, mine)
	d, err := ParseDownstream(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(theirs); !errors.Is(err, ErrCRC) {
		t.Fatalf("Open with another modem's key: %v, want ErrCRC", err)
	}
}

func TestDownstreamClear(t *testing.T) {
	eth := ethFrame(64, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
	b, err := AppendDownstream(nil, eth, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x00 || b[1] != 0 {
		t.Fatalf("clear frame FC/MAC_PARM = %#x/%d, want no EHDR", b[0], b[1])
	}
	d, err := ParseDownstream(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Open(nil)
	if err != nil || !bytes.Equal(got, eth) {
		t.Fatalf("Open = %x, %v", got, err)
	}
}

func TestAppendDownstreamZeroAllocs(t *testing.T) {
	tek := mustTEK(t, SuiteAES128CBC, 3, 0x42, t0)
	eth := ethFrame(1500, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
	buf := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = AppendDownstream(buf[:0], eth, 7, tek)
		d, _ := ParseDownstream(buf)
		_, _ = d.Open(tek)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

func FuzzParseDownstream(f *testing.F) {
	tek := mustTEK(f, SuiteAES128CBC, 2, 0x33, t0)
	eth := ethFrame(64, []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, [4]byte{10, 0, 0, 1})
	enc, _ := AppendDownstream(nil, eth, 12, tek)
	clear, _ := AppendDownstream(nil, eth, 0, nil)
	f.Add(enc)
	f.Add(clear)
	f.Add([]byte{0x01, 2, 0, 2, 0x41, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDownstream(b)
		if err != nil {
			return
		}
		k := tek
		if !d.Encrypted() {
			k = nil
		}
		eth, err := d.Open(k)
		if err != nil {
			return
		}
		if len(eth) < MinEthernetLen {
			t.Fatalf("Open returned a %d-byte frame", len(eth))
		}
	})
}
