package mgmt_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// TestBPIMatchesTheSchema: with BPI+ on, GET /v1/bpi, the counters and
// the configuration (its bpi section included) validate against the
// document, and the configuration read back is the one running.
func TestBPIMatchesTheSchema(t *testing.T) {
	doc := loadDoc(t)
	a := startAPIConfig(t, opstest.BPIConfigJSON, ops.Options{}, time.Hour)
	b := opstest.Binding("192.168.10.9", "00:00:00:00:00:09", "cable1/0/1")
	b.Modem = b.HWAddr
	a.upsert(t, b)
	a.env.Backend.BPI.Counters.Set(ops.BPICounters{Frames: 12, Encrypted: 10, Clear: 1, NoKey: 1, KeyRequests: 2, KeyReplies: 2,
		KeyPairs: 1, Leasequeries: ops.BPILeasequeries{Triggered: 1}})
	// The file as written (Config's required sections are those the agent
	// answers with, defaults filled in; a file may leave them out).
	var file struct {
		BPI json.RawMessage `json:"bpi"`
	}
	if err := json.Unmarshal([]byte(opstest.BPIConfigJSON), &file); err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(doc.Schema("ConfigBPI"), file.BPI); err != nil {
		t.Errorf("the bpi section as written does not match the ConfigBPI schema:\n%v", err)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v1/bpi", "", 200},
		{"GET", "/v1/counters", "", 200},
		{"GET", "/v1/config", "", 200},
		{"POST", "/v1/config/validate", opstest.BPIConfigJSON, 200},
		{"POST", "/v1/config/validate", strings.Replace(opstest.BPIConfigJSON, `"said": 102`, `"said": 101`, 1), 422},
		{"POST", "/v1/config/validate", strings.Replace(opstest.BPIConfigJSON, `"tek_grace"`, `"tek_grace_period"`, 1), 400},
	} {
		status, _, body := a.request(t, tc.method, tc.path, "application/json", tc.body)
		if status != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, status, body, tc.status)
			continue
		}
		schema, _, err := doc.ResponseSchema(tc.method, tc.path, status)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(schema, []byte(body)); err != nil {
			t.Errorf("%s %s %d: the answer does not match the schema:\n%v\n%s", tc.method, tc.path, status, err, body)
		}
		switch tc.path {
		case "/v1/counters":
			if !strings.Contains(body, `"bpi":{"frames":12,`) {
				t.Errorf("counters without BPI+'s: %s", body)
			}
		case "/v1/config":
			checkConfigRoundTrip(t, body)
		}
	}
}

// checkConfigRoundTrip: the configuration GET /v1/config answers parses
// back into the one running, bpi section included.
func checkConfigRoundTrip(t *testing.T, body string) {
	t.Helper()
	var st struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse(st.Config)
	if err != nil {
		t.Fatalf("GET /v1/config does not parse back: %v\n%s", err, st.Config)
	}
	want, err := config.Parse([]byte(opstest.BPIConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("configuration read back (-running +read):\n%s", diff)
	}
	if len(got.BPI.Modems) != 3 || got.BPI.Modems[2].Keys == nil || got.BPI.Modems[2].Keys.Newer == nil {
		t.Errorf("bpi section read back %+v", got.BPI)
	}
}

func TestBPIOverTheClient(t *testing.T) {
	ctx := context.Background()
	off := startAPI(t, ops.Options{})
	var apiErr *mgmt.APIError
	if _, err := off.client.BPI(ctx); !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable ||
		!strings.Contains(apiErr.Error(), "bpi.enabled is false") {
		t.Errorf("BPI with BPI+ off: %v, want a 503 saying bpi.enabled is false", err)
	}
	on := startAPIConfig(t, opstest.BPIConfigJSON, ops.Options{}, time.Hour)
	got, err := on.client.BPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := on.env.Ops.BPI()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BPI over the API (-ops +client):\n%s", diff)
	}
}

// TestConfigBPISchemaNamesEveryField: the ConfigBPI schemas describe
// exactly the JSON fields of config.BPI and what it holds.
func TestConfigBPISchemaNamesEveryField(t *testing.T) {
	doc := loadDoc(t)
	for name, v := range map[string]any{"ConfigBPI": config.BPI{}, "ConfigBPIModem": config.BPIModem{},
		"ConfigBPIKeys": config.BPIKeys{}, "ConfigBPITEK": config.BPITEK{}} {
		var described []string
		for p := range doc.Schema(name)["properties"].(map[string]any) {
			described = append(described, p)
		}
		sort.Strings(described)
		if diff := cmp.Diff(jsonFields(reflect.TypeOf(v)), described); diff != "" {
			t.Errorf("%s: properties (-struct +described):\n%s", name, diff)
		}
	}
	if _, ok := doc.Schema("Config")["properties"].(map[string]any)["bpi"]; !ok {
		t.Error("Config does not describe bpi")
	}
}

func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// TestSchemaCheckerCatchesBPIMistakes: the Config schema refuses what
// config refuses in the bpi section's shape: unknown keys, a suite not
// in the enum, numbers out of range, wrong types.
func TestSchemaCheckerCatchesBPIMistakes(t *testing.T) {
	doc := loadDoc(t)
	schema := doc.Schema("ConfigBPI")
	for _, tc := range []struct{ body, want string }{
		{`{"enabled": true, "colour": "red"}`, `property "colour" is not described`},
		{`{"enabled": true, "suite": "rot13"}`, `$.suite: rot13 is not one of`},
		{`{"enabled": true, "leasequery_per_second": 1001}`, `$.leasequery_per_second: 1001 is outside its maximum 1000`},
		{`{"enabled": true, "modems": [{"mac": "00:aa:00:00:00:01", "said": 0}]}`, `$.modems[0].said: 0 is outside its minimum 1`},
		{`{"enabled": true, "modems": [{"mac": "00:aa:00:00:00:01"}]}`, `$.modems[0]: required property "said" missing`},
		{`{"enabled": true, "modems": [{"mac": "00:aa:00:00:00:01", "said": 1, "keys": {"older": {"seq": 16, "key": "", "iv": "", "expires": "2026-01-01T00:00:00Z"}}}]}`,
			`$.modems[0].keys.older.seq: 16 is outside its maximum 15`},
		{`{"enabled": true, "modems": [{"mac": "00:aa:00:00:00:01", "said": 1, "keys": {"older": {"seq": 1, "key": "", "iv": "", "expires": "soon"}}}]}`,
			`$.modems[0].keys.older.expires: "soon" is not an RFC 3339 date-time`},
		{`{"enabled": "yes"}`, `$.enabled: "yes" is not a boolean`},
	} {
		err := doc.Validate(schema, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

// TestConfigFilesMatchTheSchema: the configuration files operators start
// from (the documented example, the tests' minimal file with and without
// BPI+) are valid request bodies for PUT /v1/config and validate.
func TestConfigFilesMatchTheSchema(t *testing.T) {
	doc := loadDoc(t)
	example, err := os.ReadFile("../../../docs/agent.example.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"docs/agent.example.json": example,
		"opstest.ConfigJSON": []byte(opstest.ConfigJSON), "opstest.BPIConfigJSON": []byte(opstest.BPIConfigJSON)} {
		if err := doc.Validate(doc.Schema("Config"), body); err != nil {
			t.Errorf("%s does not match the Config schema:\n%v", name, err)
		}
	}
}
