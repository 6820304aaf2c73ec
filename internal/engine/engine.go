// Package engine is the Compute Unit's evaluation pipeline (the reference CU's
// domain): requests and the sharing of identical ones, worker slots, the warm
// set of processes (eviction, drains to files), starting points and
// checkpoints, evaluation streams over SU pages with crons, hydration and
// dedup, persistence in batches, dry-runs and time limits.
//
// It talks to the world only through the ports of package ao (Scheduler,
// Gateway, Store, Runtime) and uses the pure package schedule for the
// message mapping. It must not import an HTTP package, a database driver, the
// loader or anything that needs cgo: its tests run on ao/aotest's in-memory
// world in milliseconds.
package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/aocu/aocu/internal/lru"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/memimage"
)

// Options configures an Engine. Zero values take the reference CU's defaults.
type Options struct {
	Store     ao.Store
	Scheduler ao.Scheduler
	Gateway   ao.Gateway
	Runtime   ao.Runtime
	Logger    *slog.Logger

	PageSize            int   // LOAD_MESSAGES_PAGE_SIZE
	MemoryLimitMax      int64 // PROCESS_WASM_MEMORY_MAX_LIMIT
	ComputeLimitMax     int64 // PROCESS_WASM_COMPUTE_MAX_LIMIT
	SupportedFormats    []string
	SupportedExtensions []string
	AllowOwners         []string
	// DisableEvaluationCache skips the evaluations rows (messages rows are
	// still written), as DISABLE_PROCESS_EVALUATION_CACHE.
	DisableEvaluationCache bool

	MemoryCacheMaxSize int64         // PROCESS_MEMORY_CACHE_MAX_SIZE
	MemoryCacheTTL     time.Duration // PROCESS_MEMORY_CACHE_TTL
	MemoryCacheFileDir string        // PROCESS_MEMORY_CACHE_FILE_DIR
	ModuleCacheMaxSize int           // WASM_MODULE_CACHE_MAX_SIZE
	// InstanceCacheMaxSize bounds the warm instances (WASM_INSTANCE_CACHE_MAX_SIZE
	// per primary worker); colder processes are drained to files.
	InstanceCacheMaxSize int
	WasmBinaryDir        string // WASM_BINARY_FILE_DIRECTORY

	PrimaryWorkers int // evaluation streams running at once
	DryRunWorkers  int // dry-run evaluations running at once
	DryRunMaxQueue int // waiting dry-runs before 429

	HydrationNonceLimit   int64         // HYDRATION_MODE_NONCE_LIMIT
	DryRunProcessCacheTTL time.Duration // DRY_RUN_PROCESS_CACHE_TTL
	DryRunResultMaxAge    time.Duration // DRY_RUN_RESULT_MAX_AGE
	// MessageTimeout stops one scheduled message that runs longer (0: none).
	MessageTimeout time.Duration
	// DryRunTimeout stops one dry-run evaluation that runs longer (0: none).
	DryRunTimeout time.Duration
	// EnableMemoryReset honours Action: Reset-Memory from the process owner
	// (ENABLE_MEMORY_RESET): see resetMemory.
	EnableMemoryReset bool
	// HyperBEAM follows the schemas of permaweb/ao's feat/hb-unit branch (the
	// CU sidecar of HyperBEAM, UNIT_MODE=hbu): every message has its Skip (and
	// Original-Assignment-Id), every result its Patches.
	HyperBEAM bool
	// ProgressInterval is how often a long stream logs its progress.
	ProgressInterval time.Duration
	// Observer receives evaluation events for metrics (nil: none).
	Observer Observer
	// Checkpoints configures file and Arweave checkpoints.
	Checkpoints CheckpointOptions
	Now         func() time.Time
}

// Observer is told about evaluations (for metrics).
type Observer interface {
	Evaluated(stream, messageType string, failed bool)
}

