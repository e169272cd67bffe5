// Package image builds and boots the leaseguard appliance: a u-root
// initramfs per board profile with the board's kernel modules, booted
// under QEMU by the tests (package image/qemu) and by `make qemu`.
package image

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/u-root/u-root/pkg/kmodule"
)

// ModuleClosure returns the module files (paths relative to the kernel's
// module directory, like "kernel/drivers/net/virtio_net.ko") that loading
// names needs: each module and everything it depends on per modules.dep.
// Built-in modules (modules.builtin) need no file and are left out; a name
// that is neither is an error naming it.
func ModuleClosure(root, kver string, names []string) ([]string, error) {
	dir := filepath.Join(root, "lib/modules", kver)
	var mu sync.Mutex // kmodule probes dependencies in parallel
	seen := map[string]bool{}
	p, err := kmodule.NewProber(kmodule.ProbeOpts{
		RootDir: root, KVer: kver, IgnoreProcMods: true,
		DryRunCB: func(path string) {
			mu.Lock()
			seen[path] = true
			mu.Unlock()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", kver, err)
	}
	for _, n := range names {
		if err := p.Probe(n, ""); err != nil {
			return nil, fmt.Errorf("kernel %s: module %s: %w", kver, n, err)
		}
	}
	var out []string
	for path := range seen {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return nil, err
		}
		out = append(out, rel)
	}
	slices.Sort(out)
	return out, nil
}

// StageModules copies the closure of names from the kernel tree under root
// into dst/lib/modules/KVER, with a modules.dep that lists only the copied
// modules and the kernel's modules.builtin, so the guest's loader resolves
// dependencies exactly as on the full tree. It returns the copied files.
func StageModules(root, kver string, names []string, dst string) ([]string, error) {
	files, err := ModuleClosure(root, kver, names)
	if err != nil {
		return nil, err
	}
	from := filepath.Join(root, "lib/modules", kver)
	to := filepath.Join(dst, "lib/modules", kver)
	for _, f := range append(slices.Clone(files), "modules.builtin") {
		if err := copyFile(filepath.Join(from, f), filepath.Join(to, f)); err != nil {
			return nil, err
		}
	}
	if err := filterModulesDep(filepath.Join(from, "modules.dep"), filepath.Join(to, "modules.dep"), files); err != nil {
		return nil, err
	}
	return files, nil
}

// filterModulesDep writes the lines of modules.dep whose module is kept.
func filterModulesDep(src, dst string, keep []string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var b strings.Builder
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		mod, _, _ := strings.Cut(sc.Text(), ":")
		if slices.Contains(keep, mod) {
			b.WriteString(sc.Text() + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return os.WriteFile(dst, []byte(b.String()), 0o644)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
