// Package benchnet is the local gateway and SU in one process on loopback
// HTTP, for the benchmark tools (tools/cubench, tools/scalebench), and the
// client side they share: signing data items and posting them. Tests use
// localnettest/gwsu instead (httptest servers, testing.TB helpers).
package benchnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/su"
)

// KVCode is the Eval of the reference bench (research/ao-loader.md §6.1):
// Set/Get handlers that answer with msg.reply. It returns KVLoaded.
const KVCode = `KV = KV or {}
Handlers.add("Set", Handlers.utils.hasMatchingTag("Action", "Set"),
  function (msg) KV[msg.Tags.Key] = msg.Data; msg.reply({ Action = "Set-Result", Key = msg.Tags.Key, Data = "OK" }) end)
Handlers.add("Get", Handlers.utils.hasMatchingTag("Action", "Get"),
  function (msg) msg.reply({ Action = "Get-Result", Key = msg.Tags.Key, Data = KV[msg.Tags.Key] or "" }) end)
return "kv handlers loaded"`

// KVLoaded is KVCode's Output data.
const KVLoaded = "kv handlers loaded"

// Config configures a Net.
type Config struct {
	Dir      string          // the gateway's and the SU's data under Dir/gateway and Dir/su
	SUWallet *arweave.Wallet // signs the SU's assignments
	// Now is the clock of both (time.Now if nil).
	Now func() time.Time
	// MaxItemSize bounds a posted item at the gateway (0: its default).
	MaxItemSize int64
}

// Net is a gateway (a block on every write) and an SU that uploads to it.
type Net struct {
	GatewayURL, SUURL, SUAddress string
	closes                       []func()
}

// Start starts the gateway and the SU.
func Start(ctx context.Context, cfg Config) (_ *Net, err error) {
	n := &Net{}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	gw, err := gateway.New(ctx, gateway.Config{DataDir: filepath.Join(cfg.Dir, "gateway"), BlockInterval: -1, MineOnWrite: true,
		MaxItemSize: cfg.MaxItemSize, Now: cfg.Now, Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	n.closes = append(n.closes, func() { gw.Close() })
	gwURL, gwClose, err := serveLoopback(gw)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	n.closes = append(n.closes, gwClose)
	n.GatewayURL = gwURL
	// The SU publishes its own URL, so it needs its listener before New.
	var (
		mu sync.RWMutex
		h  http.Handler = http.NotFoundHandler()
	)
	suURL, suClose, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		hh := h
		mu.RUnlock()
		hh.ServeHTTP(w, r)
	}))
	if err != nil {
		return nil, fmt.Errorf("su: %w", err)
	}
	n.closes = append(n.closes, suClose)
	s, err := su.New(ctx, su.Config{DataDir: filepath.Join(cfg.Dir, "su"), Wallet: cfg.SUWallet, GatewayURL: gwURL, URL: suURL,
		Now: cfg.Now, Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("su: %w", err)
	}
	n.closes = append(n.closes, func() { s.Close() })
	mu.Lock()
	h = s
	mu.Unlock()
	n.SUURL, n.SUAddress = suURL, s.Address()
	return n, nil
}

// Close stops the servers, last started first.
func (n *Net) Close() {
	for i := len(n.closes) - 1; i >= 0; i-- {
		n.closes[i]()
	}
	n.closes = nil
}

// serveLoopback serves h on a loopback port until the returned stop is called
// (the server's goroutine ends with it).
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// Tags makes tags of name, value pairs.
func Tags(kv ...string) []arweave.Tag {
	out := make([]arweave.Tag, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, arweave.Tag{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// SignItem makes a signed ANS-104 data item.
func SignItem(s arweave.Signer, data []byte, target string, kv ...string) ([]byte, error) {
	d, err := arweave.NewDataItem(data, target, "", Tags(kv...))
	if err != nil {
		return nil, fmt.Errorf("data item: %w", err)
	}
	if err := d.Sign(s); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	raw, err := d.Bytes()
	if err != nil {
		return nil, fmt.Errorf("data item bytes: %w", err)
	}
	return raw, nil
}

// PostItem POSTs a signed item and returns the id the server answers.
func PostItem(ctx context.Context, client *http.Client, url string, raw []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	var r struct{ ID string }
	if err := json.Unmarshal(b, &r); err != nil || r.ID == "" {
		return "", fmt.Errorf("POST %s: no id in %q", url, b)
	}
	return r.ID, nil
}

// PublishModule posts the module to the gateway with the reference bench's
// module tags and returns its id.
func PublishModule(ctx context.Context, client *http.Client, gatewayURL string, s arweave.Signer, wasm []byte, format string) (string, error) {
	raw, err := SignItem(s, wasm, "",
		"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Module",
		"Module-Format", format, "Input-Encoding", "JSON-V1", "Output-Encoding", "JSON-V1",
		"Memory-Limit", "1-gb", "Compute-Limit", "9000000000000", "Content-Type", "application/wasm")
	if err != nil {
		return "", fmt.Errorf("module: %w", err)
	}
	id, err := PostItem(ctx, client, gatewayURL+"/tx", raw)
	if err != nil {
		return "", fmt.Errorf("module: %w", err)
	}
	return id, nil
}