// Engine evaluates processes. It is safe for concurrent use.
type Engine struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context // ends when the engine closes: streams stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	procs   map[string]*proc
	modules *moduleCache
	// baseFiles orders the base images' files of the checkpoint directory:
	// a file checkpoint is written (its base's file, then its own) holding it
	// for reading, the sweep of the base files no checkpoint needs
	// (ahead.go) holding it for writing.
	baseFiles sync.RWMutex
	calls     map[string]*call // identical pending requests share one evaluation
	// lastCall is when the last request began (unix ns), for the work left
	// to idle time.
	lastCall atomic.Int64

	primary chan struct{} // worker slots
	dryRun  chan struct{}
	dryWait atomic.Int64
	acct    memAccount // the memory the live and cached processes hold

	dryResults  *resultCache
	resultCache *lru.Cache[string, []byte] // /result answers by process and message (the reference's ~10 MB cache)
	evaluated   atomic.Int64
	streams     atomic.Uint64 // evaluation streams started, to number them
	hot         hotPositions  // where warm processes stand (speculate.go)
	records     processRecords
	noForks     atomic.Bool // set when forking failed: dry-runs use the instances (dryfork.go)
	scratch     scratchPool // forks for dry-runs on idle processes (idledry.go)
	bases       baseImages  // each module's base image, for idle images held as deltas
	// enc compresses images (parks, checkpoints). Never closed: it starts no
	// goroutine, and a stream abandoned at Close may still park.
	enc       *memimage.Encoder
	noScratch atomic.Bool // set when loading an image into a scratch fork failed: idle processes are restored
}

// New makes an Engine. Close it to stop its streams and release instances.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Scheduler == nil || opts.Gateway == nil || opts.Runtime == nil {
		return nil, errors.New("engine: Store, Scheduler, Gateway and Runtime are required")
	}
	setDefaults(&opts)
	for _, dir := range []string{opts.MemoryCacheFileDir, opts.WasmBinaryDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	enc, err := memimage.NewEncoder(runtime.NumCPU())
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		enc:         enc,
		opts:        opts,
		log:         opts.Logger,
		ctx:         ctx,
		cancel:      cancel,
		procs:       map[string]*proc{},
		calls:       map[string]*call{},
		primary:     make(chan struct{}, opts.PrimaryWorkers),
		dryRun:      make(chan struct{}, opts.DryRunWorkers),
		dryResults:  newResultCache(1000),
		resultCache: newAnswerCache(10 << 20),
		scratch:     scratchPool{max: opts.DryRunWorkers},
		bases:       baseImages{m: map[string][]weak.Pointer[memimage.Base]{}},
	}
	e.modules = newModuleCache(e, opts.ModuleCacheMaxSize)
	e.sweepFiles(ctx)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.janitor()
	}()
	if cp := e.cp(); cp.Store != nil && cp.FileDir != "" {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.checkpointAhead()
		}()
	}
	return e, nil
}

func setDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.MemoryLimitMax <= 0 {
		o.MemoryLimitMax = 1 << 30
	}
	if o.ComputeLimitMax <= 0 {
		o.ComputeLimitMax = 9_000_000_000_000
	}
	if o.SupportedFormats == nil {
		o.SupportedFormats = ao.ModuleFormats()
	}
	if o.MemoryCacheMaxSize <= 0 {
		o.MemoryCacheMaxSize = 1 << 30
	}
	if o.MemoryCacheTTL <= 0 {
		o.MemoryCacheTTL = 24 * time.Hour
	}
	if o.MemoryCacheFileDir == "" {
		o.MemoryCacheFileDir = os.TempDir()
	}
	if o.WasmBinaryDir == "" {
		o.WasmBinaryDir = os.TempDir()
	}
	if o.ModuleCacheMaxSize <= 0 {
		o.ModuleCacheMaxSize = 5
	}
	if o.InstanceCacheMaxSize <= 0 {
		o.InstanceCacheMaxSize = 5
	}
	if o.PrimaryWorkers <= 0 {
		o.PrimaryWorkers = 1
	}
	if o.DryRunWorkers <= 0 {
		o.DryRunWorkers = 1
	}
	if o.DryRunMaxQueue <= 0 {
		o.DryRunMaxQueue = 3000
	}
	if o.DryRunProcessCacheTTL <= 0 {
		o.DryRunProcessCacheTTL = 2 * time.Second
	}
	if o.DryRunResultMaxAge <= 0 {
		o.DryRunResultMaxAge = time.Minute
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Stop stops the running streams (what they evaluated is stored) and refuses
// new requests; waiting requests answer 503. It waits for the streams until
// ctx ends: a message still evaluating then (a runaway module) is abandoned,
// its state was never committed. The processes stay in memory (for
// CheckpointAll).
func (e *Engine) Stop(ctx context.Context) error {
	e.cancel()
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine: streams still evaluating at shutdown were abandoned: %w", ctx.Err())
	}
}

