package image

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/u-root/u-root/pkg/uflag"
)

func TestConcatOverlay(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bin := write("lg", "\x7fELF leaseguard")
	write("tree/etc/leaseguard/board.json", "{}")
	write("tree/lib/modules/k/modules.dep", "")
	var base bytes.Buffer
	bw := cpio.Newc.Writer(&base)
	if err := cpio.WriteRecordsAndDirs(bw, []cpio.Record{cpio.StaticFile("bin/init", "u-root init", 0o755)}); err != nil {
		t.Fatal(err)
	}
	cpio.WriteTrailer(bw)
	basePath := write("bare.cpio", base.String())

	out := filepath.Join(dir, "initramfs.cpio")
	args := []string{"board", "init", "--board", "qemu-virt-arm64"}
	if err := Concat(out, basePath, Overlay{Binary: bin, UinitArgs: args, Trees: []string{filepath.Join(dir, "tree")}}); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel unpacks the archives one after the other: the bare image
	// unchanged, then the overlay.
	if !bytes.HasPrefix(img, base.Bytes()) {
		t.Fatal("initramfs does not start with the base image")
	}
	got := map[string]string{"bin/init": "u-root init"}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(img[base.Len():])))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		b, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		got[r.Name] = string(b)
	}
	want := map[string]string{
		"bin": "", "bin/init": "u-root init",
		"bin/leaseguard": "\x7fELF leaseguard", "bin/uinit": "leaseguard",
		"etc": "", "etc/leaseguard": "", "etc/leaseguard/board.json": "{}", "etc/uinit.flags": uflag.ArgvToFile(args),
		"lib": "", "lib/modules": "", "lib/modules/k": "", "lib/modules/k/modules.dep": "",
		"run": "", "var": "", "var/lib": "", "var/lib/leaseguard": "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("initramfs contents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(args, uflag.FileToArgv(got["etc/uinit.flags"])); diff != "" {
		t.Errorf("uinit args (-want +got):\n%s", diff)
	}
}

// TestWithFiles: the base archive unchanged, then an archive holding
// exactly the files given (no directory records: a "." or "etc" record
// would re-chmod the image's directories).
func TestWithFiles(t *testing.T) {
	dir := t.TempDir()
	var base bytes.Buffer
	bw := cpio.Newc.Writer(&base)
	if err := cpio.WriteRecordsAndDirs(bw, []cpio.Record{cpio.StaticFile("etc/leaseguard/agent.json", "{}", 0o644)}); err != nil {
		t.Fatal(err)
	}
	cpio.WriteTrailer(bw)
	basePath := filepath.Join(dir, "base.cpio")
	if err := os.WriteFile(basePath, base.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "variant.cpio")
	files := map[string][]byte{"etc/leaseguard/agent.json": []byte(`{"board":"x"}`), "etc/b": []byte("b")}
	if err := WithFiles(out, basePath, files); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(img, base.Bytes()) {
		t.Fatal("variant does not start with the base image")
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(img[base.Len():])))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		b, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		got[r.Name] = string(b)
	}
	want := map[string]string{"etc/b": "b", "etc/leaseguard/agent.json": `{"board":"x"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("appended archive (-want +got):\n%s", diff)
	}
}
