// Package mu is a Messenger Unit for local ao networks. It copies the wire
// format and the crank of the reference MU (permaweb/ao servers/mu): it
// forwards signed ANS-104 items to the SU of their process, then "cranks"
// them: it reads each result from the CU and pushes the outbox (Messages,
// Spawns, Assignments) as new items signed with its own wallet, and their
// results in turn, until nothing is left.
//
// Routes:
//
//   - POST / with a signed data item (Type Message or Process): verified,
//     forwarded to the process's SU (a Process item to the SU its Scheduler
//     tag names), then cranked. Answer 202 {"message":"Processing DataItem",
//     "id"} once the SU holds it.
//   - POST /?process-id=&assign=[&base-layer][&exclude=]: an assignment,
//     forwarded to the process's SU, then cranked. Answer 202
//     {"message":"Processing Assignment","id":<assignment id>}.
//   - POST /push/{id}/{number}?process-id=: pushes outbox message number of
//     the result of id again. Answer 202 {"message":"Processing Message
//     Result","id"}.
//   - POST /monitor/{pid}, DELETE /monitor/{pid} (a signed item as body):
//     start or stop pushing the outboxes of the process's crons (GET
//     {CU}/cron/{pid}?from=<cursor>&limit=50 every Config.PollInterval).
//   - GET /: "ao messenger unit". GET /metrics: Prometheus.
//   - GET /?debug=true&process=[&message=][&page=][&page-size=]: the
//     delivery records of a process or a message (trace.go), in the shape of
//     the reference MU's traces, with each step's status and error: how a
//     sender sees that a message its message caused was not delivered.
//
// Delivery: every crank step is a row of a durable queue in SQLite (WAL)
// under Config.DataDir, written (with the steps it leads to, in the same
// transaction) before the step is acknowledged. A step that fails for a
// reason a retry can fix (network, 5xx, 404, 429) is retried with a doubling
// backoff; New resumes what a previous run left. Each step has a
// deterministic key (source message, outbox index), so the same outbox entry
// is never queued twice, and a signed item is recorded before its first post,
// so a retry posts the same bytes: the SU's "already exists" answer then
// counts as success. Posts to one process keep the queue's order. Chains are
// bounded by Config.MaxDepth hops and Config.MaxItemsPerRoot pushes per
// original message; what goes beyond is logged, counted and dropped.
//
// A step given up (a permanent error such as an SU's 4xx, or out of
// attempts) stays in the queue as failed with its reason: it is logged once
// at ERROR, counted in ao_mu_task_failures_total, and shown to clients in
// the delivery records of GET /?debug=true. An outbox message or spawn whose
// signed item is larger than MaxBodySize (what an SU accepts) is not posted
// at all: it fails at once with that reason, where the SU would answer 413.
//
// Differences from the reference MU: no rate limits, whitelists or traces;
// spawns are cranked (SPAWN_PUSH_ENABLED) unless Config.NoSpawnPush;
// validation errors answer 400; the Assignments tag of an outbox message is
// read as a JSON array or a comma-separated list of process ids.
package mu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/gwclient"
	"github.com/aocu/aocu/internal/httpretry"
)

// MaxBodySize bounds a POSTed item and an item the MU pushes to an SU: the
// SU's limit (su.MaxBodySize, the Rust SU's).
const MaxBodySize = 10485760

// Defaults of Config.
const (
	DefaultWorkers         = 4
	DefaultPollInterval    = 10 * time.Second
	DefaultRetryDelay      = time.Second
	DefaultMaxRetryDelay   = time.Minute
	DefaultMaxAttempts     = 50
	DefaultMaxDepth        = 100
	DefaultMaxItemsPerRoot = 10000
	DefaultRequestTimeout  = 5 * time.Minute
)

