package modem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
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

// Runner runs a Modem against an RF link and a CPE link.
type Runner struct {
	Modem *Modem
	RF    RFReader
	CPE   CPEWriter
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
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past unblocks the pending read.
		_ = r.RF.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	close(r.ready)
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
		eth, encrypted, err := r.Modem.Receive(buf[:n])
		if err != nil {
			continue
		}
		if err := r.CPE.WriteEthernet(eth); err != nil {
			r.Modem.Stats.CPEErrors.Add(1)
			continue
		}
		r.Modem.Stats.Delivered.Add(1)
		if !encrypted {
			r.Modem.Stats.Clear.Add(1)
		}
	}
}
