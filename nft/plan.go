package nft

import (
	"fmt"
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
	return ops, nil
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
