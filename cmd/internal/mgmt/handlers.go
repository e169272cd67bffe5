package mgmt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/leaseguard/leaseguard/cmd/internal/metrics"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
	"github.com/leaseguard/leaseguard/lq"
)

func malformed(field, format string, args ...any) error {
	return &ops.Error{Kind: ops.Malformed, Field: field, Err: fmt.Errorf(format, args...)}
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	st := s.ops.Config()
	w.Header().Set("ETag", etag(st.Generation))
	return writeJSON(w, http.StatusOK, st)
}

func etag(gen uint64) string { return `"` + strconv.FormatUint(gen, 10) + `"` }

// ifMatch reads the If-Match precondition: "N" (the ETag of GET
// /v1/config), N, or * and absent for none.
func ifMatch(r *http.Request) (uint64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	g, err := ops.ParseGeneration(strings.Trim(strings.TrimPrefix(v, "W/"), `"`))
	if err != nil {
		return 0, malformed("If-Match", "If-Match %q is not a configuration generation such as \"3\" (the ETag of GET /v1/config)", v)
	}
	return g, nil
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) error {
	gen, err := ifMatch(r)
	if err != nil {
		return err
	}
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	st, err := s.ops.ApplyConfig(r.Context(), ops.ApplyRequest{Data: data, IfGeneration: gen, Origin: "api " + who(r)})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(st.Generation))
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) validateConfig(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if _, err := s.ops.ValidateConfig(data); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Validation{Valid: true})
}

// DefaultPage is the page size of GET /v1/bindings without limit.
const DefaultPage = 100

func (s *Server) getBindings(w http.ResponseWriter, r *http.Request) error {
	f, err := bindingFilter(r)
	if err != nil {
		return err
	}
	page, err := s.ops.Bindings(f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

// bindingFilter reads the query parameters; unknown ones are refused, so
// a misspelt filter cannot silently return everything.
func bindingFilter(r *http.Request) (ops.BindingFilter, error) {
	f := ops.BindingFilter{Limit: DefaultPage}
	for name, vals := range r.URL.Query() {
		if len(vals) != 1 {
			return f, malformed(name, "query parameter %s given %d times", name, len(vals))
		}
		v := vals[0]
		var err error
		switch name {
		case "port":
			f.Port = v
		case "source":
			f.Source = v
		case "ip":
			f.IP, err = parseIPv4(name, v)
		case "mac":
			f.MAC, err = parseMAC(name, v)
		case "modem":
			f.Modem, err = parseMAC(name, v)
		case "cursor":
			f.After, err = ops.ParseCursor(v)
		case "limit":
			f.Limit, err = strconv.Atoi(v)
			if err != nil || f.Limit < 1 {
				err = &ops.Error{Kind: ops.Invalid, Field: "limit", Err: fmt.Errorf("limit %q is not a page size (1-%d)", v, ops.MaxPage)}
			}
		default:
			err = malformed(name, "unknown query parameter %q (port, ip, mac, modem, source, limit, cursor)", name)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

func parseIPv4(field, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, malformed(field, "%s %q is not an IPv4 address", field, s)
	}
	return a, nil
}

func parseMAC(field, s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, malformed(field, "%s %q is not a MAC address like 00:11:22:33:44:55", field, s)
	}
	return hw, nil
}

func (s *Server) getBinding(w http.ResponseWriter, r *http.Request) error {
	ip, err := parseIPv4("ip", r.PathValue("ip"))
	if err != nil {
		return err
	}
	b, err := s.ops.Binding(ip)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, b)
}

func (s *Server) getServers(w http.ResponseWriter, _ *http.Request) error {
	list, err := s.ops.Servers()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ServerList{Servers: list})
}

func (s *Server) getPorts(w http.ResponseWriter, _ *http.Request) error {
	list, err := s.ops.Ports()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, PortList{Ports: list})
}

func (s *Server) getCounters(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.ops.Counters())
}

func (s *Server) getNft(w http.ResponseWriter, _ *http.Request) error {
	n, err := s.ops.Nft()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

func (s *Server) getBPI(w http.ResponseWriter, _ *http.Request) error {
	b, err := s.ops.BPI()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, b)
}

func (s *Server) getLogging(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.ops.Logs().State())
}

func (s *Server) leasequery(w http.ResponseWriter, r *http.Request) error {
	var req LeasequeryRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	q, err := req.query()
	if err != nil {
		return err
	}
	res, err := s.ops.Leasequery(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// query checks that exactly one key is given and parses it.
func (req LeasequeryRequest) query() (lq.Query, error) {
	n := 0
	for _, set := range []bool{req.IP != "", req.MAC != "", req.ClientID != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return lq.Query{}, &ops.Error{Kind: ops.Invalid, Field: "ip", Err: errors.New("give exactly one of ip, mac, client_id")}
	}
	switch {
	case req.IP != "":
		ip, err := parseIPv4("ip", req.IP)
		return lq.Query{Kind: lq.ByIP, IP: ip}, err
	case req.MAC != "":
		hw, err := net.ParseMAC(req.MAC)
		if err != nil {
			return lq.Query{}, malformed("mac", "mac %q is not a hardware address like 00:11:22:33:44:55", req.MAC)
		}
		return lq.Query{Kind: lq.ByMAC, HType: max(req.HType, 1), HWAddr: hw}, nil
	}
	id, err := hex.DecodeString(strings.ReplaceAll(req.ClientID, ":", ""))
	if err != nil || len(id) == 0 || len(id) > 255 {
		return lq.Query{}, malformed("client_id", "client_id %q is not 1 to 255 bytes of hex", req.ClientID)
	}
	return lq.Query{Kind: lq.ByClientID, ClientID: id}, nil
}

func (s *Server) clearBinding(w http.ResponseWriter, r *http.Request) error {
	var req IPRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	ip, err := parseIPv4("ip", req.IP)
	if err != nil {
		return err
	}
	b, err := s.ops.ClearBinding(ip, "api "+who(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ClearedBinding{Cleared: b})
}

func (s *Server) clearCounters(w http.ResponseWriter, r *http.Request) error {
	var req struct{}
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	if err := s.ops.ClearCounters("api " + who(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.ops.Counters())
}

func (s *Server) debug(w http.ResponseWriter, r *http.Request) error {
	var req DebugRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.On == nil {
		return &ops.Error{Kind: ops.Invalid, Field: "on", Err: errors.New("on (true or false) is required")}
	}
	if err := s.ops.Logs().SetDebug(req.Subsystem, *req.On); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.ops.Logs().State())
}

func (s *Server) logLevel(w http.ResponseWriter, r *http.Request) error {
	var req LogLevelRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Subsystem == "" {
		return &ops.Error{Kind: ops.Invalid, Field: "subsystem", Err: errors.New(`subsystem is required ("all" for the global level)`)}
	}
	if err := s.ops.Logs().SetLevel(req.Subsystem, req.Level); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.ops.Logs().State())
}

func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", metrics.ContentType)
	_, err := s.ops.Metrics().WriteTo(w)
	return err
}
