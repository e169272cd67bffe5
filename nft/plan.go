package nft

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
)

// maxChunk is the most elements sent in one element message (see chunks).
const maxChunk = 1000

// elementOp is one element message of a transaction.
type elementOp struct {
	del   bool
	elems []nftables.SetElement
}

// planApply turns an incremental change into element messages for one
// transaction. Every delete is preceded by an add of the same key: adding
// a present element is not an error, while deleting a missing or expired one
// aborts the whole transaction with ENOENT. With upsert, every add is an
// add, delete, add: older kernels (6.1) keep the old timeout when an element
// is added again, so a renewed lease would still expire at its old end.
// Expired adds become deletes; a key both deleted and added is only added.
func planApply(adds, deletes []Element, now time.Time, maxTimeout time.Duration, upsert bool) ([]elementOp, error) {
	live := make(map[elementKey]int, len(adds)) // index in upserts
	var upserts []nftables.SetElement
	var expired []Element
	for i, e := range adds {
		k, err := e.key()
		if err != nil {
			return nil, fmt.Errorf("add %d (%v): %v", i, e, err)
		}
		d, ok := e.timeout(now, maxTimeout)
		if !ok {
			expired = append(expired, e)
			continue
		}
		if j, dup := live[k]; dup {
			upserts[j].Timeout = d // a later add of the same binding wins
			continue
		}
		live[k] = len(upserts)
		upserts = append(upserts, k.setElement(d))
	}
	removals, err := removalKeys(append(deletes[:len(deletes):len(deletes)], expired...), live)
	if err != nil {
		return nil, err
	}
	return sequence(removals, upserts, upsert), nil
}

// removalKeys returns the distinct keys of elems not in keep, without
// timeouts. Deleting one key twice in a transaction fails, so duplicates go.
func removalKeys(elems []Element, keep map[elementKey]int) ([]nftables.SetElement, error) {
	seen := make(map[elementKey]bool, len(elems))
	var out []nftables.SetElement
	for i, e := range elems {
		k, err := e.key()
		if err != nil {
			return nil, fmt.Errorf("delete %d (%v): %v", i, e, err)
		}
		if _, kept := keep[k]; kept || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k.setElement(0))
	}
	return out, nil
}

func withoutTimeouts(elems []nftables.SetElement) []nftables.SetElement {
	out := make([]nftables.SetElement, len(elems))
	for i, e := range elems {
		out[i] = nftables.SetElement{Key: e.Key}
	}
	return out
}

// planBound turns an incremental change into element messages for the
// bound set (addresses only), with the rules of planApply: a delete
// preceded by an add, upserts with upsert, an address both deleted and
// added only added. Two adds of one address keep the longer timeout.
func planBound(adds, deletes []Element, now time.Time, maxTimeout time.Duration, upsert bool) []elementOp {
	live := map[netip.Addr]time.Duration{}
	var order []netip.Addr
	var gone []netip.Addr
	for _, e := range adds {
		d, ok := e.timeout(now, maxTimeout)
		ip := e.IP.Unmap()
		if !ok {
			gone = append(gone, ip)
			continue
		}
		if cur, seen := live[ip]; seen {
			live[ip] = longer(cur, d)
			continue
		}
		live[ip] = d
		order = append(order, ip)
	}
	for _, e := range deletes {
		gone = append(gone, e.IP.Unmap())
	}
	var removals, upserts []nftables.SetElement
	seen := map[netip.Addr]bool{}
	for _, ip := range gone {
		if _, kept := live[ip]; kept || seen[ip] || !ip.Is4() {
			continue
		}
		seen[ip] = true
		removals = append(removals, addrElement(ip, 0))
	}
	for _, ip := range order {
		upserts = append(upserts, addrElement(ip, live[ip]))
	}
	return sequence(removals, upserts, upsert)
}

// sequence orders removals (each preceded by an add) and upserts into
// element messages of at most maxChunk elements.
func sequence(removals, upserts []nftables.SetElement, upsert bool) []elementOp {
	var ops []elementOp
	for _, c := range chunks(removals, maxChunk) {
		ops = append(ops, elementOp{elems: c}, elementOp{del: true, elems: c})
	}
	for _, c := range chunks(upserts, maxChunk) {
		if upsert {
			ops = append(ops, elementOp{elems: c}, elementOp{del: true, elems: withoutTimeouts(c)})
		}
		ops = append(ops, elementOp{elems: c})
	}
	return ops
}

// longer is the longer of two timeouts, 0 meaning none (infinite).
func longer(a, b time.Duration) time.Duration {
	if a == 0 || b == 0 {
		return 0
	}
	return max(a, b)
}

// addrElement is a bound-set element.
func addrElement(ip netip.Addr, timeout time.Duration) nftables.SetElement {
	a := ip.As4()
	return nftables.SetElement{Key: a[:], Timeout: timeout}
}

// boundElements are the bound set's elements for allowed-set elements:
// one per address, with the longest timeout among its elements.
func boundElements(allowed []nftables.SetElement) []nftables.SetElement {
	index := map[[4]byte]int{}
	var out []nftables.SetElement
	for _, e := range allowed {
		k := [4]byte(e.Key[16:20])
		if i, ok := index[k]; ok {
			out[i].Timeout = longer(out[i].Timeout, e.Timeout)
			continue
		}
		index[k] = len(out)
		out = append(out, nftables.SetElement{Key: k[:], Timeout: e.Timeout})
	}
	return out
}
