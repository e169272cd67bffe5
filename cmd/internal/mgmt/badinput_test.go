package mgmt_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// TestBadRequestsAreNamed: every refusal is JSON naming what is wrong,
// with the status that says why, and nothing is applied.
func TestBadRequestsAreNamed(t *testing.T) {
	a := startAPI(t, ops.Options{})
	big := `{"ip": "` + strings.Repeat("1", mgmt.MaxBody) + `"}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		field, msg                      string
	}{
		{"malformed JSON", "POST", "/v1/actions/clear-binding", "application/json", `{"ip": "10.0.0.1"`, 400, "", "malformed JSON"},
		{"syntax error", "POST", "/v1/actions/clear-binding", "application/json", `{"ip" 1}`, 400, "", "malformed JSON at byte"},
		{"unknown field", "POST", "/v1/actions/leasequery", "application/json", `{"ip": "10.0.0.1", "timeout": 5}`, 400, "timeout", `unknown field "timeout"`},
		{"wrong type", "POST", "/v1/actions/debug", "application/json", `{"subsystem": "relay", "on": "yes"}`, 400, "on", "is not a valid bool"},
		{"trailing data", "POST", "/v1/actions/clear-binding", "application/json", `{"ip": "10.0.0.1"} {}`, 400, "", "unexpected data after"},
		{"empty body", "POST", "/v1/actions/leasequery", "application/json", ``, 400, "", "a JSON object is required"},
		{"not an address", "POST", "/v1/actions/clear-binding", "application/json", `{"ip": "10.0.0.300"}`, 400, "ip", `"10.0.0.300" is not an IPv4 address`},
		{"IPv6", "GET", "/v1/bindings/2001:db8::1", "", ``, 400, "ip", "is not an IPv4 address"},
		{"two keys", "POST", "/v1/actions/leasequery", "application/json", `{"ip": "10.0.0.1", "client_id": "01"}`, 422, "ip", "exactly one of"},
		{"bad client-id", "POST", "/v1/actions/leasequery", "application/json", `{"client_id": "0g"}`, 400, "client_id", "hex"},
		{"unknown subsystem", "POST", "/v1/actions/debug", "application/json", `{"subsystem": "dhcp", "on": true}`, 422, "subsystem", `"dhcp" is not a subsystem`},
		{"missing on", "POST", "/v1/actions/debug", "application/json", `{"subsystem": "relay"}`, 422, "on", "required"},
		{"bad level", "POST", "/v1/actions/log-level", "application/json", `{"subsystem": "relay", "level": "loud"}`, 422, "level", `"loud" is not a level`},
		{"limit out of range", "GET", "/v1/bindings?limit=5000", "", ``, 422, "limit", "5000 is outside 1-1000"},
		{"limit not a number", "GET", "/v1/bindings?limit=ten", "", ``, 422, "limit", "not a page size"},
		{"unknown parameter", "GET", "/v1/bindings?prot=dsl2", "", ``, 400, "prot", `unknown query parameter "prot"`},
		{"repeated parameter", "GET", "/v1/bindings?port=a&port=b", "", ``, 400, "port", "given 2 times"},
		{"bad mac filter", "GET", "/v1/bindings?mac=00:11", "", ``, 400, "mac", "is not a MAC address"},
		{"bad cursor", "GET", "/v1/bindings?cursor=zz", "", ``, 422, "cursor", "not a cursor"},
		{"bad source", "GET", "/v1/bindings?source=rumour", "", ``, 422, "source", "not one of gleaned"},
		{"bad event cursor", "GET", "/v1/events?after=x", "", ``, 400, "after", "not an event sequence number"},
		{"not JSON", "POST", "/v1/actions/clear-binding", "text/plain", `ip=10.0.0.1`, 415, "Content-Type", "takes application/json"},
		{"too large", "POST", "/v1/actions/clear-binding", "application/json", big, 413, "", "larger than"},
		{"config unknown key", "POST", "/v1/config/validate", "application/json", `{"servers": [], "colour": 1}`, 400, "colour", `unknown key "colour"`},
		{"config out of range", "PUT", "/v1/config", "application/json", strings.Replace(changedConfig, `"log"`, `"relay": {"max_hops": 99}, "log"`, 1), 422, "relay.max_hops", "99 is outside 1-16"},
		{"unknown route", "GET", "/v2/bindings", "", ``, 404, "", "no such endpoint"},
		{"wrong method", "DELETE", "/v1/bindings/10.0.0.1", "", ``, 405, "", "DELETE is not allowed on /v1/bindings/10.0.0.1 (allowed: GET)"},
	} {
		status, hdr, body := a.request(t, tc.method, tc.path, tc.ctype, tc.body)
		var e mgmt.ErrorBody
		if err := json.Unmarshal([]byte(body), &e); err != nil || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s: not a JSON error: %q (%v)", tc.name, body, err)
			continue
		}
		if status != tc.status || e.Field != tc.field || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: %d field %q %q, want %d field %q containing %q", tc.name, status, e.Field, e.Error, tc.status, tc.field, tc.msg)
		}
		if status == http.StatusMethodNotAllowed && hdr.Get("Allow") != "GET" {
			t.Errorf("%s: Allow %q", tc.name, hdr.Get("Allow"))
		}
	}
	if g := a.env.Ops.Config().Generation; g != 1 {
		t.Errorf("generation %d after refused requests", g)
	}
}
