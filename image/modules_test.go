package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeKernel writes a module tree shaped like Debian's under a temp root.
func fakeKernel(t *testing.T) (root, kver string) {
	t.Helper()
	root, kver = t.TempDir(), "6.1.0-99-test"
	dir := filepath.Join(root, "lib/modules", kver)
	dep := `kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/net/veth.ko:
`
	files := map[string]string{"modules.dep": dep, "modules.builtin": "kernel/net/packet/af_packet.ko\n"}
	for _, line := range strings.Split(strings.TrimSpace(dep), "\n") {
		mod, _, _ := strings.Cut(line, ":")
		files[mod] = "ELF " + mod
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, kver
}

func TestModuleClosure(t *testing.T) {
	root, kver := fakeKernel(t)
	got, err := ModuleClosure(root, kver, []string{"virtio_net", "virtio-pci", "af_packet"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko",
		"kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/net/core/failover.ko",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("closure (-want +got):\n%s", diff)
	}
	if _, err := ModuleClosure(root, kver, []string{"e1000e"}); err == nil || !strings.Contains(err.Error(), "module e1000e") {
		t.Errorf("ModuleClosure(e1000e) = %v, want an error naming the module", err)
	}
}

func TestStageModules(t *testing.T) {
	root, kver := fakeKernel(t)
	dst := t.TempDir()
	if _, err := StageModules(root, kver, []string{"virtio_net"}, dst); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(dst, "lib/modules", kver)
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	wantDep := `kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
`
	if diff := cmp.Diff(wantDep, string(dep)); diff != "" {
		t.Errorf("staged modules.dep (-want +got):\n%s", diff)
	}
	// The staged tree must resolve on its own, as the guest's loader sees it.
	got, err := ModuleClosure(dst, kver, []string{"virtio_net", "af_packet"})
	if err != nil {
		t.Fatalf("staged tree does not resolve: %v", err)
	}
	if len(got) != 3 {
		t.Errorf("staged closure = %v, want 3 files", got)
	}
	if _, err := ModuleClosure(dst, kver, []string{"veth"}); err == nil {
		t.Errorf("veth resolves in a tree it was not staged into")
	}
}
