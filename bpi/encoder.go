package bpi

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// RFWriter sends DOCSIS MAC frames downstream. bpi/rflink implements it
// over an AF_PACKET socket.
type RFWriter interface {
	WriteDOCSIS(frame []byte) error
}

// EncoderStats counts what an Encoder did with the frames it was given.
type EncoderStats struct {
	Encrypted       atomic.Uint64 // sent under a TEK
	Clear           atomic.Uint64 // sent in clear: BPI disabled for the modem
	UnknownLocation atomic.Uint64 // dropped: no binding for the destination
	NoKey           atomic.Uint64 // dropped: modem unknown or without a valid TEK
	NoDestination   atomic.Uint64 // dropped: no IP destination in the frame
	LinkErrors      atomic.Uint64 // the RF link refused the frame
}

// Encoder turns downstream Ethernet frames into DOCSIS MAC frames keyed
// for the modem behind each frame's destination IP, and writes them to the
// RF link. It is not safe for concurrent use (it reuses one buffer); use
// one Encoder per sending goroutine. Stats may be read at any time.
type Encoder struct {
	loc   Locator
	keys  *Table
	link  RFWriter
	buf   []byte
	Stats EncoderStats
}

// NewEncoder returns an Encoder that locates destinations with loc, takes
// keys from keys and writes to link.
func NewEncoder(loc Locator, keys *Table, link RFWriter) *Encoder {
	return &Encoder{loc: loc, keys: keys, link: link, buf: make([]byte, 0, 2048)}
}

// Send encodes eth (an Ethernet frame without FCS) at time now and writes
// it to the RF link. A returned *LocationError or *KeyError means the frame
// was dropped; it is never sent in clear for want of a key.
func (e *Encoder) Send(eth []byte, now time.Time) error {
	ip, err := DestinationIP(eth)
	if err != nil {
		e.Stats.NoDestination.Add(1)
		return err
	}
	sel, err := e.keys.Select(e.loc, ip, now)
	if err != nil {
		e.countDrop(err)
		return err
	}
	e.buf, err = AppendDownstream(e.buf[:0], eth, sel.Modem.PrimarySAID, sel.TEK)
	if err != nil {
		return fmt.Errorf("destination %v: %w", ip, err)
	}
	if err := e.link.WriteDOCSIS(e.buf); err != nil {
		e.Stats.LinkErrors.Add(1)
		return fmt.Errorf("destination %v: RF link: %w", ip, err)
	}
	if sel.TEK == nil {
		e.Stats.Clear.Add(1)
	} else {
		e.Stats.Encrypted.Add(1)
	}
	return nil
}

func (e *Encoder) countDrop(err error) {
	if errors.Is(err, ErrUnknownLocation) {
		e.Stats.UnknownLocation.Add(1)
	} else {
		e.Stats.NoKey.Add(1)
	}
}
