package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaseguard/leaseguard/lq/location"
	"github.com/leaseguard/leaseguard/platform"
)

// Gleaner is the location table as the relay writes it
// (*location.Table).
type Gleaner interface {
	Upsert(b location.Binding, now time.Time) (location.Result, error)
	Remove(r location.Removal, now time.Time) (location.Result, error)
}

var _ Gleaner = (*location.Table)(nil)

// ServiceConfig is what a Service runs over.
type ServiceConfig struct {
	Relay *Relay
	// Ports are the packet sockets of every port of the relay's config,
	// matched by interface name.
	Ports []platform.PortConn
	// RunPorts reads the ports until ctx is done, handing every client
	// frame to h ((*platform.PortSet).Run). Nil: frames reach the service
	// only through HandleClient, as in unit tests.
	RunPorts func(ctx context.Context, h platform.ClientHandler, onError func(error)) error
	// Upstream sends relayed messages; the relay handles its replies.
	Upstream platform.UpstreamConn
	// Batch, when positive and Upstream can queue (*platform.Upstream),
	// gives each port a queue of this many datagrams that is sent with one
	// sendmmsg(2) when the frames of one receive call are handled
	// (platform.BatchEnder). It needs RunPorts.
	Batch int
	// Listeners are further sockets whose replies the relay handles: one
	// per gateway address that servers send replies to.
	Listeners []platform.UpstreamConn
	// Table receives what the relay gleans; nil gleans nothing.
	Table Gleaner
	// NoteLease, when set, is told of every address a DHCPACK leased
	// (engine.Runner.NoteLease clears a cached DHCPLEASEUNASSIGNED).
	NoteLease func(netip.Addr)
	Now       func() time.Time // nil means time.Now
	Log       *slog.Logger     // nil discards
}

// ServiceStats are the relay's counters and the service's own.
type ServiceStats struct {
	Stats
	SendErrors   uint64 // upstream or port sends that failed
	GleanErrors  uint64 // table writes refused (invalid binding)
	PortFailures uint64 // port loops that ended early
	// Gleans counts the table's answers to the relay's writes.
	Gleans map[location.Result]uint64
}

// Service runs a Relay over the platform's sockets: a Task (Run, Ready).
type Service struct {
	cfg    ServiceConfig
	relay  *Relay
	conns  []platform.PortConn   // by port index
	queues []*platform.SendQueue // by port index; nil entries send directly
	log    *slog.Logger
	ready  chan struct{}
	bufs   sync.Pool

	sendErrors, gleanErrors, portFailures atomic.Uint64
	gleans                                [location.ResultNotOwner + 1]atomic.Uint64
	lastWarn                              atomic.Int64
}

// bufSize holds any message a port or socket delivers on an Ethernet
// MTU, with room for option 82.
const bufSize = 2048

// NewService checks that every port has its socket.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Relay == nil || cfg.Upstream == nil {
		return nil, errors.New("relay service: Relay and Upstream are required")
	}
	s := &Service{cfg: cfg, relay: cfg.Relay, log: cfg.Log, ready: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	size := max(bufSize, cfg.Relay.MaxLen())
	s.bufs.New = func() any { b := make([]byte, 0, size); return &b }
	pm := cfg.Relay.Ports()
	s.conns = make([]platform.PortConn, pm.Len())
	for _, c := range cfg.Ports {
		if i, ok := pm.ByInterface(c.Name()); ok {
			s.conns[i] = c
		}
	}
	for i, c := range s.conns {
		if c == nil {
			return nil, fmt.Errorf("relay service: port %s: no socket on interface %s", pm.Port(i).Name, pm.Port(i).Interface)
		}
	}
	if err := s.makeQueues(); err != nil {
		return nil, err
	}
	return s, nil
}

// queuer is an upstream socket that can batch sends (*platform.Upstream).
type queuer interface {
	NewSendQueue(slots int) (*platform.SendQueue, error)
}

// makeQueues gives each port its own send queue: each port's frames are
// handled on that port's goroutine, and a queue is not shared.
func (s *Service) makeQueues() error {
	s.queues = make([]*platform.SendQueue, len(s.conns))
	q, ok := s.cfg.Upstream.(queuer)
	if !ok || s.cfg.Batch <= 0 || s.cfg.RunPorts == nil {
		return nil
	}
	for i := range s.queues {
		var err error
		if s.queues[i], err = q.NewSendQueue(s.cfg.Batch); err != nil {
			return fmt.Errorf("relay service: %w", err)
		}
	}
	return nil
}

// Ready is closed once the service handles replies and client frames.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Run attaches the reply handlers and reads the ports until ctx is done,
// then detaches and returns ctx's error. A port whose socket fails is
// logged and the others go on.
func (s *Service) Run(ctx context.Context) error {
	socks := append([]platform.UpstreamConn{s.cfg.Upstream}, s.cfg.Listeners...)
	for i, u := range socks {
		if err := u.Handle(platform.RelayReply, s.HandleReply); err != nil {
			for _, a := range socks[:i] {
				a.Handle(platform.RelayReply, nil)
			}
			return fmt.Errorf("relay service: %w", err)
		}
	}
	defer func() {
		for _, u := range socks {
			u.Handle(platform.RelayReply, nil)
		}
	}()
	close(s.ready)
	s.log.Info("relay running", "ports", len(s.conns), "servers", len(s.relay.Servers()))
	if s.cfg.RunPorts == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.cfg.RunPorts(ctx, s, s.portFailed)
}

