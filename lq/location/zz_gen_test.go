package location

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGenCorpus(t *testing.T) {
	dir := "testdata/fuzz/FuzzParseSnapshot"
	os.MkdirAll(dir, 0o755)
	sets := map[string][]Binding{"empty": nil, "one": snapshotBindings()[:1], "varied": snapshotBindings()}
	for name, bs := range sets {
		b, _ := MarshalSnapshot(t0, slices.Values(bs))
		os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644)
	}
	b, _ := MarshalSnapshot(t0, slices.Values(snapshotBindings()))
	os.WriteFile(filepath.Join(dir, "truncated"), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b[:len(b)/2])), 0o644)
}
