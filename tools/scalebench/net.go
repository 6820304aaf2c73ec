package main

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

// kvCode gives each process Set/Get handlers that answer with msg.reply.
const kvCode = `KV = KV or {}
Handlers.add("Set", Handlers.utils.hasMatchingTag("Action", "Set"),
  function (msg) KV[msg.Tags.Key] = msg.Data; msg.reply({ Action = "Set-Result", Key = msg.Tags.Key, Data = "OK" }) end)
Handlers.add("Get", Handlers.utils.hasMatchingTag("Action", "Get"),
  function (msg) msg.reply({ Action = "Get-Result", Key = msg.Tags.Key, Data = KV[msg.Tags.Key] or "" }) end)
return "kv handlers loaded"`

// localNet is the repository's local gateway and SU on loopback HTTP, in this
// process, on the real clock: posts to different processes run in parallel.
type localNet struct {
	gwURL, suURL, suAddr string
	user                 signer
	client               *http.Client
	module               string
	closes               []func()
}

func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// signer signs the bench's items: ED25519 by default (fast; type-2 items, as
// arbundles makes them), or an Arweave RSA wallet.
type signer interface {
	arweave.Signer
	Address() string
}

func startNet(ctx context.Context, dir string, suWallet *arweave.Wallet, user signer, client *http.Client) (_ *localNet, err error) {
	n := &localNet{user: user, client: client}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	gw, err := gateway.New(ctx, gateway.Config{DataDir: filepath.Join(dir, "gateway"), BlockInterval: -1, MineOnWrite: true, Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	n.closes = append(n.closes, func() { gw.Close() })
	gwURL, gwClose, err := serveLoopback(gw)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	n.closes = append(n.closes, gwClose)
	n.gwURL = gwURL
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
	s, err := su.New(ctx, su.Config{DataDir: filepath.Join(dir, "su"), Wallet: suWallet, GatewayURL: gwURL, URL: suURL, Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("su: %w", err)
	}
	n.closes = append(n.closes, func() { s.Close() })
	mu.Lock()
	h = s
	mu.Unlock()
	n.suURL, n.suAddr = suURL, s.Address()
	return n, nil
}

// Close stops the servers, last started first.
func (n *localNet) Close() {
	for i := len(n.closes) - 1; i >= 0; i-- {
		n.closes[i]()
	}
	n.closes = nil
}

// signItem makes a signed ANS-104 data item.
func signItem(s arweave.Signer, data []byte, target string, kv ...string) ([]byte, error) {
	tags := make([]arweave.Tag, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, arweave.Tag{Name: kv[i], Value: kv[i+1]})
	}
	d, err := arweave.NewDataItem(data, target, "", tags)
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

// post POSTs a signed item and returns the id the server answers.
func (n *localNet) post(ctx context.Context, url string, raw []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := n.client.Do(req)
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

func (n *localNet) publishModule(ctx context.Context, wasm []byte, format string) error {
	raw, err := signItem(n.user, wasm, "",
		"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Module",
		"Module-Format", format, "Input-Encoding", "JSON-V1", "Output-Encoding", "JSON-V1",
		"Memory-Limit", "1-gb", "Compute-Limit", "9000000000000", "Content-Type", "application/wasm")
	if err != nil {
		return fmt.Errorf("module: %w", err)
	}
	if n.module, err = n.post(ctx, n.gwURL+"/tx", raw); err != nil {
		return fmt.Errorf("module: %w", err)
	}
	return nil
}

// toSU signs an item and posts it straight to the SU.
func (n *localNet) toSU(ctx context.Context, data []byte, target string, kv ...string) (string, error) {
	raw, err := signItem(n.user, data, target, kv...)
	if err != nil {
		return "", err
	}
	return n.post(ctx, n.suURL+"/", raw)
}

func (n *localNet) spawn(ctx context.Context, name string) (string, error) {
	return n.toSU(ctx, nil, "",
		"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", n.module, "Scheduler", n.suAddr, "Authority", n.user.Address(),
		"Name", name, "SDK", "aoconnect", "Content-Type", "text/plain")
}

func (n *localNet) message(ctx context.Context, pid, data string, kv ...string) (string, error) {
	return n.toSU(ctx, []byte(data), pid, append([]string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message"}, kv...)...)
}
