package console

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// sessionState is where a session is.
type sessionState uint8

const (
	stGreet    sessionState = iota // "Press RETURN to get started."
	stPassword                     // typing the password
	stPrompt                       // editing a command line
	stRunning                      // a command runs; its output is paged
)

const (
	maxPassword  = 128  // bytes of password kept; more are ignored
	maxTypeAhead = 1024 // input kept while a command runs
	traceBatch   = 64   // trace lines shown per redraw of the prompt
)

// session is one operator's use of a port, from "Press RETURN" to logout.
// One goroutine (run) owns all of it; handlers run in their own goroutine
// and reach it through the command's channels.
type session struct {
	c   *Console
	t   *terminal
	ctx context.Context

	st        sessionState
	dec       keyDecoder
	ed        *editor
	pw        []byte
	pg        pager
	length    int // terminal length of this session
	out       []byte
	pending   []byte // input not yet handled
	loggedOut bool
	cmd       *command

	lastInput time.Time
	idleC     <-chan time.Time

	traces  chan string
	dropped atomic.Uint64 // trace lines lost since the last shown
}

func (c *Console) newSession(ctx context.Context, t *terminal) *session {
	return &session{
		c: c, t: t, ctx: ctx,
		ed:     newEditor(c.cfg.Prompt, c.cfg.TerminalWidth, c.cfg.MaxLine, c.cfg.HistorySize),
		length: c.cfg.TerminalLength,
		traces: make(chan string, c.cfg.TraceQueue),
	}
}

// run serves the session until logout (nil) or until the port or ctx
// fails (the error).
func (s *session) run() error {
	defer s.end()
	s.greet()
	for {
		s.process()
		if s.cmd != nil && s.cmd.drained() && !s.pg.waiting {
			s.finishCommand()
			continue // type-ahead may wait for the prompt
		}
		if err := s.flush(); err != nil || s.loggedOut {
			return err
		}
		if err := s.wait(); err != nil {
			s.flush()
			return err
		}
	}
}

func (s *session) end() {
	s.c.watch(s, false)
	if s.cmd != nil {
		s.cmd.cancel()
	}
	clear(s.pw)
}

func (s *session) flush() error {
	if len(s.out) == 0 {
		return nil
	}
	err := s.t.write(s.out)
	s.out = s.out[:0]
	return err
}

func (s *session) print(text ...string) {
	for _, t := range text {
		s.out = append(s.out, t...)
	}
}

// process handles the pending input the current state can take: all of
// it, except while a command runs and no --More-- waits for a key.
func (s *session) process() {
	for len(s.pending) > 0 && !s.loggedOut {
		if s.st == stRunning && !s.pg.waiting {
			return
		}
		b := s.pending[0]
		s.pending = s.pending[1:]
		k, ch := s.dec.decode(b)
		s.handle(k, ch)
	}
}

func (s *session) handle(k key, ch byte) {
	switch s.st {
	case stGreet:
		if k == keyEnter {
			s.startLogin()
		}
	case stPassword:
		s.passwordKey(k, ch)
	case stPrompt:
		s.promptKey(k, ch)
	case stRunning:
		s.moreKey(k, ch)
	}
}

// wait blocks for the next event: input, command output or completion,
// a trace line, the idle timer or the end of ctx.
func (s *session) wait() error {
	var out <-chan []byte
	var done <-chan error
	if s.cmd != nil && !s.pg.waiting {
		out = s.cmd.out
	}
	if s.cmd != nil && !s.cmd.finished {
		done = s.cmd.done
	}
	var traces <-chan string
	if s.st == stPrompt {
		traces = s.traces
	}
	select {
	case b, ok := <-s.t.in:
		if !ok {
			return s.t.inputError()
		}
		s.input(b)
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-s.idleTimer():
		s.idle()
	case line := <-traces:
		s.showTraces(line)
	case chunk := <-out:
		s.page(chunk)
	case err := <-done:
		s.cmd.finished, s.cmd.err = true, err
	case <-s.abandonTimer():
		s.abandon()
	}
	return nil
}

// input takes bytes from the terminal. While a command runs they wait as
// type-ahead, except that Ctrl-C stops the command and drops what was
// typed before it.
func (s *session) input(b []byte) {
	s.lastInput = s.c.clock.Now()
	if s.st == stRunning && !s.pg.waiting {
		if i := strings.LastIndexByte(string(b), 0x03); i >= 0 {
			s.interruptCommand()
			s.pending, b = s.pending[:0], b[i+1:]
		}
	}
	room := maxTypeAhead - len(s.pending)
	s.pending = append(s.pending, b[:min(len(b), max(room, 0))]...)
}

// idleTimer is armed while someone is logged in or logging in.
func (s *session) idleTimer() <-chan time.Time {
	if s.c.cfg.IdleTimeout < 0 || s.st == stGreet {
		return nil
	}
	if s.idleC == nil {
		s.idleC = s.c.clock.At(s.lastInput.Add(s.c.cfg.IdleTimeout))
	}
	return s.idleC
}

// idle handles the idle timer: it is re-armed if input came since; a
// running command (not waiting at --More--) counts as activity.
func (s *session) idle() {
	s.idleC = nil
	now := s.c.clock.Now()
	if now.Before(s.lastInput.Add(s.c.cfg.IdleTimeout)) {
		return
	}
	if s.st == stRunning && !s.pg.waiting {
		s.lastInput = now
		return
	}
	s.c.count.idleLogouts.Add(1)
	s.logout("Idle timeout: logged out")
}

// logout ends the session, with a message if any.
func (s *session) logout(msg string) {
	if s.cmd != nil {
		s.cmd.cancel()
		s.cmd = nil
	}
	s.print("\r\n")
	if msg != "" {
		s.print("% ", msg, "\r\n")
	}
	s.loggedOut = true
}

