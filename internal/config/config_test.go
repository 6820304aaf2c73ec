package config

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envMap is the env argument of Load in tests.
type envMap map[string]string

func (m envMap) lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// load runs Load with a fixed TMPDIR so that directories are predictable.
func load(t *testing.T, env envMap) *Config {
	t.Helper()
	c, err := loadErr(env)
	if err != nil {
		t.Fatalf("Load(%v): %v", env, err)
	}
	return c
}

func loadErr(env envMap) (*Config, error) {
	e := envMap{"TMPDIR": "/tmp/aocu-test"}
	for k, v := range env {
		e[k] = v
	}
	return Load(e.lookup, "")
}

// TestDefaults checks every default against the reference (ref-cu.md §2,
// src/config.js with NODE_CONFIG_ENV=production).
func TestDefaults(t *testing.T) {
	c := load(t, nil)
	want := []struct {
		name string
		got  any
		want any
	}{
		{"NODE_CONFIG_ENV", c.Mode, "production"},
		{"UNIT_MODE", c.UnitMode, "cu"},
		{"HB_URL", c.HBURL, ""},
		{"HB_LEGACY_SU_URL", c.HBLegacySUURL, ""},
		{"DEFAULT_LOG_LEVEL", c.DefaultLogLevel, "debug"},
		{"LOG_CONFIG_PATH", c.LogConfigPath, ".loglevel"},
		{"MODULE_MODE", c.ModuleMode, ""},
		{"PORT", c.Port, 6363},
		{"ENABLE_METRICS_ENDPOINT", c.EnableMetricsEndpoint, false},
		{"AOCU_PPROF_ADDR", c.PprofAddr, ""},
		{"AOCU_WASM_TIER", c.WasmTier, "cranelift"},
		{"AOCU_WASM2C", c.Wasm2c, []string(nil)},
		{"GATEWAY_URL", c.GatewayURL, "https://arweave.net"},
		{"ARWEAVE_URL", c.ArweaveURL, "https://arweave.net"},
		{"GRAPHQL_URL", c.GraphQLURL, "https://arweave.net/graphql"},
		// The reference hard-codes arweave.net and goldsky here; aocu follows GRAPHQL_URL.
		{"GRAPHQL_URLS", c.GraphQLURLs, []string{"https://arweave.net/graphql"}},
		{"CHECKPOINT_GRAPHQL_URL", c.CheckpointGraphQLURL, "https://arweave.net/graphql"},
		{"UPLOADER_URL", c.UploaderURL, "https://up.arweave.net"},
		{"DB_MODE", c.DBMode, "embedded"},
		{"DB_URL", c.DBURL, "ao-cache"},
		{"WALLET", c.WalletJWK, []byte(nil)},
		{"WALLET_FILE", c.WalletFile, ""},
		{"MEM_MONITOR_INTERVAL", c.MemMonitorInterval, 30000 * time.Millisecond},
		{"PROCESS_CHECKPOINT_CREATION_THROTTLE", c.ProcessCheckpointCreationThrottle, 1800000 * time.Millisecond},
		{"DISABLE_PROCESS_CHECKPOINT_CREATION", c.DisableProcessCheckpointCreation, true},
		{"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION", c.DisableProcessFileCheckpointCreation, true},
		{"DISABLE_PROCESS_EVALUATION_CACHE", c.DisableProcessEvaluationCache, false},
		{"EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD", c.EagerCheckpointAccumulatedGasThreshold, int64(300_000_000_000_000)},
		{"EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD", c.EagerCheckpointEvalTimeThreshold, 900000 * time.Millisecond},
		{"PROCESS_WASM_MEMORY_MAX_LIMIT", c.ProcessWasmMemoryMaxLimit, int64(1073741824)},
		{"PROCESS_WASM_COMPUTE_MAX_LIMIT", c.ProcessWasmComputeMaxLimit, int64(9_000_000_000_000)},
		{"PROCESS_WASM_SUPPORTED_FORMATS", c.ProcessWasmSupportedFormats, []string{
			"wasm32-unknown-emscripten",
			"wasm32-unknown-emscripten2",
			"wasm32-unknown-emscripten3",
			"wasm32-unknown-emscripten4",
			"wasm64-unknown-emscripten-draft_2024_02_15",
			"wasm32-unknown-emscripten-metering",
			"wasm64-unknown-emscripten-draft_2024_10_16-metering",
		}},
		{"PROCESS_WASM_SUPPORTED_EXTENSIONS", c.ProcessWasmSupportedExtensions, []string(nil)},
		{"AO_LOADER_VERSION", c.LoaderVersion, "0.0.44"},
		{"AO_LOADER_THIS_PROGRAM", c.LoaderThisProgram, "/usr/app/src/effects/worker/evaluator/index.js"},
		{"WASM_EVALUATION_MAX_WORKERS", c.WasmEvaluationMaxWorkers, max(runtime.NumCPU()-1, 1)},
		{"WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE", c.WasmEvaluationPrimaryWorkersPercentage, 70},
		{"WASM_EVALUATION_WORKERS_DRY_RUN_MAX_QUEUE", c.WasmEvaluationWorkersDryRunMaxQueue, 3000},
		{"WASM_INSTANCE_CACHE_MAX_SIZE", c.WasmInstanceCacheMaxSize, 5},
		{"WASM_MODULE_CACHE_MAX_SIZE", c.WasmModuleCacheMaxSize, 5},
		{"WASM_BINARY_FILE_DIRECTORY", c.WasmBinaryFileDirectory, "/tmp/aocu-test"},
		{"PROCESS_IGNORE_ARWEAVE_CHECKPOINTS", c.ProcessIgnoreArweaveCheckpoints, []string(nil)},
		{"IGNORE_ARWEAVE_CHECKPOINTS", c.IgnoreArweaveCheckpoints, []string(nil)},
		{"PROCESS_CHECKPOINT_TRUSTED_OWNERS", c.ProcessCheckpointTrustedOwners, []string(nil)},
		{"PROCESS_CHECKPOINT_PREFERRED_OWNERS", c.ProcessCheckpointPreferredOwners, []string(nil)},
		{"PROCESS_MEMORY_CACHE_MAX_SIZE", c.ProcessMemoryCacheMaxSize, int64(1073741824)},
		{"PROCESS_MEMORY_CACHE_TTL", c.ProcessMemoryCacheTTL, 86400000 * time.Millisecond},
		{"PROCESS_MEMORY_CACHE_FILE_DIR", c.ProcessMemoryCacheFileDir, "/tmp/aocu-test"},
		{"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR", c.ProcessMemoryFileCheckpointsDir, "/tmp/aocu-test/file_checkpoints"},
		{"PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL", c.ProcessMemoryCacheCheckpointInterval, time.Duration(0)},
		{"BUSY_THRESHOLD", c.BusyThreshold, time.Duration(0)},
		{"RESTRICT_PROCESSES", c.RestrictProcesses, []string(nil)},
		{"ALLOW_PROCESSES", c.AllowProcesses, []string(nil)},
		{"ALLOW_OWNERS", c.AllowOwners, []string(nil)},
		{"CHECKPONT_VALIDATION_STEPS", c.CheckpointValidationSteps, 10},
		{"CHECKPONT_VALIDATION_THRESH", c.CheckpointValidationThresh, 0.75},
		{"CHECKPONT_VALIDATION_RETRIES", c.CheckpointValidationRetries, 5},
		{"IGNORE_LOCAL_CHECKPOINTS", c.IgnoreLocalCheckpoints, false},
		{"HYDRATION_MODE_NONCE_LIMIT", c.HydrationModeNonceLimit, 200},
		{"DRY_RUN_DEFAULT_MAX_PROCESS_AGE", c.DryRunDefaultMaxProcessAge, 100 * time.Millisecond},
		{"DRY_RUN_PROCESS_CACHE_TTL", c.DryRunProcessCacheTTL, 2000 * time.Millisecond},
		{"DRY_RUN_EVALUATION_TIMEOUT", c.DryRunEvaluationTimeout, 5000 * time.Millisecond},
		{"WASM_EVALUATION_TIMEOUT", c.WasmEvaluationTimeout, 300000 * time.Millisecond},
		{"HOST", c.Host, ""},
		{"DRY_RUN_RESULT_MAX_AGE", c.DryRunResultMaxAge, 60000 * time.Millisecond},
		{"UPSTREAM_REQUEST_TIMEOUT", c.UpstreamRequestTimeout, 300000 * time.Millisecond},
		{"UPSTREAM_RETRY_DELAY", c.UpstreamRetryDelay, 500 * time.Millisecond},
		{"LOAD_MESSAGES_PAGE_SIZE", c.LoadMessagesPageSize, 1000},
		{"RATE_LIMIT_WINDOW", c.RateLimitWindow, 60000 * time.Millisecond},
		{"RATE_LIMIT_MAX_REQUESTS", c.RateLimitMaxRequests, 6},
		{"RATE_LIMIT_CLEANUP_INTERVAL", c.RateLimitCleanupInterval, 1000000 * time.Millisecond},
		{"ENABLE_MEMORY_RESET", c.EnableMemoryReset, false},
	}
	seen := map[string]bool{}
	for _, w := range want {
		seen[w.name] = true
		if !reflect.DeepEqual(w.got, w.want) {
			t.Errorf("%s: got %#v, want %#v", w.name, w.got, w.want)
		}
	}
	for _, v := range variables() {
		if !seen[v.name] {
			t.Errorf("%s: no default checked", v.name)
		}
	}
	if c.DBIsPostgres() || c.SQLitePath() != "ao-cache.sqlite" {
		t.Errorf("default DB: postgres=%v sqlite=%q", c.DBIsPostgres(), c.SQLitePath())
	}
	if err := c.RequireWallet(); err == nil || !strings.Contains(err.Error(), "WALLET") {
		t.Errorf("RequireWallet without a wallet: %v", err)
	}
}

