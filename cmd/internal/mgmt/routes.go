package mgmt

import (
	"net/http"
	"strings"
)

// Route is one endpoint: what docs/openapi.yaml describes, and what the
// server registers (a test checks that the two agree).
type Route struct {
	Method  string
	Pattern string // net/http pattern path: /v1/bindings/{ip}
	handle  func(*Server, http.ResponseWriter, *http.Request) error
	mutates bool // logged as an operator action
}

func routes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/v1/config", handle: (*Server).getConfig},
		{Method: "PUT", Pattern: "/v1/config", handle: (*Server).putConfig, mutates: true},
		{Method: "POST", Pattern: "/v1/config/validate", handle: (*Server).validateConfig},
		{Method: "GET", Pattern: "/v1/bindings", handle: (*Server).getBindings},
		{Method: "GET", Pattern: "/v1/bindings/{ip}", handle: (*Server).getBinding},
		{Method: "GET", Pattern: "/v1/servers", handle: (*Server).getServers},
		{Method: "GET", Pattern: "/v1/ports", handle: (*Server).getPorts},
		{Method: "GET", Pattern: "/v1/counters", handle: (*Server).getCounters},
		{Method: "GET", Pattern: "/v1/nft", handle: (*Server).getNft},
		{Method: "GET", Pattern: "/v1/bpi", handle: (*Server).getBPI},
		{Method: "GET", Pattern: "/v1/logging", handle: (*Server).getLogging},
		{Method: "GET", Pattern: "/v1/events", handle: (*Server).getEvents},
		{Method: "POST", Pattern: "/v1/actions/leasequery", handle: (*Server).leasequery, mutates: true},
		{Method: "POST", Pattern: "/v1/actions/clear-binding", handle: (*Server).clearBinding, mutates: true},
		{Method: "POST", Pattern: "/v1/actions/clear-counters", handle: (*Server).clearCounters, mutates: true},
		{Method: "POST", Pattern: "/v1/actions/debug", handle: (*Server).debug, mutates: true},
		{Method: "POST", Pattern: "/v1/actions/log-level", handle: (*Server).logLevel, mutates: true},
		{Method: "GET", Pattern: "/metrics", handle: (*Server).metrics},
	}
}

// Routes lists the endpoints the server serves.
func Routes() []Route {
	rs := routes()
	for i := range rs {
		rs[i].handle = nil
	}
	return rs
}

// handler routes requests; what no route takes gets a JSON 404 or 405.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes() {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if rt.mutates {
				s.log.Info("api request", "method", r.Method, "path", r.URL.Path, "who", who(r))
			}
			if err := rt.handle(s, w, r); err != nil {
				s.fail(w, r, err)
			}
		})
	}
	s.mux = mux
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			s.noRoute(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// noRoute answers a request no route takes: 405 with Allow when the path
// exists under other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range routes() {
		probe := r.Clone(r.Context())
		probe.Method = rt.Method
		if _, p := s.mux.Handler(probe); p == rt.Method+" "+rt.Pattern {
			allow = append(allow, rt.Method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		_ = writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + strings.Join(allow, ", ") + ")"})
		return
	}
	_ = writeJSON(w, http.StatusNotFound, ErrorBody{Error: "no such endpoint: " + r.URL.Path + " (the API is under /v1)"})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status >= 500 {
		s.log.Warn("api request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	body := errorBody(err)
	if strings.HasPrefix(r.URL.Path, "/v1/config") {
		body.Generation = s.ops.Config().Generation
	}
	_ = writeJSON(w, status, body)
}

// who names the client for the logs: the client certificate's subject
// over TCP, "unix" on the socket.
func who(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return "cert:" + r.TLS.PeerCertificates[0].Subject.String()
	}
	return "unix"
}
