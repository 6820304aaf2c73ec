package devcmd

import (
	"context"
	"io"
	"log/slog"

	"github.com/aocu/aocu/internal/logging"
)

// quietHandler is the default log of `aocu dev`: warnings and errors, and of
// the info lines only those saying a process was spawned (one per process),
// so that the banner stays on screen. --log-level info shows everything.
type quietHandler struct{ slog.Handler }

// spawnLines are the info messages of the units that announce a new process.
var spawnLines = map[string]func(slog.Record) bool{
	// A Process item a client sent to the MU (aoconnect's spawn, the aos CLI).
	"mu: forwarded item": func(r slog.Record) bool {
		process := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "type" && a.Value.String() == "Process" {
				process = true
				return false
			}
			return true
		})
		return process
	},
	// A process spawned by another one, through the MU.
	"mu: process spawned": func(slog.Record) bool { return true },
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.Handler.Handle(ctx, r)
	}
	keep, ok := spawnLines[r.Message]
	if !ok || !keep(r) {
		return nil
	}
	// One plain line: "process spawned id=... [parent=...]".
	out := slog.NewRecord(r.Time, r.Level, "process spawned", r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "id" || a.Key == "parent" {
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

// quietLogger is the default logger of `aocu dev`.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(quietHandler{logging.NewHandler(w, slog.LevelInfo, "aocu-dev")})
}

// named is logging.Named through a quietHandler.
func named(l *slog.Logger, name string) *slog.Logger {
	if q, ok := l.Handler().(quietHandler); ok {
		if h, ok := q.Handler.(*logging.Handler); ok {
			return slog.New(quietHandler{h.WithName(name)})
		}
	}
	return logging.Named(l, name)
}
