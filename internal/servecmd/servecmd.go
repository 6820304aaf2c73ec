// Package servecmd implements `aocu serve`: the Compute Unit, configured from
// the reference CU's environment variables, serving its HTTP API.
package servecmd

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/config"
	"github.com/aocu/aocu/internal/cuhttp"
	"github.com/aocu/aocu/internal/engine"
	"github.com/aocu/aocu/internal/gwclient"
	"github.com/aocu/aocu/internal/hbclient"
	"github.com/aocu/aocu/internal/httpretry"
	"github.com/aocu/aocu/internal/loader"
	"github.com/aocu/aocu/internal/logging"
	"github.com/aocu/aocu/internal/metrics"
	"github.com/aocu/aocu/internal/store/pgstore"
	"github.com/aocu/aocu/internal/store/sqlitestore"
	"github.com/aocu/aocu/internal/suclient"
	"github.com/aocu/aocu/internal/weavedrive"
)

const usageText = `usage: aocu serve [--help]

Runs an ao Compute Unit: the reference CU's HTTP API on PORT (default 6363).
It is configured like the reference CU, by environment variables.

`

// Run is `aocu serve`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText+config.Usage()) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aocu serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(os.LookupEnv, ".env")
	if err != nil {
		fmt.Fprintf(stderr, "aocu serve: %v\n", err)
		return 2
	}
	level, err := logging.ParseLevel(cfg.DefaultLogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "aocu serve: DEFAULT_LOG_LEVEL: %v\n", err)
		return 2
	}
	log, lv := logging.New(stderr, level, logging.RootName())
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		logging.WatchLevelFile(wctx, cfg.LogConfigPath, level, lv, log, 0)
	}()
	defer func() { stopWatch(); <-watchDone }()
	u, err := Start(ctx, cfg, Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "aocu serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "aocu serve: compute unit %s listening on %s\n", u.Address, u.URL)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		select {
		case <-usr2:
			log.Info("SIGUSR2: checkpointing every process in memory to file")
			if err := u.Checkpoint(ctx); err != nil {
				log.Error("SIGUSR2 checkpoints", "err", err)
			}
			continue
		case <-ctx.Done():
		case <-u.Done():
		}
		break
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	if err := u.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "aocu serve: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// Options are what Start takes besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Listener, when set, is used instead of listening on PORT.
	Listener net.Listener
	// Wallet, when set, is used instead of WALLET/WALLET_FILE.
	Wallet *arweave.Wallet
}

// Unit is a running Compute Unit.
type Unit struct {
	URL     string
	Address string // the CU wallet's address
	Engine  *engine.Engine

	log    *slog.Logger
	srv    *http.Server
	api    *cuhttp.Server
	store  store
	loader *loader.Engine
	done   chan struct{}
	err    error

	stopInterval chan struct{}
	intervalDone chan struct{}
	prof         *profiler       // AOCU_PPROF_ADDR, or nil
	upstream     *http.Transport // the SU and gateway clients' connections
}

// ProfileURL is where Go's runtime profiles are served ("": nowhere).
func (u *Unit) ProfileURL() string {
	if u.prof == nil {
		return ""
	}
	return u.prof.URL
}

// checkpointLoop checkpoints every process in memory to file every interval
// (PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL; 0: never) and logs the memory use
// every monitor period (MEM_MONITOR_INTERVAL; 0: never).
func (u *Unit) checkpointLoop(interval, monitor time.Duration) {
	defer close(u.intervalDone)
	var tick, mon <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	if monitor > 0 {
		t := time.NewTicker(monitor)
		defer t.Stop()
		mon = t.C
	}
	for {
		select {
		case <-u.stopInterval:
			return
		case <-mon:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st := u.Engine.Stats()
			u.log.Info("Stats Usage", "processesInMemory", st.InMemory, "processesOnFile", st.OnFile,
				"processMemoryBytes", st.MemorySize, "processesCached", st.Cached, "cachedImageBytes", st.CachedSize,
				"baseImages", st.BaseImages, "baseImageBytes", st.BaseSize, "streams", st.Streams, "evaluated", st.Evaluated,
				"goHeapBytes", ms.HeapAlloc, "goSysBytes", ms.Sys)
		case <-tick:
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			if err := u.Engine.CheckpointAll(ctx); err != nil {
				u.log.Error("interval checkpoints", "err", err)
			}
			cancel()
		}
	}
}

