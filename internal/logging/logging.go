// Package logging is the CU's logger: log/slog with the reference CU's npm
// levels, its winston line format and its dynamic level file.
//
// Line format (reference src/domain/logger.js, winston printf):
//
//	2024-05-06T07:08:09.123Z ao-cu:myhost:app [info]: message key=value ...
//
// The timestamp is ISO 8601 in UTC with milliseconds, like JavaScript's
// Date.prototype.toISOString; the level is printed in lower case with its npm
// name. Attributes, which winston does not print, are appended as key=value
// pairs with the quoting rules of slog.TextHandler; group members are
// qualified with dots ("group.key=value").
//
// Naming: a logger's name is a property of its Handler, not an attribute.
// The root is RootName() ("ao-cu:<hostname>"); Named(l, "vm") returns a
// logger named "<l's name>:vm", like the reference's logger.child('vm').
// Named on a logger whose handler is not a *Handler falls back to
// l.With("logger", name).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The npm levels (winston.config.npm.levels) as slog levels. The order is the
// npm order; error, warn, info and debug coincide with slog's own levels.
const (
	LevelSilly   slog.Level = -8
	LevelDebug   slog.Level = slog.LevelDebug // -4
	LevelVerbose slog.Level = -3
	LevelHTTP    slog.Level = -2
	LevelInfo    slog.Level = slog.LevelInfo  // 0
	LevelWarn    slog.Level = slog.LevelWarn  // 4
	LevelError   slog.Level = slog.LevelError // 8
	// LevelOff silences every logger (the reference's test loggers use the
	// level "off"). Nothing can be logged at or above it.
	LevelOff slog.Level = math.MaxInt32
)

var levelNames = []struct {
	level slog.Level
	name  string
}{
	{LevelError, "error"},
	{LevelWarn, "warn"},
	{LevelInfo, "info"},
	{LevelHTTP, "http"},
	{LevelVerbose, "verbose"},
	{LevelDebug, "debug"},
	{LevelSilly, "silly"},
}

// ParseLevel parses an npm level name (error, warn, info, http, verbose,
// debug, silly) or "off". Surrounding white space and case are ignored.
func ParseLevel(s string) (slog.Level, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "off" {
		return LevelOff, nil
	}
	for _, ln := range levelNames {
		if ln.name == name {
			return ln.level, nil
		}
	}
	return 0, fmt.Errorf("logging: unknown log level %q", s)
}

// LevelName is the npm name of l: "error", "warn", "info", "http",
// "verbose", "debug", "silly" or "off". A level between two named levels is
// printed as the next lower name plus the offset, like slog does
// ("info+1"); below silly it is "silly-N".
func LevelName(l slog.Level) string {
	if l == LevelOff {
		return "off"
	}
	for _, ln := range levelNames {
		if l == ln.level {
			return ln.name
		}
		if l > ln.level {
			return ln.name + "+" + strconv.Itoa(int(l-ln.level))
		}
	}
	return "silly" + strconv.Itoa(int(l-LevelSilly))
}

// RootName is the reference's root logger name, "ao-cu:<hostname>".
func RootName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return "ao-cu:" + h
}

// New returns a logger named name writing reference-formatted lines to w,
// and the LevelVar that controls it (and every logger derived from it),
// initialised to defaultLevel.
func New(w io.Writer, defaultLevel slog.Level, name string) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	lv.Set(defaultLevel)
	return slog.New(NewHandler(w, lv, name)), lv
}

// Named returns a child of l whose name is l's name, ':' and name.
func Named(l *slog.Logger, name string) *slog.Logger {
	if h, ok := l.Handler().(*Handler); ok {
		return slog.New(h.WithName(name))
	}
	return l.With("logger", name)
}