// Close stops the running streams (waiting at most a few seconds) and
// releases every instance not in use.
func (e *Engine) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	stopErr := e.Stop(ctx)
	e.mu.Lock()
	procs := e.procs
	e.procs = map[string]*proc{}
	e.mu.Unlock()
	for _, p := range procs {
		select {
		case p.lock <- struct{}{}:
			p.closeInstance()
			e.removeDrainFile(p) // nothing will read it again
			p.release()
		default: // still evaluating: abandoned with the engine
		}
	}
	e.scratch.close()
	e.modules.close()
	return stopErr
}

// closeWait bounds how long Close waits for running streams.
const closeWait = 5 * time.Second

// Stats describes what the engine holds, for metrics.
type Stats struct {
	InMemory   int   // processes with a warm instance
	Cached     int   // idle processes whose compact image is in the memory cache
	OnFile     int   // processes drained to files
	MemorySize int64 // linear memory of the warm instances
	CachedSize int64 // compact images in the memory cache
	// BaseImages are the modules' base images that cached and drained
	// images are deltas against; BaseSize their uncompressed pages.
	BaseImages int
	BaseSize   int64
	Streams    int   // streams running
	Evaluated  int64 // messages evaluated since the engine started (dry-runs excluded)
	Failed     int   // processes stopped at a message that ran past the time limit
	// Disk use of the engine's files: drained memories
	// (PROCESS_MEMORY_CACHE_FILE_DIR, with the file checkpoints when they
	// share it), file checkpoints (PROCESS_MEMORY_FILE_CHECKPOINTS_DIR),
	// module binaries (WASM_BINARY_FILE_DIRECTORY/aocu-modules).
	MemoryDir     DirUsage
	CheckpointDir DirUsage
	ModuleDir     DirUsage
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := Stats{Evaluated: e.evaluated.Load()}
	s.MemoryDir, s.CheckpointDir, s.ModuleDir = e.diskUsage() // outside e.mu: it reads directories
	s.BaseImages, s.BaseSize = e.bases.stats()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		switch {
		case p.live.Load():
			s.InMemory++
			s.MemorySize += p.size.Load()
		case p.cached.Load() > 0:
			s.Cached++
			s.CachedSize += p.cached.Load()
		case p.drainedTo.Load() != nil:
			s.OnFile++
		}
		if p.running.Load() {
			s.Streams++
		}
		if p.failed.Load() != nil {
			s.Failed++
		}
	}
	return s
}

// janitor drains processes idle longer than the memory TTL.
func (e *Engine) janitor() {
	period := min(e.opts.MemoryCacheTTL/4, time.Minute)
	t := time.NewTicker(max(period, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			e.evict(true)
		}
	}
}

