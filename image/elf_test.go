package image

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// elfWant is what a static binary for one GOARCH looks like.
type elfWant struct {
	Machine elf.Machine
	Class   elf.Class
	Order   string
}

var crossWant = map[string]elfWant{
	"amd64":  {elf.EM_X86_64, elf.ELFCLASS64, "LittleEndian"},
	"arm64":  {elf.EM_AARCH64, elf.ELFCLASS64, "LittleEndian"},
	"mips":   {elf.EM_MIPS, elf.ELFCLASS32, "BigEndian"},
	"mipsle": {elf.EM_MIPS, elf.ELFCLASS32, "LittleEndian"},
}

// TestCrossBinaries checks every bin/leaseguard-linux-ARCH from `make
// cross`: the right machine, class and byte order, statically linked (no
// interpreter, no dynamic section) and stripped (no symbol table).
func TestCrossBinaries(t *testing.T) {
	files, _ := filepath.Glob("../bin/leaseguard-linux-*")
	if len(files) == 0 {
		t.Skip("no cross builds in bin/ (run `make cross`)")
	}
	for _, path := range files {
		arch := strings.TrimPrefix(filepath.Base(path), "leaseguard-linux-")
		t.Run(arch, func(t *testing.T) {
			want, ok := crossWant[arch]
			if !ok {
				t.Fatalf("%s: no expectation for GOARCH %q", path, arch)
			}
			checkStaticELF(t, path, want)
		})
	}
}

func checkStaticELF(t *testing.T, path string, want elfWant) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	order := "LittleEndian"
	if f.ByteOrder == binary.BigEndian {
		order = "BigEndian"
	}
	got := elfWant{f.Machine, f.Class, order}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: machine, class, byte order (-want +got):\n%s", path, diff)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has a %v program header: not static", path, p.Type)
		}
	}
	for _, name := range []string{".dynamic", ".interp", ".symtab"} {
		if f.Section(name) != nil {
			t.Errorf("%s: has section %s (want static and stripped)", path, name)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		t.Logf("%s: static %v %v, %.2f MB", filepath.Base(path), f.Machine, order, float64(fi.Size())/(1<<20))
	}
}