// Config configures a Server.
type Config struct {
	// DataDir holds the SQLite database (created if missing).
	DataDir string
	// Wallet signs the items the MU pushes (an *arweave.Wallet normally).
	Wallet arweave.Signer
	// GatewayURL is the gateway's base URL: Scheduler-Location look-ups
	// (GraphQL at GatewayURL/graphql unless GraphQLURL) and uploads of
	// messages to wallets (POST /tx).
	GatewayURL string
	GraphQLURL string
	// CUURL is the CU's base URL.
	CUURL string
	// HTTPClient makes every call (a client without timeout if nil; each
	// call has RequestTimeout).
	HTTPClient *http.Client
	// Logger receives the crank's progress and errors (slog.Default() if nil).
	Logger *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Workers is the number of crank steps run at once (DefaultWorkers).
	Workers int
	// PollInterval is the period of the cron monitor (DefaultPollInterval).
	PollInterval time.Duration
	// RetryDelay is the wait before the first retry of a step, doubled at
	// each next one up to MaxRetryDelay.
	RetryDelay, MaxRetryDelay time.Duration
	// MaxAttempts bounds the attempts of a step before it is given up
	// (DefaultMaxAttempts; negative: no bound).
	MaxAttempts int
	// MaxDepth bounds the hops of a chain from the message a client sent
	// (DefaultMaxDepth; negative: no bound).
	MaxDepth int
	// MaxItemsPerRoot bounds the items pushed for one message a client sent
	// or one cron result (DefaultMaxItemsPerRoot; negative: no bound).
	MaxItemsPerRoot int
	// NoSpawnPush disables cranking a new process's first (AOP-6 boot)
	// result; the reference MU's SPAWN_PUSH_ENABLED=false.
	NoSpawnPush bool
	// RequestTimeout bounds each call to the CU, an SU or the gateway
	// (DefaultRequestTimeout).
	RequestTimeout time.Duration
}

// Server is a Messenger Unit: an http.Handler with workers that crank the
// queue until Close.
type Server struct {
	cfg     Config
	addr    string
	store   *store
	gw      *gwclient.Client
	http    *http.Client
	ownHTTP *http.Transport // http's transport when the MU made it (closed with it)
	log     *slog.Logger
	now     func() time.Time
	lim     limits
	metrics *metrics
	mux     *http.ServeMux

	wake     chan struct{} // wakes idle workers when steps are queued
	cronKick chan struct{}

	claimMu sync.Mutex
	claimed map[int64]bool

	cacheMu sync.Mutex
	procs   map[string][]arweave.Tag // process tags read from SUs
	wallets map[string]bool          // ids the gateway knows no process of
	// untrusted: processes already warned about as not trusting this MU
	// (checkAuthority).
	untrusted sync.Map

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the MU's database and starts its workers and its
// cron monitor, which resume the work a previous run left. They run until
// Close or until ctx ends.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Wallet == nil {
		return nil, errors.New("mu: Config.Wallet is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("mu: Config.DataDir is required")
	}
	if cfg.GatewayURL == "" || cfg.CUURL == "" {
		return nil, errors.New("mu: Config.GatewayURL and Config.CUURL are required")
	}
	cfg.GatewayURL = strings.TrimRight(cfg.GatewayURL, "/")
	cfg.CUURL = strings.TrimRight(cfg.CUURL, "/")
	var ownTransport *http.Transport
	if cfg.HTTPClient == nil {
		ownTransport = httpretry.Transport()
		cfg.HTTPClient = &http.Client{Transport: ownTransport}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Workers, DefaultWorkers)
	def(&cfg.MaxAttempts, DefaultMaxAttempts)
	def(&cfg.MaxDepth, DefaultMaxDepth)
	def(&cfg.MaxItemsPerRoot, DefaultMaxItemsPerRoot)
	defDur(&cfg.PollInterval, DefaultPollInterval)
	defDur(&cfg.RetryDelay, DefaultRetryDelay)
	defDur(&cfg.MaxRetryDelay, DefaultMaxRetryDelay)
	defDur(&cfg.RequestTimeout, DefaultRequestTimeout)
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}

	gw, err := gwclient.New(gwclient.Options{
		ArweaveURL: cfg.GatewayURL, GraphQLURL: cfg.GraphQLURL, HTTPClient: cfg.HTTPClient,
		Retries: 2, Delay: 200 * time.Millisecond, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("mu: %w", err)
	}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	owner := &arweave.DataItem{Owner: cfg.Wallet.PublicKey()}
	s := &Server{
		cfg:      cfg,
		addr:     owner.OwnerAddress(),
		store:    st,
		gw:       gw,
		http:     cfg.HTTPClient,
		ownHTTP:  ownTransport,
		log:      cfg.Logger,
		now:      cfg.Now,
		lim:      limits{maxDepth: max(cfg.MaxDepth, 0), maxItemsPerRoot: max(cfg.MaxItemsPerRoot, 0)},
		wake:     make(chan struct{}, cfg.Workers),
		cronKick: make(chan struct{}, 1),
		claimed:  map[int64]bool{},
		procs:    map[string][]arweave.Tag{},
		wallets:  map[string]bool{},
	}
	s.metrics = newMetrics(s)
	s.routes()
	s.ctx, s.cancel = context.WithCancel(ctx)
	if n, err := st.pending(ctx); err == nil && n > 0 {
		s.log.Info("mu: resuming the crank", "pending", n)
	}
	for i := 0; i < cfg.Workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.worker(s.ctx)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.cronLoop(s.ctx)
	}()
	return s, nil
}