// proc is the engine's state for one process.
type proc struct {
	id   string
	lock chan struct{} // held by the stream (or dry-run) using the instance

	// Guarded by lock.
	meta      *procMeta
	inst      ao.Instance
	pos       position
	syncedAt  time.Time // when the state was last brought up to the SU's latest
	lastUsed  time.Time
	drainFile string // memory drained to this file, with drainPos
	drainPos  position
	drainBase *memimage.Base // the base image of the file's delta (nil: not a delta)
	// img is the compact image of the memory at imgPos: the memory cache's
	// copy of an idle process, or, while live, the image it was restored
	// from (still its memory while pos == imgPos). With imgBase it is a
	// delta against that base image of the process's module.
	img     []byte
	imgBase *memimage.Base
	imgPos  position
	// Checkpoint bookkeeping.
	checkpointed position      // position of the last file checkpoint
	gasSince     float64       // gas evaluated since the last eager checkpoint
	evalSince    time.Duration // evaluation time since then
	uploadedAt   time.Time     // last Arweave checkpoint
	// version counts the committed states of inst (dryfork.go: a fork's
	// image is current while it matches); dry holds the dry-run forks.
	version uint64
	dry     *dryPool

	// Read without the lock; written through acct (nil for a process
	// outside the engine's table).
	acct           *memAccount
	live           atomic.Bool
	size           atomic.Int64
	cached         atomic.Int64 // bytes of img while idle in the memory cache (0: not cached)
	running        atomic.Bool
	currentNonce   atomic.Int64
	used           atomic.Int64 // unix ns of the last use, for the LRU
	wantCheckpoint atomic.Bool  // a running stream writes a file checkpoint at its next batch
	drainedTo      atomic.Pointer[string]
	// aheadOfCheckpoint: parked with a state its file checkpoint is behind
	// (ahead.go writes it in the background).
	aheadOfCheckpoint atomic.Bool
	aheadSince        atomic.Int64 // unix ns when it became so
	// memoryHashDue: its file checkpoint is recorded without the memory's
	// sha256 (ahead.go adds it when the CU is idle).
	memoryHashDue atomic.Bool
	failed        atomic.Pointer[procFailure] // set when a message ran past MessageTimeout

	// replayOnly: a throwaway process that replays between checkpoints to
	// validate them; nothing it evaluates is stored or checkpointed.
	replayOnly bool
}

// procFailure is where a process stopped: a message that ran longer than the
// evaluation time limit. Nothing of it is stored (another CU with another
// limit may complete it); the process answers this error at that message and
// after it until the CU restarts.
type procFailure struct {
	messageID string
	nonce     int64
	limit     time.Duration
}

func (f *procFailure) err(pid string) error {
	return ao.Errorf(422, "process %s failed at message %s (nonce %d): its evaluation ran longer than the evaluation time limit of %v (WASM_EVALUATION_TIMEOUT); it is not evaluated past it until the compute unit restarts with a larger limit",
		pid, f.messageID, f.nonce, f.limit)
}

// checkFailed refuses a request at or past the nonce where p failed (nonce
// < 0: the latest state).
func (p *proc) checkFailed(nonce int64) error {
	f := p.failed.Load()
	if f == nil || (nonce >= 0 && nonce < f.nonce) {
		return nil
	}
	return f.err(p.id)
}

func (p *proc) acquire(ctx context.Context) error {
	select {
	case p.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *proc) release() { <-p.lock }

// closeInstance releases p's instance and forgets its images (the caller
// decides where the state now comes from: park keeps the image).
func (p *proc) closeInstance() {
	p.dry.close()
	p.dry = nil
	if p.inst != nil {
		p.inst.Close()
		p.inst = nil
	}
	p.acct.setLive(p, false)
	p.acct.setSize(p, 0)
	p.img, p.imgBase = nil, nil
	p.acct.setCached(p, 0)
}

func (e *Engine) process(id string) *proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.procs[id]
	if p == nil {
		p = &proc{id: id, lock: make(chan struct{}, 1), acct: &e.acct}
		e.procs[id] = p
	}
	return p
}

// touched records a use of p's instance and enforces the memory bounds,
// parking or draining the least recently used other processes.
func (e *Engine) touched(p *proc) {
	p.used.Store(e.opts.Now().UnixNano())
	if p.inst != nil {
		p.acct.setSize(p, int64(len(p.inst.Memory())))
		p.acct.setCached(p, 0)
	}
	e.evict(false)
}

// The engine keeps a process in one of three places. Live: a warm instance,
// at most InstanceCacheMaxSize of them, counted at their linear memory's
// size. Cached: idle, its compact image (package memimage: the non-zero pages,
// compressed; ~0.4 MB for a fresh aos process of 110 MB) in memory, counted
// at its compressed size. On file: beyond the memory cache, the same image in
// PROCESS_MEMORY_CACHE_FILE_DIR. Live and cached processes together stay
// within MemoryCacheMaxSize; processes idle beyond MemoryCacheTTL go to file.
//
// Images are deltas against a base image of their module where that is
// smaller (see baseImages): the processes of one module share most of their
// pages, so a delta is about a quarter of the plain image.
//
// Parking a live process whose memory has not changed since it was restored
// (only dry-runs, which keep no state) reuses the image it came from: switching
// between many read-mostly processes costs a restore (~10 ms), no encoding.
// Victims are the least recently used; since restoring from memory and from
// file cost nearly the same (a file read of well under a megabyte), recency is
// the cost that matters.

