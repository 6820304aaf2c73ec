// Command localnet-bench measures the local Scheduler Unit over loopback
// HTTP: items/second accepted by POST / with 1 and 8 concurrent writers (8
// writers to 8 processes, and 8 writers to one process), and the latency of
// GET /<pid>?limit=1000 pages over a process with many messages. Items are
// signed before the clock starts; the SU's own work (verify, assignment
// signature with its RSA wallet, SQLite commit, gateway upload) is measured.
//
//	go run ./tools/localnet-bench [-n 2000] [-read-msgs 5000] [-walks 20]
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/su"
)

func main() {
	n := flag.Int("n", 2000, "items posted in each write scenario")
	readMsgs := flag.Int("read-msgs", 5000, "messages in the process read back by pages")
	walks := flag.Int("walks", 20, "full walks of the read process (limit=1000 pages)")
	walletPath := flag.String("wallet", "internal/arweave/testdata/wallet.json", "SU wallet (JWK)")
	dir := flag.String("dir", "", "data directory (a temporary one, removed after, if empty)")
	flag.Parse()
	if err := run(*n, *readMsgs, *walks, *walletPath, *dir); err != nil {
		log.Fatal(err)
	}
}

type localNet struct {
	suURL  string
	suAddr string
	client *http.Client
	close  func()
}

func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func start(ctx context.Context, dir string, w *arweave.Wallet) (*localNet, error) {
	// Blocks every 10 s (the default), as a developer's local net would run.
	gw, err := gateway.New(ctx, gateway.Config{DataDir: filepath.Join(dir, "gateway")})
	if err != nil {
		return nil, err
	}
	gwURL, gwClose, err := serve(gw)
	if err != nil {
		gw.Close()
		return nil, err
	}
	var (
		mu sync.RWMutex
		h  http.Handler = http.NotFoundHandler()
	)
	suURL, suClose, err := serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.RLock()
		hh := h
		mu.RUnlock()
		hh.ServeHTTP(rw, r)
	}))
	if err != nil {
		gwClose()
		gw.Close()
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := su.New(ctx, su.Config{DataDir: filepath.Join(dir, "su"), Wallet: w, GatewayURL: gwURL, URL: suURL, Logger: quiet})
	if err != nil {
		suClose()
		gwClose()
		gw.Close()
		return nil, err
	}
	mu.Lock()
	h = s
	mu.Unlock()
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	return &localNet{
		suURL: suURL, suAddr: s.Address(), client: &http.Client{Transport: tr, Timeout: time.Minute},
		close: func() { suClose(); s.Close(); gwClose(); gw.Close() },
	}, nil
}

func signed(s arweave.Signer, data, target string, tags ...string) ([]byte, error) {
	tg := []arweave.Tag{{Name: "Data-Protocol", Value: "ao"}, {Name: "Variant", Value: "ao.TN.1"}}
	for i := 0; i+1 < len(tags); i += 2 {
		tg = append(tg, arweave.Tag{Name: tags[i], Value: tags[i+1]})
	}
	d, err := arweave.NewDataItem([]byte(data), target, "", tg)
	if err != nil {
		return nil, err
	}
	if err := d.Sign(s); err != nil {
		return nil, err
	}
	return d.Bytes()
}

func (n *localNet) post(raw []byte) (string, error) {
	resp, err := n.client.Post(n.suURL+"/", "application/octet-stream", bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /: %d %s", resp.StatusCode, b)
	}
	var pr struct{ ID string }
	if err := json.Unmarshal(b, &pr); err != nil {
		return "", fmt.Errorf("POST /: %s: %w", b, err)
	}
	return pr.ID, nil
}

var spawnSeq, itemBytes, itemCount atomic.Int64

