package mgmt_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leaseguard/leaseguard/cmd/internal/mgmt"
	"github.com/leaseguard/leaseguard/cmd/internal/mgmt/mgmttest"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/engine"
	"github.com/leaseguard/leaseguard/nft"
)

func loadDoc(t *testing.T) *mgmttest.OpenAPI {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	doc, err := mgmttest.LoadOpenAPI(filepath.Join(filepath.Dir(file), "../../../docs/openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIDescribesEveryRoute: the routes the server registers and
// those the document describes are the same, and each described route is
// served (not a 404 or 405 from the router).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadDoc(t)
	var served []string
	for _, r := range mgmt.Routes() {
		served = append(served, r.Method+" "+r.Pattern)
	}
	sort.Strings(served)
	if diff := cmp.Diff(doc.Routes(), served); diff != "" {
		t.Errorf("routes (-described +served):\n%s", diff)
	}
	a := startAPI(t, ops.Options{})
	for _, route := range doc.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if path == "/v1/events" {
			continue // a stream: TestEventStream
		}
		status, _, body := a.request(t, method, strings.Replace(path, "{ip}", "192.168.10.1", 1), "application/json", "{}")
		if status == http.StatusMethodNotAllowed || strings.Contains(body, "no such endpoint") {
			t.Errorf("%s: not served: %d %s", route, status, body)
		}
	}
}

// TestResponsesMatchTheSchemas: what each endpoint answers, errors
// included, validates against the document's schema for that status.
func TestResponsesMatchTheSchemas(t *testing.T) {
	doc := loadDoc(t)
	a := startAPI(t, ops.Options{})
	modemed := opstest.Binding("192.168.10.9", "00:00:00:00:00:09", "cable1/0/1")
	modemed.Modem = modemed.HWAddr
	modemed.ClientID = []byte{1, 0, 0, 0, 0, 0, 9}
	modemed.VendorClass = []byte("docsis")
	modemed.AgentInfo, _ = lq.NewAgentInfo([]byte("cable1/0/1"), []byte{0, 0xaa, 0, 0, 0, 1})
	a.upsert(t, modemed, opstest.Binding("192.168.20.7", "00:00:00:00:00:07", "dsl2"))
	a.env.Backend.Drops.Set(map[nft.CounterID]nft.Counter{{Port: "lgc0", Reason: nft.ReasonARPSource}: {Packets: 3, Bytes: 180}})
	a.env.Backend.Downstream.Set(nft.Stats{UnknownDestination: nft.Counter{Packets: 4, Bytes: 240}, UnknownDst: 1,
		ForwardedDHCP: map[string]nft.Counter{"lgd0": {Packets: 1, Bytes: 342}}})
	a.env.Backend.Querier.SetStats(engine.RunnerStats{Stats: engine.Stats{Servers: []engine.ServerStats{{Server: opstestServer, Armed: true,
		TimerDeadline: opstest.Now, Counters: engine.Counters{Active: 1}}}}})
	a.env.Backend.Querier.Answer = func(q lq.Query) (engine.Result, error) {
		key, _ := engine.KeyOf(q)
		return engine.Result{Key: key, Type: lq.LeaseActive, Binding: modemed.Binding, Server: opstestServer,
			Answers: []engine.ServerAnswer{{Server: opstestServer, Outcome: engine.Answered, Type: lq.LeaseActive, Binding: modemed.Binding, Transmissions: 1},
				{Server: mustAddr("10.0.0.3"), Outcome: engine.TimedOut, Transmissions: 5}}}, nil
	}
	for _, tc := range []struct {
		method, path, pattern, body string
		status                      int
	}{
		{"GET", "/v1/config", "", "", 200},
		{"POST", "/v1/config/validate", "", opstest.ConfigJSON, 200},
		{"POST", "/v1/config/validate", "", `{"servers": 1}`, 400},
		{"POST", "/v1/config/validate", "", strings.Replace(opstest.ConfigJSON, `"10.0.0.3"`, `"10.0.0.1"`, 1), 422},
		{"PUT", "/v1/config", "", changedConfig, 200},
		{"GET", "/v1/bindings", "", "", 200},
		{"GET", "/v1/bindings?limit=1", "/v1/bindings", "", 200},
		{"GET", "/v1/bindings?limit=0", "/v1/bindings", "", 422},
		{"GET", "/v1/bindings?colour=red", "/v1/bindings", "", 400},
		{"GET", "/v1/bindings/192.168.10.9", "/v1/bindings/{ip}", "", 200},
		{"GET", "/v1/bindings/192.168.10.99", "/v1/bindings/{ip}", "", 404},
		{"GET", "/v1/servers", "", "", 200},
		{"GET", "/v1/ports", "", "", 200},
		{"GET", "/v1/counters", "", "", 200},
		{"GET", "/v1/nft", "", "", 200},
		{"GET", "/v1/bpi", "", "", 503}, // BPI+ off: TestBPIMatchesTheSchema has it on
		{"GET", "/v1/logging", "", "", 200},
		{"POST", "/v1/actions/leasequery", "", `{"ip": "192.168.10.9"}`, 200},
		{"POST", "/v1/actions/leasequery", "", `{"ip": "192.168.10.9", "mac": "00:00:00:00:00:09"}`, 422},
		{"POST", "/v1/actions/debug", "", `{"subsystem": "lq", "on": true}`, 200},
		{"POST", "/v1/actions/log-level", "", `{"subsystem": "all", "level": "warn"}`, 200},
		{"POST", "/v1/actions/clear-counters", "", ``, 200},
		{"POST", "/v1/actions/clear-binding", "", `{"ip": "192.168.10.9"}`, 200},
		{"POST", "/v1/actions/clear-binding", "", `{"ip": "192.168.10.9"}`, 404},
	} {
		status, hdr, body := a.request(t, tc.method, tc.path, "application/json", tc.body)
		if status != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, status, body, tc.status)
			continue
		}
		pattern := tc.pattern
		if pattern == "" {
			pattern = tc.path
		}
		schema, media, err := doc.ResponseSchema(tc.method, pattern, status)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		if got := hdr.Get("Content-Type"); media != got {
			t.Errorf("%s %s: content type %q, described %q", tc.method, tc.path, got, media)
		}
		if err := doc.Validate(schema, []byte(body)); err != nil {
			t.Errorf("%s %s %d: the answer does not match the schema:\n%v\n%s", tc.method, tc.path, status, err, body)
		}
	}
}