func (s *session) greet() {
	s.st = stGreet
	s.print("\r\n", s.c.cfg.Banner, "\r\n\r\nPress RETURN to get started.\r\n")
}

func (s *session) startLogin() {
	s.lastInput = s.c.clock.Now()
	if s.c.hash == nil {
		s.loggedIn()
		return
	}
	if d := s.c.loginLocked(); d > 0 {
		s.print(fmt.Sprintf("%% Console locked for %s after repeated login failures\r\n", seconds(d)))
		return
	}
	s.st = stPassword
	s.pw = s.pw[:0]
	s.print("\r\nPassword: ")
}

func (s *session) passwordKey(k key, ch byte) {
	switch k {
	case keyEnter:
		s.checkPassword()
	case keyInterrupt:
		s.print("^C\r\n")
		s.greet()
	case keyBackspace:
		if len(s.pw) > 0 {
			s.pw = s.pw[:len(s.pw)-1]
		}
	case keyKillStart:
		s.pw = s.pw[:0]
	case keyInsert, keyHelp:
		if len(s.pw) < maxPassword {
			s.pw = append(s.pw, ch)
		}
	}
}

func (s *session) checkPassword() {
	s.print("\r\n")
	ok := s.c.hash.Verify(s.pw)
	clear(s.pw)
	s.pw = s.pw[:0]
	locked := s.c.loginResult(ok)
	if ok {
		s.c.log.Info("console login")
		s.loggedIn()
		return
	}
	s.c.log.Warn("console login failed")
	s.print("% Login invalid\r\n")
	if locked > 0 {
		s.c.log.Warn("console locked after repeated login failures", "for", locked)
		s.print(fmt.Sprintf("%% Console locked for %s\r\n", seconds(locked)))
		s.greet()
		return
	}
	s.print("Password: ")
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%d s", int((d+time.Second-1)/time.Second))
}

func (s *session) loggedIn() {
	s.c.count.sessions.Add(1)
	s.c.watch(s, true)
	s.st = stPrompt
	s.print("\r\n")
	s.ed.start()
	s.takeEditorOutput()
}

func (s *session) promptKey(k key, ch byte) {
	switch s.ed.key(k, ch) {
	case evEnter:
		s.enter()
	case evInterrupt:
		s.ed.out = append(s.ed.out, "^C\r\n"...)
		s.ed.start()
	case evLogout:
		s.logout("")
	case evHelp:
		s.showHelp()
	case evComplete:
		s.complete()
	}
	s.takeEditorOutput()
}

func (s *session) takeEditorOutput() {
	s.out = append(s.out, s.ed.out...)
	s.ed.out = s.ed.out[:0]
}

// enter runs the line typed.
func (s *session) enter() {
	line := s.ed.line()
	s.ed.out = append(s.ed.out, "\r\n"...)
	s.takeEditorOutput()
	s.ed.hist.add(line)
	if strings.TrimSpace(line) == "" {
		s.ed.start()
		return
	}
	args, node, lerr := resolve(s.c.root, line)
	if lerr != nil {
		s.c.count.inputErrors.Add(1)
		s.showError(lerr)
		s.ed.start()
		return
	}
	s.c.count.commands.Add(1)
	s.c.log.Info("console command", "command", args.Command())
	if node.builtin != nil {
		if err := node.builtin(s, args); err != nil {
			s.print("% ", string(sanitize(err.Error())), "\r\n")
		}
		if !s.loggedOut {
			s.ed.start()
		}
		return
	}
	s.startCommand(node.handler, args)
}

// showError prints a refusal, with a caret under the offending word when
// it is on screen.
func (s *session) showError(e *lineError) {
	if e.pos >= 0 {
		if col := s.ed.column(e.pos); col >= 0 {
			s.print(strings.Repeat(" ", col), "^\r\n")
		}
	}
	s.print("% ", string(sanitize(e.msg)), "\r\n")
}

// showHelp answers '?': the possible next words, then the line again.
// Nothing runs and the line is unchanged.
func (s *session) showHelp() {
	s.ed.out = append(s.ed.out, "?\r\n"...)
	s.takeEditorOutput()
	items, lerr := help(s.c.root, s.ed.beforeCursor())
	if lerr != nil {
		s.showError(lerr)
	} else {
		var b strings.Builder
		writeHelpItems(&b, items)
		s.print(strings.ReplaceAll(b.String(), "\n", "\r\n"))
	}
	s.ed.redraw()
}

// complete answers TAB.
func (s *session) complete() {
	text := s.ed.beforeCursor()
	w, whole, ok := complete(s.c.root, text)
	if !ok {
		s.ed.bell()
		return
	}
	toks := tokenize(text)
	s.ed.complete(toks[len(toks)-1].pos, w, whole)
}

// showTraces prints trace lines above the prompt, then the prompt and the
// line being edited again, cursor where it was.
func (s *session) showTraces(first string) {
	s.print("\r\x1b[K")
	s.traceLine(first)
	for range traceBatch - 1 {
		select {
		case l := <-s.traces:
			s.traceLine(l)
			continue
		default:
		}
		break
	}
	if n := s.dropped.Swap(0); n > 0 {
		s.print(fmt.Sprintf("%% %d trace lines dropped\r\n", n))
	}
	s.ed.redraw()
	s.takeEditorOutput()
}

func (s *session) traceLine(l string) {
	for part := range strings.SplitSeq(strings.TrimRight(l, "\r\n"), "\n") {
		s.out = append(s.out, sanitize(part)...)
		s.print("\r\n")
	}
}
