package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/leaseguard/leaseguard/board"
)

// Images are the build outputs for one board (image/image.mk).
type Images struct {
	Kernel string // build/kernel/DEBARCH/vmlinuz
	Image  string // build/image/BOARD/initramfs.cpio: leaseguard as uinit
	Bare   string // build/image/bare-GOARCH.cpio: u-root alone
}

// ImagesFor returns where `make image BOARD=...` puts a board's files
// under the repository root.
func ImagesFor(root string, p board.Profile) (Images, error) {
	m, err := MachineFor(p.Arch)
	if err != nil {
		return Images{}, err
	}
	return Images{
		Kernel: filepath.Join(root, "build/kernel", m.DebArch, "vmlinuz"),
		Image:  filepath.Join(root, "build/image", p.Name, "initramfs.cpio"),
		Bare:   filepath.Join(root, "build/image", "bare-"+p.Arch+".cpio"),
	}, nil
}

// RequireEnv is the variable that turns missing QEMU or images from a skip
// into a failure (`make qemu-test` sets it).
const RequireEnv = "LEASEGUARD_QEMU"

// NeedImages returns a board's images, or skips t when QEMU or a file is
// missing, unless LEASEGUARD_QEMU=1 makes that a failure.
func NeedImages(t testing.TB, root string, p board.Profile) Images {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s (%s=1)", msg, RequireEnv)
		}
		t.Skipf("%s: run `make qemu-test` (or `make image BOARD=%s`)", msg, p.Name)
	}
	m, err := MachineFor(p.Arch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(m.Binary); err != nil {
		missing("needs %s", m.Binary)
	}
	im, err := ImagesFor(root, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{im.Kernel, im.Image, im.Bare} {
		if _, err := os.Stat(f); err != nil {
			missing("no %s", f)
		}
	}
	return im
}

// Boot starts cfg for a test: QEMU is killed when the test ends, and the
// console transcript is logged when it failed.
func Boot(t testing.TB, cfg Config) *VM {
	t.Helper()
	vm, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Stop()
		if t.Failed() {
			t.Logf("qemu: %q\nconsole transcript of %s:\n%s", vm.Args, cfg.Profile.Name, vm.Console.Transcript())
		}
	})
	return vm
}
