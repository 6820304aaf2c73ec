// Package su is a Scheduler Unit for local ao networks. It copies the wire
// format of the Rust SU (permaweb/ao servers/su): POST / assigns ANS-104
// Process and Message items a nonce, a timestamp and a hash chain, signs an
// Assignment data item for each, stores both in SQLite (WAL) under
// Config.DataDir and uploads them to an Arweave-like gateway over HTTP.
//
// Routes: POST / (item, or ?process-id=&assign= for an existing tx),
// GET / (health; the list of processes only without ?process-id=),
// GET /timestamp, GET /health, GET /processes/{id},
// GET /{id}/latest, GET /{id} (a message, or a process's paginated messages
// with from (exclusive), to (inclusive) and limit; or, in nonce mode, with
// from-nonce (exclusive; -1 includes the process) and to-nonce (inclusive)).
//
// Differences from the Rust SU: assignment timestamps are strictly increasing
// within a process (a later one gets last+1 ms if the clock has not moved),
// so the timestamp cursor is never ambiguous; the item and the assignment are
// queued for upload in the same transaction that stores them and uploaded
// (retried in the background) after the commit; base-layer assigns and
// router redirects are not implemented; client mistakes the Rust SU lets
// through answer 400 {"error"}: a limit outside 1..2^31-1 (the Rust SU reads
// -1 as "no limit"), a from-nonce below -1, an assignment of a process to
// itself or of a message the process holds already. JSON is written as
// serde_json writes it (marshalJSON): no HTML escaping, U+2028 and U+2029
// unescaped, no trailing newline.
package su

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/arweave"
)

// MaxBodySize is the Rust SU's POST body limit (actix PayloadConfig).
const MaxBodySize = 10485760

// DefaultLocationTTL is the Time-To-Live (ms) of the published
// Scheduler-Location record when Config.LocationTTL is zero.
const DefaultLocationTTL = 3600 * 1000

// Config configures a Server.
type Config struct {
	// DataDir holds the SQLite database (created if missing).
	DataDir string
	// Wallet signs assignments; its address is the SU's address.
	Wallet *arweave.Wallet
	// GatewayURL is the base URL of the Arweave-like gateway.
	GatewayURL string
	// URL is the SU's own public URL, published in its Scheduler-Location
	// record. Empty: nothing is published.
	URL string
	// LocationTTL is the Scheduler-Location Time-To-Live in ms.
	LocationTTL int64
	// HTTPClient is used for the gateway (a client with a 30 s timeout if nil).
	HTTPClient *http.Client
	// Logger receives background errors (slog.Default() if nil).
	Logger *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Server is a Scheduler Unit: an http.Handler.
type Server struct {
	cfg         Config
	wallet      *arweave.Wallet
	addr        string
	store       *store
	gw          *gatewayClient
	log         *slog.Logger
	now         func() time.Time
	mux         *http.ServeMux
	locks       processLocks
	tails       tails      // per process: what its next assignment builds on
	pending     pendingSet // message ids and deep hashes not yet on disk
	commits     *committer // writes signed assignments in batches, in order
	stopCommits chan struct{}
	commitsDone chan struct{}
	upMu        sync.Mutex // serialises uploads of the pending queue
	// upProgress tells writers when their items are on the gateway; upErr
	// (under upProgress.mu) is the error of its last failed round.
	upProgress uploadProgress
	upErr      error
	kick       chan struct{}
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeMu    sync.Once
	closeEr    error
}

// processLocks hands out one mutex per process id, dropped when unused.
type processLocks struct {
	mu sync.Mutex
	m  map[string]*procLock
}

type procLock struct {
	mu   chan struct{} // a 1-slot semaphore, so waiting can honour ctx
	refs int
}

func (p *processLocks) lock(ctx context.Context, id string) (func(), error) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]*procLock{}
	}
	l := p.m[id]
	if l == nil {
		l = &procLock{mu: make(chan struct{}, 1)}
		p.m[id] = l
	}
	l.refs++
	p.mu.Unlock()
	release := func() {
		p.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(p.m, id)
		}
		p.mu.Unlock()
	}
	select {
	case l.mu <- struct{}{}:
		return func() { <-l.mu; release() }, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("su: wait for lock of %s: %w", id, ctx.Err())
	}
}

// New opens (or creates) the SU's database, publishes its Scheduler-Location
// record (when cfg.URL is set) and starts the upload retry loop, which runs
// until Close or until ctx ends.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Wallet == nil {
		return nil, errors.New("su: Config.Wallet is required")
	}
	if cfg.GatewayURL == "" {
		return nil, errors.New("su: Config.GatewayURL is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("su: Config.DataDir is required")
	}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		wallet: cfg.Wallet,
		addr:   cfg.Wallet.Address(),
		store:  st,
		gw:     &gatewayClient{base: cfg.GatewayURL, http: cfg.HTTPClient},
		log:    cfg.Logger,
		now:    cfg.Now,
		kick:   make(chan struct{}, 1),

		stopCommits: make(chan struct{}),
		commitsDone: make(chan struct{}),
	}
	s.commits = newCommitter(st, &s.pending)
	if s.gw.http == nil {
		s.gw.http = &http.Client{Timeout: 30 * time.Second}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.URL != "" {
		if err := s.publishLocation(ctx); err != nil {
			st.close()
			return nil, err
		}
	}
	s.routes()
	go func() {
		defer close(s.commitsDone)
		s.commits.run(s.stopCommits)
	}()
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.uploadLoop(ctx, bg)
	}()
	return s, nil
}

