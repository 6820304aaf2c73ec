// Package cuhttp is the Compute Unit's HTTP API (the reference CU's routes):
// it validates requests, applies the access rules and rate limits, and
// answers with the reference's JSON shapes around the engine's results. It
// owns the presentation: cursors and /results pages (page.go), error kinds
// mapped to statuses. It must not reach into the engine's internals or the
// store.
package cuhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/engine"
	"github.com/aocu/aocu/internal/jsjson"
)

// Engine is what the routes need from the evaluation engine.
type Engine interface {
	ReadResult(ctx context.Context, pid, messageID string, busy time.Duration) ([]byte, error)
	ReadState(ctx context.Context, pid string, to *int64, busy time.Duration) (*engine.State, error)
	Results(ctx context.Context, q ao.RangeQuery) ([]*ao.Evaluation, error)
	EvaluateCron(ctx context.Context, pid string, to *engine.CronTarget) error
	DryRun(ctx context.Context, req engine.DryRunRequest, busy time.Duration) ([]byte, bool, error)
}

// Options configures the routes.
type Options struct {
	Engine  Engine
	Address string // the CU wallet's address, for GET /
	Logger  *slog.Logger
	// ReadUnit is UNIT_MODE=ru: /result, /results, /state and /cron answer 404.
	ReadUnit            bool
	BusyThreshold       time.Duration
	RestrictProcesses   []string
	AllowProcesses      []string
	DryRunDefaultMaxAge time.Duration
	RateLimitWindow     time.Duration
	RateLimitMax        int // 0 disables the limit
	MaxBodyBytes        int64
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// Wrap, when set, wraps every route (HTTP metrics).
	Wrap func(http.Handler) http.Handler
	Now  func() time.Time
}

// Server is the CU's http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	limiter *rateLimiter
}

// New makes the handler. Close stops its rate-limit janitor.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.DryRunDefaultMaxAge <= 0 {
		opts.DryRunDefaultMaxAge = 100 * time.Millisecond
	}
	s := &Server{opts: opts, log: opts.Logger}
	if opts.RateLimitMax > 0 && opts.RateLimitWindow > 0 {
		s.limiter = newRateLimiter(opts.RateLimitWindow, opts.RateLimitMax, opts.Now)
	}
	m := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		var hh http.Handler = h
		if opts.Wrap != nil {
			hh = opts.Wrap(hh)
		}
		m.Handle(pattern, hh)
	}
	handle("GET /{$}", s.health)
	handle("GET /state/{pid}", s.cuOnly(s.state))
	handle("GET /result/{id}", s.cuOnly(s.result))
	handle("POST /dry-run", s.dryRun)
	handle("GET /results/{pid}", s.cuOnly(s.results))
	handle("GET /cron/{pid}", s.cuOnly(s.cron))
	if opts.Metrics != nil {
		m.Handle("GET /metrics", opts.Metrics)
	}
	handle("/", s.notFound)
	s.mux = m
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// helmet()'s defaults and cors()'s.
	h.Set("Content-Security-Policy", "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Origin-Agent-Cluster", "?1")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-DNS-Prefetch-Control", "off")
	h.Set("X-Download-Options", "noopen")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("X-Permitted-Cross-Domain-Policies", "none")
	h.Set("X-XSS-Protection", "0")
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
			h.Set("Vary", "Access-Control-Request-Headers")
		}
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close stops background work.
func (s *Server) Close() {
	if s.limiter != nil {
		s.limiter.close()
	}
}

// fail answers an error with its status; 5xx are logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) { Fail(s.log, w, r, err) }

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var o jsjson.Object
	o.String("message", fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path))
	o.String("error", "Not Found")
	o.Number("statusCode", 404)
	WriteJSON(w, http.StatusNotFound, o.Bytes())
}

func (s *Server) cuOnly(h http.HandlerFunc) http.HandlerFunc {
	if !s.opts.ReadUnit {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "Not Found")
	}
}

func checkID(name, v string) error { return CheckID(name, v) }

