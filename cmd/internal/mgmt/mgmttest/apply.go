package mgmttest

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
)

// ApplyTarget is an agent behind the API, with a configuration whose
// apply fails half-way and one that applies.
type ApplyTarget struct {
	Client *mgmt.Client
	// State describes what the agent runs, as far as the test can see:
	// the fake's running state; for the real agent, the nftables ruleset
	// and the routes (`nft list table netdev leaseguard`, `ip route`).
	State func(t *testing.T) string
	// Failing is a valid configuration the agent fails to apply after
	// some of its steps succeeded; Break (optional) arranges that before
	// it is applied, Repair (optional) undoes Break.
	Failing       []byte
	Break, Repair func(t *testing.T)
	// Changed is a valid configuration that applies.
	Changed []byte
	// WantError is a substring of the failed apply's error.
	WantError string
}

// CheckApplyRollback applies Failing and checks that nothing changed:
// the answer is a 500 naming the running generation, which stays; the
// configuration read back is the one before; State is as before. Then it
// applies Changed with the generation as If-Match and checks that the
// generation moves on and State changes, and that a second apply with
// the old generation is refused (412) and changes nothing.
func CheckApplyRollback(t *testing.T, tgt ApplyTarget) {
	t.Helper()
	ctx := context.Background()
	before, err := tgt.Client.Config(ctx)
	if err != nil {
		t.Fatalf("GET /v1/config: %v", err)
	}
	stateBefore := tgt.State(t)
	if tgt.Break != nil {
		tgt.Break(t)
	}
	_, err = tgt.Client.ApplyConfig(ctx, tgt.Failing, before.Generation)
	if tgt.Repair != nil {
		tgt.Repair(t)
	}
	var apiErr *mgmt.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusInternalServerError ||
		apiErr.Generation != before.Generation || !strings.Contains(apiErr.ErrorBody.Error, tgt.WantError) {
		t.Fatalf("failing apply: %v (%+v), want a 500 naming generation %d and %q", err, apiErr, before.Generation, tgt.WantError)
	}
	after, err := tgt.Client.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation {
		t.Errorf("generation %d after a failed apply, want %d", after.Generation, before.Generation)
	}
	if diff := cmp.Diff(before.Config, after.Config, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("configuration changed by a failed apply (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(stateBefore, tgt.State(t)); diff != "" {
		t.Errorf("running state changed by a failed apply (-before +after):\n%s", diff)
	}

	applied, err := tgt.Client.ApplyConfig(ctx, tgt.Changed, before.Generation)
	if err != nil {
		t.Fatalf("apply after the failure: %v", err)
	}
	if applied.Generation != before.Generation+1 {
		t.Errorf("generation %d after an apply, want %d", applied.Generation, before.Generation+1)
	}
	stateApplied := tgt.State(t)
	if stateApplied == stateBefore {
		t.Error("the running state did not change with the configuration")
	}
	_, err = tgt.Client.ApplyConfig(ctx, tgt.Failing, before.Generation)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusPreconditionFailed || apiErr.Field != "generation" {
		t.Errorf("apply on a stale generation: %v, want 412 naming generation", err)
	}
	if diff := cmp.Diff(stateApplied, tgt.State(t)); diff != "" {
		t.Errorf("a refused apply changed the running state (-before +after):\n%s", diff)
	}
}
