package console

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrStalled ends a console whose peer stopped taking output: a write did
// not complete within the write timeout.
var ErrStalled = errors.New("console: write timed out: the terminal stopped reading")

const (
	readChunk  = 256  // bytes per read from the port
	writeChunk = 1024 // bytes per write to the port: about 1 s at 9600 baud
	// maxEmptyReads stops a Reader that keeps returning nothing and no
	// error, which io.Reader discourages but does not forbid.
	maxEmptyReads = 100
)

// terminal is a port served by a console: a goroutine reads it into a
// channel, another writes to it, so the session never blocks on the port
// for longer than the write timeout. The goroutines end when the port
// fails; a blocked one ends when the port's owner closes it after Serve.
type terminal struct {
	in      chan []byte // input; closed when the port fails
	readErr error       // why in was closed (read after it is)
	req     chan []byte
	res     chan error
	stop    chan struct{}
	timeout time.Duration
	broken  error // first write failure: the port is unusable
}

// The write timeout runs on the real clock, not the console's Clock: it
// measures a stuck peer, and virtual time jumping in a test while a write
// is in flight would read as a stall.
func newTerminal(port io.ReadWriter, timeout time.Duration) *terminal {
	t := &terminal{
		in:      make(chan []byte, 4),
		req:     make(chan []byte),
		res:     make(chan error, 1),
		stop:    make(chan struct{}),
		timeout: timeout,
	}
	go t.readLoop(port)
	go t.writeLoop(port)
	return t
}

// close lets the goroutines end once the port's calls return.
func (t *terminal) close() { close(t.stop) }

func (t *terminal) readLoop(r io.Reader) {
	defer close(t.in)
	empty := 0
	for {
		buf := make([]byte, readChunk)
		n, err := r.Read(buf)
		if n > 0 {
			empty = 0
			select {
			case t.in <- buf[:n]:
			case <-t.stop:
				return
			}
		}
		if err == nil && n == 0 {
			if empty++; empty == maxEmptyReads {
				err = io.ErrNoProgress
			}
		}
		if err != nil {
			t.readErr = err
			return
		}
	}
}

func (t *terminal) writeLoop(w io.Writer) {
	for {
		select {
		case p := <-t.req:
			_, err := w.Write(p)
			t.res <- err // buffered: never blocks, one request at a time
		case <-t.stop:
			return
		}
	}
}

// write writes p, in chunks each allowed the write timeout. After a
// failure every write fails.
func (t *terminal) write(p []byte) error {
	for len(p) > 0 && t.broken == nil {
		n := min(len(p), writeChunk)
		deadline := time.NewTimer(t.timeout)
		select {
		case t.req <- p[:n]:
		case <-deadline.C:
			t.broken = ErrStalled
			return t.broken
		}
		select {
		case err := <-t.res:
			if err != nil {
				t.broken = fmt.Errorf("console: write: %w", err)
			}
		case <-deadline.C:
			t.broken = ErrStalled
		}
		deadline.Stop()
		p = p[n:]
	}
	return t.broken
}

// inputError is why the input channel closed.
func (t *terminal) inputError() error {
	if t.readErr == nil || errors.Is(t.readErr, io.EOF) {
		return fmt.Errorf("console: read: terminal disconnected: %w", io.EOF)
	}
	return fmt.Errorf("console: read: %w", t.readErr)
}
