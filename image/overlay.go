package image

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/u-root/u-root/pkg/cpio"
	"github.com/u-root/u-root/pkg/uflag"
)

// Overlay is what the leaseguard image adds to the bare u-root image: the
// kernel appends concatenated cpio archives in order, so the bare image
// (built once per architecture by the u-root tool, slow: it rebuilds every
// command with `go build -a`) plus this small archive is the appliance,
// and changing leaseguard rebuilds only the overlay.
type Overlay struct {
	// Binary is the static leaseguard for the board, installed as
	// /bin/leaseguard.
	Binary string
	// UinitArgs are leaseguard's arguments when u-root's init runs it as
	// /bin/uinit (written to /etc/uinit.flags).
	UinitArgs []string
	// Trees are directories copied into the image root (modules, /etc).
	Trees []string
}

// RuntimeDirs are the empty directories every image provides, because
// u-root's init creates neither and the agent does not create them:
// /run for the management API's socket (the agent's default
// /run/leaseguard.sock: without it the agent refuses to start), and
// /var/lib/leaseguard for the binding snapshot the boards' agent.json
// names.
var RuntimeDirs = []string{"run", "var/lib/leaseguard"}

// WriteOverlay writes the overlay as a newc cpio archive, reproducibly
// (fixed owners and times, sorted names).
func WriteOverlay(w io.Writer, o Overlay) error {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return err
	}
	recs := []cpio.Record{
		cpio.StaticFile("bin/leaseguard", string(bin), 0o755),
		cpio.Symlink("bin/uinit", "leaseguard"),
		cpio.StaticFile("etc/uinit.flags", uflag.ArgvToFile(o.UinitArgs), 0o444),
	}
	for _, t := range o.Trees {
		tr, err := treeRecords(t)
		if err != nil {
			return err
		}
		recs = append(recs, tr...)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	cpio.MakeAllReproducible(recs)
	rw := cpio.Newc.Writer(w)
	if err := cpio.WriteRecordsAndDirs(rw, recs); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	for _, d := range RuntimeDirs {
		// Written with their parents by hand: WriteRecordsAndDirs would
		// add a "." record for a top-level one, and the kernel would
		// chmod the root to it. The writer skips names already written.
		if err := cpio.WriteRecords(rw, dirChain(d)); err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
	}
	return cpio.WriteTrailer(rw)
}

// dirChain returns directory records for d and each of its parents,
// outermost first.
func dirChain(d string) []cpio.Record {
	var recs []cpio.Record
	for i, c := range d {
		if c == '/' {
			recs = append(recs, cpio.Directory(d[:i], 0o755))
		}
	}
	return append(recs, cpio.Directory(d, 0o755))
}

// treeRecords returns the regular files under dir as records named
// relative to dir (directories are added by WriteRecordsAndDirs).
func treeRecords(dir string) ([]cpio.Record, error) {
	var recs []cpio.Record
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		recs = append(recs, cpio.StaticFile(filepath.ToSlash(rel), string(b), 0o644))
		return nil
	})
	return recs, err
}

// Concat writes base followed by the overlay: one initramfs the kernel
// unpacks in order.
func Concat(dst, base string, o Overlay) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	in, err := os.Open(base)
	if err != nil {
		out.Close()
		return err
	}
	defer in.Close()
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", base, err)
	}
	if err := WriteOverlay(out, o); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// WithFiles writes base followed by an archive of files (name in the
// image, without a leading slash, to content), whose files replace the
// base's of the same name when the kernel unpacks them: a variant of an
// image, such as another agent configuration, without rebuilding it.
// Parent directories must exist in base.
func WithFiles(dst, base string, files map[string][]byte) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	err = copyThenFiles(out, base, files)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func copyThenFiles(out io.Writer, base string, files map[string][]byte) error {
	in, err := os.Open(base)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", base, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	recs := make([]cpio.Record, len(names))
	for i, n := range names {
		recs[i] = cpio.StaticFile(n, string(files[n]), 0o644)
	}
	cpio.MakeAllReproducible(recs)
	rw := cpio.Newc.Writer(out)
	if err := cpio.WriteRecords(rw, recs); err != nil {
		return fmt.Errorf("files archive: %w", err)
	}
	return cpio.WriteTrailer(rw)
}
