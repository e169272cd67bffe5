package agent

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/leaseguard/leaseguard/bpi"
	"github.com/leaseguard/leaseguard/bpi/bpkm"
	"github.com/leaseguard/leaseguard/bpi/rflink"
	"github.com/leaseguard/leaseguard/cmd/internal/config"
)

// The BPI task's data path:
//
//	card forwarding --> downstream interface --(AF_PACKET, incoming only)-->
//	  Encoder: destination IP -> location table -> modem -> primary SA -> TEK
//	  --> RF interface (DOCSIS MAC frames, EtherType 0x88B5) --> modems
//
// and its key path: the modems' Key Requests arrive on the RF interface and
// are answered there with the SA's two TEKs, wrapped under the modem's
// KEK; the keys come from the configuration or from the key manager, whose
// rollovers one timer drives.

// downstreamSource yields the Ethernet frames going down to subscribers;
// rflink.IncomingConn (ListenIncoming) is one. TryReadEthernet takes a
// frame only if one is already queued.
type downstreamSource interface {
	ReadEthernet(b []byte) (int, error)
	TryReadEthernet(b []byte) (n int, ok bool, err error)
	SetReadDeadline(t time.Time) error
}

// rfLink is the RF side: DOCSIS frames out, the modems' management frames
// in; rflink.Conn is one.
type rfLink interface {
	WriteDOCSIS(frame []byte) error
	ReadDOCSIS(b []byte) (int, error)
	SetReadDeadline(t time.Time) error
}

// neverExpires is the expiry of provisioned authorization keys: until the
// Authorization exchange (RSA-wrapped AKs with their lifetime) runs on the
// card, an AK stays valid as long as it is configured.
var neverExpires = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// bpiTask is DOCSIS BPI+ downstream encryption as an agent task.
type bpiTask struct {
	cfg   config.BPI
	log   *slog.Logger
	now   func() time.Time
	keys  *bpi.Table      // modems and their SAs' keys
	mgr   *bpi.Manager    // generated keys; nil when every SA's are configured
	saids []uint16        // the SAs mgr keys
	srv   *bpkm.KeyServer // answers Key Requests from keys
	index *modemIndex     // the Locator: IP -> modem, from the table's events
	lq    *lqTrigger

	down  downstreamSource
	rf    rfLink
	rfMAC net.HardwareAddr
	rfMu  sync.Mutex // the Encoder and the key replies share the RF socket
	enc   *bpi.Encoder
	close func()

	ready chan struct{}
	stats bpiCounters
	drops dropTraces // read and written by readDownstream only
}

// newBPITask builds the key state of cfg; it does no I/O.
func newBPITask(cfg config.BPI, index *modemIndex, lq *lqTrigger, log *slog.Logger, now func() time.Time) (*bpiTask, error) {
	t := &bpiTask{cfg: cfg, log: log, now: now, keys: bpi.NewTable(), index: index, lq: lq, ready: make(chan struct{}),
		drops: dropTraces{perSec: dropTracesPerSecond}}
	suite := suiteOf(cfg.Suite)
	t.srv = bpkm.NewKeyServer(t.keys, t.keys)
	var static []bpi.ConfiguredSA
	for i, m := range cfg.Modems {
		mac := net.HardwareAddr(m.MAC)
		said := uint16(m.SAID)
		if err := t.keys.AddModem(bpi.Modem{MAC: mac, PrimarySAID: said, BPIEnabled: !m.PrivacyDisabled}); err != nil {
			return nil, fmt.Errorf("bpi.modems[%d]: %w", i, err)
		}
		if m.AuthKey != "" {
			ak, _ := hex.DecodeString(m.AuthKey) // validated by config
			if err := t.srv.SetAuthKey(mac, bpkm.AuthKey{Key: ak, Seq: uint8(m.AuthKeySeq), Expires: neverExpires}); err != nil {
				return nil, fmt.Errorf("bpi.modems[%d].auth_key: %w", i, err)
			}
		}
		switch {
		case m.PrivacyDisabled:
		case m.Keys != nil:
			static = append(static, configuredSA(said, suite, *m.Keys))
		default:
			t.saids = append(t.saids, said)
		}
	}
	for i, sa := range static {
		if err := sa.Install(keyLog{t, "configured"}); err != nil {
			return nil, fmt.Errorf("bpi: configured keys %d: %w", i, err)
		}
	}
	if len(t.saids) > 0 {
		var err error
		t.mgr, err = bpi.NewManager(bpi.ManagerConfig{Suite: suite, TEKLifetime: time.Duration(cfg.TEKLifetime),
			Grace: time.Duration(cfg.TEKGrace), Sinks: []bpi.KeySink{keyLog{t, "generated"}}})
		if err != nil {
			return nil, fmt.Errorf("bpi: %w", err)
		}
	}
	return t, nil
}