// Checkpoint writes a file checkpoint of every process in memory now (SIGUSR2).
func (u *Unit) Checkpoint(ctx context.Context) error { return u.Engine.CheckpointAll(ctx) }

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "00000000-0000-4000-8000-000000000000"
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Start opens the store, builds the engine and serves the API.
func Start(ctx context.Context, cfg *config.Config, opts Options) (*Unit, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	wallet := opts.Wallet
	if wallet == nil {
		if err := cfg.RequireWallet(); err != nil {
			return nil, err
		}
		w, err := arweave.LoadWallet(cfg.WalletJWK)
		if err != nil {
			return nil, fmt.Errorf("wallet: %w", err)
		}
		wallet = w
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	u := &Unit{Address: wallet.Address(), log: log, store: store, done: make(chan struct{})}
	fail := func(err error) (*Unit, error) {
		u.closeBackends()
		return nil, err
	}
	// One client per upstream, each with UPSTREAM_REQUEST_TIMEOUT (0: none),
	// on one transport that keeps a connection per request in flight: the
	// default keeps 2 idle connections per host, so with 20 dry-runs at once
	// most SU reads opened (and the SU accepted) a new TCP connection.
	u.upstream = httpretry.Transport()
	upstream := func() *http.Client { return &http.Client{Timeout: cfg.UpstreamRequestTimeout, Transport: u.upstream} }
	gw, err := gwclient.New(gwclient.Options{ArweaveURL: cfg.ArweaveURL, GraphQLURL: cfg.GraphQLURL, GraphQLURLs: cfg.GraphQLURLs,
		CheckpointGraphQLURL: cfg.CheckpointGraphQLURL, UploaderURL: cfg.UploaderURL, Logger: log,
		HTTPClient: upstream(), Delay: cfg.UpstreamRetryDelay})
	if err != nil {
		return fail(err)
	}
	su := suclient.New(suclient.Options{Logger: log, HTTPClient: upstream(), Delay: cfg.UpstreamRetryDelay})
	tier, err := loader.ParseTier(cfg.WasmTier)
	if err != nil {
		return fail(err)
	}
	compiled := filepath.Join(cfg.WasmBinaryFileDirectory, "aocu-compiled")
	aotTools := loader.AOTToolchain(compiled, func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) })
	aotTools.Wasm2c = cfg.Wasm2c
	u.loader, err = loader.NewEngine(loader.EngineConfig{CacheDir: compiled,
		LoaderVersion: cfg.LoaderVersion, ThisProgram: cfg.LoaderThisProgram,
		Tier: tier, AOT: aotTools, Logf: func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }})
	if err != nil {
		return fail(err)
	}
	drive, err := weavedrive.NewGateway(cfg.ArweaveURL, nil, weavedrive.Options{Mode: driveMode(cfg)})
	if err != nil {
		return fail(err)
	}
	var sched ao.Scheduler = su
	var gwPort ao.Gateway = gw
	var rt ao.Runtime = loader.NewRuntime(u.loader, drive, log)
	var hb *hbUnit
	if cfg.UnitMode == config.UnitModeHBU {
		if hb, err = newHBUnit(cfg, log, store, su); err != nil {
			return fail(err)
		}
		sched, gwPort = hb.client, hbclient.Gateway{Gateway: gw, URL: cfg.HBURL}
		rt = hbclient.WrapRuntime(rt, hb.skips, hb.counters)
	}
	observer := &lateObserver{}
	u.Engine, err = engine.New(engine.Options{
		Observer: observer,
		Checkpoints: engine.CheckpointOptions{
			Store: store, Gateway: gw, Signer: wallet,
			FileDir:           cfg.ProcessMemoryFileCheckpointsDir,
			Ahead:             cfg.UnitMode == config.UnitModeCU,
			EagerFile:         !cfg.DisableProcessFileCheckpointCreation,
			EagerArweave:      !cfg.DisableProcessCheckpointCreation,
			GasThreshold:      float64(cfg.EagerCheckpointAccumulatedGasThreshold),
			TimeThreshold:     cfg.EagerCheckpointEvalTimeThreshold,
			Throttle:          cfg.ProcessCheckpointCreationThrottle,
			IgnoreLocal:       cfg.IgnoreLocalCheckpoints,
			IgnoreArweaveFor:  cfg.ProcessIgnoreArweaveCheckpoints,
			IgnoreTx:          cfg.IgnoreArweaveCheckpoints,
			TrustedOwners:     cfg.ProcessCheckpointTrustedOwners,
			PreferredOwners:   cfg.ProcessCheckpointPreferredOwners,
			UnitID:            newUUID(),
			ValidationSteps:   cfg.CheckpointValidationSteps,
			ValidationThresh:  cfg.CheckpointValidationThresh,
			ValidationRetries: cfg.CheckpointValidationRetries,
		},
		Store: store, Scheduler: sched, Gateway: gwPort, Runtime: rt, Logger: log,
		PageSize:               cfg.LoadMessagesPageSize,
		MemoryLimitMax:         cfg.ProcessWasmMemoryMaxLimit,
		ComputeLimitMax:        cfg.ProcessWasmComputeMaxLimit,
		SupportedFormats:       cfg.ProcessWasmSupportedFormats,
		SupportedExtensions:    cfg.ProcessWasmSupportedExtensions,
		AllowOwners:            cfg.AllowOwners,
		DisableEvaluationCache: cfg.DisableProcessEvaluationCache,
		MemoryCacheMaxSize:     cfg.ProcessMemoryCacheMaxSize,
		MemoryCacheTTL:         cfg.ProcessMemoryCacheTTL,
		MemoryCacheFileDir:     cfg.ProcessMemoryCacheFileDir,
		ModuleCacheMaxSize:     cfg.WasmModuleCacheMaxSize,
		InstanceCacheMaxSize:   cfg.WasmInstanceCacheMaxSize * cfg.PrimaryWorkers(),
		WasmBinaryDir:          cfg.WasmBinaryFileDirectory,
		PrimaryWorkers:         cfg.PrimaryWorkers(),
		DryRunWorkers:          cfg.DryRunWorkers(),
		DryRunMaxQueue:         cfg.WasmEvaluationWorkersDryRunMaxQueue,
		HydrationNonceLimit:    int64(cfg.HydrationModeNonceLimit),
		DryRunProcessCacheTTL:  cfg.DryRunProcessCacheTTL,
		DryRunResultMaxAge:     cfg.DryRunResultMaxAge,
		MessageTimeout:         cfg.WasmEvaluationTimeout,
		DryRunTimeout:          cfg.DryRunEvaluationTimeout,
		EnableMemoryReset:      cfg.EnableMemoryReset,
		HyperBEAM:              hb != nil,
	})
	if err != nil {
		return fail(err)
	}
	var metricsHandler http.Handler
	var wrap func(http.Handler) http.Handler
	if cfg.EnableMetricsEndpoint {
		m := metrics.New()
		eng := u.Engine
		m.OnCollect(func() {
			st := eng.Stats()
			m.SetProcesses(st.InMemory, st.OnFile)
			m.SetFailedProcesses(st.Failed)
			m.SetDisk("memory", st.MemoryDir.Files, st.MemoryDir.Bytes)
			m.SetDisk("checkpoints", st.CheckpointDir.Files, st.CheckpointDir.Bytes)
			m.SetDisk("modules", st.ModuleDir.Files, st.ModuleDir.Bytes)
			m.SetWorkers("primary", cfg.PrimaryWorkers(), 0, st.Streams)
			m.SetWorkers("dry-run", cfg.DryRunWorkers(), 0, 0)
		})
		observer.set(m)
		metricsHandler = m.Handler()
		wrap = func(h http.Handler) http.Handler { return m.Middleware(nil, h) }
	}
	u.api = cuhttp.New(cuhttp.Options{
		Metrics: metricsHandler, Wrap: wrap,
		Engine: u.Engine, Address: u.Address, Logger: log,
		ReadUnit:            cfg.UnitMode == config.UnitModeRU,
		BusyThreshold:       cfg.BusyThreshold,
		RestrictProcesses:   cfg.RestrictProcesses,
		AllowProcesses:      cfg.AllowProcesses,
		DryRunDefaultMaxAge: cfg.DryRunDefaultMaxProcessAge,
		RateLimitWindow:     cfg.RateLimitWindow,
		RateLimitMax:        rateLimit(cfg),
	})
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
		if err != nil {
			return fail(fmt.Errorf("listen on %s: %w", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), err))
		}
	}
	u.URL = "http://" + ln.Addr().String()
	if cfg.PprofAddr != "" {
		if u.prof, err = startProfiler(cfg.PprofAddr, log); err != nil {
			ln.Close()
			return fail(err)
		}
	}
	var handler http.Handler = u.api
	if hb != nil {
		handler = hb.handler(cfg, u, log, u.api, wrap)
	}
	u.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(u.done)
		if err := u.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			u.err = err
			log.Error("HTTP server stopped", "err", err)
		}
	}()
	u.stopInterval = make(chan struct{})
	u.intervalDone = make(chan struct{})
	go u.checkpointLoop(cfg.ProcessMemoryCacheCheckpointInterval, cfg.MemMonitorInterval)
	log.Info("compute unit started", "address", u.Address, "url", u.URL, "db", cfg.Redacted()["DB_URL"], "gateway", cfg.GatewayURL)
	return u, nil
}

