package location

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

func snapshotBindings() []Binding {
	long := sample(3)
	long.HWAddr = net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	long.AssociatedIPs = []netip.Addr{netip.MustParseAddr("10.9.0.1")}
	long.CircuitID, long.Modem, long.Server = []byte("x"), nil, netip.Addr{}
	lqb := sample(4)
	lqb.Source, lqb.LastTransaction = Leasequery, at(-30)
	bare := Binding{Binding: lq.Binding{IP: ipN(5)}, Source: Snapshot}
	return []Binding{sample(1), sample(2), long, lqb, bare}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, bs := range [][]Binding{nil, snapshotBindings()} {
		b, err := MarshalSnapshot(at(42), slices.Values(bs))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSnapshot(b)
		if err != nil {
			t.Fatal(err)
		}
		want := SnapshotFile{At: at(42), Bindings: bs}
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestSnapshotFromTable(t *testing.T) {
	tb := New(Config{})
	for i := range 600 {
		mustUpsert(t, tb, sample(i), t0)
	}
	b, err := MarshalSnapshot(t0, tb.All())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Bindings) != 600 {
		t.Fatalf("%d bindings parsed, want 600", len(s.Bindings))
	}
	t.Logf("600 realistic bindings: %d bytes, %d per binding", len(b), len(b)/600)

	// After the reboot: one address was gleaned again already, one lease
	// ran out; the rest come back as hints.
	after := New(Config{})
	fresh := sample(7)
	fresh.Port = "cable9/9/9"
	mustUpsert(t, after, fresh, at(3000))
	s.Bindings[8].Expiry = at(3000)
	n, err := after.Restore(s.Bindings, at(3000))
	if err != nil || n != 598 {
		t.Fatalf("Restore: %d added, %v; want 598", n, err)
	}
	if got, _ := after.ByIP(ipN(7)); got.Port != "cable9/9/9" || got.Source != Gleaned {
		t.Errorf("restore overwrote a gleaned binding: %v from %v", got.Port, got.Source)
	}
	if _, ok := after.ByIP(ipN(8)); ok {
		t.Error("restore added an expired binding")
	}
	want := sample(9)
	want.Source = Snapshot
	if got, _ := after.ByIP(ipN(9)); !equalBindings(want, got) {
		t.Errorf("restored binding:\n%s", cmp.Diff(want, got, cmpOpts...))
	}
}

func TestSnapshotMarshalRejects(t *testing.T) {
	b := sample(1)
	b.IP = netip.MustParseAddr("2001:db8::1")
	_, err := MarshalSnapshot(t0, slices.Values([]Binding{sample(0), b}))
	if err == nil || !strings.Contains(err.Error(), "snapshot record 1: binding IP 2001:db8::1: not IPv4") {
		t.Errorf("error %v", err)
	}
}

// reseal recomputes the checksum of an edited snapshot, so that the test
// reaches the checks behind it.
func reseal(b []byte) []byte {
	n := len(b) - 4
	binary.BigEndian.PutUint32(b[n:], crc32.Checksum(b[:n], castagnoli))
	return b
}

func TestParseSnapshotRejects(t *testing.T) {
	good, err := MarshalSnapshot(t0, slices.Values(snapshotBindings()[:2]))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	firstLen := int(good[13]) // record 0's length: a one-byte uvarint
	tests := []struct {
		name    string
		file    []byte
		wantErr string
	}{
		{"empty", nil, "0 bytes, shorter than the 22-byte minimum"},
		{"truncated", good[:len(good)-1], "checksum"},
		{"truncated mid-record", good[:40], "checksum"},
		{"bit flip", edit(func(b []byte) []byte { b[30] ^= 4; return b }), "checksum"},
		{"magic", edit(func(b []byte) []byte { b[0] = 'X'; return reseal(b) }), `magic "XGLT"`},
		{"version", edit(func(b []byte) []byte { b[4] = 2; return reseal(b) }), "version 2, want 1"},
		{"count", edit(func(b []byte) []byte { b[len(b)-5]++; return reseal(b) }), "2 records, trailer says 3"},
		{"record overruns the file", edit(func(b []byte) []byte { b[len(b)-9] = 0x7f; return reseal(b) }),
			"after record 2: record at offset"},
		{"junk after end", edit(func(b []byte) []byte {
			return reseal(slices.Insert(b, len(b)-8, 7))
		}), "1 bytes between the end marker"},
		{"record shorter than its fields", edit(func(b []byte) []byte {
			b[13] = 5 // record 0 claims its IP and source only
			return reseal(slices.Delete(b, 19, 14+firstLen))
		}), "record 0 at offset 14: htype at offset 5: need 1 bytes, 0 remain"},
		{"trailing bytes in a record", edit(func(b []byte) []byte {
			b[13]++
			return reseal(slices.Insert(b, 14+firstLen, 0))
		}), "record 0 at offset 14: 1 trailing bytes"},
		{"zero address", edit(func(b []byte) []byte { copy(b[14:18], []byte{0, 0, 0, 0}); return reseal(b) }), "IP 0.0.0.0"},
		{"bad source", edit(func(b []byte) []byte { b[18] = 9; return reseal(b) }), "source 9"},
		{"hardware address too long", edit(func(b []byte) []byte { b[20] = 17; return reseal(b) }), "hardware address at offset 7: length 17 exceeds 16"},
	}
	// A fuzzer find: a huge count must fail before anything is allocated.
	bare, err := MarshalSnapshot(t0, slices.Values([]Binding{{Binding: lq.Binding{IP: ipN(1)}, Source: Snapshot}}))
	if err != nil || bare[13] != 22 || bare[14+18] != 0 {
		t.Fatalf("bare record layout changed: %v %x", err, bare)
	}
	bare[13] += 4
	bare = reseal(slices.Insert(bare, 14+18, 0xff, 0xff, 0xff, 0xff))
	bare[14+22] = 0x0f
	tests = append(tests, struct {
		name    string
		file    []byte
		wantErr string
	}{"associated IP count", reseal(bare), "associated IPs at offset 23: count 4294967295 exceeds 255"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSnapshot(tt.file)
			if err == nil || !errors.Is(err, ErrSnapshotCorrupt) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want ErrSnapshotCorrupt containing %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzParseSnapshot: no input panics, and whatever parses re-encodes to a
// file that parses to the same bindings.
func FuzzParseSnapshot(f *testing.F) {
	for _, bs := range [][]Binding{nil, snapshotBindings()[:1], snapshotBindings()} {
		b, err := MarshalSnapshot(t0, slices.Values(bs))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The checksum would stop almost every mutation at the door; seal
		// half of the inputs so the fuzzer explores the record parser.
		if len(b) >= 22 && b[len(b)-1]&1 == 0 {
			b = reseal(slices.Clone(b))
		}
		s, err := ParseSnapshot(b)
		if err != nil {
			return
		}
		again, err := MarshalSnapshot(s.At, slices.Values(s.Bindings))
		if err != nil {
			t.Fatalf("re-encoding a parsed snapshot: %v", err)
		}
		s2, err := ParseSnapshot(again)
		if err != nil {
			t.Fatalf("parsing a re-encoded snapshot: %v", err)
		}
		same := s.At.Equal(s2.At) && len(s.Bindings) == len(s2.Bindings)
		for i := 0; same && i < len(s.Bindings); i++ {
			same = equalBindings(s.Bindings[i], s2.Bindings[i])
		}
		if !same {
			t.Fatalf("round trip (-first +second):\n%s", cmp.Diff(s, s2, cmpOpts...))
		}
	})
}