func suiteOf(s config.BPISuite) bpi.Suite {
	if s == config.SuiteDES56CBC {
		return bpi.SuiteDES56CBC
	}
	return bpi.SuiteAES128CBC
}

func configuredSA(said uint16, suite bpi.Suite, k config.BPIKeys) bpi.ConfiguredSA {
	sa := bpi.ConfiguredSA{SAID: said, Suite: suite}
	conv := func(t *config.BPITEK) *bpi.ConfiguredTEK {
		if t == nil {
			return nil
		}
		return &bpi.ConfiguredTEK{Seq: uint8(t.Seq), Key: t.Key, IV: t.IV, Expires: t.Expires}
	}
	sa.Older, sa.Newer = conv(k.Older), conv(k.Newer)
	return sa
}

// keyLog installs key pairs in the task's table, tracing each: a first
// pair for an SA is "installed", a later one a "rollover". It counts the
// generated pairs (one per SA at start, then one per rollover).
type keyLog struct {
	t      *bpiTask
	source string // generated (the key manager) or configured
}

func (k keyLog) SetTEKs(said uint16, older, newer *bpi.TEK) error {
	_, had := k.t.keys.SA(said)
	if err := k.t.keys.SetTEKs(said, older, newer); err != nil {
		return err
	}
	if k.source == "generated" {
		k.t.stats.keyPairs.Add(1)
	}
	if !k.t.log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	msg := "TEK pair installed"
	if had {
		msg = "TEK rollover"
	}
	k.t.log.Debug(msg, "said", said, "keys", k.source, "older_seq", tekSeq(older), "older_expires", tekExpiry(older),
		"newer_seq", tekSeq(newer), "newer_expires", tekExpiry(newer))
	return nil
}

// open opens the downstream and RF sockets (in the agent's namespace) and
// starts the generated SAs at the agent's now.
func (t *bpiTask) open() error {
	rfIf, err := net.InterfaceByName(t.cfg.RFInterface)
	if err != nil {
		return fmt.Errorf("bpi.rf_interface %q: %w", t.cfg.RFInterface, err)
	}
	if rfIf.MTU < rflink.MinMTU {
		t.log.Warn("RF interface MTU too small for full-size frames", "interface", rfIf.Name, "mtu", rfIf.MTU, "need", rflink.MinMTU)
	}
	downIf, err := net.InterfaceByName(t.cfg.DownstreamInterface)
	if err != nil {
		return fmt.Errorf("bpi.downstream_interface %q: %w", t.cfg.DownstreamInterface, err)
	}
	rf, err := rflink.Listen(rfIf)
	if err != nil {
		return err
	}
	down, err := rflink.ListenIncoming(downIf)
	if err != nil {
		rf.Close()
		return err
	}
	t.attach(down, rf, rfIf.HardwareAddr, func() { down.Close(); rf.Close() })
	return t.startKeys()
}

// attach wires the task to its links (fakes in tests).
func (t *bpiTask) attach(down downstreamSource, rf rfLink, rfMAC net.HardwareAddr, closeFn func()) {
	t.down, t.rf, t.rfMAC, t.close = down, rf, rfMAC, closeFn
	t.enc = bpi.NewEncoder(t.index, t.keys, lockedRF{t})
}

func (t *bpiTask) startKeys() error {
	now := t.now()
	for _, said := range t.saids {
		if err := t.mgr.Start(said, now); err != nil {
			return fmt.Errorf("bpi: %w", err)
		}
	}
	return nil
}

// lockedRF serializes the writers of the RF socket.
type lockedRF struct{ t *bpiTask }

func (l lockedRF) WriteDOCSIS(frame []byte) error {
	l.t.rfMu.Lock()
	defer l.t.rfMu.Unlock()
	return l.t.rf.WriteDOCSIS(frame)
}

func (t *bpiTask) Ready() <-chan struct{} { return t.ready }

// Run encrypts downstream frames, answers Key Requests, rolls the keys
// over and starts leasequeries for unknown destinations until ctx ends.
func (t *bpiTask) Run(ctx context.Context) error {
	defer t.close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return t.index.run(ctx) })
	g.Go(func() error { return t.lq.run(ctx) })
	g.Go(func() error { return t.runKeyClock(ctx) })
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past unblocks the pending reads.
		_ = t.down.SetReadDeadline(time.Unix(1, 0))
		_ = t.rf.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	g.Go(func() error { return t.readUpstream(ctx) })
	g.Go(func() error {
		select {
		case <-t.index.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
		close(t.ready)
		t.log.Info("BPI running", "downstream", t.cfg.DownstreamInterface, "rf", t.cfg.RFInterface,
			"modems", len(t.cfg.Modems), "generated_sas", len(t.saids))
		return t.readDownstream(ctx)
	})
	return g.Wait()
}

