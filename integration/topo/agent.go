package topo

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/integration/lab"
)

// Binary returns a leaseguard binary: $LEASEGUARD_BIN when set, else one
// built with `go build` once per test process (into a directory removed
// by RemoveBinary).
func Binary(t lab.TB) string {
	t.Helper()
	if p := os.Getenv("LEASEGUARD_BIN"); p != "" {
		return p
	}
	build.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		build.dir, build.err = os.MkdirTemp("", "leaseguard-test-")
		if build.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(build.dir, "leaseguard"), "./cmd/leaseguard")
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/leaseguard: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("%v", build.err)
	}
	return filepath.Join(build.dir, "leaseguard")
}

var build struct {
	sync.Once
	dir string
	err error
}

// RemoveBinary removes what Binary built; call it from TestMain.
func RemoveBinary() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// LabConfig writes the topology's configuration for a run in the lab and
// returns its path: enforcement and the snapshot file (other subsystems,
// with their own tests) are turned off, the API socket is private, and the
// table's events are logged. edit, when set, changes the decoded JSON
// object further.
func (c *Concentrator) LabConfig(edit func(cfg map[string]any)) string {
	var cfg map[string]any
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		c.t.Fatalf("topo: %v", err)
	}
	cfg["enforcement"] = map[string]any{"enabled": false}
	delete(cfg, "snapshot")
	// The management API listens on a socket of this run's own, so that
	// agents of parallel tests never share /run/leaseguard.sock.
	dir := c.Lab.Dir()
	c.APISocket = filepath.Join(dir, "api.sock")
	cfg["api"] = map[string]any{"socket": c.APISocket}
	cfg["log"] = map[string]any{"level": "info", "subsystems": map[string]any{"glean": "debug"}}
	if edit != nil {
		edit(cfg)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		c.t.Fatalf("topo: %v", err)
	}
	return write(c.t, dir, "agent.json", string(b), 0o644)
}

// Agent is `leaseguard agent` running in the card namespace with its
// debug socket.
type Agent struct {
	*lab.Proc
	Socket string
}

// StartAgent runs `bin agent --config path --debug-socket ...` in the card
// namespace and waits until it is ready.
func (c *Concentrator) StartAgent(bin, configPath string) *Agent {
	c.t.Helper()
	sock := filepath.Join(c.Lab.Dir(), "agent.sock")
	p := c.Card.Start("leaseguard", bin, "agent", "--config", configPath, "--debug-socket", sock)
	if err := p.WaitFor(`msg="agent ready"`, 30*time.Second); err != nil {
		c.t.Fatalf("%v", err)
	}
	return &Agent{Proc: p, Socket: sock}
}

// Binding is a binding as the agent's debug socket reports it.
type Binding struct {
	IP          netip.Addr `json:"ip"`
	MAC         string     `json:"mac"`
	ClientID    string     `json:"client_id"`
	Port        string     `json:"port"`
	CircuitID   string     `json:"circuit_id"`
	Modem       string     `json:"modem"`
	Option82    string     `json:"option82"` // hex
	VendorClass string     `json:"vendor_class"`
	Expiry      time.Time  `json:"expiry"`
	LastTx      time.Time  `json:"last_transaction"`
	Server      netip.Addr `json:"server"`
	Source      string     `json:"source"`
}

// Event is a table event as the debug socket reports it.
type Event struct {
	Seq    uint64   `json:"seq"`
	Kind   string   `json:"kind"` // added, changed, removed
	Reason string   `json:"reason"`
	Old    *Binding `json:"old"`
	New    *Binding `json:"new"`
}

// QueryResult is the answer to an on-demand leasequery.
type QueryResult struct {
	Type    string     `json:"type"`
	Server  netip.Addr `json:"server"`
	Binding *Binding   `json:"binding"`
	Error   string     `json:"error"`
}

// call sends one request and decodes one answer line into v.
func (a *Agent) call(req map[string]any, v any) error {
	c, err := net.DialTimeout("unix", a.Socket, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return err
	}
	return json.NewDecoder(c).Decode(v)
}

// Table returns every binding.
func (a *Agent) Table() ([]Binding, error) {
	var out struct{ Bindings []Binding }
	err := a.call(map[string]any{"cmd": "table"}, &out)
	return out.Bindings, err
}

// Query asks the DHCP servers about ip through the agent's leasequery
// client (bypassing its cache).
func (a *Agent) Query(ip netip.Addr) (QueryResult, error) {
	var r QueryResult
	err := a.call(map[string]any{"cmd": "query", "ip": ip}, &r)
	return r, err
}

// Stats returns the agent's counters as decoded JSON.
func (a *Agent) Stats() (map[string]any, error) {
	var m map[string]any
	err := a.call(map[string]any{"cmd": "stats"}, &m)
	return m, err
}

// Watch follows the agent's table: the bindings at the start, then every
// event, applied in order.
type Watch struct {
	conn    net.Conn
	dec     *json.Decoder
	State   map[netip.Addr]Binding
	Events  []Event
	started bool
}

// Watch opens a watch on the table.
func (a *Agent) Watch() (*Watch, error) {
	c, err := net.DialTimeout("unix", a.Socket, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(c).Encode(map[string]any{"cmd": "watch"}); err != nil {
		c.Close()
		return nil, err
	}
	return &Watch{conn: c, dec: json.NewDecoder(bufio.NewReader(c)), State: map[netip.Addr]Binding{}}, nil
}

// Close ends the watch.
func (w *Watch) Close() error { return w.conn.Close() }

// Until applies the table's events until done reports true on the state
// (checked after the initial table and after every event), or timeout
// passes (a bound on a hang, not a timing).
func (w *Watch) Until(timeout time.Duration, done func(state map[netip.Addr]Binding) bool) error {
	w.conn.SetReadDeadline(time.Now().Add(timeout))
	if w.started && done(w.State) {
		return nil
	}
	for {
		var line struct {
			Bindings *[]Binding `json:"bindings"`
			Event
		}
		if err := w.dec.Decode(&line); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("table did not reach the expected state within %v; bindings: %+v", timeout, w.State)
			}
			return err
		}
		w.apply(line.Bindings, line.Event)
		if done(w.State) {
			return nil
		}
	}
}

func (w *Watch) apply(bindings *[]Binding, e Event) {
	if bindings != nil {
		w.started = true
		clear(w.State)
		for _, b := range *bindings {
			w.State[b.IP] = b
		}
		return
	}
	w.Events = append(w.Events, e)
	switch {
	case e.Kind == "removed" && e.Old != nil:
		delete(w.State, e.Old.IP)
	case e.New != nil:
		w.State[e.New.IP] = *e.New
	}
}
