package bpi

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEncryptPairEqualsEncrypt: for every pair of lengths around the block
// boundaries (short, residual, whole, unequal), with two keys and with one
// key, the interleaved encryption is byte for byte the separate one.
func TestEncryptPairEqualsEncrypt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 511, 512, 513, 1500, 1518}
	for _, s := range []Suite{SuiteDES56CBC, SuiteAES128CBC} {
		keys := make([][]byte, 4)
		for i := range keys {
			keys[i] = make([]byte, s.KeyLen())
			fill(rng, keys[i])
		}
		c1, _ := NewCipher(s, keys[0], keys[1])
		c2, _ := NewCipher(s, keys[2], keys[3])
		c1b, _ := NewCipher(s, keys[0], keys[1]) // same key as c1
		for _, other := range []*Cipher{c2, c1b} {
			for _, nx := range lengths {
				for _, ny := range lengths {
					x, y := make([]byte, nx), make([]byte, ny)
					fill(rng, x)
					fill(rng, y)
					wx, wy := append([]byte(nil), x...), append([]byte(nil), y...)
					c1.Encrypt(wx)
					other.Encrypt(wy)
					EncryptPair(c1, x, other, y)
					if !bytes.Equal(x, wx) || !bytes.Equal(y, wy) {
						t.Fatalf("%v lengths %d and %d: EncryptPair differs from Encrypt", s, nx, ny)
					}
				}
			}
		}
	}
}

// TestEncoderSendPair: a pair goes out as the two Sends would, in order,
// with each frame's own drop; encrypted pairs do not allocate.
func TestEncoderSendPair(t *testing.T) {
	tab, loc, _ := selectFixture(t)
	src, dst := []byte{2, 0, 0, 0, 0, 0xee}, []byte{2, 0, 0, 0, 0, 1}
	frames := map[string][]byte{}
	for _, ip := range []struct {
		name string
		addr [4]byte
	}{{"A", cpeA.As4()}, {"B", cpeB.As4()}, {"C", cpeC.As4()}, {"nobody", nobody.As4()}} {
		frames[ip.name] = ethFrame(300, dst, src, ip.addr)
	}
	frames["A2"] = ethFrame(1000, dst, src, cpeA.As4())
	for _, p := range [][2]string{{"A", "A2"}, {"A", "B"}, {"B", "A"}, {"A", "nobody"}, {"C", "A2"}} {
		single, pair := &recordingLink{}, &recordingLink{}
		es, ep := NewEncoder(loc, tab, single), NewEncoder(loc, tab, pair)
		wantA, wantB := es.Send(frames[p[0]], t0), es.Send(frames[p[1]], t0)
		gotA, gotB := ep.SendPair(frames[p[0]], frames[p[1]], t0)
		if (gotA == nil) != (wantA == nil) || (gotB == nil) != (wantB == nil) {
			t.Errorf("%v: errors %v, %v; Send gave %v, %v", p, gotA, gotB, wantA, wantB)
		}
		if diff := cmp.Diff(single.frames, pair.frames); diff != "" {
			t.Errorf("%v: frames on the link (-Send +SendPair):\n%s", p, diff)
		}
	}
	enc := NewEncoder(loc, tab, discardLink{})
	allocs := testing.AllocsPerRun(100, func() {
		if errA, errB := enc.SendPair(frames["A"], frames["A2"], t0); errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("%v allocations per pair, want 0", allocs)
	}
}