// readDownstream encrypts every frame arriving on the downstream interface
// onto the RF link, or drops it: unknown destination (and a leasequery is
// started for it), no key, no destination. When a second frame is already
// queued the two go together (Encoder.SendPair: their encryption
// interleaved, which nearly doubles AES throughput); a lone frame never
// waits for a partner.
func (t *bpiTask) readDownstream(ctx context.Context) error {
	a, b := make([]byte, 65536), make([]byte, 65536)
	for {
		n, err := t.down.ReadEthernet(a)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("downstream interface: %w", err)
		}
		m, pair, err := t.down.TryReadEthernet(b)
		if err != nil && ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("downstream interface: %w", err)
		}
		now := t.now()
		if !pair {
			t.stats.frames.Add(1)
			t.dropped(ctx, a[:n], t.enc.Send(a[:n], now), now)
			continue
		}
		t.stats.frames.Add(2)
		t.stats.pairs.Add(1)
		errA, errB := t.enc.SendPair(a[:n], b[:m], now)
		t.dropped(ctx, a[:n], errA, now)
		t.dropped(ctx, b[:m], errB, now)
	}
}

// dropped handles a frame the Encoder did not send (err nil: it did).
// The trace is formatted only while someone reads it.
func (t *bpiTask) dropped(ctx context.Context, eth []byte, err error, now time.Time) {
	if err == nil {
		return
	}
	if t.log.Enabled(ctx, slog.LevelDebug) {
		t.traceDrop(eth, err, now) // before the leasequery it starts
	}
	if ip, unknown := unknownLocation(err); unknown {
		t.lq.Trigger(ip)
	}
}

// readUpstream answers the Key Requests the modems send on the RF link.
func (t *bpiTask) readUpstream(ctx context.Context) error {
	buf := make([]byte, 65536)
	var out []byte
	for {
		n, err := t.rf.ReadDOCSIS(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("RF interface: %w", err)
		}
		out = t.handleUpstream(out[:0], buf[:n])
	}
}

// handleUpstream answers one upstream frame if it is a Key Request,
// appending the reply frame it sent to out.
func (t *bpiTask) handleUpstream(out, frame []byte) []byte {
	m, err := bpkm.ParseMgmtFrame(frame)
	if err != nil || m.Type != bpkm.TypeBPKMReq {
		t.stats.upstreamOther.Add(1)
		return out
	}
	t.stats.keyRequests.Add(1)
	t.traceKeyMessage("Key Request", m.SA, m.Payload)
	reply, err := t.srv.HandleKeyRequest(m.SA, m.Payload, t.now())
	var rej *bpkm.Rejected
	switch {
	case errors.As(err, &rej):
		t.stats.keyRejects.Add(1)
		km, _ := readKeyMessage(rej.Reply)
		t.log.Warn("Key Request rejected", "modem", m.SA, "said", km.said, "ak_seq", km.akSeq, "code", rej.Code)
		reply = rej.Reply
	case err != nil:
		t.stats.keyErrors.Add(1)
		t.log.Warn("Key Request not answered", "modem", m.SA, "err", err)
		return out
	default:
		t.stats.keyReplies.Add(1)
		t.traceKeyMessage("Key Reply", m.SA, reply)
	}
	out, err = bpkm.AppendMgmtFrame(out, bpkm.Mgmt{DA: m.SA, SA: t.rfMAC, Version: bpkm.MgmtVersion,
		Type: bpkm.TypeBPKMRsp, Payload: reply})
	if err == nil {
		err = lockedRF{t}.WriteDOCSIS(out)
	}
	if err != nil {
		t.stats.keyErrors.Add(1)
		t.log.Warn("Key Reply not sent", "modem", m.SA, "err", err)
	}
	return out
}

// runKeyClock rolls the generated keys over: one timer, armed for the
// manager's next rollover across all SAs.
func (t *bpiTask) runKeyClock(ctx context.Context) error {
	if t.mgr == nil {
		return nil
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait, err := t.advanceKeys()
		if err != nil {
			return err
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// advanceKeys rolls over what is due now and says how long until the next
// rollover (an hour at most, so a stepped clock is noticed).
func (t *bpiTask) advanceKeys() (time.Duration, error) {
	now := t.now()
	next, err := t.mgr.Advance(now)
	if err != nil {
		return 0, fmt.Errorf("bpi key manager: %w", err)
	}
	if next.IsZero() {
		return time.Hour, nil
	}
	return min(max(next.Sub(now), 0), time.Hour), nil
}