func (s *Server) restricted(pid string) error {
	return Restricted(s.opts.RestrictProcesses, s.opts.AllowProcesses, pid)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	var o jsjson.Object
	o.String("address", s.opts.Address)
	o.Number("timestamp", float64(s.opts.Now().UnixMilli()))
	WriteJSON(w, http.StatusOK, o.Bytes())
}

func busyBody(pid, to string) []byte {
	var o jsjson.Object
	o.String("message", fmt.Sprintf("Evaluation of process %q to %q is in progress.", pid, to))
	return o.Bytes()
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	pid := q.Get("process-id")
	if !q.Has("process-id") {
		s.fail(w, r, ao.Errorf(400, "'processId': Required. (a process-id query parameter is required)"))
		return
	}
	for _, err := range []error{checkID("processId", pid), checkID("messageTxId", id), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	busy := s.opts.BusyThreshold
	if q.Has("no-busy") {
		busy = 0
	}
	out, err := s.opts.Engine.ReadResult(r.Context(), pid, id, busy)
	if errors.Is(err, engine.ErrBusy) {
		WriteJSON(w, http.StatusAccepted, busyBody(pid, id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	for _, err := range []error{checkID("processId", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var to *int64
	if v := r.URL.Query().Get("to"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.fail(w, r, ao.Errorf(400, "'to': Expected number, received %q.", v))
			return
		}
		to = &n
	}
	st, err := s.opts.Engine.ReadState(r.Context(), pid, to, s.opts.BusyThreshold)
	if errors.Is(err, engine.ErrBusy) {
		WriteJSON(w, http.StatusAccepted, busyBody(pid, r.URL.Query().Get("to")))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if st.Timestamp != 0 {
		h.Set("Last-Timestamp", strconv.FormatInt(st.Timestamp, 10))
	}
	if st.Ordinate != "" {
		h.Set("Last-Ordinate", st.Ordinate)
	}
	if st.BlockHeight != 0 {
		h.Set("Last-Block-Height", strconv.FormatInt(st.BlockHeight, 10))
	}
	defer st.Close()
	if st.Image == nil {
		h.Set("Content-Length", strconv.Itoa(len(st.Memory)))
		w.WriteHeader(http.StatusOK)
		w.Write(st.Memory)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(st.Size, 10))
	w.WriteHeader(http.StatusOK)
	if err := streamState(r.Context(), w, st.Image, st.Size); err != nil {
		s.log.Debug("state stream stopped", "process", pid, "err", err)
	}
}

// stateChunk is how much of a memory image /state reads and writes at a time.
const stateChunk = 1 << 20

// streamState writes size bytes of img, stopping when the client goes away.
func streamState(ctx context.Context, w io.Writer, img io.ReaderAt, size int64) error {
	buf := make([]byte, min(stateChunk, size))
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := img.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil && (err != io.EOF || off < size) {
			return err
		}
	}
	return nil
}

// listQuery is a parsed /results or /cron request.
type listQuery struct {
	pid      string
	from, to *Cursor
	sort     string
	limit    int
}

// parseList parses from, to, sort and limit; the sort of a cursor wins over
// the sort parameter, as in the reference.
func parseList(r *http.Request, pid string, defLimit, maxLimit int) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{pid: pid, sort: "ASC", limit: defLimit}
	var err error
	if lq.from, err = ParseCursor("from", q.Get("from")); err != nil {
		return lq, err
	}
	if lq.to, err = ParseCursor("to", q.Get("to")); err != nil {
		return lq, err
	}
	if q.Has("sort") {
		lq.sort = q.Get("sort")
	}
	switch {
	case lq.from != nil && lq.from.Sort != "":
		lq.sort = lq.from.Sort
	case lq.to != nil && lq.to.Sort != "":
		lq.sort = lq.to.Sort
	}
	if lq.sort != "ASC" && lq.sort != "DESC" {
		return lq, ao.Errorf(400, "'sort': Invalid enum value. Expected 'ASC' | 'DESC', received '%s'.", lq.sort)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, ao.Errorf(400, "'limit': Expected a non-negative integer, received %q.", v)
		}
		lq.limit = n
	}
	if maxLimit > 0 {
		lq.limit = min(lq.limit, maxLimit)
	}
	return lq, nil
}

// skip is the row of an encoded `to` cursor: exclusive here (see readPage).
func (lq listQuery) skip() string {
	if lq.to == nil || !lq.to.Encoded {
		return ""
	}
	return upperBound(lq.pid, lq.to)
}

func (lq listQuery) rangeQuery(onlyCron bool) ao.RangeQuery {
	return ao.RangeQuery{ProcessID: lq.pid, After: lowerBound(lq.pid, lq.from), Through: upperBound(lq.pid, lq.to),
		OnlyCron: onlyCron, Desc: lq.sort == "DESC"}
}

func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	lq, ok := s.listRequest(w, r, 25, 10_000)
	if !ok {
		return
	}
	s.writePage(w, r, lq, lq.rangeQuery(false))
}

func (s *Server) cron(w http.ResponseWriter, r *http.Request) {
	lq, ok := s.listRequest(w, r, 500, 1000)
	if !ok {
		return
	}
	var to *engine.CronTarget
	if lq.to != nil {
		ts, err := strconv.ParseInt(lq.to.Timestamp, 10, 64)
		if err != nil { // digits, but more than an int64 holds
			s.fail(w, r, ao.Errorf(400, "'to': timestamp %s is out of range", lq.to.Timestamp))
			return
		}
		to = &engine.CronTarget{Timestamp: ts, Ordinate: lq.to.Ordinate, Cron: lq.to.Cron}
	}
	if err := s.opts.Engine.EvaluateCron(r.Context(), lq.pid, to); err != nil {
		s.fail(w, r, err)
		return
	}
	lq.sort = "ASC" // the reference lists crons ascending whatever the cursor says
	s.writePage(w, r, lq, lq.rangeQuery(true))
}

func (s *Server) listRequest(w http.ResponseWriter, r *http.Request, def, max int) (listQuery, bool) {
	pid := r.PathValue("pid")
	for _, err := range []error{checkID("processId", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return listQuery{}, false
		}
	}
	lq, err := parseList(r, pid, def, max)
	if err != nil {
		s.fail(w, r, err)
		return listQuery{}, false
	}
	return lq, true
}

func (s *Server) writePage(w http.ResponseWriter, r *http.Request, lq listQuery, q ao.RangeQuery) {
	rows, more, err := readPage(r.Context(), s.opts.Engine.Results, q, lq.limit, lq.skip())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, resultsPage(rows, more, lq.sort))
}

func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := q.Get("process-id")
	if err := checkID("processId", pid); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.restricted(pid); err != nil {
		s.fail(w, r, err)
		return
	}
	to := q.Get("to")
	if to != "" {
		if err := checkID("to", to); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	client := clientIP(r)
	if s.limiter != nil && !s.limiter.allow(client) {
		s.fail(w, r, ao.Errorf(429, "Rate limit exceeded"))
		return
	}
	body, err := s.readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
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
	if s.limiter != nil {
		s.limiter.record(client)
	}
	out, cached, err := s.opts.Engine.DryRun(r.Context(), engine.DryRunRequest{ProcessID: pid, To: to, Body: body, MaxAge: maxAge}, s.opts.BusyThreshold)
	if cached && s.limiter != nil {
		s.limiter.remove(client)
	}
	if errors.Is(err, engine.ErrBusy) {
		WriteJSON(w, http.StatusAccepted, busyBody(pid, to))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// readBody reads a JSON (or text) body within the size limit.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasPrefix(mt, "text/")) {
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
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, ao.Errorf(400, "'dryRun': Required. (the body must be the JSON message)")
	}
	if !json.Valid(b) {
		return nil, ao.Errorf(400, "the body is not valid JSON")
	}
	return b, nil
}

// clientIP is the first X-Forwarded-For entry, else X-Real-IP, else the peer.
func clientIP(r *http.Request) string {
	if v := r.Header.Get("X-Forwarded-For"); v != "" {
		return strings.TrimSpace(strings.Split(v, ",")[0])
	}
	if v := r.Header.Get("X-Real-IP"); v != "" {
		return strings.TrimSpace(v)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