// evict parks and drains processes while the bounds are exceeded, and
// (expiry: the janitor's rounds) those idle beyond the TTL. Busy processes
// are skipped. Only the live processes are looked at unless the memory cache
// is over its bound or expiry is asked for.
func (e *Engine) evict(expiry bool) {
	now := e.opts.Now()
	for {
		_, baseBytes := e.bases.stats() // (the bases the images are deltas of count too)
		over := e.acct.total()+baseBytes > e.opts.MemoryCacheMaxSize
		n, liveLRU := e.acct.liveLRU()
		var cachedLRU, expired *proc
		if over || expiry {
			cachedLRU, expired = e.idleLRU(now, expiry)
		}
		var victim *proc
		toFile := false
		switch {
		case expired != nil:
			victim, toFile = expired, true
		case n > e.opts.InstanceCacheMaxSize && n > 1:
			victim = liveLRU
		case over && cachedLRU != nil:
			victim, toFile = cachedLRU, true
		case over && n > 1:
			victim = liveLRU
		}
		if victim == nil {
			return
		}
		select {
		case victim.lock <- struct{}{}:
		default:
			return // in use; try again after the next stream
		}
		err := e.park(victim)
		if err == nil && toFile {
			err = e.spill(victim)
		}
		victim.release()
		if err != nil {
			e.log.Error("could not park or drain process memory; keeping it in memory", "process", victim.id, "err", err)
			return
		}
	}
}

// idleLRU scans every process for the least recently used image in the
// memory cache and (expiry) a live or cached process idle beyond the TTL.
func (e *Engine) idleLRU(now time.Time, expiry bool) (cachedLRU, expired *proc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		live := p.live.Load()
		if !live && p.cached.Load() == 0 {
			continue
		}
		used := p.used.Load()
		if !live && (cachedLRU == nil || used < cachedLRU.used.Load()) {
			cachedLRU = p
		}
		if expiry && expired == nil && now.Sub(time.Unix(0, used)) > e.opts.MemoryCacheTTL {
			expired = p
		}
	}
	return cachedLRU, expired
}

// drain parks p and writes its image to file. Caller holds p.lock.
func (e *Engine) drain(p *proc) error {
	if err := e.park(p); err != nil {
		return err
	}
	return e.spill(p)
}

// memoryDiffer is an instance that compares its memory with a base image
// without copying its pages (the loader knows which pages can hold data).
type memoryDiffer interface {
	DiffMemory(base *memimage.Base) *memimage.MemoryDiff
}

// pageImager is an instance that makes its own uncompressed page image (the
// loader knows which pages can hold data without reading the others).
type pageImager interface {
	PageImage() (*memimage.Image, error)
}

// baseImages holds the base images of each module that idle images are
// deltas against. The processes of a module share most pages only with
// processes in the same phase of Lua's incremental garbage collector (a
// cycle rewrites the mark bits of every object), so a module has up to
// maxBasesPerModule bases: an image is encoded against the one its delta is
// smallest against (memimage.MemoryDiff.DeltaBytes: the words that differ, not
// the pages, most of which one message's collection touches), and becomes a
// base itself when every delta would exceed a quarter of its bytes. (On 50
// aos processes of scalebench after its load, at nonces 4 to 9: one base
// makes their images 1.6× smaller, four bases 3.2×.) A base lives as long as an image refers to it (the map holds
// it weakly; procs hold it in imgBase and drainBase), so a module whose
// processes are all gone or live costs nothing, and a base never changes
// under an image made against it. It need not survive the CU: the memory
// cache and drained files do not (file checkpoints are plain images). A
// base is held uncompressed (~2 MB for an aos process), counted in the memory
// cache's bound: at most maxBasesPerModule per module in use.
type baseImages struct {
	mu sync.Mutex
	m  map[string][]weak.Pointer[memimage.Base]
}