func TestNodeConfigEnv(t *testing.T) {
	if c := load(t, envMap{"NODE_CONFIG_ENV": "development"}); c.Mode != ModeDevelopment || c.MemMonitorInterval != 10*time.Second {
		t.Errorf("development: mode %q, MEM_MONITOR_INTERVAL %v; want 10s", c.Mode, c.MemMonitorInterval)
	}
	if c := load(t, envMap{"NODE_CONFIG_ENV": "production"}); c.MemMonitorInterval != 30*time.Second {
		t.Errorf("production: MEM_MONITOR_INTERVAL %v; want 30s", c.MemMonitorInterval)
	}
	c := load(t, envMap{"NODE_CONFIG_ENV": "development", "MEM_MONITOR_INTERVAL": "0"})
	if c.MemMonitorInterval != 0 {
		t.Errorf("explicit 0 is kept (as the reference's \"0\" || default): got %v", c.MemMonitorInterval)
	}
}

func TestURLDerivation(t *testing.T) {
	cases := []struct {
		name string
		env  envMap
		// arweave, graphql, graphqls, checkpoint, uploader
		want [5]any
	}{
		{"gateway set", envMap{"GATEWAY_URL": "http://localhost:4000"},
			[5]any{"http://localhost:4000", "http://localhost:4000/graphql", []string{"http://localhost:4000/graphql"}, "http://localhost:4000/graphql", "http://localhost:4000"}},
		{"trailing slash trimmed", envMap{"GATEWAY_URL": "http://localhost:4000/"},
			[5]any{"http://localhost:4000", "http://localhost:4000/graphql", []string{"http://localhost:4000/graphql"}, "http://localhost:4000/graphql", "http://localhost:4000"}},
		{"gateway under a path", envMap{"GATEWAY_URL": "https://gw.example/ar/"},
			[5]any{"https://gw.example/ar", "https://gw.example/ar/graphql", []string{"https://gw.example/ar/graphql"}, "https://gw.example/ar/graphql", "https://gw.example/ar"}},
		{"graphql set", envMap{"GATEWAY_URL": "http://g", "GRAPHQL_URL": "http://q/graphql/"},
			[5]any{"http://g", "http://q/graphql", []string{"http://q/graphql"}, "http://q/graphql", "http://g"}},
		{"everything set", envMap{
			"ARWEAVE_URL": "http://a", "GRAPHQL_URL": "http://q", "GRAPHQL_URLS": "http://b1/graphql, http://b2/graphql/",
			"CHECKPOINT_GRAPHQL_URL": "http://c", "UPLOADER_URL": "http://u",
		},
			[5]any{"http://a", "http://q", []string{"http://b1/graphql", "http://b2/graphql"}, "http://c", "http://u"}},
		{"uploader kept when gateway set", envMap{"GATEWAY_URL": "http://g", "UPLOADER_URL": "https://up.example"},
			[5]any{"http://g", "http://g/graphql", []string{"http://g/graphql"}, "http://g/graphql", "https://up.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := load(t, tc.env)
			got := [5]any{c.ArweaveURL, c.GraphQLURL, c.GraphQLURLs, c.CheckpointGraphQLURL, c.UploaderURL}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestBooleans(t *testing.T) {
	strict := []struct {
		name string
		get  func(*Config) bool
	}{
		{"DISABLE_PROCESS_EVALUATION_CACHE", func(c *Config) bool { return c.DisableProcessEvaluationCache }},
		{"IGNORE_LOCAL_CHECKPOINTS", func(c *Config) bool { return c.IgnoreLocalCheckpoints }},
		{"ENABLE_MEMORY_RESET", func(c *Config) bool { return c.EnableMemoryReset }},
	}
	for _, b := range strict {
		for v, want := range map[string]bool{
			"true": true, "TRUE": true, "1": true, "yes": true, "on": true,
			"false": false, "False": false, "0": false, "no": false, "off": false, "": false,
		} {
			if got := b.get(load(t, envMap{b.name: v})); got != want {
				t.Errorf("%s=%q: got %v, want %v", b.name, v, got, want)
			}
		}
		if _, err := loadErr(envMap{b.name: "maybe"}); err == nil || !strings.Contains(err.Error(), b.name) {
			t.Errorf("%s=maybe: error %v, want one naming the variable", b.name, err)
		}
	}

	// "Set to any value" variables: any value is true, except the spellings
	// of false, which the reference took as true.
	lenient := []struct {
		name string
		get  func(*Config) bool
		def  bool
	}{
		{"ENABLE_METRICS_ENDPOINT", func(c *Config) bool { return c.EnableMetricsEndpoint }, false},
		{"DISABLE_PROCESS_CHECKPOINT_CREATION", func(c *Config) bool { return c.DisableProcessCheckpointCreation }, true},
		{"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION", func(c *Config) bool { return c.DisableProcessFileCheckpointCreation }, true},
	}
	for _, b := range lenient {
		for v, want := range map[string]bool{
			"true": true, "1": true, "yes": true, "enabled": true, "x": true,
			"false": false, "0": false, "no": false, "OFF": false, "": b.def,
		} {
			if got := b.get(load(t, envMap{b.name: v})); got != want {
				t.Errorf("%s=%q: got %v, want %v", b.name, v, got, want)
			}
		}
	}
}

func TestUnitModeRU(t *testing.T) {
	c := load(t, envMap{
		"UNIT_MODE":                                "ru",
		"DISABLE_PROCESS_EVALUATION_CACHE":         "false",
		"DISABLE_PROCESS_CHECKPOINT_CREATION":      "false",
		"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION": "false",
		"PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL": "15m",
	})
	if !c.DisableProcessEvaluationCache || !c.DisableProcessCheckpointCreation || !c.DisableProcessFileCheckpointCreation || c.ProcessMemoryCacheCheckpointInterval != 0 {
		t.Errorf("ru did not force the cache and checkpoints off: %+v", c)
	}
	c = load(t, envMap{"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION": "false", "PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL": "15m"})
	if c.DisableProcessFileCheckpointCreation || c.ProcessMemoryCacheCheckpointInterval != 15*time.Minute {
		t.Errorf("cu: file checkpoints %v, interval %v", c.DisableProcessFileCheckpointCreation, c.ProcessMemoryCacheCheckpointInterval)
	}
}

func TestUnitModeHBU(t *testing.T) {
	// The environment HyperBEAM's dev_genesis_wasm gives its sidecar.
	c := load(t, envMap{
		"UNIT_MODE":       "hbu",
		"HB_URL":          "http://localhost:8734/",
		"PORT":            "6363",
		"NODE_CONFIG_ENV": "production",
		"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION": "false",
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR":      "/var/hb/checkpoints",
		"PROCESS_MEMORY_CACHE_MAX_SIZE":            "12_000_000_000",
		"PROCESS_WASM_MEMORY_MAX_LIMIT":            "24_000_000_000",
		"PROCESS_WASM_SUPPORTED_EXTENSIONS":        "WeaveDrive",
		"PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL": "15m",
	})
	if c.UnitMode != UnitModeHBU || c.HBURL != "http://localhost:8734" || c.HBLegacySUURL != "" {
		t.Errorf("mode %q, HB_URL %q, legacy SU %q", c.UnitMode, c.HBURL, c.HBLegacySUURL)
	}
	if c.ProcessMemoryCacheMaxSize != 12_000_000_000 || c.ProcessWasmMemoryMaxLimit != 24_000_000_000 {
		t.Errorf("byte values with underscores: cache %d, limit %d", c.ProcessMemoryCacheMaxSize, c.ProcessWasmMemoryMaxLimit)
	}
	if !c.DisableProcessCheckpointCreation || !c.DisableProcessFileCheckpointCreation || c.ProcessMemoryCacheCheckpointInterval != 0 {
		t.Errorf("hbu did not turn automatic checkpoints off: arweave %v, file %v, interval %v",
			!c.DisableProcessCheckpointCreation, !c.DisableProcessFileCheckpointCreation, c.ProcessMemoryCacheCheckpointInterval)
	}
	if c.EagerCheckpointAccumulatedGasThreshold != math.MaxInt64 || c.EagerCheckpointEvalTimeThreshold != time.Duration(math.MaxInt64) {
		t.Errorf("eager thresholds %d, %v", c.EagerCheckpointAccumulatedGasThreshold, c.EagerCheckpointEvalTimeThreshold)
	}
	if c.DisableProcessEvaluationCache {
		t.Error("hbu keeps the evaluation cache")
	}
	if c.LoaderVersion != "0.0.48" {
		t.Errorf("hbu loader version %q, want the sidecar's 0.0.48", c.LoaderVersion)
	}
	if c := load(t, envMap{"UNIT_MODE": "hbu", "HB_URL": "http://hb", "AO_LOADER_VERSION": "0.0.44"}); c.LoaderVersion != "0.0.44" {
		t.Errorf("an explicit AO_LOADER_VERSION in hbu mode became %q", c.LoaderVersion)
	}
	if _, err := loadErr(envMap{"UNIT_MODE": "hbu"}); err == nil || !strings.Contains(err.Error(), "HB_URL") {
		t.Errorf("hbu without HB_URL: %v", err)
	}
}

func TestNumbersAndUnits(t *testing.T) {
	sizes := map[string]int64{
		"1073741824":    1 << 30,
		"1_073_741_824": 1 << 30,
		"1gb":           1 << 30,
		"1GB":           1 << 30,
		"1GiB":          1 << 30,
		"500mb":         500 << 20,
		"500 MB":        500 << 20,
		"1.5gb":         3 << 29,
		"64kib":         64 << 10,
		"100b":          100,
		"0":             0,
	}
	for v, want := range sizes {
		if got := load(t, envMap{"PROCESS_MEMORY_CACHE_MAX_SIZE": v}).ProcessMemoryCacheMaxSize; got != want {
			t.Errorf("PROCESS_MEMORY_CACHE_MAX_SIZE=%q: got %d, want %d", v, got, want)
		}
	}
	times := map[string]time.Duration{
		"900000":   15 * time.Minute,
		"900_000":  15 * time.Minute,
		"15m":      15 * time.Minute,
		"30s":      30 * time.Second,
		"1h":       time.Hour,
		"1h30m":    90 * time.Minute,
		"1500ms":   1500 * time.Millisecond,
		"1d":       24 * time.Hour,
		"0":        0,
		" 2000 \t": 2 * time.Second,
	}
	for v, want := range times {
		if got := load(t, envMap{"EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD": v}).EagerCheckpointEvalTimeThreshold; got != want {
			t.Errorf("EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD=%q: got %v, want %v", v, got, want)
		}
	}
	if got := load(t, envMap{"EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD": "1_000_000"}).EagerCheckpointAccumulatedGasThreshold; got != 1_000_000 {
		t.Errorf("gas threshold with underscores: %d", got)
	}
	if got := load(t, envMap{"CHECKPONT_VALIDATION_THRESH": "0.5"}).CheckpointValidationThresh; got != 0.5 {
		t.Errorf("CHECKPONT_VALIDATION_THRESH=0.5: %v", got)
	}
	if got := load(t, envMap{"PORT": "0"}).Port; got != 0 {
		t.Errorf("PORT=0: %d", got)
	}
}

func TestBadValues(t *testing.T) {
	bad := map[string][]string{
		"PORT":                           {"abc", "70000", "-1", "63.63", "6363x"},
		"PROCESS_WASM_MEMORY_MAX_LIMIT":  {"1zb", "12abc", "-1", "-1gb", "gb", "1.5", "1e9"},
		"PROCESS_WASM_COMPUTE_MAX_LIMIT": {"9t", "99999999999999999999"},
		"MEM_MONITOR_INTERVAL":           {"soon", "-5s", "1.5", "10 s"},
		"BUSY_THRESHOLD":                 {"1y"},
		"IGNORE_LOCAL_CHECKPOINTS":       {"maybe"},
		"GATEWAY_URL":                    {"arweave.net", "ftp://arweave.net", "http://", "/relative"},
		"ARWEAVE_URL":                    {"localhost:1984"},
		"UPLOADER_URL":                   {"not a url"},
		"GRAPHQL_URLS":                   {"https://a/graphql,ftp://b"},
		"UNIT_MODE":                      {"xu"},
		"AOCU_PPROF_ADDR":                {"6060", "localhost"},
		"AOCU_WASM_TIER":                 {"v8", "AOT"},
		"NODE_CONFIG_ENV":                {"test"},
		"DEFAULT_LOG_LEVEL":              {"loud"},
		"CHECKPONT_VALIDATION_THRESH":    {"abc", "-0.5", "0.75x", "NaN"},
		"DB_MODE":                        {"cloud"},
		"WASM_EVALUATION_MAX_WORKERS":    {"0"},
		"AO_LOADER_VERSION":              {"0.0.45", "0.0.4", "latest", "v0.0.44"},
		"AO_LOADER_THIS_PROGRAM":         {"/usr/app/src/äpp.js", "a\x00b"},
		"WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE": {"0", "101"},
		"LOAD_MESSAGES_PAGE_SIZE":                    {"0"},
		"WALLET_FILE":                                {filepath.Join(t.TempDir(), "missing.json")},
	}
	for name, values := range bad {
		for _, v := range values {
			_, err := loadErr(envMap{name: v})
			if err == nil {
				t.Errorf("%s=%q: no error", name, v)
				continue
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: error %q does not name the variable", name, v, err)
			}
		}
	}

	// All bad values are reported at once.
	_, err := loadErr(envMap{"PORT": "x", "BUSY_THRESHOLD": "y"})
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "BUSY_THRESHOLD") {
		t.Errorf("two bad values: %v", err)
	}
	// A secret is not echoed.
	_, err = loadErr(envMap{"WALLET": `{"kty":"RSA","d":"SECRET"}`, "PORT": "x"})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error leaks the wallet: %v", err)
	}
}

func TestDB(t *testing.T) {
	cases := []struct {
		env      envMap
		mode     string
		postgres bool
		sqlite   string
		err      string
	}{
		{envMap{}, DBModeEmbedded, false, "ao-cache.sqlite", ""},
		{envMap{"DB_URL": "/var/lib/cu/db"}, DBModeEmbedded, false, "/var/lib/cu/db.sqlite", ""},
		{envMap{"DB_MODE": "embedded", "DB_URL": "cache"}, DBModeEmbedded, false, "cache.sqlite", ""},
		{envMap{"DB_URL": "postgres://u:p@h:5432/cu"}, DBModeRemote, true, "", ""},
		{envMap{"DB_URL": "postgresql://h/cu"}, DBModeRemote, true, "", ""},
		{envMap{"DB_MODE": "remote", "DB_URL": "postgres://h/cu"}, DBModeRemote, true, "", ""},
		{envMap{"DB_MODE": "remote"}, "", false, "", "DB_MODE=remote"},
		{envMap{"DB_MODE": "embedded", "DB_URL": "postgres://h/cu"}, "", false, "", "DB_MODE=embedded"},
	}
	for _, tc := range cases {
		c, err := loadErr(tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "DB_URL") {
				t.Errorf("%v: error %v, want one with %q and DB_URL", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if c.DBMode != tc.mode || c.DBIsPostgres() != tc.postgres {
			t.Errorf("%v: mode %q postgres %v, want %q %v", tc.env, c.DBMode, c.DBIsPostgres(), tc.mode, tc.postgres)
		}
		if tc.sqlite != "" && c.SQLitePath() != tc.sqlite {
			t.Errorf("%v: SQLitePath %q, want %q", tc.env, c.SQLitePath(), tc.sqlite)
		}
	}
	// The password is masked in errors.
	_, err := loadErr(envMap{"DB_MODE": "embedded", "DB_URL": "postgres://u:hunter2@h/cu"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the DB password: %v", err)
	}
}

func TestWallet(t *testing.T) {
	jwk := `{"kty":"RSA","n":"abc","e":"AQAB","d":"secret"}`
	dir := t.TempDir()
	file := filepath.Join(dir, "wallet.json")
	if err := os.WriteFile(file, []byte(jwk+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c := load(t, envMap{"WALLET": jwk})
	if string(c.WalletJWK) != jwk || c.RequireWallet() != nil {
		t.Errorf("WALLET: %q", c.WalletJWK)
	}
	c = load(t, envMap{"WALLET_FILE": file})
	if string(c.WalletJWK) != jwk+"\n" || c.WalletFile != file || c.RequireWallet() != nil {
		t.Errorf("WALLET_FILE: %q from %q", c.WalletJWK, c.WalletFile)
	}
	// WALLET wins; the file is not even read.
	c = load(t, envMap{"WALLET": `{"kty":"EC"}`, "WALLET_FILE": filepath.Join(dir, "missing.json")})
	if string(c.WalletJWK) != `{"kty":"EC"}` {
		t.Errorf("WALLET beside WALLET_FILE: %q", c.WalletJWK)
	}
	// A relative WALLET_FILE is resolved against the working directory.
	c = load(t, envMap{"WALLET_FILE": "some/wallet.json", "WALLET": "{}"})
	if !filepath.IsAbs(c.WalletFile) {
		t.Errorf("WalletFile %q is not absolute", c.WalletFile)
	}
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o600)
	if _, err := loadErr(envMap{"WALLET_FILE": empty}); err == nil || !strings.Contains(err.Error(), "WALLET_FILE") {
		t.Errorf("empty WALLET_FILE: %v", err)
	}
}

func TestWorkers(t *testing.T) {
	// bootstrap.js: primary = min(max(1, MAX-1), ceil(MAX*PCT/100)),
	// dryRun = floor(MAX*(1-PCT/100)) in float64 (3*0.7 is
	// 2.0999999999999996 in JavaScript too), at least 2 here (the
	// reference: 1).
	cases := []struct{ max, pct, primary, dryRun int }{
		{1, 70, 1, 2},
		{2, 70, 1, 2},
		{3, 70, 2, 2},
		{4, 70, 3, 2},
		{8, 70, 6, 2},
		{16, 70, 12, 4},
		{10, 100, 9, 2},
		{10, 50, 5, 5},
	}
	for _, tc := range cases {
		c := load(t, envMap{"WASM_EVALUATION_MAX_WORKERS": strconv.Itoa(tc.max), "WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE": strconv.Itoa(tc.pct)})
		if p, d := c.PrimaryWorkers(), c.DryRunWorkers(); p != tc.primary || d != tc.dryRun {
			t.Errorf("MAX=%d PCT=%d: primary %d dry-run %d, want %d %d", tc.max, tc.pct, p, d, tc.primary, tc.dryRun)
		}
	}
}

func TestDotenvFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := strings.Join([]string{
		"# the CU's settings",
		"NODE_CONFIG_ENV=development",
		`WALLET='{"kty":"RSA","e":"AQAB"}'`,
		"export PORT=7000 # inline comment",
		`GATEWAY_URL="http://localhost:4000/"`,
		"  BUSY_THRESHOLD = 5s  ",
		"DB_URL=from-file",
		"",
		"ALLOW_OWNERS=a,b , c",
	}, "\n")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envMap{"TMPDIR": "/tmp/x", "DB_URL": "from-env"}
	c, err := Load(env.lookup, path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeDevelopment || c.MemMonitorInterval != 10*time.Second {
		t.Errorf("NODE_CONFIG_ENV from .env: %q %v", c.Mode, c.MemMonitorInterval)
	}
	if string(c.WalletJWK) != `{"kty":"RSA","e":"AQAB"}` {
		t.Errorf("WALLET: %q", c.WalletJWK)
	}
	if c.Port != 7000 || c.GatewayURL != "http://localhost:4000" || c.UploaderURL != "http://localhost:4000" || c.BusyThreshold != 5*time.Second {
		t.Errorf("port %d gateway %q uploader %q busy %v", c.Port, c.GatewayURL, c.UploaderURL, c.BusyThreshold)
	}
	if c.DBURL != "from-env" {
		t.Errorf("the environment must win over .env: DB_URL=%q", c.DBURL)
	}
	if !slices.Equal(c.AllowOwners, []string{"a", "b", "c"}) {
		t.Errorf("ALLOW_OWNERS: %q", c.AllowOwners)
	}

	// Set but empty in the environment still wins (dotenv does not override
	// an existing variable), and empty means the default.
	env = envMap{"PORT": ""}
	if c, err = Load(env.lookup, path); err != nil || c.Port != 6363 {
		t.Errorf("PORT set empty in env: %v %v", c, err)
	}

	// A missing file is fine.
	if _, err := Load(envMap{}.lookup, filepath.Join(dir, "nope.env")); err != nil {
		t.Errorf("missing .env: %v", err)
	}

	// A malformed file is an error naming the file and line.
	bad := filepath.Join(dir, "bad.env")
	os.WriteFile(bad, []byte("PORT=1\n\n# ok\nnot a line\n"), 0o600)
	_, err = Load(envMap{}.lookup, bad)
	if err == nil || !strings.Contains(err.Error(), bad+":4:") {
		t.Errorf("malformed .env: %v", err)
	}

	// A bad value from the file names the variable.
	badValue := filepath.Join(dir, "badvalue.env")
	os.WriteFile(badValue, []byte("PORT=lots\n"), 0o600)
	if _, err = Load(envMap{}.lookup, badValue); err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Errorf("bad value in .env: %v", err)
	}
}

// examples gives each variable a value different from its default; the
// test fails when a variable is added without one.
func examples(t *testing.T) map[string]envMap {
	walletFile := filepath.Join(t.TempDir(), "wallet.json")
	if err := os.WriteFile(walletFile, []byte(`{"kty":"RSA"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]envMap{
		"NODE_CONFIG_ENV":                      {"NODE_CONFIG_ENV": "development"},
		"UNIT_MODE":                            {"UNIT_MODE": "ru"},
		"HB_URL":                               {"HB_URL": "http://localhost:8734"},
		"HB_LEGACY_SU_URL":                     {"HB_LEGACY_SU_URL": "http://su.local"},
		"PORT":                                 {"PORT": "8080"},
		"DEFAULT_LOG_LEVEL":                    {"DEFAULT_LOG_LEVEL": "info"},
		"LOG_CONFIG_PATH":                      {"LOG_CONFIG_PATH": "/etc/cu/loglevel"},
		"MODULE_MODE":                          {"MODULE_MODE": "llama"},
		"ENABLE_METRICS_ENDPOINT":              {"ENABLE_METRICS_ENDPOINT": "true"},
		"AOCU_PPROF_ADDR":                      {"AOCU_PPROF_ADDR": "127.0.0.1:6060"},
		"AOCU_WASM_TIER":                       {"AOCU_WASM_TIER": "auto"},
		"AOCU_WASM2C":                          {"AOCU_WASM2C": "node /opt/wabt/bin/wasm2c"},
		"GATEWAY_URL":                          {"GATEWAY_URL": "http://localhost:4000"},
		"ARWEAVE_URL":                          {"ARWEAVE_URL": "http://a"},
		"GRAPHQL_URL":                          {"GRAPHQL_URL": "http://q"},
		"GRAPHQL_URLS":                         {"GRAPHQL_URLS": "http://q1,http://q2"},
		"CHECKPOINT_GRAPHQL_URL":               {"CHECKPOINT_GRAPHQL_URL": "http://c"},
		"UPLOADER_URL":                         {"UPLOADER_URL": "http://u"},
		"DB_MODE":                              {"DB_MODE": "remote", "DB_URL": "postgres://h/cu"},
		"DB_URL":                               {"DB_URL": "postgres://h/cu"},
		"WALLET":                               {"WALLET": `{"kty":"RSA"}`},
		"WALLET_FILE":                          {"WALLET_FILE": walletFile},
		"MEM_MONITOR_INTERVAL":                 {"MEM_MONITOR_INTERVAL": "1m"},
		"PROCESS_CHECKPOINT_CREATION_THROTTLE": {"PROCESS_CHECKPOINT_CREATION_THROTTLE": "1h"},
		"DISABLE_PROCESS_CHECKPOINT_CREATION":  {"DISABLE_PROCESS_CHECKPOINT_CREATION": "false"},
		"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION":   {"DISABLE_PROCESS_FILE_CHECKPOINT_CREATION": "false"},
		"DISABLE_PROCESS_EVALUATION_CACHE":           {"DISABLE_PROCESS_EVALUATION_CACHE": "true"},
		"EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD": {"EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD": "1"},
		"EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD":       {"EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD": "1m"},
		"PROCESS_WASM_MEMORY_MAX_LIMIT":              {"PROCESS_WASM_MEMORY_MAX_LIMIT": "4gb"},
		"PROCESS_WASM_COMPUTE_MAX_LIMIT":             {"PROCESS_WASM_COMPUTE_MAX_LIMIT": "1000"},
		"PROCESS_WASM_SUPPORTED_FORMATS":             {"PROCESS_WASM_SUPPORTED_FORMATS": "wasm32-unknown-emscripten"},
		"PROCESS_WASM_SUPPORTED_EXTENSIONS":          {"PROCESS_WASM_SUPPORTED_EXTENSIONS": "WeaveDrive"},
		"WASM_EVALUATION_MAX_WORKERS":                {"WASM_EVALUATION_MAX_WORKERS": "1000"},
		"WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE": {"WASM_EVALUATION_PRIMARY_WORKERS_PERCENTAGE": "50"},
		"WASM_EVALUATION_WORKERS_DRY_RUN_MAX_QUEUE":  {"WASM_EVALUATION_WORKERS_DRY_RUN_MAX_QUEUE": "10"},
		"WASM_INSTANCE_CACHE_MAX_SIZE":               {"WASM_INSTANCE_CACHE_MAX_SIZE": "2"},
		"WASM_MODULE_CACHE_MAX_SIZE":                 {"WASM_MODULE_CACHE_MAX_SIZE": "2"},
		"WASM_BINARY_FILE_DIRECTORY":                 {"WASM_BINARY_FILE_DIRECTORY": "/var/cu/wasm"},
		"PROCESS_IGNORE_ARWEAVE_CHECKPOINTS":         {"PROCESS_IGNORE_ARWEAVE_CHECKPOINTS": "p1"},
		"IGNORE_ARWEAVE_CHECKPOINTS":                 {"IGNORE_ARWEAVE_CHECKPOINTS": "c1"},
		"PROCESS_CHECKPOINT_TRUSTED_OWNERS":          {"PROCESS_CHECKPOINT_TRUSTED_OWNERS": "o1"},
		"PROCESS_CHECKPOINT_PREFERRED_OWNERS":        {"PROCESS_CHECKPOINT_PREFERRED_OWNERS": "o2"},
		"PROCESS_MEMORY_CACHE_MAX_SIZE":              {"PROCESS_MEMORY_CACHE_MAX_SIZE": "2gb"},
		"PROCESS_MEMORY_CACHE_TTL":                   {"PROCESS_MEMORY_CACHE_TTL": "1h"},
		"PROCESS_MEMORY_CACHE_FILE_DIR":              {"PROCESS_MEMORY_CACHE_FILE_DIR": "/var/cu/drained"},
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR":        {"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": "/var/cu/checkpoints"},
		"PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL":   {"PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL": "1h"},
		"BUSY_THRESHOLD":                             {"BUSY_THRESHOLD": "30s"},
		"RESTRICT_PROCESSES":                         {"RESTRICT_PROCESSES": "p2"},
		"ALLOW_PROCESSES":                            {"ALLOW_PROCESSES": "p3"},
		"ALLOW_OWNERS":                               {"ALLOW_OWNERS": "o3"},
		"CHECKPONT_VALIDATION_STEPS":                 {"CHECKPONT_VALIDATION_STEPS": "3"},
		"CHECKPONT_VALIDATION_THRESH":                {"CHECKPONT_VALIDATION_THRESH": "1"},
		"CHECKPONT_VALIDATION_RETRIES":               {"CHECKPONT_VALIDATION_RETRIES": "1"},
		"IGNORE_LOCAL_CHECKPOINTS":                   {"IGNORE_LOCAL_CHECKPOINTS": "true"},
		"HYDRATION_MODE_NONCE_LIMIT":                 {"HYDRATION_MODE_NONCE_LIMIT": "0"},
		"DRY_RUN_DEFAULT_MAX_PROCESS_AGE":            {"DRY_RUN_DEFAULT_MAX_PROCESS_AGE": "1s"},
		"DRY_RUN_PROCESS_CACHE_TTL":                  {"DRY_RUN_PROCESS_CACHE_TTL": "1s"},
		"DRY_RUN_EVALUATION_TIMEOUT":                 {"DRY_RUN_EVALUATION_TIMEOUT": "2500"},
		"WASM_EVALUATION_TIMEOUT":                    {"WASM_EVALUATION_TIMEOUT": "1m"},
		"HOST":                                       {"HOST": "127.0.0.1"},
		"DRY_RUN_RESULT_MAX_AGE":                     {"DRY_RUN_RESULT_MAX_AGE": "1s"},
		"UPSTREAM_REQUEST_TIMEOUT":                   {"UPSTREAM_REQUEST_TIMEOUT": "1000"},
		"UPSTREAM_RETRY_DELAY":                       {"UPSTREAM_RETRY_DELAY": "50"},
		"LOAD_MESSAGES_PAGE_SIZE":                    {"LOAD_MESSAGES_PAGE_SIZE": "100"},
		"RATE_LIMIT_WINDOW":                          {"RATE_LIMIT_WINDOW": "0"},
		"RATE_LIMIT_MAX_REQUESTS":                    {"RATE_LIMIT_MAX_REQUESTS": "100"},
		"RATE_LIMIT_CLEANUP_INTERVAL":                {"RATE_LIMIT_CLEANUP_INTERVAL": "1s"},
		"ENABLE_MEMORY_RESET":                        {"ENABLE_MEMORY_RESET": "true"},
		"AO_LOADER_VERSION":                          {"AO_LOADER_VERSION": "0.0.49"},
		"AO_LOADER_THIS_PROGRAM":                     {"AO_LOADER_THIS_PROGRAM": "/srv/cu/src/app.js"},
	}
}

// TestTableReachesEveryField loads every variable's example and checks
// that, between them, they change every field of Config, and that every
// variable changes something.
func TestTableReachesEveryField(t *testing.T) {
	base := load(t, nil)
	ex := examples(t)
	changed := map[string]bool{}
	rt := reflect.TypeFor[Config]()
	for _, v := range variables() {
		env, ok := ex[v.name]
		if !ok {
			t.Errorf("%s: no example in the test", v.name)
			continue
		}
		c := load(t, env)
		any := false
		for i := range rt.NumField() {
			if !reflect.DeepEqual(reflect.ValueOf(*c).Field(i).Interface(), reflect.ValueOf(*base).Field(i).Interface()) {
				changed[rt.Field(i).Name] = true
				any = true
			}
		}
		if !any {
			t.Errorf("%s=%v changes no field", v.name, env)
		}
	}
	for i := range rt.NumField() {
		if name := rt.Field(i).Name; !changed[name] {
			t.Errorf("field %s is reached by no variable", name)
		}
	}
}

func TestTableIsDocumented(t *testing.T) {
	usage := Usage()
	seen := map[string]bool{}
	for _, v := range variables() {
		if seen[v.name] {
			t.Errorf("%s: declared twice", v.name)
		}
		seen[v.name] = true
		if strings.TrimSpace(v.doc) == "" {
			t.Errorf("%s: no description", v.name)
		}
		if v.def == "" && v.defDoc == "" {
			t.Errorf("%s: no default shown", v.name)
		}
		if v.def != "" && v.defDoc != "" {
			t.Errorf("%s: both def and defDoc", v.name)
		}
		if v.set == nil || v.show == nil {
			t.Errorf("%s: no binding", v.name)
		}
		if !strings.Contains(usage, "\n  "+v.name+"\n") {
			t.Errorf("Usage does not list %s", v.name)
		}
	}
	for line := range strings.SplitSeq(usage, "\n") {
		if len(line) > 80 && strings.Contains(strings.TrimSpace(line), " ") {
			t.Errorf("Usage line longer than 80 columns: %q", line)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := load(t, envMap{
		"WALLET":      `{"kty":"RSA","d":"SECRET"}`,
		"DB_URL":      "postgres://cu:hunter2@db:5432/cu?sslmode=require&password=hunter3",
		"GATEWAY_URL": "https://user:pw@gw.example",
	})
	r := c.Redacted()
	for _, v := range variables() {
		if _, ok := r[v.name]; !ok {
			t.Errorf("Redacted has no %s", v.name)
		}
	}
	all := strings.Join(slices.Collect(func(yield func(string) bool) {
		for k, v := range r {
			if !yield(k + "=" + v) {
				return
			}
		}
	}), "\n")
	for _, secret := range []string{"SECRET", "hunter2", "hunter3", ":pw@"} {
		if strings.Contains(all, secret) {
			t.Errorf("Redacted leaks %q:\n%s", secret, all)
		}
	}
	if r["WALLET"] != "[redacted]" || !strings.HasPrefix(r["DB_URL"], "postgres://cu:") || r["PORT"] != "6363" {
		t.Errorf("WALLET %q DB_URL %q PORT %q", r["WALLET"], r["DB_URL"], r["PORT"])
	}
	if r["PROCESS_WASM_MEMORY_MAX_LIMIT"] != "1GiB" || r["PROCESS_CHECKPOINT_CREATION_THROTTLE"] != "30m" {
		t.Errorf("sizes and times: %q %q", r["PROCESS_WASM_MEMORY_MAX_LIMIT"], r["PROCESS_CHECKPOINT_CREATION_THROTTLE"])
	}

	// What Redacted shows loads back to the same configuration.
	c = load(t, envMap{
		"NODE_CONFIG_ENV": "development", "GATEWAY_URL": "http://localhost:4000/", "ALLOW_OWNERS": "a,b",
		"PROCESS_MEMORY_CACHE_MAX_SIZE": "1500mb", "CHECKPONT_VALIDATION_THRESH": "0.5", "RATE_LIMIT_WINDOW": "1500",
	})
	env := envMap{}
	for k, v := range c.Redacted() {
		env[k] = v
	}
	if c2 := load(t, env); !reflect.DeepEqual(c, c2) {
		t.Errorf("Redacted does not load back:\n%+v\n%+v", c, c2)
	}
}

func TestLoaderProfile(t *testing.T) {
	for _, v := range []string{"0.0.44", "0.0.47", "0.0.48", "0.0.49"} {
		if got := load(t, envMap{"AO_LOADER_VERSION": v}).LoaderVersion; got != v {
			t.Errorf("AO_LOADER_VERSION=%s: %q", v, got)
		}
	}
	if got := load(t, envMap{"AO_LOADER_THIS_PROGRAM": "/srv/ao/servers/cu/src/app.js"}).LoaderThisProgram; got != "/srv/ao/servers/cu/src/app.js" {
		t.Errorf("AO_LOADER_THIS_PROGRAM: %q", got)
	}
	_, err := loadErr(envMap{"AO_LOADER_VERSION": "0.0.45"})
	if err == nil || !strings.Contains(err.Error(), "0.0.44, 0.0.47, 0.0.48, 0.0.49") {
		t.Errorf("unknown version: error %v does not list the supported ones", err)
	}
	usage := Usage()
	for _, name := range []string{"AO_LOADER_VERSION", "AO_LOADER_THIS_PROGRAM", "/usr/app/src/effects/worker/evaluator/index.js"} {
		if !strings.Contains(usage, name) {
			t.Errorf("usage does not mention %s", name)
		}
	}
}