// Address is the SU wallet's address.
func (s *Server) Address() string { return s.addr }

// Close stops the upload loop, commits the assignments already signed
// (writes arriving from now on fail) and closes the database.
func (s *Server) Close() error {
	s.closeMu.Do(func() {
		s.cancel()
		s.wg.Wait()
		close(s.stopCommits)
		<-s.commitsDone
		s.closeEr = s.store.close()
	})
	return s.closeEr
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /{$}", s.handlePost)
	m.HandleFunc("GET /{$}", s.handleHealth)
	m.HandleFunc("GET /timestamp", s.handleTimestamp)
	m.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	// GET /processes/{id} and GET /{id}/latest overlap at /processes/latest
	// for net/http, so one pattern takes both.
	m.HandleFunc("GET /{a}/{b}", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.PathValue("a") == "processes":
			s.handleProcess(w, r, r.PathValue("b"))
		case r.PathValue("b") == "latest":
			s.handleLatest(w, r, r.PathValue("a"))
		default:
			http.NotFound(w, r)
		}
	})
	m.HandleFunc("GET /{id}", s.handleRead)
	s.mux = m
}

// publishLocation uploads the SU's Scheduler-Location record.
func (s *Server) publishLocation(ctx context.Context) error {
	ttl := s.cfg.LocationTTL
	if ttl == 0 {
		ttl = DefaultLocationTTL
	}
	item, err := arweave.NewDataItem([]byte(strconv.FormatInt(s.now().UnixMilli(), 10)), "", "", []arweave.Tag{
		{Name: "Data-Protocol", Value: "ao"},
		{Name: "Variant", Value: "ao.TN.1"},
		{Name: "Type", Value: "Scheduler-Location"},
		{Name: "Url", Value: s.cfg.URL},
		{Name: "Time-To-Live", Value: strconv.FormatInt(ttl, 10)},
	})
	if err != nil {
		return fmt.Errorf("su: build Scheduler-Location: %w", err)
	}
	if err := item.Sign(s.wallet); err != nil {
		return fmt.Errorf("su: sign Scheduler-Location: %w", err)
	}
	raw, err := item.Bytes()
	if err != nil {
		return fmt.Errorf("su: encode Scheduler-Location: %w", err)
	}
	if err := s.gw.post(ctx, raw); err != nil {
		return fmt.Errorf("su: publish Scheduler-Location: %w", err)
	}
	return nil
}

// uploadLoop posts queued uploads when kicked (after each commit) and
// every second (retries).
func (s *Server) uploadLoop(parent, ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	// Writers still waiting are answered: their items stay queued.
	defer s.upProgress.update(func() { s.upProgress.stopped = true })
	for {
		select {
		case <-ctx.Done():
			return
		case <-parent.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.flushUploads(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("su: upload to gateway", "err", err)
		}
	}
}

// uploadProgress is what the upload loop has done: writers wait on it.
type uploadProgress struct {
	mu       sync.Mutex
	started  int64         // rounds started
	failed   int64         // the last round that failed (0: none)
	uploaded int64         // every queued seq up to this one is posted
	stopped  bool          // the loop has ended
	changed  chan struct{} // closed and replaced at each change
}

func (p *uploadProgress) update(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// waitUploaded waits until the queued items up to seq are posted, or a
// round of the upload loop that started after the call failed (the items
// stay queued: the loop retries). It returns that round's error.
func (s *Server) waitUploaded(ctx context.Context, seq int64) error {
	s.upProgress.mu.Lock()
	r0 := s.upProgress.started
	s.upProgress.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	for {
		p := &s.upProgress
		p.mu.Lock()
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		done, failed, err, stopped, ch := p.uploaded >= seq, p.failed > r0, s.upErr, p.stopped, p.changed
		p.mu.Unlock()
		switch {
		case done:
			return nil
		case failed:
			return err
		case stopped:
			return errClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flushUploads posts every queued item to the gateway, in order, and
// removes each once posted. Only the upload loop calls it.
func (s *Server) flushUploads(ctx context.Context) error {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	var round int64
	s.upProgress.update(func() { s.upProgress.started++; round = s.upProgress.started })
	err := s.postPending(ctx)
	if err != nil {
		s.upProgress.update(func() { s.upProgress.failed = round; s.upErr = err })
	}
	return err
}

func (s *Server) postPending(ctx context.Context) error {
	for {
		ps, err := s.store.pendingUploads(ctx, 64)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return nil
		}
		// Posted items leave the queue in one transaction per round (a
		// crash in between posts them again: the gateway takes a
		// duplicate as the same item).
		var done []int64
		var perr error
		for _, p := range ps {
			if perr = s.gw.post(ctx, p.item); perr != nil {
				break
			}
			done = append(done, p.seq)
		}
		if err := s.store.uploadsDone(ctx, done); err != nil {
			return err
		}
		if len(done) > 0 {
			last := done[len(done)-1]
			s.upProgress.update(func() { s.upProgress.uploaded = max(s.upProgress.uploaded, last) })
		}
		if perr != nil {
			return perr
		}
	}
}

// writeJSON answers v as the Rust SU writes JSON (marshalJSON).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeErr answers as the Rust SU does: 400 {"error": msg}.
func writeErr(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}

func sha256b64(b []byte) string {
	h := sha256.Sum256(b)
	return arweave.B64Encode(h[:])
}