func (n *localNet) spawn(user arweave.Signer) (string, error) {
	raw, err := signed(user, "bench "+strconv.FormatInt(spawnSeq.Add(1), 10)+" "+time.Now().String(), "",
		"Type", "Process", "Module", "bench-module-000000000000000000000000000000", "Scheduler", n.suAddr)
	if err != nil {
		return "", err
	}
	return n.post(raw)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

type writeResult struct {
	name              string
	writers, procs, n int
	elapsed           time.Duration
	p50, p99          time.Duration
}

// write spawns procs processes, pre-signs n messages spread over them, and
// times n POSTs from `writers` goroutines (writer i posts to process i%procs).
func (n *localNet) write(name string, user arweave.Signer, writers, procs, count int) (writeResult, []string, error) {
	pids := make([]string, procs)
	for i := range pids {
		var err error
		if pids[i], err = n.spawn(user); err != nil {
			return writeResult{}, nil, err
		}
	}
	queues := make([][][]byte, writers)
	for i := range count {
		w := i % writers
		raw, err := signed(user, fmt.Sprintf("%s %d", name, i), pids[w%procs], "Type", "Message", "Action", "Ping")
		if err != nil {
			return writeResult{}, nil, err
		}
		queues[w] = append(queues[w], raw)
		itemBytes.Add(int64(len(raw)))
		itemCount.Add(1)
	}
	lat := make([][]time.Duration, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, raw := range queues[w] {
				s := time.Now()
				if _, err := n.post(raw); err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return writeResult{}, nil, err
	}
	all := slices.Concat(lat...)
	return writeResult{name: name, writers: writers, procs: procs, n: count, elapsed: el,
		p50: percentile(all, .5), p99: percentile(all, .99)}, pids, nil
}

type readResult struct {
	pages         int
	edges         int
	bytes         int64
	p50, p99, max time.Duration
}

// read walks pid's messages walks times with limit=1000 pages.
func (n *localNet) read(pid string, walks, wantEdges int) (readResult, error) {
	var r readResult
	var lat []time.Duration
	for w := range walks {
		from, edges := "", 0
		for {
			u := n.suURL + "/" + pid + "?process-id=" + pid + "&limit=1000" + from
			s := time.Now()
			resp, err := n.client.Get(u)
			if err != nil {
				return r, err
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return r, err
			}
			d := time.Since(s)
			if resp.StatusCode != http.StatusOK {
				return r, fmt.Errorf("GET page: %d %s", resp.StatusCode, b)
			}
			var p struct {
				PageInfo struct {
					HasNextPage bool `json:"has_next_page"`
				} `json:"page_info"`
				Edges []struct{ Cursor string }
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return r, err
			}
			if len(p.Edges) > 0 { // the trailing empty page is not a timed page
				lat = append(lat, d)
				r.bytes += int64(len(b))
				edges += len(p.Edges)
			}
			if !p.PageInfo.HasNextPage || len(p.Edges) == 0 {
				break
			}
			from = "&from=" + p.Edges[len(p.Edges)-1].Cursor
		}
		if edges != wantEdges {
			return r, fmt.Errorf("walk %d: %d edges, want %d", w, edges, wantEdges)
		}
		r.edges += edges
	}
	r.pages = len(lat)
	r.p50, r.p99, r.max = percentile(lat, .5), percentile(lat, .99), percentile(lat, 1)
	return r, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func run(count, readMsgs, walks int, walletPath, dir string) error {
	ctx := context.Background()
	w, err := arweave.LoadWalletFile(walletPath)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "localnet-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	n, err := start(ctx, dir, w)
	if err != nil {
		return err
	}
	defer n.close()
	seed := sha256.Sum256([]byte("localnet-bench user"))
	user := arweave.ED25519Signer{Key: ed25519.NewKeyFromSeed(seed[:])}

	var rows []writeResult
	for _, sc := range []struct {
		name           string
		writers, procs int
	}{
		{"1 writer, 1 process", 1, 1},
		{"8 writers, 8 processes", 8, 8},
		{"8 writers, 1 process", 8, 1},
	} {
		r, _, err := n.write(sc.name, user, sc.writers, sc.procs, count)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Fprintf(os.Stderr, "%s: %d items in %v\n", sc.name, r.n, r.elapsed.Round(time.Millisecond))
		rows = append(rows, r)
	}
	// The read fixture: one process with readMsgs messages, loaded by 8
	// writers (not part of the figures above).
	_, pids, err := n.write("read fixture", user, 8, 1, readMsgs)
	if err != nil {
		return fmt.Errorf("read fixture: %w", err)
	}
	if _, err := n.read(pids[0], 1, readMsgs+1); err != nil { // warm-up
		return err
	}
	rr, err := n.read(pids[0], walks, readMsgs+1)
	if err != nil {
		return err
	}

	fmt.Printf("SU over loopback HTTP; %s, GOMAXPROCS=%d, NumCPU=%d; items ED25519-signed before timing (ANS-104, ~%d B); SU assignments RSA-signed with %s; SQLite WAL synchronous=FULL.\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), itemBytes.Load()/max(itemCount.Load(), 1), filepath.Base(walletPath))
	fmt.Println("| write scenario | writers | processes | items | seconds | items/s | POST p50 | POST p99 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %d | %d | %.2f | %.0f | %s | %s |\n", r.name, r.writers, r.procs, r.n,
			r.elapsed.Seconds(), float64(r.n)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99))
	}
	fmt.Println()
	fmt.Println("| read | messages in process | pages timed | edges/page (avg) | KiB/page (avg) | p50 | p99 | max |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| GET /<pid>?limit=1000 (walk with from=cursor, 1 reader) | %d | %d | %.0f | %.0f | %s | %s | %s |\n",
		readMsgs, rr.pages, float64(rr.edges)/float64(rr.pages), float64(rr.bytes)/1024/float64(rr.pages), ms(rr.p50), ms(rr.p99), ms(rr.max))
	return nil
}
