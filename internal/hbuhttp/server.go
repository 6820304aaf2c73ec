// Package hbuhttp serves the HTTP contract of HyperBEAM's genesis-wasm
// sidecar (UNIT_MODE=hbu; permaweb/ao branch feat/hb-unit, servers/cu
// src/effects/ao-http, and /stop/:pid of branch
// feat/stop-pending-readstates-by-proc): POST /result/<slot> with the aos-2
// page in the body, POST /dry-run, POST /snapshot/<pid>, POST /state (a
// memory restored from a gzip body), GET|POST|DELETE /stop/<pid> and GET
// /status, HyperBEAM's readiness probe. Every other route is the CU's own
// (Options.Fallback), as on that branch, where the CU routes stay on.
package hbuhttp

import (
	"context"
	"errors"
	"fmt"
	"github.com/aocu/aocu/internal/cuhttp"
	"github.com/aocu/aocu/internal/lru"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/engine"
	"github.com/aocu/aocu/internal/hbclient"
	"github.com/aocu/aocu/internal/jsjson"
)

// Engine is what the routes need of the engine.
type Engine interface {
	ReadResult(ctx context.Context, pid, messageID string, busy time.Duration) ([]byte, error)
	DryRun(ctx context.Context, req engine.DryRunRequest, busy time.Duration) ([]byte, bool, error)
	CheckpointProcess(ctx context.Context, pid string) error
}

// Options configures the handler.
type Options struct {
	Engine   Engine
	Schedule *hbclient.Client
	Counters *hbclient.Counters
	// Checkpoints and CheckpointDir are the file checkpoints the engine
	// starts from (PROCESS_MEMORY_FILE_CHECKPOINTS_DIR): POST /snapshot
	// reports them, POST /state writes one.
	Checkpoints   ao.CheckpointStore
	CheckpointDir string
	// Fallback serves every other route (the CU's).
	Fallback http.Handler
	Address  string
	Logger   *slog.Logger
	// BusyThreshold answers 202 when an evaluation takes longer (0: wait).
	BusyThreshold       time.Duration
	RestrictProcesses   []string
	AllowProcesses      []string
	DryRunDefaultMaxAge time.Duration
	// MaxBodyBytes bounds a request body (the reference's 512000000).
	MaxBodyBytes int64
	// MaxMemoryBytes bounds a memory restored by POST /state, gunzipped
	// (PROCESS_WASM_MEMORY_MAX_LIMIT).
	MaxMemoryBytes int64
	// CacheBytes bounds the /result answers kept (the reference's 10 MB).
	CacheBytes int
	Wrap       func(http.Handler) http.Handler
	Now        func() time.Time
}

// Server is the handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	cache   *answerCache
	pending *pending
}

// New makes the handler.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 512_000_000
	}
	if opts.MaxMemoryBytes <= 0 {
		opts.MaxMemoryBytes = 24_000_000_000
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 10_000_000
	}
	if opts.DryRunDefaultMaxAge <= 0 {
		opts.DryRunDefaultMaxAge = 100 * time.Millisecond
	}
	if opts.Fallback == nil {
		opts.Fallback = http.NotFoundHandler()
	}
	s := &Server{opts: opts, log: opts.Logger, cache: newAnswerCache(opts.CacheBytes), pending: newPending()}
	m := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		var hh http.Handler = h
		if opts.Wrap != nil {
			hh = opts.Wrap(hh)
		}
		m.Handle(pattern, hh)
	}
	handle("GET /status", s.status)
	handle("POST /result/{slot}", s.result)
	handle("GET /result/{slot}", s.result)
	handle("POST /dry-run", s.dryRun)
	handle("POST /snapshot/{pid}", s.snapshot)
	handle("POST /state", s.restore)
	for _, method := range []string{"GET", "POST", "DELETE"} {
		handle(method+" /stop/{pid}", s.stop)
	}
	m.Handle("/", opts.Fallback)
	s.mux = m
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// cors()'s header, as the CU's routes have it.
	h.Set("Access-Control-Allow-Origin", "*")
	s.mux.ServeHTTP(w, r)
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	io.WriteString(w, text)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	cuhttp.Fail(s.log, w, r, err)
}

func (s *Server) restricted(pid string) error {
	return cuhttp.Restricted(s.opts.RestrictProcesses, s.opts.AllowProcesses, pid)
}

// status is HyperBEAM's readiness probe (GET localhost:<port>/status, 100
// ms): any answer will do; this one says who answers.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var o jsjson.Object
	o.String("status", "ok")
	o.String("unitMode", "hbu")
	o.String("address", s.opts.Address)
	o.Number("timestamp", float64(s.opts.Now().UnixMilli()))
	cuhttp.WriteJSON(w, http.StatusOK, o.Bytes())
}

