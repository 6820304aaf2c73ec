package logging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the watcher goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func TestFormat(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, LevelInfo, "ao-cu:host")
	r := slog.NewRecord(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600)), LevelWarn, "hello world", 0)
	r.AddAttrs(
		slog.String("process", "abc"),
		slog.Int("n", 3),
		slog.String("s", "a b"),
		slog.Bool("ok", true),
		slog.Any("err", errors.New("boom")),
		slog.Group("g", slog.String("k", "v")),
		slog.String("empty", ""),
	)
	if err := h.WithName("app").Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	want := `2024-05-06T06:08:09.123Z ao-cu:host:app [warn]: hello world process=abc n=3 s="a b" ok=true err=boom g.k=v empty=""` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestLoggerLineAndNames(t *testing.T) {
	var buf bytes.Buffer
	l, _ := New(&buf, LevelInfo, "ao-cu:host")
	vm := Named(Named(l, "vm"), "readResult")
	vm.With("pid", "p1").WithGroup("ctx").Info("loaded", "n", 2)
	line := strings.TrimSuffix(buf.String(), "\n")
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ao-cu:host:vm:readResult \[info\]: loaded pid=p1 ctx\.n=2$`)
	if !re.MatchString(line) {
		t.Fatalf("unexpected line %q", line)
	}
	if got := vm.Handler().(*Handler).Name(); got != "ao-cu:host:vm:readResult" {
		t.Fatalf("name %q", got)
	}

	// A foreign handler falls back to an attribute.
	buf.Reset()
	Named(slog.New(slog.NewTextHandler(&buf, nil)), "x").Info("m")
	if !strings.Contains(buf.String(), "logger=x") {
		t.Fatalf("fallback: %q", buf.String())
	}
}

func TestRootName(t *testing.T) {
	h, _ := os.Hostname()
	if got := RootName(); !strings.HasPrefix(got, "ao-cu:") || (h != "" && got != "ao-cu:"+h) {
		t.Fatalf("RootName() = %q", got)
	}
}

func TestParseLevelAndNames(t *testing.T) {
	order := []string{"silly", "debug", "verbose", "http", "info", "warn", "error", "off"}
	prev := slog.Level(-1 << 30)
	for _, name := range order {
		l, err := ParseLevel(name)
		if err != nil {
			t.Fatalf("ParseLevel(%q): %v", name, err)
		}
		if l <= prev {
			t.Fatalf("levels not monotone at %q", name)
		}
		prev = l
		if got := LevelName(l); got != name {
			t.Fatalf("LevelName(%d) = %q, want %q", l, got, name)
		}
	}
	if l, err := ParseLevel("  Debug\n"); err != nil || l != LevelDebug {
		t.Fatalf("ParseLevel trims and ignores case: %v %v", l, err)
	}
	for _, bad := range []string{"", "trace", "fatal", "1"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Fatalf("ParseLevel(%q) accepted", bad)
		}
	}
	if LevelError != slog.LevelError || LevelWarn != slog.LevelWarn || LevelInfo != slog.LevelInfo || LevelDebug != slog.LevelDebug {
		t.Fatal("npm levels must coincide with slog's")
	}
	if got := LevelName(LevelInfo + 1); got != "info+1" {
		t.Fatalf("LevelName(info+1) = %q", got)
	}
	if got := LevelName(LevelSilly - 2); got != "silly-2" {
		t.Fatalf("LevelName(silly-2) = %q", got)
	}
}

func TestLevelFiltering(t *testing.T) {
	var buf bytes.Buffer
	l, lv := New(&buf, LevelInfo, "n")
	ctx := context.Background()
	logAll := func() {
		for _, lvl := range []slog.Level{LevelSilly, LevelDebug, LevelVerbose, LevelHTTP, LevelInfo, LevelWarn, LevelError} {
			l.Log(ctx, lvl, "m")
		}
	}
	levelsIn := func() []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			i, j := strings.Index(line, "["), strings.Index(line, "]")
			out = append(out, line[i+1:j])
		}
		buf.Reset()
		return out
	}
	logAll()
	if got := strings.Join(levelsIn(), ","); got != "info,warn,error" {
		t.Fatalf("info: %s", got)
	}
	lv.Set(LevelHTTP)
	logAll()
	if got := strings.Join(levelsIn(), ","); got != "http,info,warn,error" {
		t.Fatalf("http: %s", got)
	}
	lv.Set(LevelSilly)
	logAll()
	if got := strings.Join(levelsIn(), ","); got != "silly,debug,verbose,http,info,warn,error" {
		t.Fatalf("silly: %s", got)
	}
	lv.Set(LevelError)
	logAll()
	if got := strings.Join(levelsIn(), ","); got != "error" {
		t.Fatalf("error: %s", got)
	}
	lv.Set(LevelOff)
	logAll()
	if got := levelsIn(); len(got) != 0 {
		t.Fatalf("off: %v", got)
	}
	// Children follow the parent's LevelVar.
	lv.Set(LevelDebug)
	Named(l, "child").Debug("d")
	if got := levelsIn(); len(got) != 1 || got[0] != "debug" {
		t.Fatalf("child: %v", got)
	}
}

// writeAtomic replaces path's content at once, so that the watcher never
// reads a half-written file.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startWatch(t *testing.T, path string, def slog.Level) (*syncBuffer, *slog.LevelVar) {
	t.Helper()
	buf := &syncBuffer{}
	l, lv := New(buf, def, "ao-cu:test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchLevelFile(ctx, path, def, lv, l, 5*time.Millisecond)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("WatchLevelFile did not return after cancel")
		}
	})
	return buf, lv
}

func TestWatchLevelFileChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".loglevel")
	if err := writeAtomic(path, []byte(" debug\n")); err != nil {
		t.Fatal(err)
	}
	buf, lv := startWatch(t, path, LevelInfo)

	// Read at once on start.
	waitFor(t, "debug", func() bool { return lv.Level() == LevelDebug })
	waitFor(t, "change message", func() bool {
		return strings.Contains(buf.String(), `ao-cu:test [error]: Logger Configuration Change: updating log level "info" -> "debug"`)
	})

	if err := writeAtomic(path, []byte("warn")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "warn", func() bool { return lv.Level() == LevelWarn })
	waitFor(t, "second message", func() bool {
		return strings.Contains(buf.String(), `updating log level "debug" -> "warn"`)
	})

	// Emptied → default.
	if err := writeAtomic(path, []byte("  \n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "default after empty", func() bool { return lv.Level() == LevelInfo })

	if err := writeAtomic(path, []byte("silly")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "silly", func() bool { return lv.Level() == LevelSilly })

	// Removed → default.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "default after remove", func() bool { return lv.Level() == LevelInfo })
	waitFor(t, "remove message", func() bool {
		return strings.Contains(buf.String(), `updating log level "silly" -> "info"`)
	})
	if n := strings.Count(buf.String(), "Logger Configuration Change"); n != 5 {
		t.Fatalf("want 5 change messages, got %d:\n%s", n, buf.String())
	}
}

func TestWatchLevelFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", ".loglevel")
	buf, lv := startWatch(t, path, LevelWarn)
	lv.Set(LevelDebug) // not the default: the first check must restore it
	waitFor(t, "default", func() bool { return lv.Level() == LevelWarn })
	time.Sleep(30 * time.Millisecond)
	if n := strings.Count(buf.String(), "Logger Configuration Change"); n != 1 {
		t.Fatalf("want 1 change message, got %d:\n%s", n, buf.String())
	}
}

func TestWatchLevelFileMissingIsQuiet(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".loglevel")
	buf, lv := startWatch(t, path, LevelInfo)
	time.Sleep(40 * time.Millisecond)
	if lv.Level() != LevelInfo || buf.String() != "" {
		t.Fatalf("level %v, output %q", lv.Level(), buf.String())
	}
}

func TestWatchLevelFileInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".loglevel")
	if err := writeAtomic(path, []byte("verbose")); err != nil {
		t.Fatal(err)
	}
	buf, lv := startWatch(t, path, LevelInfo)
	waitFor(t, "verbose", func() bool { return lv.Level() == LevelVerbose })

	if err := writeAtomic(path, []byte("loud\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "invalid message", func() bool { return strings.Contains(buf.String(), `"loud"`) })
	time.Sleep(40 * time.Millisecond) // many polls
	out := buf.String()
	if n := strings.Count(out, `"loud"`); n != 1 {
		t.Fatalf("invalid content logged %d times:\n%s", n, out)
	}
	if !regexp.MustCompile(`(?m)^\S+ ao-cu:test \[error\]: .*invalid log level "loud"`).MatchString(out) {
		t.Fatalf("invalid message not at error level:\n%s", out)
	}
	if lv.Level() != LevelVerbose {
		t.Fatalf("invalid content changed the level to %v", lv.Level())
	}

	if err := writeAtomic(path, []byte("http")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "http", func() bool { return lv.Level() == LevelHTTP })
	waitFor(t, "change message", func() bool {
		return strings.Contains(buf.String(), `updating log level "verbose" -> "http"`)
	})
}

func TestWatchLevelFileReturnsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lv := new(slog.LevelVar)
	done := make(chan struct{})
	go func() {
		WatchLevelFile(ctx, filepath.Join(t.TempDir(), "x"), LevelInfo, lv, nil, time.Hour)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("did not return")
	}
}

// TestSlogConformance runs the standard slog.Handler conformance tests,
// parsing the lines back into maps.
func TestSlogConformance(t *testing.T) {
	var buf bytes.Buffer
	newHandler := func(*testing.T) slog.Handler {
		buf.Reset()
		return NewHandler(&buf, LevelInfo, "n")
	}
	result := func(t *testing.T) map[string]any {
		line := strings.TrimSuffix(buf.String(), "\n")
		m, err := parseLine(line)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		return m
	}
	slogtest.Run(t, newHandler, result)
}

var lineRE = regexp.MustCompile(`^(?:(\S+Z) )?n \[(\w+)\]: (\S*)(.*)$`)

func parseLine(line string) (map[string]any, error) {
	sm := lineRE.FindStringSubmatch(line)
	if sm == nil {
		return nil, errors.New("no match")
	}
	m := map[string]any{slog.LevelKey: sm[2], slog.MessageKey: sm[3]}
	if sm[1] != "" {
		ts, err := time.Parse(time.RFC3339Nano, sm[1])
		if err != nil {
			return nil, err
		}
		m[slog.TimeKey] = ts
	}
	rest := sm[4]
	for rest != "" {
		if rest[0] != ' ' {
			return nil, errors.New("expected space in " + rest)
		}
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return nil, errors.New("expected = in " + rest)
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, err
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			sp := strings.IndexByte(rest, ' ')
			if sp < 0 {
				sp = len(rest)
			}
			val, rest = rest[:sp], rest[sp:]
		}
		parts := strings.Split(key, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			sub, ok := cur[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				cur[p] = sub
			}
			cur = sub
		}
		cur[parts[len(parts)-1]] = val
	}
	return m, nil
}
