package rflink

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncapsulateLayout(t *testing.T) {
	src := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	got := Encapsulate(nil, src, []byte{0x01, 0x05, 0x00, 0x20})
	want := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x88, 0xb5, 0x01, 0x05, 0x00, 0x20}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Encapsulate (-want +got):\n%s", diff)
	}
	payload, err := Decapsulate(got)
	if err != nil || !bytes.Equal(payload, want[14:]) {
		t.Fatalf("Decapsulate = %x, %v", payload, err)
	}
}

func TestDecapsulateRejects(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 13), append(make([]byte, 12), 0x08, 0x00, 1)} {
		if _, err := Decapsulate(b); !errors.Is(err, ErrNotDOCSIS) {
			t.Errorf("Decapsulate(%x) = %v, want ErrNotDOCSIS", b, err)
		}
	}
}

func FuzzDecapsulate(f *testing.F) {
	f.Add(Encapsulate(nil, net.HardwareAddr{2, 0, 0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 0}))
	f.Add([]byte{12: 0x88, 13: 0xb5})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decapsulate(b)
		if err == nil && len(p) != len(b)-14 {
			t.Fatalf("payload %d bytes of a %d-byte frame", len(p), len(b))
		}
	})
}