// readBody reads a body within the size limit: JSON, text or octet-stream
// (the content types the branch's Fastify parses).
func (s *Server) readBody(r *http.Request, binary bool) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		ok := err == nil && (mt == "application/json" || strings.HasPrefix(mt, "text/") || mt == "application/octet-stream" ||
			(binary && (mt == "application/gzip" || mt == "application/x-gzip")))
		if !ok {
			return nil, ao.Errorf(415, "Unsupported Media Type: %s", ct)
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, ao.Errorf(400, "read the request body: %v", err)
	}
	if int64(len(b)) > s.opts.MaxBodyBytes {
		return nil, ao.Errorf(413, "Request body is too large (over %d bytes)", s.opts.MaxBodyBytes)
	}
	return b, nil
}

func busyBody(pid, to string) []byte {
	if to == "" {
		to = "latest"
	}
	var o jsjson.Object
	o.String("message", fmt.Sprintf("Evaluation of process %q to %q is in progress.", pid, to))
	return o.Bytes()
}

// withPatches gives a result the Patches member the branch's output schema
// has (Messages, Assignments, Spawns, Output, Patches, GasUsed, Error). The
// engine writes the module's Patches in this mode (engine.Options.HyperBEAM);
// a result stored before (a database that ran outside hbu mode) gets [], as
// the branch's pathOr([], ['Patches']) gives it.
func withPatches(out []byte) []byte {
	if _, ok, err := jsjson.Member(out, "Patches"); err != nil || ok {
		return out
	}
	var o jsjson.Object
	for _, k := range []string{"Messages", "Assignments", "Spawns", "Output"} {
		if v, ok, _ := jsjson.Member(out, k); ok {
			o.Raw(k, v)
		}
	}
	o.Raw("Patches", []byte("[]"))
	for _, k := range []string{"GasUsed", "Error"} {
		if v, ok, _ := jsjson.Member(out, k); ok {
			o.Raw(k, v)
		}
	}
	return o.Bytes()
}

