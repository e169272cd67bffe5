package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
)

// Tracer shows debug trace lines to an operator: *console.Console.
type Tracer interface {
	Trace(line string)
}

// Logs gives each subsystem ("relay", "lq", "nft", ...) a logger whose
// level can change at run time, globally or per subsystem, and whose
// records go, while `debug SUBSYSTEM on`, to the console's trace as well
// (debug records included, whatever the log level). All loggers write
// structured text to one writer through one slog.TextHandler.
type Logs struct {
	base   slog.Handler
	global slog.LevelVar
	tracer atomic.Pointer[tracerBox]

	mu   sync.Mutex
	subs map[string]*subsystem
}

type tracerBox struct{ Tracer }

// subsystem is one subsystem's switches, read on every record.
type subsystem struct {
	own   atomic.Bool // level set for it; otherwise the global level applies
	level slog.LevelVar
	debug atomic.Bool
}

// NewLogs writes to w (nil discards) at the levels of c (validated by
// config.Parse; an unreadable level is ignored).
func NewLogs(w io.Writer, c config.Log) *Logs {
	if w == nil {
		w = io.Discard
	}
	l := &Logs{base: slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}), subs: map[string]*subsystem{}}
	for _, s := range config.Subsystems {
		l.sub(s)
	}
	l.Configure(c)
	return l
}

// SetTracer sends debug traces to t (nil stops them).
func (l *Logs) SetTracer(t Tracer) {
	if t == nil {
		l.tracer.Store(nil)
		return
	}
	l.tracer.Store(&tracerBox{t})
}

func (l *Logs) sub(name string) *subsystem {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.subs[name]
	if !ok {
		s = &subsystem{}
		l.subs[name] = s
	}
	return s
}

func (l *Logs) lookup(name string) (*subsystem, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.subs[name]
	return s, ok
}

// For returns the logger of subsystem name; its records carry sub=NAME.
func (l *Logs) For(name string) *slog.Logger {
	h := &subHandler{logs: l, name: name, s: l.sub(name), inner: l.base.WithAttrs([]slog.Attr{slog.String("sub", name)})}
	return slog.New(h)
}

// Configure sets the levels of c: the global level (default info) and
// those of the subsystems it names; the others follow the global level.
// Debug traces are left as they are.
func (l *Logs) Configure(c config.Log) {
	l.global.Set(parseLevel(c.Level, slog.LevelInfo))
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, s := range l.subs {
		lvl, ok := c.Subsystems[name]
		s.own.Store(ok)
		if ok {
			s.level.Set(parseLevel(lvl, slog.LevelInfo))
		}
	}
}

func parseLevel(s string, def slog.Level) slog.Level {
	var v slog.Level
	if s == "" || v.UnmarshalText([]byte(s)) != nil {
		return def
	}
	return v
}

// SetLevel sets the level of subsystem name, or the global level when
// name is "" or "all". level "default" makes a subsystem follow the
// global level again.
func (l *Logs) SetLevel(name, level string) error {
	var v slog.Level
	if level != "default" || name == "" || name == "all" {
		if err := v.UnmarshalText([]byte(level)); err != nil {
			return errorf(Invalid, "level", "%q is not a level (debug, info, warn, error)", level)
		}
	}
	if name == "" || name == "all" {
		l.global.Set(v)
		return nil
	}
	s, ok := l.lookup(name)
	if !ok {
		return errorf(Invalid, "subsystem", "%q is not a subsystem (known: %s)", name, strings.Join(l.names(), ", "))
	}
	s.own.Store(level != "default")
	s.level.Set(v)
	return nil
}

// SetDebug turns the console trace of subsystem name on or off.
func (l *Logs) SetDebug(name string, on bool) error {
	s, ok := l.lookup(name)
	if !ok {
		return errorf(Invalid, "subsystem", "%q is not a subsystem (known: %s)", name, strings.Join(l.names(), ", "))
	}
	s.debug.Store(on)
	return nil
}

// Debugging reports whether subsystem name is traced.
func (l *Logs) Debugging(name string) bool {
	s, ok := l.lookup(name)
	return ok && s.debug.Load()
}

func (l *Logs) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.subs))
	for n := range l.subs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// State returns the levels and traces in force.
func (l *Logs) State() Logging {
	st := Logging{Level: l.global.Level().String(), Subsystems: map[string]string{}, Debug: []string{}}
	for _, n := range l.names() {
		s, _ := l.lookup(n)
		if s.own.Load() {
			st.Subsystems[n] = s.level.Level().String()
		}
		if s.debug.Load() {
			st.Debug = append(st.Debug, n)
		}
	}
	return st
}

func (l *Logs) levelOf(s *subsystem) slog.Level {
	if s.own.Load() {
		return s.level.Level()
	}
	return l.global.Level()
}

// subHandler is one subsystem's handler: the shared text handler at the
// subsystem's level, plus the trace while debugging.
type subHandler struct {
	logs  *Logs
	name  string
	s     *subsystem
	inner slog.Handler
	attrs string // preformatted attributes for trace lines
	group string // group prefix for trace attributes ("g.")
}

func (h *subHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return lv >= h.logs.levelOf(h.s) || (h.s.debug.Load() && h.logs.tracer.Load() != nil)
}

func (h *subHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if r.Level >= h.logs.levelOf(h.s) {
		err = h.inner.Handle(ctx, r)
	}
	if t := h.logs.tracer.Load(); t != nil && h.s.debug.Load() {
		t.Trace(h.traceLine(r))
	}
	return err
}

func (h *subHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(as)
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		appendAttr(&b, h.group, a)
	}
	c.attrs = b.String()
	return &c
}

func (h *subHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.inner = h.inner.WithGroup(name)
	c.group = h.group + name + "."
	return &c
}

// traceLine is "15:04:05.000 relay: message key=value ...".
func (h *subHandler) traceLine(r slog.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", r.Time.Format("15:04:05.000"), h.name)
	if r.Level != slog.LevelDebug {
		b.WriteString(r.Level.String() + " ")
	}
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	return b.String()
}

func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " =\"") {
		v = strconv.Quote(v)
	}
	fmt.Fprintf(b, " %s%s=%s", prefix, a.Key, v)
}