func (s *Service) portFailed(err error) {
	s.portFailures.Add(1)
	s.log.Error("subscriber port stopped; the other ports go on", "err", err)
}

var (
	_ platform.ClientHandler = (*Service)(nil)
	_ platform.BatchEnder    = (*Service)(nil)
)

// HandleClient is the platform.ClientHandler of the ports.
func (s *Service) HandleClient(pc platform.PortConn, f platform.ClientFrame) {
	i, ok := s.relay.Ports().ByInterface(pc.Name())
	if !ok {
		i = -1
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	now := s.cfg.Now()
	m := ClientMsg{Port: i, DstIP: f.DstIP, Payload: f.Payload,
		Broadcast: f.DstMAC[0]&1 != 0 || f.DstIP == limitedBroadcast}
	d := s.relay.FromClient(now, m, *bp)
	if d.Verdict == ToServers {
		s.send(i, d)
	} else {
		s.dropped(pc.Name(), d)
	}
	s.apply(now, d.Glean)
}

// send sends a relayed client message to its servers, through the port's
// queue when it has one.
func (s *Service) send(port int, d Decision) {
	var q *platform.SendQueue
	if port >= 0 {
		q = s.queues[port]
	}
	for _, to := range d.Servers {
		var err error
		if q != nil {
			err = q.Send(to, d.Msg)
		} else {
			err = s.cfg.Upstream.Send(to, d.Msg)
		}
		if err != nil {
			s.sendFailed(err)
		}
	}
}

// EndBatch is told by a port that the frames of one receive call are
// handled (platform.BatchEnder): the port's queue goes out.
func (s *Service) EndBatch(pc platform.PortConn) {
	i, ok := s.relay.Ports().ByInterface(pc.Name())
	if !ok || s.queues[i] == nil {
		return
	}
	if err := s.queues[i].Flush(); err != nil {
		s.sendFailed(err)
	}
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// HandleReply is the platform.UpstreamHandler of relay replies.
func (s *Service) HandleReply(b []byte, from netip.AddrPort) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	now := s.cfg.Now()
	d := s.relay.FromServer(now, from, b, *bp)
	if d.Verdict != ToClient {
		s.dropped(from.String(), d)
		return
	}
	// Glean before delivering: the client may act on the reply at once
	// (a DHCPRELEASE right after its DHCPACK), and the release must find
	// the binding.
	s.apply(now, d.Glean)
	if err := s.conns[d.Port].Send(d.Dst, d.Msg); err != nil {
		s.sendFailed(err)
	}
}

func (s *Service) dropped(where string, d Decision) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("relay drop", "from", where, "reason", d.Reason.String(), "len", len(d.Msg))
	}
}

func (s *Service) sendFailed(err error) {
	s.sendErrors.Add(1)
	s.warnf("relay send failed", err)
}

// warnf logs at most one warning a second, so that a failing socket under
// load does not flood the log; the counters have the totals.
func (s *Service) warnf(msg string, err error) {
	now := time.Now().Unix()
	if last := s.lastWarn.Load(); now > last && s.lastWarn.CompareAndSwap(last, now) {
		s.log.Warn(msg, "err", err)
	}
}

// apply writes a glean into the table.
func (s *Service) apply(now time.Time, g Glean) {
	if g.Kind == NoGlean || s.cfg.Table == nil {
		return
	}
	var res location.Result
	var err error
	var ip netip.Addr
	if g.Kind == Bind {
		ip = g.Binding.IP
		res, err = s.cfg.Table.Upsert(g.Binding, now)
		if err == nil && s.cfg.NoteLease != nil {
			s.cfg.NoteLease(ip)
		}
	} else {
		ip = g.Removal.IP
		res, err = s.cfg.Table.Remove(g.Removal, now)
	}
	if err != nil {
		s.gleanErrors.Add(1)
		s.warnf("glean refused by the table", err)
		return
	}
	if int(res) < len(s.gleans) {
		s.gleans[res].Add(1)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("glean", "ip", ip, "kind", g.Kind, "result", res.String())
	}
}

// Stats returns the counters so far.
func (s *Service) Stats() ServiceStats {
	st := ServiceStats{Stats: s.relay.Stats(), SendErrors: s.sendErrors.Load(),
		GleanErrors: s.gleanErrors.Load(), PortFailures: s.portFailures.Load(),
		Gleans: map[location.Result]uint64{}}
	for i := range s.gleans {
		if n := s.gleans[i].Load(); n > 0 {
			st.Gleans[location.Result(i)] = n
		}
	}
	return st
}
