package agent

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/lq"
	"github.com/leaseguard/leaseguard/lq/location"
)

// The debug socket is a stand-in for the management API, for tests and
// the demo: a Unix socket (mode 0600) taking one JSON request per line and
// answering JSON lines.
//
//	{"cmd":"table"}                  -> {"bindings":[Binding...]}
//	{"cmd":"stats"}                  -> Stats
//	{"cmd":"query","ip":"A.B.C.D"}   -> {"type":..., "server":..., "binding":Binding, "error":...}
//	{"cmd":"watch"}                  -> {"bindings":[...]}, then one Event per table change, until closed
//
// Field names are those of DebugBinding and DebugEvent.

// DebugBinding is a binding as the debug socket writes it.
type DebugBinding struct {
	IP          netip.Addr `json:"ip"`
	MAC         string     `json:"mac"`
	ClientID    string     `json:"client_id,omitempty"` // hex
	Port        string     `json:"port"`
	CircuitID   string     `json:"circuit_id"`
	Modem       string     `json:"modem,omitempty"`
	Option82    string     `json:"option82,omitempty"` // hex, the payload as encoded
	VendorClass string     `json:"vendor_class,omitempty"`
	Expiry      time.Time  `json:"expiry"`
	LastTx      time.Time  `json:"last_transaction"`
	Server      netip.Addr `json:"server,omitzero"`
	Source      string     `json:"source"`
}

// DebugEvent is a table event as the debug socket writes it.
type DebugEvent struct {
	Seq    uint64        `json:"seq"`
	Kind   string        `json:"kind"`
	Reason string        `json:"reason,omitempty"`
	Old    *DebugBinding `json:"old,omitempty"`
	New    *DebugBinding `json:"new,omitempty"`
}

func debugBinding(b location.Binding) *DebugBinding {
	d := &DebugBinding{IP: b.IP, MAC: net.HardwareAddr(b.HWAddr).String(), ClientID: hex.EncodeToString(b.ClientID),
		Port: b.Port, CircuitID: string(b.CircuitID), VendorClass: string(b.VendorClass),
		Expiry: b.Expiry, LastTx: b.LastTransaction, Server: b.Server, Source: b.Source.String()}
	if b.Modem != nil {
		d.Modem = b.Modem.String()
	}
	if raw, err := b.AgentInfo.Marshal(); err == nil && len(raw) > 0 {
		d.Option82 = hex.EncodeToString(raw)
	}
	return d
}

func debugEvent(e location.Event) DebugEvent {
	d := DebugEvent{Seq: e.Seq, Kind: e.Kind.String()}
	if e.Kind == location.Removed {
		d.Reason = e.Reason.String()
	}
	if e.Kind != location.Added {
		d.Old = debugBinding(e.Old)
	}
	if e.Kind != location.Removed {
		d.New = debugBinding(e.New)
	}
	return d
}

// debugRequest is one line a client sends.
type debugRequest struct {
	Cmd string     `json:"cmd"`
	IP  netip.Addr `json:"ip,omitzero"`
}

// DebugSocket serves the debug socket of an agent: a Task.
type DebugSocket struct {
	agent *Agent
	path  string
	log   *slog.Logger
	ln    net.Listener
	ready chan struct{}
}

// NewDebugSocket listens on path (replacing a stale socket file).
func NewDebugSocket(a *Agent, path string) (*DebugSocket, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("debug socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("debug socket: %w", err)
	}
	return &DebugSocket{agent: a, path: path, log: a.opts.Logs.For("api"), ln: ln, ready: make(chan struct{})}, nil
}

func (d *DebugSocket) Ready() <-chan struct{} { return d.ready }

// Run accepts clients until ctx is done; each is served on its own
// goroutine, ended with ctx.
func (d *DebugSocket) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { d.ln.Close() })
	defer stop()
	defer os.Remove(d.path)
	close(d.ready)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("debug socket: %w", err)
		}
		wg.Go(func() {
			defer c.Close()
			cstop := context.AfterFunc(ctx, func() { c.Close() })
			defer cstop()
			if err := d.serve(ctx, c); err != nil && ctx.Err() == nil {
				d.log.Debug("debug client", "err", err)
			}
		})
	}
}

// serve answers one client's requests in order.
func (d *DebugSocket) serve(ctx context.Context, c net.Conn) error {
	in := bufio.NewScanner(c)
	out := json.NewEncoder(c)
	for in.Scan() {
		var req debugRequest
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return out.Encode(map[string]string{"error": err.Error()})
		}
		var err error
		switch req.Cmd {
		case "table":
			err = out.Encode(map[string]any{"bindings": d.bindings()})
		case "stats":
			err = out.Encode(d.agent.Stats())
		case "query":
			err = out.Encode(d.query(ctx, req.IP))
		case "watch":
			return d.watch(ctx, out)
		default:
			err = out.Encode(map[string]string{"error": fmt.Sprintf("unknown command %q", req.Cmd)})
		}
		if err != nil {
			return err
		}
	}
	return in.Err()
}

func (d *DebugSocket) bindings() []*DebugBinding {
	out := []*DebugBinding{}
	for b := range d.agent.table.All() {
		out = append(out, debugBinding(b))
	}
	return out
}

// query asks the servers about ip, bypassing the cache.
func (d *DebugSocket) query(ctx context.Context, ip netip.Addr) map[string]any {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := d.agent.runner.QueryFresh(ctx, lq.Query{Kind: lq.ByIP, IP: ip})
	if err == nil {
		err = res.Err
	}
	out := map[string]any{"type": res.Type.String(), "server": res.Server}
	if err != nil {
		out["error"] = err.Error()
	}
	if res.Type == lq.LeaseActive {
		out["binding"] = debugBinding(location.Binding{Binding: res.Binding, Source: location.Leasequery})
	}
	return out
}

// watch writes the table, then its events as they happen. Events are
// applied by IP on the client side (see location.LagError).
func (d *DebugSocket) watch(ctx context.Context, out *json.Encoder) error {
	sub := d.agent.table.Subscribe("debug")
	defer sub.Close()
	if err := out.Encode(map[string]any{"bindings": d.bindings()}); err != nil {
		return err
	}
	for {
		evs, err := sub.Next(ctx, 0)
		if errors.Is(err, location.ErrLagged) {
			if err := out.Encode(map[string]any{"bindings": d.bindings()}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := out.Encode(debugEvent(e)); err != nil {
				return err
			}
		}
	}
}
