package lab

import (
	"time"

	"github.com/vishvananda/netlink"
)

// WaitOperUp blocks until ifname in the namespace reports operational
// state UP. Right after `ip link set up`, a veth's queue discipline is not
// yet active and silently drops frames, which made tests flaky; Veth waits
// for both ends.
func (n *NS) WaitOperUp(ifname string) {
	t := n.lab.t
	t.Helper()
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	err := n.Do(func() error {
		return netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true})
	})
	if err != nil {
		t.Fatalf("watch links in %s: %v", n.Name, err)
	}
	timeout := time.NewTimer(30 * time.Second) // bounds a hang; not a speed assertion
	defer timeout.Stop()
	for {
		select {
		case u := <-updates:
			if u.Attrs().Name == ifname && u.Attrs().OperState == netlink.OperUp {
				return
			}
		case <-timeout.C:
			t.Fatalf("%s in %s did not come up", ifname, n.Name)
		}
	}
}
