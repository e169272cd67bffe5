package bpi

import (
	"errors"
	"fmt"
	"net/netip"
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
	bufs  [2]encoding
	Stats EncoderStats
}

// encoding is one frame on its way through the Encoder.
type encoding struct {
	buf  []byte
	from int // start of the region to encrypt
	tek  *TEK
	ip   netip.Addr // the destination, for errors
}

// NewEncoder returns an Encoder that locates destinations with loc, takes
// keys from keys and writes to link.
func NewEncoder(loc Locator, keys *Table, link RFWriter) *Encoder {
	e := &Encoder{loc: loc, keys: keys, link: link}
	for i := range e.bufs {
		e.bufs[i].buf = make([]byte, 0, 2048)
	}
	return e
}

// Send encodes eth (an Ethernet frame without FCS) at time now and writes
// it to the RF link. A returned *LocationError or *KeyError means the frame
// was dropped; it is never sent in clear for want of a key.
func (e *Encoder) Send(eth []byte, now time.Time) error {
	f := &e.bufs[0]
	if err := e.prepare(f, eth, now); err != nil {
		return err
	}
	if f.tek != nil {
		f.tek.Encrypt(f.buf[f.from:])
	}
	return e.write(f)
}

// SendPair is Send for two frames, a then b, with their encryption
// interleaved (EncryptPair): the same frames on the link, sooner. Each
// error is Send's for that frame.
func (e *Encoder) SendPair(a, b []byte, now time.Time) (errA, errB error) {
	fa, fb := &e.bufs[0], &e.bufs[1]
	errA, errB = e.prepare(fa, a, now), e.prepare(fb, b, now)
	switch {
	case errA == nil && errB == nil && fa.tek != nil && fb.tek != nil:
		fa.tek.EncryptPair(fa.buf[fa.from:], fb.tek, fb.buf[fb.from:])
	default:
		for _, f := range []*encoding{fa, fb} {
			if f.tek != nil {
				f.tek.Encrypt(f.buf[f.from:])
			}
		}
	}
	if errA == nil {
		errA = e.write(fa)
	}
	if errB == nil {
		errB = e.write(fb)
	}
	return errA, errB
}

// prepare locates eth's destination, selects its key and builds its frame
// in f, not yet encrypted. On error the frame is dropped and counted.
func (e *Encoder) prepare(f *encoding, eth []byte, now time.Time) error {
	f.tek = nil
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
	f.buf, f.from, err = appendPDU(f.buf[:0], eth, sel.Modem.PrimarySAID, sel.TEK)
	if err != nil {
		return fmt.Errorf("destination %v: %w", ip, err)
	}
	f.tek, f.ip = sel.TEK, ip
	return nil
}

func (e *Encoder) write(f *encoding) error {
	if err := e.link.WriteDOCSIS(f.buf); err != nil {
		e.Stats.LinkErrors.Add(1)
		return fmt.Errorf("destination %v: RF link: %w", f.ip, err)
	}
	if f.tek == nil {
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
