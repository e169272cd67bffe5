package mgmt

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/cmd/internal/ops/opstest"
)

// FuzzRequests sends arbitrary bodies and query strings to every route
// but the event stream: the server never panics or fails with a 5xx, and
// every refusal is a JSON error with a message. BPI+ is on, so that every
// route has something to answer with (off, /v1/bpi answers 503 by design).
func FuzzRequests(f *testing.F) {
	env, err := opstest.NewEnvConfig(opstest.BPIConfigJSON, ops.Options{})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(env.Ops, Config{Socket: filepath.Join(f.TempDir(), "s")})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.handler()
	f.Add(uint8(0), "", `{"ip":"192.168.10.1"}`)
	f.Add(uint8(3), "limit=2&port=dsl2&cursor=192.168.10.1", "")
	f.Add(uint8(11), "", `{"mac":"00:11:22:33:44:55","htype":6}`)
	f.Add(uint8(1), "", opstest.ConfigJSON)
	f.Add(uint8(13), "", `{"subsystem":"relay","on":false}`)
	f.Add(uint8(2), "", `{"servers":[1e400]}`)
	f.Fuzz(func(t *testing.T, route uint8, query, body string) {
		rs := routes()
		rt := rs[int(route)%len(rs)]
		if rt.Pattern == "/v1/events" {
			return
		}
		path := strings.Replace(rt.Pattern, "{ip}", "192.168.10.1", 1)
		req := httptest.NewRequest(rt.Method, "http://leaseguard"+path, strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s %q: %d %s", rt.Method, path, query, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s: %d not a JSON error: %q", rt.Method, path, rec.Code, rec.Body)
			}
		}
		if rec.Code == http.StatusOK && rt.Pattern != "/metrics" && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: 200 with invalid JSON %q", rt.Method, path, rec.Body)
		}
	})
}
