package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/benchnet"
)

// clock is the local gateway's and SU's clock. The bench sets it before every
// post, so that message n has the timestamp T0 + n·1000 ms, as in the
// reference bench's stub.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// localNet is the repository's local gateway and SU on loopback HTTP, in
// this process, with one aos process on them.
type localNet struct {
	clock  *clock
	t0     time.Time
	gwURL  string
	suURL  string
	suAddr string
	user   *arweave.Wallet // the process owner
	client *http.Client
	net    *benchnet.Net

	module string // module id
	pid    string
	next   int64 // the nonce the next posted message will get
}

// startNet starts the gateway (a block on every write) and the SU under dir.
// t0 is the timestamp of nonce 0.
func startNet(ctx context.Context, dir string, t0 time.Time, suWallet, user *arweave.Wallet, client *http.Client) (*localNet, error) {
	n := &localNet{clock: &clock{t: t0}, t0: t0, user: user, client: client}
	// MaxItemSize: -coldstart uploads checkpoints (a gzipped process memory of
	// up to PROCESS_WASM_MEMORY_MAX_LIMIT) to the gateway.
	bn, err := benchnet.Start(ctx, benchnet.Config{Dir: dir, SUWallet: suWallet, Now: n.clock.Now, MaxItemSize: 1 << 30})
	if err != nil {
		return nil, err
	}
	n.net, n.gwURL, n.suURL, n.suAddr = bn, bn.GatewayURL, bn.SUURL, bn.SUAddress
	return n, nil
}

// Close stops the servers.
func (n *localNet) Close() { n.net.Close() }

// publishModule posts the module to the gateway with the reference bench's
// module tags.
func (n *localNet) publishModule(ctx context.Context, wasm []byte, format string) (err error) {
	n.module, err = benchnet.PublishModule(ctx, n.client, n.gwURL, n.user, wasm, format)
	return err
}

// toSU signs an item and posts it to the SU at the timestamp of the next
// nonce, T0 + nonce·1000 ms.
func (n *localNet) toSU(ctx context.Context, data []byte, target string, kv ...string) (string, error) {
	raw, err := benchnet.SignItem(n.user, data, target, kv...)
	if err != nil {
		return "", err
	}
	return n.postSU(ctx, raw)
}

// postSU posts a signed item to the SU at the timestamp of the next nonce.
// Posts are sequential: each sets the clock first.
func (n *localNet) postSU(ctx context.Context, raw []byte) (string, error) {
	n.clock.Set(n.t0.Add(time.Duration(n.next) * time.Second))
	id, err := benchnet.PostItem(ctx, n.client, n.suURL+"/", raw)
	if err != nil {
		return "", err
	}
	n.next++
	return id, nil
}

// spawn posts the process message (AOP-6: it is also the process's first
// message, nonce 0), with the reference bench's process tags.
func (n *localNet) spawn(ctx context.Context) error {
	id, err := n.toSU(ctx, nil, "",
		"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", n.module, "Scheduler", n.suAddr, "Authority", n.user.Address(),
		"Name", "kv-bench", "SDK", "aoconnect", "Content-Type", "text/plain")
	if err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	n.pid = id
	return nil
}

func (n *localNet) message(ctx context.Context, data string, kv ...string) (string, error) {
	return n.toSU(ctx, []byte(data), n.pid, messageTags(kv...)...)
}

func messageTags(kv ...string) []string {
	return append([]string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message"}, kv...)
}

// kvOp is the i-th (from 1) Set/Get message of the stream: odd i is
// Set k<j> = value(j), even i is Get k<j>, with j = (i+1)/2.
type kvOp struct {
	i   int
	set bool
	key string
	j   int
}

func opAt(i int) kvOp {
	j := (i + 1) / 2
	return kvOp{i: i, set: i%2 == 1, key: "k" + strconv.Itoa(j), j: j}
}

func value(j int) string { return "value-" + strconv.Itoa(j) + "-" + strings.Repeat("x", 32) }

// sign signs the i-th Set/Get message.
func (n *localNet) sign(op kvOp) ([]byte, error) {
	if op.set {
		return benchnet.SignItem(n.user, []byte(value(op.j)), n.pid, messageTags("Action", "Set", "Key", op.key)...)
	}
	return benchnet.SignItem(n.user, []byte(""), n.pid, messageTags("Action", "Get", "Key", op.key)...)
}

// send posts the i-th Set/Get message.
func (n *localNet) send(ctx context.Context, op kvOp) (string, error) {
	raw, err := n.sign(op)
	if err != nil {
		return "", err
	}
	return n.postSU(ctx, raw)
}

// signAhead is how many Set/Get messages seed signs ahead of the posts.
const signAhead = 256

// seed spawns the process, evaluates the KV code and posts count Set/Get
// messages. It returns the Eval's id and the id of the last message.
//
// The posts are sequential (each sets the SU's clock to its nonce's
// timestamp, and the SU assigns nonces in arrival order), but the messages
// are signed ahead by one goroutine per CPU, so that the owner's RSA
// signatures overlap the SU's work on the previous posts.
func (n *localNet) seed(ctx context.Context, count int, progress func(done int)) (evalID, lastID string, err error) {
	if err := n.spawn(ctx); err != nil {
		return "", "", err
	}
	if evalID, err = n.message(ctx, benchnet.KVCode, "Action", "Eval"); err != nil {
		return "", "", fmt.Errorf("eval: %w", err)
	}
	type signed struct {
		raw []byte
		err error
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, which stops the signers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make([]chan signed, count+1) // items[i] receives message i's item
	for i := range items {
		items[i] = make(chan signed, 1)
	}
	jobs := make(chan int)
	window := make(chan struct{}, signAhead) // a slot per item signed and not yet posted
	wg.Go(func() {
		defer close(jobs)
		for i := 1; i <= count; i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	for range runtime.NumCPU() {
		wg.Go(func() {
			for i := range jobs {
				raw, err := n.sign(opAt(i))
				items[i] <- signed{raw, err}
			}
		})
	}
	every := 200
	if count > 4000 {
		every = 1000
	}
	lastID = evalID
	for i := 1; i <= count; i++ {
		var it signed
		select {
		case it = <-items[i]:
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
		<-window
		if it.err != nil {
			return "", "", fmt.Errorf("message %d: %w", i, it.err)
		}
		if lastID, err = n.postSU(ctx, it.raw); err != nil {
			return "", "", fmt.Errorf("message %d: %w", i, err)
		}
		if progress != nil && (i%every == 0 || i == count) {
			progress(i)
		}
	}
	return evalID, lastID, nil
}
