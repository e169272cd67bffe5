package mgmt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// Client calls the API: `leaseguard ctl`, scripts, tests.
type Client struct {
	http *http.Client
	base string
}

// NewUnixClient talks to the API on the Unix socket at path.
func NewUnixClient(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{http: &http.Client{Transport: tr}, base: "http://leaseguard"}
}

// NewClient talks to the API at base ("https://card7:8443") through hc
// (which carries the client certificate).
func NewClient(base string, hc *http.Client) *Client {
	return &Client{http: hc, base: strings.TrimSuffix(base, "/")}
}

// APIError is an error response.
type APIError struct {
	Status int
	ErrorBody
}

func (e *APIError) Error() string {
	msg := e.ErrorBody.Error
	for _, p := range e.Problems[min(1, len(e.Problems)):] {
		msg += "\n" + p.Message
	}
	return msg
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.ErrorBody) != nil || e.ErrorBody.Error == "" {
			e.ErrorBody.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(data))
		}
		return resp.Header, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, nil, nil, out)
	return err
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, path, nil, body, out)
	return err
}

// Config returns the running configuration and its generation.
func (c *Client) Config(ctx context.Context) (ops.ConfigState, error) {
	var st ops.ConfigState
	return st, c.get(ctx, "/v1/config", &st)
}

// ValidateConfig checks a configuration file's content without applying it.
func (c *Client) ValidateConfig(ctx context.Context, data []byte) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/config/validate", nil, data, nil)
	return err
}

// ApplyConfig applies a configuration; ifGeneration (0: none) is the
// generation the change was based on.
func (c *Client) ApplyConfig(ctx context.Context, data []byte, ifGeneration uint64) (ops.ConfigState, error) {
	var st ops.ConfigState
	hdr := http.Header{}
	if ifGeneration != 0 {
		hdr.Set("If-Match", etag(ifGeneration))
	}
	_, err := c.do(ctx, http.MethodPut, "/v1/config", hdr, data, &st)
	return st, err
}

// BindingQuery filters GET /v1/bindings; empty fields are left out.
type BindingQuery struct {
	Port, IP, MAC, Modem, Source, Cursor string
	Limit                                int
}

// Bindings returns one page of bindings.
func (c *Client) Bindings(ctx context.Context, q BindingQuery) (ops.BindingPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"port": q.Port, "ip": q.IP, "mac": q.MAC, "modem": q.Modem, "source": q.Source, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var page ops.BindingPage
	path := "/v1/bindings"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return page, c.get(ctx, path, &page)
}

// Binding returns the binding of ip.
func (c *Client) Binding(ctx context.Context, ip string) (ops.Binding, error) {
	var b ops.Binding
	return b, c.get(ctx, "/v1/bindings/"+url.PathEscape(ip), &b)
}

func (c *Client) Servers(ctx context.Context) ([]ops.Server, error) {
	var l ServerList
	return l.Servers, c.get(ctx, "/v1/servers", &l)
}

func (c *Client) Ports(ctx context.Context) ([]ops.Port, error) {
	var l PortList
	return l.Ports, c.get(ctx, "/v1/ports", &l)
}

func (c *Client) Counters(ctx context.Context) (ops.Counters, error) {
	var n ops.Counters
	return n, c.get(ctx, "/v1/counters", &n)
}

func (c *Client) Nft(ctx context.Context) (ops.Nft, error) {
	var n ops.Nft
	return n, c.get(ctx, "/v1/nft", &n)
}

// BPI returns BPI+'s state, counters and modems (an *APIError with
// status 503 when BPI+ is off).
func (c *Client) BPI(ctx context.Context) (ops.BPI, error) {
	var b ops.BPI
	return b, c.get(ctx, "/v1/bpi", &b)
}

func (c *Client) Logging(ctx context.Context) (ops.Logging, error) {
	var l ops.Logging
	return l, c.get(ctx, "/v1/logging", &l)
}

// Leasequery asks every server now.
func (c *Client) Leasequery(ctx context.Context, req LeasequeryRequest) (ops.LeasequeryResult, error) {
	var r ops.LeasequeryResult
	return r, c.post(ctx, "/v1/actions/leasequery", req, &r)
}

// ClearBinding removes the binding of ip.
func (c *Client) ClearBinding(ctx context.Context, ip string) (ops.Binding, error) {
	var r ClearedBinding
	return r.Cleared, c.post(ctx, "/v1/actions/clear-binding", IPRequest{IP: ip}, &r)
}

// ClearCounters starts the counters shown from zero.
func (c *Client) ClearCounters(ctx context.Context) error {
	return c.post(ctx, "/v1/actions/clear-counters", struct{}{}, nil)
}

// SetDebug turns a subsystem's console trace on or off.
func (c *Client) SetDebug(ctx context.Context, subsystem string, on bool) (ops.Logging, error) {
	var l ops.Logging
	return l, c.post(ctx, "/v1/actions/debug", DebugRequest{Subsystem: subsystem, On: &on}, &l)
}

// SetLogLevel sets a subsystem's log level ("all": the global level).
func (c *Client) SetLogLevel(ctx context.Context, subsystem, level string) (ops.Logging, error) {
	var l ops.Logging
	return l, c.post(ctx, "/v1/actions/log-level", LogLevelRequest{Subsystem: subsystem, Level: level}, &l)
}

// Metrics returns the Prometheus text.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("/metrics: %s", resp.Status)
	}
	return string(b), err
}

// Events follows the event stream from after (0: from now), calling each
// for every event until ctx ends, each returns an error, or the stream
// ends. It returns the sequence number of the last event seen, to resume
// from.
func (c *Client) Events(ctx context.Context, after uint64, each func(ops.Event) error) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events", nil)
	if err != nil {
		return after, err
	}
	if after != 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return after, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return after, fmt.Errorf("/v1/events: %s", resp.Status)
	}
	return readSSE(resp.Body, after, each)
}

// readSSE reads event frames: only data lines matter (the JSON carries
// seq and type).
func readSSE(r io.Reader, last uint64, each func(ops.Event) error) (uint64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e ops.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return last, fmt.Errorf("event stream: %w", err)
		}
		if e.Seq != 0 {
			last = e.Seq
		}
		if err := each(e); err != nil {
			return last, err
		}
	}
	return last, sc.Err()
}