// result is POST /result/<slot>?process-id=<pid>: the slot's result, the
// body being the aos-2 page HyperBEAM built for that slot.
func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	slotText := r.PathValue("slot")
	slot, ok := hbclient.ParseSlot(slotText)
	if !ok {
		if r.Method == http.MethodGet {
			s.opts.Fallback.ServeHTTP(w, r) // a message id: the CU's route
			return
		}
		s.fail(w, r, ao.Errorf(400, "'messageUid': %q is not a slot", slotText))
		return
	}
	q := r.URL.Query()
	pid := q.Get("process-id")
	if !q.Has("process-id") {
		s.fail(w, r, ao.Errorf(400, "'processId': Required. (a process-id query parameter is required)"))
		return
	}
	for _, err := range []error{cuhttp.CheckID("processId", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	cacheKey := pid + ":" + slotText
	if a, ok := s.cache.get(cacheKey); ok {
		for _, h := range a.headers {
			w.Header().Set(h[0], h[1])
		}
		w.Header().Set("cu-cached", "true")
		cuhttp.WriteJSON(w, http.StatusOK, a.body)
		return
	}
	body, err := s.readBody(r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 && strings.TrimSpace(string(body)) != "{}" {
		if _, err := s.opts.Schedule.Offer(pid, body); err != nil {
			s.fail(w, r, ao.Errorf(400, "the body is not an aos-2 page of process %s: %v", pid, err))
			return
		}
	}
	sl, err := s.opts.Schedule.SlotAt(r.Context(), pid, slot)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	busy := s.opts.BusyThreshold
	if q.Has("no-busy") {
		busy = 0
	}
	before := s.opts.Counters.Get(pid)
	key := fmt.Sprintf("%s,%d,%d,,false", pid, sl.Timestamp, slot)
	out, err := s.wait(r.Context(), pid, key, func(ctx context.Context) ([]byte, error) {
		return s.opts.Engine.ReadResult(ctx, pid, slotText, busy)
	})
	switch {
	case errors.Is(err, engine.ErrBusy):
		cuhttp.WriteJSON(w, http.StatusAccepted, busyBody(pid, slotText))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	after := s.opts.Counters.Get(pid)
	evaluated := after.Evaluated - before.Evaluated
	exact := evaluated <= 0
	msgHeader := slotText // the reference's last.id of a cached answer: the uid asked for
	if !exact && sl.MessageID != "" {
		msgHeader = sl.MessageID
	}
	headers := [][2]string{
		{"Message", msgHeader},
		{"timestamp", strconv.FormatInt(sl.Timestamp, 10)},
		{"block-height", strconv.FormatInt(sl.Height, 10)},
		{"slot", strconv.FormatInt(slot, 10)},
		{"ao-types", "timestamp=integer,block-height=integer,slot=integer,cold-start=atom,cu-cached=atom,eval-stream-length=integer"},
	}
	out = withPatches(out)
	s.cache.put(cacheKey, answer{body: out, headers: headers})
	for _, h := range headers {
		w.Header().Set(h[0], h[1])
	}
	w.Header().Set("cold-start", strconv.FormatBool(after.ColdStarts > before.ColdStarts))
	w.Header().Set("cu-cached", strconv.FormatBool(exact))
	w.Header().Set("eval-stream-length", strconv.FormatInt(evaluated+after.Errors-before.Errors, 10))
	cuhttp.WriteJSON(w, http.StatusOK, out)
}

// wait runs f for a request that /stop/<pid> can end: a stopped request
// answers 409 at once (its evaluation, shared with others, goes on as in
// the reference, whose stop rejects between the steps of the pipeline).
func (s *Server) wait(ctx context.Context, pid, key string, f func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wt := s.pending.add(pid, key)
	defer s.pending.remove(pid, wt)
	type res struct {
		out []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		out, err := f(ctx)
		ch <- res{out, err}
	}()
	select {
	case r := <-ch:
		return r.out, r.err
	case <-wt.stopped:
		cancel()
		<-ch // f returns on ctx's end
		return nil, ao.Errorf(http.StatusConflict, "Pending readState for process %q stopped", pid)
	}
}

// stop is GET|POST|DELETE /stop/<pid>: the pending evaluations of the
// process stop; their waiters get 409.
func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	for _, err := range []error{cuhttp.CheckID("processId", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	keys := s.pending.stop(pid)
	var list jsjson.Array
	for _, k := range keys {
		list.String(k)
	}
	var o jsjson.Object
	o.String("processId", pid)
	o.Raw("stopped", list.Bytes())
	o.Number("count", float64(len(keys)))
	cuhttp.WriteJSON(w, http.StatusOK, o.Bytes())
}

// dryRun is POST /dry-run?process-id=<pid>[&to=<slot or id>]: the branch
// fills Owner and From with "1234" and Target with the process when they are
// missing, and has no rate limit.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := q.Get("process-id")
	for _, err := range []error{cuhttp.CheckID("processId", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	to := q.Get("to")
	body, err := s.readBody(r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		s.fail(w, r, ao.Errorf(400, "'dryRun': Required. (the body must be the JSON message)"))
		return
	}
	for _, d := range [][2]string{{"Owner", "1234"}, {"From", "1234"}, {"Target", pid}} {
		v, ok, err := jsjson.Member(body, d[0])
		if err != nil {
			s.fail(w, r, ao.Errorf(400, "the body is not valid JSON"))
			return
		}
		if !ok || !jsjson.Truthy(v) {
			if body, err = jsjson.SetMember(body, d[0], jsjson.AppendString(nil, d[1])); err != nil {
				s.fail(w, r, ao.Errorf(400, "the dry-run body must be a JSON object (the message)"))
				return
			}
		}
	}
	maxAge := s.opts.DryRunDefaultMaxAge
	if v := r.Header.Get("x-max-age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, ao.Errorf(400, "'x-max-age': Expected a non-negative number of milliseconds, received %q.", v))
			return
		}
		maxAge = time.Duration(n) * time.Millisecond
	}
	key := fmt.Sprintf("%s,,%s,,true", pid, to)
	out, err := s.wait(r.Context(), pid, key, func(ctx context.Context) ([]byte, error) {
		out, _, err := s.opts.Engine.DryRun(ctx, engine.DryRunRequest{ProcessID: pid, To: to, Body: body, MaxAge: maxAge}, s.opts.BusyThreshold)
		return out, err
	})
	switch {
	case errors.Is(err, engine.ErrBusy):
		cuhttp.WriteJSON(w, http.StatusAccepted, busyBody(pid, to))
	case err != nil:
		s.fail(w, r, err)
	default:
		cuhttp.WriteJSON(w, http.StatusOK, withPatches(out))
	}
}

// pending tracks the requests /stop can end.
type pending struct {
	mu sync.Mutex
	m  map[string]map[*waiter]struct{}
}

type waiter struct {
	key     string
	stopped chan struct{}
}

func newPending() *pending { return &pending{m: map[string]map[*waiter]struct{}{}} }

func (p *pending) add(pid, key string) *waiter {
	wt := &waiter{key: key, stopped: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[pid] == nil {
		p.m[pid] = map[*waiter]struct{}{}
	}
	p.m[pid][wt] = struct{}{}
	return wt
}

func (p *pending) remove(pid string, wt *waiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m[pid], wt)
	if len(p.m[pid]) == 0 {
		delete(p.m, pid)
	}
}

// stop ends every waiter of pid and returns their keys, once each, in the
// order they came.
func (p *pending) stop(pid string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := p.m[pid]
	delete(p.m, pid)
	var keys []string
	seen := map[string]bool{}
	for wt := range ws {
		close(wt.stopped)
		if !seen[wt.key] {
			seen[wt.key] = true
			keys = append(keys, wt.key)
		}
	}
	slices.Sort(keys)
	return keys
}

// answerCache keeps /result answers by "<pid>:<slot>" (the branch's
// withInMemoryCache), bounded by size, least recently used out first.
type answerCache struct{ c *lru.Cache[string, answer] }

type answer struct {
	body    []byte
	headers [][2]string
}

func newAnswerCache(max int) *answerCache {
	return &answerCache{lru.New[string, answer](int64(max), nil)}
}

func (c *answerCache) get(key string) (answer, bool) { return c.c.Get(key) }

func (c *answerCache) put(key string, a answer) { c.c.Put(key, a, int64(len(a.body)), 0) }
