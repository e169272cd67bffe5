package nft_test

import (
	"testing"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft"
)

// kernelIn returns a Kernel applier programming ns, closed with the test.
func kernelIn(t testing.TB, ns *lab.NS) *nft.Kernel {
	t.Helper()
	f, err := ns.Fd()
	if err != nil {
		t.Fatal(err)
	}
	k := nft.NewKernel(nft.KernelOptions{NetNS: int(f.Fd())})
	t.Cleanup(func() {
		k.Close()
		f.Close()
	})
	return k
}