// Address is the MU wallet's address: aos processes must name it in an
// Authority tag to trust the messages it pushes.
func (s *Server) Address() string { return s.addr }

// Pending counts the crank steps not finished yet.
func (s *Server) Pending(ctx context.Context) (int, error) { return s.store.pending(ctx) }

// Close stops the workers and the cron monitor (a step under way is
// abandoned and resumed by the next New) and closes the database.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.closeErr = s.store.close()
		if s.ownHTTP != nil {
			s.ownHTTP.CloseIdleConnections()
		}
	})
	return s.closeErr
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ctx.Err() != nil {
		writeError(w, http.StatusServiceUnavailable, "the messenger unit is shutting down")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.handleRoot)
	m.HandleFunc("POST /{$}", s.handlePost)
	m.HandleFunc("POST /push/{id}/{number}", s.handlePush)
	m.HandleFunc("POST /monitor/{pid}", s.handleMonitor)
	m.HandleFunc("DELETE /monitor/{pid}", s.handleUnmonitor)
	m.Handle("GET /metrics", s.metrics.handler())
	s.mux = m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers as the reference MU's error handler: {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// failStatus is the status to answer a failed call to another unit with:
// its 4xx, or 502.
func failStatus(err error) int {
	var he *httpError
	if errors.As(err, &he) && he.Status >= 400 && he.Status < 500 {
		return he.Status
	}
	if st := ao.StatusOf(err); st >= 400 && st < 500 {
		return st
	}
	return http.StatusBadGateway
}

// failMessage is the message of such a failure: the unit's own error text
// for a 4xx.
func failMessage(err error) string {
	var he *httpError
	if errors.As(err, &he) && he.Status >= 400 && he.Status < 500 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(he.Body), &e) == nil && e.Error != "" {
			return e.Error
		}
		return he.Body
	}
	return err.Error()
}

// readItem reads and verifies a signed data item from a request body.
func readItem(w http.ResponseWriter, r *http.Request) (*arweave.DataItem, []byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodySize))
		} else {
			writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		}
		return nil, nil, false
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "A valid and signed data item must be provided as the body")
		return nil, nil, false
	}
	item, err := arweave.ParseDataItem(body)
	if err == nil {
		err = item.Verify()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "A valid and signed data item must be provided as the body: "+err.Error())
		return nil, nil, false
	}
	return item, body, true
}

// itemType is the reference MU's verify-parsed-data-item: Data-Protocol must
// include ao, Type Process or Message; with both Types, the first decides.
func itemType(tags []arweave.Tag) (string, error) {
	hasAO, proc, msg := false, -1, -1
	for i, t := range tags {
		switch {
		case t.Name == "Data-Protocol" && t.Value == "ao":
			hasAO = true
		case t.Name == "Type" && t.Value == "Process" && proc < 0:
			proc = i
		case t.Name == "Type" && t.Value == "Message" && msg < 0:
			msg = i
		}
	}
	switch {
	case !hasAO:
		return "", errors.New("Tag 'Data-Protocol': must contain 'ao'")
	case proc < 0 && msg < 0:
		return "", errors.New("Tag 'Type': must be either 'Process' or 'Message'")
	case proc < 0 || (msg >= 0 && msg < proc):
		return "Message", nil
	}
	return "Process", nil
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("process-id") || q.Has("assign") {
		s.handleAssign(w, r)
		return
	}
	item, raw, ok := readItem(w, r)
	if !ok {
		return
	}
	typ, err := itemType(item.Tags)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	id := item.ID()
	var (
		suURL string
		tasks []newTask
	)
	if typ == "Process" {
		sched, ok := firstTag(item.Tags, "Scheduler")
		if !ok {
			writeError(w, http.StatusBadRequest, "No Scheduler tag found on 'Process' DataItem")
			return
		}
		if suURL, err = s.locateHint(ctx, id, sched); err != nil {
			writeError(w, failStatus(err), "locate the scheduler "+sched+": "+err.Error())
			return
		}
		if err := s.store.rememberProcess(ctx, id, sched); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if !s.cfg.NoSpawnPush {
			tasks = append(tasks, resultTask(id, id, id, id, 0))
		}
		if len(item.Target) > 0 {
			tasks = append(tasks, assignTask(arweave.B64Encode(item.Target), id, nil, false, "", id, 0))
		}
	} else {
		if len(item.Target) == 0 {
			writeError(w, http.StatusBadRequest, "a Message needs a target process")
			return
		}
		target := arweave.B64Encode(item.Target)
		if suURL, err = s.locate(ctx, target); err != nil {
			writeError(w, failStatus(err), err.Error())
			return
		}
		tasks = append(tasks, resultTask(target, id, id, id, 0))
	}
	s.metrics.received.WithLabelValues(strings.ToLower(typ)).Inc()
	if _, err := s.suPost(ctx, suURL, raw); err != nil && !errors.Is(err, errDuplicate) {
		s.log.Warn("mu: forward item", "id", id, "type", typ, "err", err)
		writeError(w, failStatus(err), failMessage(err))
		return
	}
	if err := s.queue(ctx, tasks); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("mu: forwarded item", "id", id, "type", typ, "su", suURL)
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "Processing DataItem", "id": id})
}

