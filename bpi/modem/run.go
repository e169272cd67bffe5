package modem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/bpi"
)

// RFReader reads DOCSIS MAC frames off the RF link; rflink.Conn is one.
type RFReader interface {
	ReadDOCSIS(b []byte) (int, error)
	SetReadDeadline(t time.Time) error
}

// CPEWriter delivers Ethernet frames to the CPEs; rflink.EthernetConn is
// one.
type CPEWriter interface {
	WriteEthernet(frame []byte) error
}

// Runner runs a Modem against an RF link and a CPE link, and optionally
// its Keyer: Key Requests go up the RF link through Up, and the management
// frames read off it go to the Keyer instead of the data path.
type Runner struct {
	Modem *Modem
	RF    RFReader
	CPE   CPEWriter
	Keyer *Keyer           // nil: keys arrive by other means (SetTEKs)
	Up    bpi.RFWriter     // where Key Requests go; required with Keyer
	Now   func() time.Time // nil: time.Now
	ready chan struct{}
}

// NewRunner returns a Runner; call Run to start it.
func NewRunner(m *Modem, rf RFReader, cpe CPEWriter) *Runner {
	return &Runner{Modem: m, RF: rf, CPE: cpe, ready: make(chan struct{})}
}

// Ready is closed once Run is reading the RF link.
func (r *Runner) Ready() <-chan struct{} { return r.ready }

// Run reads the RF link until ctx ends (then it returns ctx.Err()) or the
// link fails. Frames the modem does not deliver are counted, not returned
// as errors.
func (r *Runner) Run(ctx context.Context) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Keyer != nil && r.Up == nil {
		return fmt.Errorf("modem %v: a Keyer needs an Up link", r.Modem.cfg.MAC)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	keyErr := make(chan error, 1)
	if r.Keyer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keyErr <- r.requestKeys(ctx)
			cancel()
		}()
	}
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past unblocks the pending read.
		_ = r.RF.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	close(r.ready)
	err := r.read(ctx)
	select {
	case kerr := <-keyErr:
		if kerr != nil && !errors.Is(kerr, context.Canceled) {
			return kerr
		}
	default:
	}
	return err
}

func (r *Runner) read(ctx context.Context) error {
	buf := make([]byte, 65536)
	for {
		n, err := r.RF.ReadDOCSIS(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("modem %v: RF link: %w", r.Modem.cfg.MAC, err)
		}
		if n > 0 && buf[0]>>6 == bpi.FCTypeMACSpecific {
			r.Modem.Stats.Mgmt.Add(1)
			if r.Keyer != nil {
				_, _ = r.Keyer.HandleFrame(buf[:n], r.Now()) // counted in Keyer.Stats
			}
			continue
		}
		r.deliver(buf[:n])
	}
}

func (r *Runner) deliver(frame []byte) {
	eth, encrypted, err := r.Modem.Receive(frame)
	if err != nil {
		return
	}
	if err := r.CPE.WriteEthernet(eth); err != nil {
		r.Modem.Stats.CPEErrors.Add(1)
		return
	}
	r.Modem.Stats.Delivered.Add(1)
	if !encrypted {
		r.Modem.Stats.Clear.Add(1)
	}
}

// requestKeys sends the Keyer's Key Requests when they are due.
func (r *Runner) requestKeys(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		frame, next, err := r.Keyer.Poll(r.Now())
		if err != nil {
			return fmt.Errorf("modem %v: key request: %w", r.Modem.cfg.MAC, err)
		}
		if frame != nil {
			if err := r.Up.WriteDOCSIS(frame); err != nil {
				return fmt.Errorf("modem %v: key request: %w", r.Modem.cfg.MAC, err)
			}
		}
		timer.Reset(max(next.Sub(r.Now()), 0))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-r.Keyer.Wake():
		}
	}
}
