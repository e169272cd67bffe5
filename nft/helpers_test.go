package nft_test

import (
	"testing"
	"time"

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

// waitCounter polls k's counter id until it reaches want packets; the
// timeout bounds a hang. Counters are updated in the packet path, so once
// one shows a packet, everything that packet triggered (drop, log) is done.
func waitCounter(t testing.TB, k *nft.Kernel, id nft.CounterID, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := k.Stats()
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		got := st.Counters[id].Packets
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("counter %s/%s: %d packets, want %d", id.Port, id.Reason, got, want)
		}
		<-tick.C
	}
}