func TestSchemaCheckerCatchesMismatches(t *testing.T) {
	doc := loadDoc(t)
	schema := doc.Schema("Binding")
	for _, tc := range []struct{ body, want string }{
		{`{"ip":"10.0.0.1","mac":"x","htype":1,"port":"p","source":"gleaned","colour":"red"}`, `property "colour" is not described`},
		{`{"ip":"10.0.0.1","mac":"x","htype":1,"port":"p"}`, `required property "source" missing`},
		{`{"ip":"::1","mac":"x","htype":1,"port":"p","source":"gleaned"}`, `$.ip: "::1" is not an IPv4 address`},
		{`{"ip":"10.0.0.1","mac":"x","htype":1.5,"port":"p","source":"gleaned"}`, `$.htype: 1.5 is not an integer`},
		{`{"ip":"10.0.0.1","mac":"x","htype":1,"port":"p","source":"rumour"}`, `$.source: rumour is not one of`},
		{`{"ip":"10.0.0.1","mac":"x","htype":1,"port":"p","source":"gleaned","expiry":"tomorrow"}`, `is not an RFC 3339 date-time`},
		{`{"ip":"10.0.0.1","mac":"x","htype":1,"port":"p","source":"gleaned","associated_ips":null}`, `$.associated_ips: null is not an array`},
	} {
		err := doc.Validate(schema, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

// TestEventsMatchTheSchema: every kind of event, as the stream carries
// it, validates against the Event schema.
func TestEventsMatchTheSchema(t *testing.T) {
	doc := loadDoc(t)
	a := startAPIWith(t, ops.Options{EventBuffer: 8}, time.Hour)
	b := opstest.Binding("192.168.10.3", "00:00:00:00:00:03", "cable1/0/1")
	a.env.Ops.SpoofDrop("lgc0", b.IP, b.HWAddr) // seq 1: the stream resumes after it
	a.upsert(t, b)
	b.Port = "dsl2"
	a.upsert(t, b)
	a.env.Backend.Querier.SetStats(engine.RunnerStats{Stats: engine.Stats{Servers: []engine.ServerStats{{Server: opstestServer, Armed: true}}}})
	a.env.Ops.PollServers()
	if _, err := a.client.ApplyConfig(context.Background(), []byte(changedConfig), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.ClearBinding(context.Background(), "192.168.10.3"); err != nil {
		t.Fatal(err)
	}
	want := []string{ops.EventBindingAdded, ops.EventBindingChanged, ops.EventServerUp, ops.EventConfigApplied, ops.EventBindingRemoved}
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://leaseguard/v1/events", nil)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := a.raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	schema := doc.Schema("Event")
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for len(got) < len(want) && sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e ops.Event
		_ = json.Unmarshal([]byte(data), &e)
		got = append(got, e.Type)
		if err := doc.Validate(schema, []byte(data)); err != nil {
			t.Errorf("%s does not match the schema:\n%v\n%s", e.Type, err, data)
		}
	}
	// Table events come through Run, the others at once: compare as sets.
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
