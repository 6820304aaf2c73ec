package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	graphql "github.com/graph-gophers/graphql-go"

	"github.com/aocu/aocu/internal/arweave"
)

// DefaultBlockInterval is how often blocks are mined when Config.BlockInterval
// is zero.
const DefaultBlockInterval = 10 * time.Second

// DefaultMaxItemSize bounds a POSTed item or bundle when Config.MaxItemSize is
// zero.
const DefaultMaxItemSize = 64 << 20

// Config configures a Server.
type Config struct {
	// DataDir holds the SQLite database (created if missing).
	DataDir string
	// BlockInterval is the time between mined blocks. Zero means
	// DefaultBlockInterval; negative disables the timer (blocks are then mined
	// only by POST /mine, Mine or MineOnWrite).
	BlockInterval time.Duration
	// MineOnWrite mines a block right after every accepted POST /tx, so items
	// have a block at once (otherwise they are pending, block null, until the
	// next block).
	MineOnWrite bool
	// MaxItemSize bounds request bodies of POST /tx (DefaultMaxItemSize if 0).
	MaxItemSize int64
	// Network is the "network" of /info ("arweave.localnet" if empty).
	Network string
	// Logger receives errors of the block timer (slog.Default() if nil).
	Logger *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Server is an Arweave-like gateway and bundler: an http.Handler.
type Server struct {
	cfg    Config
	store  *store
	mux    *http.ServeMux
	schema *graphql.Schema

	mineMu sync.Mutex // serializes mining

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the gateway's database under cfg.DataDir, makes the
// genesis block if the chain is empty and starts the block timer, which runs
// until Close or until ctx ends.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("gateway: Config.DataDir is required")
	}
	if cfg.BlockInterval == 0 {
		cfg.BlockInterval = DefaultBlockInterval
	}
	if cfg.MaxItemSize <= 0 {
		cfg.MaxItemSize = DefaultMaxItemSize
	}
	if cfg.Network == "" {
		cfg.Network = "arweave.localnet"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("gateway: create data dir: %w", err)
	}
	st, err := openStore(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := st.ensureGenesis(ctx, cfg.Now()); err != nil {
		st.close()
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, done: make(chan struct{})}
	if s.schema, err = newSchema(s); err != nil {
		st.close()
		return nil, err
	}
	s.routes()
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go s.run(ctx, runCtx)
	return s, nil
}

// run mines a block every BlockInterval until Close or the New context ends.
func (s *Server) run(parent, ctx context.Context) {
	defer close(s.done)
	var tick <-chan time.Time
	if s.cfg.BlockInterval > 0 {
		t := time.NewTicker(s.cfg.BlockInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-parent.Done():
			return
		case <-tick:
			if _, err := s.Mine(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("gateway: mining failed", "err", err)
			}
		}
	}
}

// Close stops the block timer and closes the database.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.mineMu.Lock() // wait for a Mine in progress
		defer s.mineMu.Unlock()
		if err := s.store.close(); err != nil {
			s.closeErr = fmt.Errorf("gateway: close database: %w", err)
		}
	})
	return s.closeErr
}

// Mine mines one block now with every pending item.
func (s *Server) Mine(ctx context.Context) (Block, error) {
	s.mineMu.Lock()
	defer s.mineMu.Unlock()
	b, err := s.store.mine(ctx, s.cfg.Now())
	if err != nil {
		return Block{}, err
	}
	return blockJSON(b), nil
}

// Height is the current block height.
func (s *Server) Height(ctx context.Context) (int64, error) {
	b, err := s.store.latestBlock(ctx)
	return b.Height, err
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /tx", s.handlePostTx)
	m.HandleFunc("POST /tx/arweave", s.handlePostTx)
	m.HandleFunc("GET /tx/{id}", s.handleTx)
	m.HandleFunc("GET /tx/{id}/status", s.handleTxStatus)
	m.HandleFunc("GET /raw/{id}", s.handleData)
	m.HandleFunc("GET /{id}", s.handleData)
	m.HandleFunc("GET /{$}", s.handleInfo)
	m.HandleFunc("GET /info", s.handleInfo)
	m.HandleFunc("GET /block/height/{h}", s.handleBlock)
	m.HandleFunc("GET /block/hash/{id}", s.handleBlock)
	m.HandleFunc("GET /height", s.handleHeight)
	m.HandleFunc("POST /mine", s.handleMine)
	m.HandleFunc("POST /mine/{n}", s.handleMine)
	m.HandleFunc("GET /mine", s.handleMine)
	m.HandleFunc("GET /mine/{n}", s.handleMine)
	m.HandleFunc("POST /graphql", s.handleGraphQL)
	m.HandleFunc("GET /graphql", s.handleGraphQL)
	s.mux = m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "gateway: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg, "status": status})
}

// PostResponse is the bundler's answer to POST /tx.
type PostResponse struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"` // ms, when the item was first received
	// Items are the ids of the items a bundle held (only for bundles).
	Items []string `json:"items,omitempty"`
}

