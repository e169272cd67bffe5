package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leaseguard/leaseguard/lq"
)

// TestDeterministic: the same inputs and random source give the same
// transmissions and results, through fan-out, loss, a silent server's
// probing and cache hits.
func TestDeterministic(t *testing.T) {
	run := func() []string {
		e := newTestEngine(t, func(c *Config) {
			c.Servers = append(c.Servers, srvB)
			c.MaxWindow = 200
		})
		lossy := dhcpdModel()
		lossy.DropAt, lossy.DropProb = 20, 0.2
		lossy.Answer = func(ip netip.Addr) lq.MessageType {
			if ip.As4()[3]%3 == 0 {
				return lq.LeaseUnassigned
			}
			return lq.LeaseActive
		}
		net := newSimNet(e, t0, lossy) // srvB never answers
		var log []string
		net.onPoll = func(now time.Time, txs []Transmit) {
			for _, tx := range txs {
				log = append(log, fmt.Sprintf("%v %v %#x %v %v", now.Sub(t0), tx.Server, tx.XID, tx.Query.IP, tx.Retransmission))
			}
		}
		for i := range 600 {
			mustSubmit(t, e, net.now, lq.Query{Kind: lq.ByIP, IP: nthIP(i%400 + 1)})
			net.poll()
			net.step(net.now.Add(10 * time.Millisecond))
		}
		for net.step(t0.Add(time.Hour)) {
		}
		for _, r := range net.results {
			log = append(log, fmt.Sprintf("%v %v %v %v %v", r.At.Sub(t0), r.Key, r.Type, r.Server, r.Update))
		}
		return log
	}
	first, second := run(), run()
	if len(first) < 700 {
		t.Fatalf("only %d events", len(first))
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("two identical runs differ (-first +second):\n%s", diff)
	}
}
