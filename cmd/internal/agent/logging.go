package agent

import (
	"io"
	"log/slog"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
)

// Loggers gives each subsystem ("relay", "lq", "glean", ...) its own
// logger at the level the configuration sets for it, all writing
// structured text lines to one writer.
type Loggers struct {
	w      io.Writer
	global slog.Level
	levels map[string]slog.Level
}

// NewLoggers reads the levels of c (validated: unknown names and levels
// were refused by config.Parse).
func NewLoggers(w io.Writer, c config.Log) *Loggers {
	l := &Loggers{w: w, levels: map[string]slog.Level{}}
	_ = l.global.UnmarshalText([]byte(orDefault(c.Level, "info")))
	for sub, lvl := range c.Subsystems {
		var v slog.Level
		if v.UnmarshalText([]byte(lvl)) == nil {
			l.levels[sub] = v
		}
	}
	return l
}

// For returns the logger of subsystem sub; its records carry sub=NAME.
func (l *Loggers) For(sub string) *slog.Logger {
	lvl, ok := l.levels[sub]
	if !ok {
		lvl = l.global
	}
	return slog.New(slog.NewTextHandler(l.w, &slog.HandlerOptions{Level: lvl})).With("sub", sub)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