func isBundle(d *arweave.DataItem) bool {
	f, _ := d.TagValue("Bundle-Format")
	v, _ := d.TagValue("Bundle-Version")
	return f == "binary" && v == "2.0.0"
}

// handlePostTx accepts a signed ANS-104 data item (a bundle item, tagged
// Bundle-Format: binary and Bundle-Version: 2.0.0, is unbundled as well) or a
// bare ANS-104 bundle, whose items get as parent the bundle's id,
// base64url(sha256(bundle bytes)).
func (s *Server) handlePostTx(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxItemSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", s.cfg.MaxItemSize))
			return
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "empty body: expected an ANS-104 data item or bundle")
		return
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		writeError(w, http.StatusBadRequest, "Arweave L1 (JSON) transactions are not supported: POST a binary ANS-104 data item")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	bundleFirst := strings.Contains(ct, "bundle")

	items, parents, resp, err := unpack(body, bundleFirst)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	top := parents[0] == ""
	res, err := s.store.insert(r.Context(), items, parents, s.cfg.Now())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if top {
		resp.Timestamp = res[0].IngestedMS
	} else {
		resp.Timestamp = s.cfg.Now().UnixMilli()
	}
	if s.cfg.MineOnWrite {
		if _, err := s.Mine(r.Context()); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// unpack parses and verifies a POSTed body: a data item (unbundled too when
// it is a bundle item) or a bare bundle. parents[i] is the bundle of items[i]
// ("" for the top item).
func unpack(body []byte, bundleFirst bool) ([]*arweave.DataItem, []string, PostResponse, error) {
	var resp PostResponse
	top, itemErr := arweave.ParseDataItem(body)
	var nested []*arweave.DataItem
	var bundleErr error
	if itemErr != nil || bundleFirst {
		if nested, bundleErr = arweave.ParseBundle(body); bundleErr == nil {
			top = nil
		}
	}
	var items []*arweave.DataItem
	var parents []string
	switch {
	case top != nil:
		if err := top.Verify(); err != nil {
			return nil, nil, resp, fmt.Errorf("invalid data item: %w", err)
		}
		resp.ID = top.ID()
		items, parents = append(items, top), append(parents, "")
		if isBundle(top) {
			var err error
			if nested, err = arweave.ParseBundle(top.Data); err != nil {
				return nil, nil, resp, fmt.Errorf("data item %s is tagged as an ANS-104 bundle: %w", resp.ID, err)
			}
		}
	case bundleErr == nil && nested != nil:
		resp.ID = bundleID(body)
	default:
		return nil, nil, resp, fmt.Errorf("not an ANS-104 data item (%v) nor an ANS-104 bundle (%v)", itemErr, bundleErr)
	}
	for i, d := range nested {
		if err := d.Verify(); err != nil {
			return nil, nil, resp, fmt.Errorf("bundle %s: item %d (%s): %w", resp.ID, i, d.ID(), err)
		}
		items, parents = append(items, d), append(parents, resp.ID)
		resp.Items = append(resp.Items, d.ID())
	}
	if len(items) == 0 {
		return nil, nil, resp, fmt.Errorf("bundle %s holds no items", resp.ID)
	}
	return items, parents, resp, nil
}

func bundleID(b []byte) string {
	sum := sha256.Sum256(b)
	return arweave.B64Encode(sum[:])
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, withRaw bool) (*item, bool) {
	id := r.PathValue("id")
	it, ok, err := s.store.getItem(r.Context(), id, withRaw)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	if !ok {
		writeError(w, http.StatusNotFound, "transaction "+id+" not found")
		return nil, false
	}
	return it, true
}

// handleData serves an item's data (GET and HEAD, Range requests too) with
// its Content-Type tag as the content type.
func (s *Server) handleData(w http.ResponseWriter, r *http.Request) {
	it, ok := s.lookup(w, r, true)
	if !ok {
		return
	}
	ctype := "application/octet-stream"
	if it.ContentType.Valid && it.ContentType.String != "" {
		ctype = it.ContentType.String
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Arweave-Id", it.ID)
	serveData(w, r, it.Data())
}

// serveData serves b as http.ServeContent does (HEAD, Range), except that a
// Range header it refuses, malformed or unsatisfiable (416), is ignored and the
// whole body served with 200, as arweave.net does (RFC 9110 lets a server
// ignore Range). The reference CU's WeaveDrive relies on it: it reads an
// On-Boot file with an invalid range such as "bytes=00610-61".
func serveData(w http.ResponseWriter, r *http.Request, b []byte) {
	if r.Header.Get("Range") == "" {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
		return
	}
	saved := w.Header().Clone()
	probe := &rangeProbe{ResponseWriter: w}
	http.ServeContent(probe, r, "", time.Time{}, bytes.NewReader(b))
	if !probe.refused {
		return
	}
	h := w.Header()
	clear(h)
	for k, v := range saved {
		h[k] = v
	}
	whole := r.Clone(r.Context())
	whole.Header.Del("Range")
	http.ServeContent(w, whole, "", time.Time{}, bytes.NewReader(b))
}

// rangeProbe passes a response through unless its status is 416, which it
// swallows (with its body) and records.
type rangeProbe struct {
	http.ResponseWriter
	refused bool
}

func (p *rangeProbe) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable {
		p.refused = true
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *rangeProbe) Write(b []byte) (int, error) {
	if p.refused {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// TxJSON is GET /tx/:id: the Arweave transaction shape (format 2), filled
// from the data item. Tags are base64url-encoded as Arweave does.
type TxJSON struct {
	Format    int           `json:"format"`
	ID        string        `json:"id"`
	LastTx    string        `json:"last_tx"`
	Owner     string        `json:"owner"`
	Tags      []arweave.Tag `json:"tags"`
	Target    string        `json:"target"`
	Quantity  string        `json:"quantity"`
	Data      string        `json:"data"`
	DataSize  string        `json:"data_size"`
	DataTree  []string      `json:"data_tree"`
	DataRoot  string        `json:"data_root"`
	Reward    string        `json:"reward"`
	Signature string        `json:"signature"`
}

func (s *Server) handleTx(w http.ResponseWriter, r *http.Request) {
	it, ok := s.lookup(w, r, true)
	if !ok {
		return
	}
	d, err := arweave.ParseDataItem(it.Raw)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("gateway: stored item %s: %v", it.ID, err))
		return
	}
	tags := make([]arweave.Tag, len(it.Tags))
	for i, t := range it.Tags {
		tags[i] = arweave.Tag{Name: arweave.B64Encode([]byte(t.Name)), Value: arweave.B64Encode([]byte(t.Value))}
	}
	writeJSON(w, http.StatusOK, TxJSON{
		Format: 2, ID: it.ID, LastTx: arweave.B64Encode(d.Anchor), Owner: it.Owner, Tags: tags,
		Target: it.Target, Quantity: "0", DataSize: strconv.FormatInt(it.DataSize, 10), DataTree: []string{},
		Reward: "0", Signature: it.Signature,
	})
}

// handleTxStatus answers like Arweave: 202 "Pending" before the item is in a
// block, then the block and the confirmations.
func (s *Server) handleTxStatus(w http.ResponseWriter, r *http.Request) {
	it, ok := s.lookup(w, r, false)
	if !ok {
		return
	}
	if !it.Height.Valid {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "Pending")
		return
	}
	b, found, err := s.store.blockBy(r.Context(), it.Height.Int64, "")
	if err == nil && !found {
		err = fmt.Errorf("gateway: block %d of %s is missing", it.Height.Int64, it.ID)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	tip, err := s.store.latestBlock(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"block_height":            b.Height,
		"block_indep_hash":        b.ID,
		"number_of_confirmations": tip.Height - b.Height + 1,
	})
}

// Info is GET /info (and GET /).
type Info struct {
	Network          string `json:"network"`
	Version          int    `json:"version"`
	Release          int    `json:"release"`
	Height           int64  `json:"height"`
	Current          string `json:"current"`
	Blocks           int64  `json:"blocks"`
	Peers            int    `json:"peers"`
	QueueLength      int    `json:"queue_length"`
	NodeStateLatency int    `json:"node_state_latency"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	b, err := s.store.latestBlock(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, Info{Network: s.cfg.Network, Version: 5, Release: 1, Height: b.Height,
		Current: b.ID, Blocks: b.Height + 1})
}

func (s *Server) handleHeight(w http.ResponseWriter, r *http.Request) {
	b, err := s.store.latestBlock(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, strconv.FormatInt(b.Height, 10))
}

// Block is the JSON of GET /block/height/:h and POST /mine.
type Block struct {
	IndepHash     string   `json:"indep_hash"`
	Height        int64    `json:"height"`
	Timestamp     int64    `json:"timestamp"` // seconds
	PreviousBlock string   `json:"previous_block"`
	Txs           []string `json:"txs"`
}

func blockJSON(b block) Block {
	return Block{IndepHash: b.ID, Height: b.Height, Timestamp: b.Timestamp, PreviousBlock: b.Previous, Txs: []string{}}
}

func (s *Server) handleBlock(w http.ResponseWriter, r *http.Request) {
	var h int64
	id := r.PathValue("id")
	if id == "" {
		var err error
		if h, err = strconv.ParseInt(r.PathValue("h"), 10, 64); err != nil || h < 0 {
			writeError(w, http.StatusBadRequest, "invalid block height "+strconv.Quote(r.PathValue("h")))
			return
		}
	}
	b, ok, err := s.store.blockBy(r.Context(), h, id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "block not found")
		return
	}
	writeJSON(w, http.StatusOK, blockJSON(b))
}

// handleMine mines one block, or n with /mine/{n}, and answers the last one.
func (s *Server) handleMine(w http.ResponseWriter, r *http.Request) {
	n := int64(1)
	if v := r.PathValue("n"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid block count "+strconv.Quote(v)+" (1 to 1000)")
			return
		}
	}
	var b Block
	for range n {
		var err error
		if b, err = s.Mine(r.Context()); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, b)
}
