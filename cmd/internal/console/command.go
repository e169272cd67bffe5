package console

import (
	"context"
	"errors"
	"io"
	"time"
)

// errOutputClosed is what a handler's writes return once its output is no
// longer wanted: q at --More--, Ctrl-C, or the session ended.
var errOutputClosed = errors.New("console output closed")

const (
	outChunk = 4096 // bytes per chunk of command output
	outQueue = 16   // chunks in flight between a handler and its session
	// abandonAfter is how long a command stopped by the operator may take
	// to return before the prompt comes back without it.
	abandonAfter = 3 * time.Second
)

// command is a handler running for a session.
type command struct {
	cancel   context.CancelFunc
	out      chan []byte // the handler's output, in chunks
	done     chan error  // the handler's result
	finished bool        // done has been received
	err      error
	rest     []byte // output not yet shown: the rest of a chunk at --More--
	quit     bool   // the operator stopped the output
	stopped  time.Time
	abandonC <-chan time.Time
}

func (c *command) drained() bool {
	return c.finished && len(c.out) == 0 && len(c.rest) == 0
}

// commandWriter is the out a handler writes to: a bounded queue to the
// session, so output waits while the operator reads a page, and fails once
// the command's context ends.
type commandWriter struct {
	ctx context.Context
	out chan<- []byte
}

func (w commandWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.ctx.Err() != nil {
			return n, errOutputClosed
		}
		c := min(len(p), outChunk)
		select {
		case w.out <- append([]byte(nil), p[:c]...):
		case <-w.ctx.Done():
			return n, errOutputClosed
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

var _ io.Writer = commandWriter{}

func (s *session) startCommand(h Handler, args Args) {
	ctx, cancel := context.WithCancel(s.ctx)
	cmd := &command{cancel: cancel, out: make(chan []byte, outQueue), done: make(chan error, 1)}
	s.cmd, s.st = cmd, stRunning
	s.pg.reset(s.length, s.c.cfg.TerminalWidth)
	go func() {
		cmd.done <- s.c.runHandler(ctx, h, args, commandWriter{ctx: ctx, out: cmd.out})
	}()
}

// page shows a chunk of output up to the end of the page.
func (s *session) page(chunk []byte) {
	if s.cmd.quit {
		return
	}
	s.cmd.rest = chunk
	s.pageRest()
}

func (s *session) pageRest() {
	var n int
	var full bool
	s.out, n, full = s.pg.take(s.out, s.cmd.rest)
	s.cmd.rest = s.cmd.rest[n:]
	if full {
		s.pg.waiting = true
		s.print(morePrompt)
	}
}

// moreKey answers --More--: space, Enter, or q (also Ctrl-C) to stop.
func (s *session) moreKey(k key, ch byte) {
	if !s.pg.waiting {
		return
	}
	switch {
	case k == keyInsert && ch == ' ':
		s.print(moreErase)
		s.pg.nextPage()
	case k == keyEnter:
		s.print(moreErase)
		s.pg.nextLine()
	case k == keyInsert && (ch == 'q' || ch == 'Q'), k == keyInterrupt:
		s.print(moreErase)
		s.pg.waiting = false
		s.quitOutput()
		return
	default:
		return
	}
	s.pageRest()
}

// interruptCommand is Ctrl-C while a command runs.
func (s *session) interruptCommand() {
	if !s.cmd.quit {
		s.print(s.pg.endLine(), "^C\r\n")
	}
	s.quitOutput()
}

func (s *session) quitOutput() {
	if !s.cmd.quit {
		s.cmd.quit, s.cmd.stopped = true, s.c.clock.Now()
	}
	s.cmd.rest = nil
	s.cmd.cancel()
}

// abandonTimer runs once a command has been stopped and has not returned.
func (s *session) abandonTimer() <-chan time.Time {
	if s.cmd == nil || !s.cmd.quit || s.cmd.finished {
		return nil
	}
	if s.cmd.abandonC == nil {
		s.cmd.abandonC = s.c.clock.At(s.cmd.stopped.Add(abandonAfter))
	}
	return s.cmd.abandonC
}

// abandon gives the prompt back although a stopped command has not
// returned: a handler ignoring its context must not hold the console. Its
// writes fail; its goroutine ends whenever it returns.
func (s *session) abandon() {
	s.c.count.abandoned.Add(1)
	s.c.log.Warn("console command ignored its cancellation; abandoned")
	s.cmd.finished = true
	s.cmd.err = errors.New("the command did not stop; it is left running in the background")
	s.cmd.quit = false // show that error
	s.cmd.rest = nil
	for len(s.cmd.out) > 0 {
		<-s.cmd.out
	}
}

// finishCommand shows the command's error, if any, and the prompt again.
func (s *session) finishCommand() {
	cmd := s.cmd
	s.cmd = nil
	cmd.cancel()
	s.print(s.pg.endLine())
	quietErr := errors.Is(cmd.err, errOutputClosed) || (cmd.quit && errors.Is(cmd.err, context.Canceled))
	if cmd.err != nil && !quietErr {
		s.print("% ", string(sanitize(cmd.err.Error())), "\r\n")
	}
	s.st = stPrompt
	s.lastInput = s.c.clock.Now()
	s.ed.start()
	s.takeEditorOutput()
}
