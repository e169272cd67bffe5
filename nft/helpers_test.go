package nft_test

import (
	"testing"

	"github.com/leaseguard/leaseguard/integration/lab"
	"github.com/leaseguard/leaseguard/nft"
)

// kernelIn returns a Kernel applier programming ns, closed with the test.
func kernelIn(t testing.TB, ns *lab.NS) *nft.Kernel {
	t.Helper()
	return kernelWith(t, ns, nft.KernelOptions{})
}

// kernelWith is kernelIn with options (NetNS is filled in).
func kernelWith(t testing.TB, ns *lab.NS, opts nft.KernelOptions) *nft.Kernel {
	t.Helper()
	f, err := ns.Fd()
	if err != nil {
		t.Fatal(err)
	}
	opts.NetNS = int(f.Fd())
	k := nft.NewKernel(opts)
	t.Cleanup(func() {
		k.Close()
		f.Close()
	})
	return k
}
