package bpi

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSADownstreamAndBySeq(t *testing.T) {
	older := mustTEK(t, SuiteAES128CBC, 15, 1, t0.Add(time.Hour))
	newer := mustTEK(t, SuiteAES128CBC, 0, 2, t0.Add(2*time.Hour))
	sa := &SA{SAID: 3, Older: older, Newer: newer}
	tests := []struct {
		at   time.Duration
		want *TEK
	}{
		{0, older},
		{time.Hour - time.Nanosecond, older},
		{time.Hour, newer}, // the older expired: switch, across the 15->0 wrap
		{2*time.Hour - time.Nanosecond, newer},
		{2 * time.Hour, nil},
	}
	for _, tt := range tests {
		if got := sa.Downstream(t0.Add(tt.at)); got != tt.want {
			t.Errorf("Downstream(t0+%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	if sa.BySeq(15) != older || sa.BySeq(0) != newer || sa.BySeq(1) != nil {
		t.Error("BySeq does not accept exactly the two keys")
	}
}

func TestNextSeqWraps(t *testing.T) {
	if NextSeq(14) != 15 || NextSeq(15) != 0 {
		t.Fatalf("NextSeq(14), NextSeq(15) = %d, %d", NextSeq(14), NextSeq(15))
	}
}

func TestTableRejectsDuplicateSeq(t *testing.T) {
	tab := NewTable()
	k := mustTEK(t, SuiteAES128CBC, 2, 1, t0)
	if err := tab.SetTEKs(5, k, k); err == nil {
		t.Error("accepted two keys with one sequence number")
	}
	if err := tab.SetTEKs(0, k, nil); err == nil {
		t.Error("accepted SAID 0")
	}
	if err := tab.AddModem(Modem{MAC: modemA, PrimarySAID: MaxSAID + 1}); err == nil {
		t.Error("accepted a 15-bit SAID")
	}
}

// countingSink records the key pairs it is handed.
type countingSink struct{ seqs [][2]uint8 }

func (s *countingSink) SetTEKs(said uint16, older, newer *TEK) error {
	s.seqs = append(s.seqs, [2]uint8{older.Seq, newer.Seq})
	return nil
}

func TestManagerRollover(t *testing.T) {
	sink := &countingSink{}
	tab := NewTable()
	const life, grace = 100 * time.Second, 10 * time.Second
	m, err := NewManager(ManagerConfig{TEKLifetime: life, Grace: grace,
		Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 1<<16)), Sinks: []KeySink{tab, sink}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(42, t0); err != nil {
		t.Fatal(err)
	}
	next, err := m.Advance(t0.Add(life))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(life + grace); !next.Equal(want) {
		t.Errorf("next = %v, want %v", next, want)
	}
	// Run 17 lifetimes: the sequence wraps 15 -> 0.
	for i := 1; i <= 17; i++ {
		if _, err := m.Advance(t0.Add(time.Duration(i)*life + grace)); err != nil {
			t.Fatal(err)
		}
	}
	want := [][2]uint8{{0, 1}}
	for i := 1; i <= 17; i++ {
		want = append(want, [2]uint8{uint8(i) % 16, uint8(i+1) % 16})
	}
	if diff := cmp.Diff(want, sink.seqs); diff != "" {
		t.Errorf("key pairs handed out (-want +got):\n%s", diff)
	}
	sa, _ := tab.SA(42)
	if got := sa.Downstream(t0.Add(17*life + grace)); got != sa.Older {
		t.Errorf("table downstream key %v, want the older %v", got, sa.Older)
	}
	if !sa.Newer.Expires.Equal(sa.Older.Expires.Add(life)) {
		t.Errorf("newer expires %v, want one lifetime after the older %v", sa.Newer.Expires, sa.Older.Expires)
	}
}

func TestManagerDefaults(t *testing.T) {
	m, err := NewManager(ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.TEKLifetime != 43200*time.Second || m.cfg.Suite != SuiteAES128CBC {
		t.Errorf("defaults: %+v", m.cfg)
	}
	if _, err := NewManager(ManagerConfig{TEKLifetime: time.Hour, Grace: time.Hour}); err == nil {
		t.Error("accepted a lifetime not exceeding twice the grace time")
	}
}

func TestDESParity(t *testing.T) {
	k := []byte{0x00, 0xff, 0x12, 0xfe}
	setDESParity(k)
	for i, b := range k {
		ones := 0
		for x := b; x != 0; x >>= 1 {
			ones += int(x & 1)
		}
		if ones%2 != 1 {
			t.Errorf("byte %d = %#02x has even parity", i, b)
		}
	}
}