func (s *Server) handleAssign(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid, msg := q.Get("process-id"), q.Get("assign")
	if pid == "" || msg == "" {
		writeError(w, http.StatusBadRequest, "You must set both process-id and assign to send an assignment, not just one")
		return
	}
	var exclude []string
	if e := q.Get("exclude"); e != "" {
		exclude = strings.Split(e, ",")
	}
	baseLayer := q.Has("base-layer")
	ctx := r.Context()
	suURL, err := s.locate(ctx, pid)
	if err != nil {
		writeError(w, failStatus(err), err.Error())
		return
	}
	s.metrics.received.WithLabelValues("assignment").Inc()
	aid, err := s.suAssign(ctx, suURL, pid, msg, exclude, baseLayer)
	if err != nil {
		s.log.Warn("mu: forward assignment", "process", pid, "message", msg, "err", err)
		writeError(w, failStatus(err), failMessage(err))
		return
	}
	// The reference cranks the assignment's result with the assignment id
	// as Pushed-For; the CU finds it by the message id too.
	if err := s.queue(ctx, []newTask{resultTask(pid, msg, aid, aid, 0)}); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "Processing Assignment", "id": aid})
}

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	id, pid := r.PathValue("id"), r.URL.Query().Get("process-id")
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "'number' parameter must be a valid number")
		return
	}
	if pid == "" {
		writeError(w, http.StatusBadRequest, "the process-id query parameter is required")
		return
	}
	ctx := r.Context()
	res, err := s.fetchResult(ctx, pid, id)
	if err != nil {
		writeError(w, failStatus(err), "fetch the result: "+failMessage(err))
		return
	}
	// number counts the messages the crank would push, as the reference's.
	idx := -1
	for i, raw := range res.Messages {
		if _, err := parseOutMessage(raw); err == nil {
			if n == 0 {
				idx = i
				break
			}
			n--
		}
	}
	if idx < 0 {
		writeError(w, http.StatusBadRequest, "Message number does not exist in the result.")
		return
	}
	src := source{prefix: resultKey(pid, id), process: pid, pushedFor: id, root: id}
	t, _ := s.messageTask(src, idx, res.Messages[idx])
	existed, drops, err := s.store.revive(ctx, s.now().UnixMilli(), s.lim, t)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.logDrops(drops)
	s.notify(1)
	s.log.Info("mu: push again", "message", id, "process", pid, "number", idx, "known", existed)
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "Processing Message Result", "id": id})
}

func (s *Server) handleMonitor(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	if _, _, ok := readItem(w, r); !ok {
		return
	}
	if _, err := s.locate(r.Context(), pid); err != nil {
		writeError(w, failStatus(err), err.Error())
		return
	}
	added, err := s.store.addMonitor(r.Context(), pid, s.now().UnixMilli())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if added {
		s.log.Info("mu: monitoring the crons of a process", "process", pid)
	}
	select {
	case s.cronKick <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "Monitoring process")
}

func (s *Server) handleUnmonitor(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	if _, _, ok := readItem(w, r); !ok {
		return
	}
	deleted, err := s.store.deleteMonitor(r.Context(), pid)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !deleted {
		writeError(w, http.StatusNotFound, "Process monitor not found")
		return
	}
	s.log.Info("mu: stopped monitoring the crons of a process", "process", pid)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "Process deleted")
}
