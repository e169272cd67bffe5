package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Config is how the console behaves. The zero value of every field means
// its default.
type Config struct {
	// Prompt ends with a space; default "leaseguard> ".
	Prompt string
	// Banner is shown before "Press RETURN to get started."; default
	// "leaseguard console".
	Banner string
	// PasswordHash (from HashPassword, or bcrypt) asks for a password
	// before the prompt; empty means no login.
	PasswordHash string
	// TerminalLength is the rows per screen for --More-- (default 24);
	// negative disables paging. A session changes its own with
	// `terminal length N`.
	TerminalLength int
	// TerminalWidth is the columns of the terminal (default 80).
	TerminalWidth int
	// IdleTimeout logs out a session without input (default 10 min);
	// negative disables.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the port (default 10 s): a
	// terminal that stops reading ends the Serve call with ErrStalled.
	WriteTimeout time.Duration
	// HistorySize is the lines of history per session (default 32).
	HistorySize int
	// MaxLine is the longest command line (default 512 bytes).
	MaxLine int
	// MaxLoginFailures in a row lock logins for LockoutBase, doubling up
	// to LockoutMax (defaults 3, 60 s, 1 h).
	MaxLoginFailures        int
	LockoutBase, LockoutMax time.Duration
	// TraceQueue is how many trace lines wait for a session busy with a
	// command before more are dropped (default 256).
	TraceQueue int
	// Clock is the time of lockouts and idle logouts (nil: the real
	// clock). Write timeouts always use the real clock.
	Clock Clock
	// Logger records logins, lockouts, commands run and handler panics
	// (nil: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Prompt == "" {
		c.Prompt = "leaseguard> "
	}
	if c.Banner == "" {
		c.Banner = "leaseguard console"
	}
	def(&c.TerminalLength, 24)
	c.TerminalLength = max(c.TerminalLength, 0)
	def(&c.TerminalWidth, 80)
	def(&c.HistorySize, 32)
	def(&c.MaxLine, 512)
	def(&c.MaxLoginFailures, 3)
	def(&c.TraceQueue, 256)
	defDur(&c.IdleTimeout, 10*time.Minute)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.LockoutBase, time.Minute)
	defDur(&c.LockoutMax, time.Hour)
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Console is the CLI engine: a command tree served on any number of ports
// (Serve), each a succession of sessions, and a stream of trace lines
// shown between prompts (Trace).
type Console struct {
	cfg   Config
	root  *Node
	hash  *PasswordHash
	log   *slog.Logger
	clock Clock

	mu       sync.Mutex
	lock     lockout
	sessions map[*session]struct{} // logged in, receiving traces

	count counters
}

// New checks the tree and the config and adds the built-in commands:
// help, exit and terminal length.
func New(cfg Config, tree *Tree) (*Console, error) {
	cfg = cfg.withDefaults()
	c := &Console{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, sessions: map[*session]struct{}{}}
	c.lock = lockout{maxFailures: cfg.MaxLoginFailures, base: cfg.LockoutBase, ceiling: cfg.LockoutMax}
	if cfg.PasswordHash != "" {
		h, err := ParsePasswordHash(cfg.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		c.hash = h
	}
	root, err := c.withBuiltins(tree)
	if err != nil {
		return nil, err
	}
	c.root = root
	return c, nil
}

// Serve runs sessions on port until ctx ends or the port fails: it
// returns ctx.Err(), the read error (io.EOF when the terminal went away)
// or ErrStalled. A session ending (exit, Ctrl-D, idle timeout) starts the
// next one. The caller closes the port after Serve returns, which ends the
// goroutines still blocked on it.
func (c *Console) Serve(ctx context.Context, port io.ReadWriter) error {
	t := newTerminal(port, c.cfg.WriteTimeout)
	defer t.close()
	for {
		err := c.newSession(ctx, t).run()
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.count.portErrors.Add(1)
		return err
	}
}

// Run runs one command line without a terminal (no paging, no session
// built-ins): for a management API, scripts and tests of handlers.
func (c *Console) Run(ctx context.Context, line string, out io.Writer) error {
	args, node, lerr := resolve(c.root, line)
	if lerr != nil {
		c.count.inputErrors.Add(1)
		return lerr
	}
	if node.handler == nil {
		return fmt.Errorf("%q works only in a console session", args.Command())
	}
	c.count.commands.Add(1)
	return c.runHandler(ctx, node.handler, args, out)
}

// runHandler runs h, turning a panic into an error: a bug in one command
// must not take the agent down.
func (c *Console) runHandler(ctx context.Context, h Handler, args Args, out io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.count.panics.Add(1)
			c.log.Error("console command panicked", "command", args.Command(), "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error in %q (logged)", args.Command())
		}
		if err != nil && ctx.Err() == nil { // not an error: a command stopped by the operator
			c.count.commandErrors.Add(1)
		}
	}()
	return h(ctx, args, out)
}