const maxBasesPerModule = 4

// nearBase reports whether a diff is close enough to its base to be
// encoded against it: its ranges at most a quarter of the image's bytes.
func nearBase(d *memimage.MemoryDiff) bool { return d.DeltaBytes() <= d.DataBytes()/4 }

// forModule returns the base image of module that im's delta is smallest
// against, with im's diff against it (nil when there is none, or when im
// became the base), making im a base when none is close (im must not
// change afterwards). The bases are compared outside the lock (a comparison
// reads the pages of both). hint (or nil) is the base of the image the
// process was restored from: when im is still close to it, it is taken
// without comparing the others (a process that evaluated a message differs
// from its old image in a few words; each comparison reads ~2 MB).
func (b *baseImages) forModule(module string, im *memimage.Image, hint *memimage.Base) (*memimage.Base, *memimage.MemoryDiff) {
	if hint != nil {
		if d := memimage.DiffImage(im, hint); nearBase(d) {
			return hint, d
		}
	}
	b.mu.Lock()
	var bases []*memimage.Base
	for _, w := range b.m[module] {
		if base := w.Value(); base != nil { // (else no image needs it any more)
			bases = append(bases, base)
		}
	}
	b.mu.Unlock()
	// Ranked on every 8th page, then the best measured in full: each
	// full comparison XORs the ~2 MB that differ.
	var best *memimage.Base
	var bestDiff *memimage.MemoryDiff
	bestBytes := im.DataBytes() // (a delta no smaller than the image: none)
	for _, base := range bases {
		if n := base.SampledDeltaBytes(im, 8); n < bestBytes {
			best, bestBytes = base, n
		}
	}
	if best != nil {
		if bestDiff = memimage.DiffImage(im, best); nearBase(bestDiff) {
			return best, bestDiff
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	live := b.m[module][:0]
	for _, w := range b.m[module] {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	b.m[module] = live
	if len(live) >= maxBasesPerModule {
		return best, bestDiff
	}
	base := memimage.NewBase(im)
	b.m[module] = append(live, weak.Make(base))
	return base, nil
}

// byID returns the base image with id that the engine holds, or nil.
func (b *baseImages) byID(id [32]byte) *memimage.Base {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.m {
		for _, w := range l {
			if base := w.Value(); base != nil && base.ID() == id {
				return base
			}
		}
	}
	return nil
}

// stats returns the number of base images alive and their bytes of pages.
func (b *baseImages) stats() (n int, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, l := range b.m {
		live := l[:0]
		for _, w := range l {
			if base := w.Value(); base != nil {
				live = append(live, w)
				n++
				size += int64(base.Image().DataBytes())
			}
		}
		if len(live) == 0 {
			delete(b.m, id)
		} else {
			b.m[id] = live
		}
	}
	return n, size
}

// encodeIdle returns the image of p's live memory mem for the memory cache:
// a delta against its module's base image when that is smaller (base not
// nil), else the plain compact image. Caller holds p.lock.
func (e *Engine) encodeIdle(p *proc, mem []byte) (img []byte, base *memimage.Base, err error) {
	inModule := p.meta != nil && p.meta.module != nil && !p.replayOnly
	hint := p.imgBase
	if md, ok := p.inst.(memoryDiffer); ok && inModule && hint != nil {
		// Still close to the base it was restored against (its messages
		// changed a few words): the delta straight from the memory, no
		// page image copied (~3 MB for an aos process).
		if d := md.DiffMemory(hint); d != nil && nearBase(d) {
			if img, ok := e.enc.EncodeDiff(d); ok {
				return img, hint, nil
			}
		}
		hint = nil // (compared already)
	}
	im, err := pageImage(p, mem)
	if err != nil {
		return nil, nil, err
	}
	if !inModule {
		return e.enc.Encode(im), nil, nil
	}
	base, diff := e.bases.forModule(p.meta.module.ID, im, hint)
	if base == nil {
		return e.enc.Encode(im), nil, nil
	}
	if diff == nil {
		diff = memimage.DiffImage(im, base) // (im is the base)
	}
	if img, ok := e.enc.EncodeDiff(diff); ok {
		return img, base, nil
	}
	return e.enc.Encode(im), nil, nil
}

// pageImage returns the non-zero pages of p's live memory mem (the
// instance's own, which reads only the pages the kernel backed, when it
// makes them). Caller holds p.lock.
func pageImage(p *proc, mem []byte) (*memimage.Image, error) {
	if pi, ok := p.inst.(pageImager); ok {
		return pi.PageImage()
	}
	return memimage.FromMemory(mem), nil
}

// park releases p's instance and keeps its memory as a compact image in the
// memory cache (the image it was restored from when the memory has not
// changed since). Caller holds p.lock.
func (e *Engine) park(p *proc) error {
	if p.inst == nil {
		return nil
	}
	mem := p.inst.Memory()
	if mem == nil {
		p.closeInstance()
		return nil
	}
	img, base, pos := p.img, p.imgBase, p.imgPos
	if img == nil || pos != p.pos {
		var err error
		if img, base, err = e.encodeIdle(p, mem); err != nil {
			return fmt.Errorf("park process %s: %w", p.id, err)
		}
		pos = p.pos
		e.log.Debug("parked process memory", "process", p.id, "bytes", len(mem), "imageBytes", len(img), "delta", base != nil)
	}
	e.recycle(p)
	p.closeInstance()
	p.img, p.imgBase, p.imgPos = img, base, pos
	p.acct.setCached(p, int64(len(img)))
	if e.cp().Ahead && !p.replayOnly && !pos.cold && pos != p.checkpointed {
		if !p.aheadOfCheckpoint.Load() {
			p.aheadSince.Store(time.Now().UnixNano())
		}
		p.aheadOfCheckpoint.Store(true) // (ahead.go)
	}
	return nil
}

// recycle hands p's instance, which its image now holds, to the scratch
// pool: the next restore of a process of the module, or dry-run on an idle
// one, is built on it (no new instance, no page faults; see the loader's
// Recycle). Caller holds p.lock.
func (e *Engine) recycle(p *proc) {
	r, ok := p.inst.(ao.Recycler)
	if !ok || p.meta == nil || p.meta.mod == nil {
		return
	}
	p.dry.close()
	p.dry = nil
	if f := r.Recycle(); f != nil {
		e.scratch.put(p.meta.mod, f)
	}
	p.inst = nil
}

// spill writes a parked process's image to
// PROCESS_MEMORY_CACHE_FILE_DIR/state-<pid>.dat (replacing, atomically, the
// file of an earlier drain) and drops it from memory. The file is removed
// when the process is loaded again (removeDrainFile), at Close, and at the
// next start. Caller holds p.lock.
func (e *Engine) spill(p *proc) error {
	if p.inst != nil || p.img == nil {
		return nil
	}
	file := filepath.Join(e.opts.MemoryCacheFileDir, drainedFileName(p.id))
	if err := fsutil.WriteFileAtomic(file, p.img); err != nil {
		return err
	}
	p.drainFile, p.drainPos, p.drainBase = file, p.imgPos, p.imgBase
	p.drainedTo.Store(&file)
	e.log.Debug("drained process memory to file", "process", p.id, "file", file, "fileBytes", len(p.img))
	p.img, p.imgBase = nil, nil
	p.acct.setCached(p, 0)
	return nil
}

// idleImage returns the image p was parked or drained with, the base image
// it is a delta against (nil: not a delta), and its position; the image
// stays p's while its memory is unchanged, so parking it again is free.
// Caller holds p.lock.
func (e *Engine) idleImage(p *proc) ([]byte, *memimage.Base, position, bool) {
	if p.img != nil {
		p.acct.setCached(p, 0)
		return p.img, p.imgBase, p.imgPos, true
	}
	if p.drainFile == "" {
		return nil, nil, position{}, false
	}
	b, err := os.ReadFile(p.drainFile)
	if err != nil {
		e.log.Error("drained memory unreadable", "process", p.id, "file", p.drainFile, "err", err)
		return nil, nil, position{}, false
	}
	if memimage.IsCompact(b) || memimage.IsDelta(b) {
		p.img, p.imgBase, p.imgPos = b, p.drainBase, p.drainPos
	}
	return b, p.drainBase, p.drainPos, true
}