// Handler is a slog.Handler printing the reference's line format.
type Handler struct {
	out    *output
	level  slog.Leveler
	name   string
	attrs  []byte // pre-formatted " key=value" pairs from WithAttrs
	prefix string // group prefix from WithGroup, "a.b." or ""
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewHandler returns a Handler named name that writes to w and logs records
// at or above level (slog.LevelVar, slog.Level or any slog.Leveler; nil means
// info).
func NewHandler(w io.Writer, level slog.Leveler, name string) *Handler {
	if level == nil {
		level = LevelInfo
	}
	return &Handler{out: &output{w: w}, level: level, name: name}
}

// Name is the handler's logger name.
func (h *Handler) Name() string { return h.name }

// WithName returns a handler named h.Name()+":"+name (just name when h has
// no name). It shares the writer, level and attributes of h.
func (h *Handler) WithName(name string) *Handler {
	h2 := *h
	if h.name == "" {
		h2.name = name
	} else if name != "" {
		h2.name = h.name + ":" + name
	}
	return &h2
}

// Enabled reports whether l is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	min := h.level.Level()
	return min != LevelOff && l >= min
}

// WithAttrs returns a handler that appends attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	b := append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		b = appendAttr(b, h.prefix, a)
	}
	h2.attrs = b
	return &h2
}

// WithGroup returns a handler that qualifies later attributes with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// Handle writes one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	b := make([]byte, 0, 128+len(h.attrs))
	if !r.Time.IsZero() {
		b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, ' ')
	}
	b = append(b, h.name...)
	b = append(b, " ["...)
	b = append(b, LevelName(r.Level)...)
	b = append(b, "]: "...)
	b = append(b, r.Message...)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	b = append(b, '\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(b)
	return err
}

func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return b
		}
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range attrs {
			b = appendAttr(b, prefix, ga)
		}
		return b
	}
	b = append(b, ' ')
	b = appendString(b, prefix+a.Key)
	b = append(b, '=')
	switch a.Value.Kind() {
	case slog.KindString:
		b = appendString(b, a.Value.String())
	case slog.KindTime:
		b = a.Value.Time().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprintf("%+v", v)
		}
		b = appendString(b, s)
	default:
		b = appendString(b, a.Value.String())
	}
	return b
}

// appendString quotes s like slog.TextHandler does: only when it is empty
// or contains spaces, '=', '"' or non-printable characters.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// DefaultWatchInterval is Node's fs.watchFile default polling interval.
const DefaultWatchInterval = 5007 * time.Millisecond

// WatchLevelFile keeps lv in step with the level written in the file at path
// (the reference's LOG_CONFIG_PATH), polling it every interval
// (DefaultWatchInterval when interval <= 0) like fs.watchFile. It checks the
// file at once, then on every tick, and returns when ctx ends; the caller
// runs it on its own goroutine.
//
//   - The file's trimmed content is the level (see ParseLevel).
//   - A missing, unreadable or empty file means defaultLevel.
//   - Invalid content is logged once (until the content changes) at error
//     level and otherwise ignored: the level stays as it is.
//   - A change is logged at error level, as the reference does, with
//     `Logger Configuration Change: updating log level "<old>" -> "<new>"`.
//
// An empty path returns at once.
func WatchLevelFile(ctx context.Context, path string, defaultLevel slog.Level, lv *slog.LevelVar, logger *slog.Logger, interval time.Duration) {
	if path == "" || lv == nil {
		return
	}
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lastInvalid := ""
	check := func() {
		content := ""
		if data, err := os.ReadFile(path); err == nil {
			content = strings.TrimSpace(string(data))
		}
		next := defaultLevel
		if content != "" {
			l, err := ParseLevel(content)
			if err != nil {
				if content != lastInvalid {
					lastInvalid = content
					logger.Log(ctx, LevelError, fmt.Sprintf("Logger Configuration: ignoring invalid log level %q in %q", content, path))
				}
				return
			}
			next = l
		}
		lastInvalid = ""
		if cur := lv.Level(); cur != next {
			// Logged before the change so that it shows even when
			// switching to "off".
			logger.Log(ctx, LevelError, fmt.Sprintf("Logger Configuration Change: updating log level %q -> %q", LevelName(cur), LevelName(next)))
			lv.Set(next)
		}
	}
	check()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}