// Trace shows line on every logged-in session, between prompts, without
// disturbing a line being typed. It never blocks: a session busy with a
// command queues up to TraceQueue lines and drops (and counts) the rest.
func (c *Console) Trace(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.sessions {
		select {
		case s.traces <- line:
		default:
			s.dropped.Add(1)
			c.count.tracesDropped.Add(1)
		}
	}
}

// Tracef is Trace with formatting.
func (c *Console) Tracef(format string, args ...any) { c.Trace(fmt.Sprintf(format, args...)) }

// Watched reports whether a session is logged in to see traces, so a
// caller can skip formatting them.
func (c *Console) Watched() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions) > 0
}

func (c *Console) watch(s *session, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.sessions[s] = struct{}{}
	} else {
		delete(c.sessions, s)
	}
}

// loginLocked is how long logins are still refused.
func (c *Console) loginLocked() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lock.remaining(c.clock.Now())
}

// loginResult records a login attempt; after a failure it returns the
// lockout the failure started, if any.
func (c *Console) loginResult(ok bool) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.lock.succeed()
		return 0
	}
	c.count.loginFailures.Add(1)
	d := c.lock.fail(c.clock.Now())
	if d > 0 {
		c.count.lockouts.Add(1)
	}
	return d
}

// Counters say how the console has been used.
type Counters struct {
	Sessions      uint64 // sessions that reached the prompt
	Commands      uint64 // command lines run (handlers and built-ins)
	InputErrors   uint64 // lines refused: unknown, ambiguous, incomplete, invalid
	CommandErrors uint64 // commands that returned an error (or panicked)
	Panics        uint64 // handler panics recovered
	LoginFailures uint64
	Lockouts      uint64
	IdleLogouts   uint64
	TracesDropped uint64
	PortErrors    uint64 // Serve calls ended by a failed port (read error, disconnect, stall)
	Abandoned     uint64 // commands that did not return when stopped, left running
	Watching      int    // sessions logged in now
}

type counters struct {
	sessions, commands, inputErrors, commandErrors, panics          atomic.Uint64
	loginFailures, lockouts, idleLogouts, tracesDropped, portErrors atomic.Uint64
	abandoned                                                       atomic.Uint64
}

// Counters returns a snapshot; safe at any time.
func (c *Console) Counters() Counters {
	c.mu.Lock()
	watching := len(c.sessions)
	c.mu.Unlock()
	k := &c.count
	return Counters{
		Sessions: k.sessions.Load(), Commands: k.commands.Load(),
		InputErrors: k.inputErrors.Load(), CommandErrors: k.commandErrors.Load(),
		Panics: k.panics.Load(), LoginFailures: k.loginFailures.Load(),
		Lockouts: k.lockouts.Load(), IdleLogouts: k.idleLogouts.Load(),
		TracesDropped: k.tracesDropped.Load(), PortErrors: k.portErrors.Load(),
		Abandoned: k.abandoned.Load(),
		Watching:  watching,
	}
}