func driveMode(cfg *config.Config) string {
	if cfg.ModuleMode == "llama" {
		return weavedrive.ModeTest
	}
	return ""
}

func rateLimit(cfg *config.Config) int {
	if cfg.RateLimitWindow <= 0 || cfg.RateLimitCleanupInterval <= 0 {
		return 0
	}
	return cfg.RateLimitMaxRequests
}

// store is what the CU persists to: SQLite, or PostgreSQL for DB_URL=postgres://….
type store interface {
	ao.Store
	ao.CheckpointStore
}

func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store, error) {
	if cfg.DBIsPostgres() {
		return pgstore.Open(ctx, cfg.DBURL, pgstore.Options{Logger: log})
	}
	if dir := filepath.Dir(cfg.SQLitePath()); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
	}
	return sqlitestore.Open(ctx, cfg.SQLitePath(), sqlitestore.Options{Logger: log})
}

// Done is closed when the HTTP server stops on its own.
func (u *Unit) Done() <-chan struct{} { return u.done }

// shutdownWait bounds a shutdown on SIGTERM: whatever a module is doing, the
// CU exits within it.
const shutdownWait = 10 * time.Second

// httpDrainWait bounds how long a shutdown waits for open connections.
const httpDrainWait = time.Second

// Shutdown stops the evaluation streams (what they evaluated is stored;
// requests waiting for them answer 503; a runaway evaluation is abandoned
// when ctx ends), stops accepting requests, checkpoints what it can before
// ctx ends and closes the database.
func (u *Unit) Shutdown(ctx context.Context) error {
	half, cancelHalf := context.WithTimeout(ctx, shutdownPart(ctx))
	if err := u.Engine.Stop(half); err != nil {
		u.log.Warn("shutdown", "err", err)
	}
	cancelHalf()
	// Connections still open past httpDrainWait are closed: net/http's
	// Shutdown waits 5 s for a connection that never sent a request (a
	// client's spare dial), time the checkpoints below need.
	dctx, cancelDrain := context.WithTimeout(ctx, httpDrainWait)
	err := u.srv.Shutdown(dctx)
	cancelDrain()
	if err != nil && ctx.Err() == nil {
		u.log.Warn("shutdown: connections still open were closed", "err", err)
		err = u.srv.Close()
	}
	u.api.Close()
	close(u.stopInterval)
	<-u.intervalDone
	// Every process in memory is checkpointed to file, so that a restart
	// resumes where this run stopped (as many as the deadline allows).
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownPart(ctx))
	defer cancel()
	if cerr := u.Engine.CheckpointAll(cctx); cerr != nil {
		u.log.Error("checkpoints at shutdown", "err", cerr)
	}
	// Closing waits for evaluations still running (the engine gives them a
	// few seconds more); past ctx's deadline they are abandoned with the
	// process: what they evaluated is not stored, and every store is crash
	// consistent.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		u.closeBackends()
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		u.log.Warn("shutdown: evaluations still running were abandoned", "err", ctx.Err())
		err = errors.Join(err, fmt.Errorf("closing: %w", ctx.Err()))
	}
	<-u.done
	u.prof.close()
	u.log.Info("compute unit stopped")
	return errors.Join(err, u.err)
}

// shutdownPart is half the time left before ctx's deadline (a minute without
// one).
func shutdownPart(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl)/2, 100*time.Millisecond)
	}
	return time.Minute
}

func (u *Unit) closeBackends() {
	if u.Engine != nil {
		u.Engine.Close()
	}
	if u.loader != nil {
		u.loader.Close()
	}
	if u.store != nil {
		u.store.Close()
	}
	if u.upstream != nil {
		u.upstream.CloseIdleConnections()
	}
}

// lateObserver forwards evaluation events to the metrics once they exist
// (they are made after the engine, which they observe).
type lateObserver struct {
	m atomic.Pointer[metrics.Metrics]
}

func (o *lateObserver) set(m *metrics.Metrics) { o.m.Store(m) }

func (o *lateObserver) Evaluated(stream, messageType string, failed bool) {
	if m := o.m.Load(); m != nil {
		m.Evaluated(stream, messageType, failed)
	}
}
