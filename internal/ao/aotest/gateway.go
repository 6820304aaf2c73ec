package aotest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
)

// Clock is a manual clock in milliseconds shared by the world's units.
type Clock struct {
	mu sync.Mutex
	ms int64
}

// NewClock starts a clock at ms.
func NewClock(ms int64) *Clock { return &Clock{ms: ms} }

// Now returns the time in ms.
func (c *Clock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ms
}

// Time is Now as a time.Time (for engine.Options.Now).
func (c *Clock) Time() time.Time { return time.UnixMilli(c.Now()) }

// Tick advances the clock by 1 ms and returns the new time.
func (c *Clock) Tick() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ms++
	return c.ms
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ms += d.Milliseconds()
}

// Set sets the time (ms).
func (c *Clock) Set(ms int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ms = ms
}

// GatewayFault is called before every Gateway call with its name ("Locate",
// "Raw", "TransactionMeta", "Blocks") and the id (or "" for Blocks).
type GatewayFault func(call, id string) error

// Gateway is an in-memory Arweave gateway (ao.Gateway): transactions with
// their data, blocks, and the scheduler location of every process.
type Gateway struct {
	mu     sync.Mutex
	txs    map[string]Item
	order  []string // ids in the order they were first put
	blocks []ao.Block
	suURL  string
	fault  GatewayFault
	calls  map[string]int
}

var _ ao.Gateway = (*Gateway)(nil)

// NewGateway makes an empty gateway that locates every process at suURL.
func NewGateway(suURL string) *Gateway {
	return &Gateway{txs: map[string]Item{}, suURL: suURL, calls: map[string]int{}}
}

// SetFault installs f (nil removes it).
func (g *Gateway) SetFault(f GatewayFault) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fault = f
}

// Calls returns how many times call was made.
func (g *Gateway) Calls(call string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[call]
}

func (g *Gateway) enter(call, id string) error {
	g.mu.Lock()
	f := g.fault
	g.calls[call]++
	g.mu.Unlock()
	if f != nil {
		return f(call, id)
	}
	return nil
}

// Put stores a transaction (a module, a process, a message to assign).
func (g *Gateway) Put(it Item) {
	g.mu.Lock()
	defer g.mu.Unlock()
	it.Data = slices.Clone(it.Data)
	if _, ok := g.txs[it.ID]; !ok {
		g.order = append(g.order, it.ID)
	}
	g.txs[it.ID] = it
}

// AddBlock appends a block.
func (g *Gateway) AddBlock(b ao.Block) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocks = append(g.blocks, b)
}

// Locate returns the SU URL of every process it holds, and of any process
// when a scheduler hint is given (gwclient then looks up the scheduler, not
// the process); an unknown process without a hint is a 404.
func (g *Gateway) Locate(ctx context.Context, pid, hint string) (string, error) {
	if err := g.enter("Locate", pid); err != nil {
		return "", err
	}
	if hint == "" {
		g.mu.Lock()
		_, ok := g.txs[pid]
		g.mu.Unlock()
		if !ok {
			return "", ao.Errorf(404, "Process %s was not found on gateway", pid)
		}
	}
	return g.suURL, nil
}

// Raw is GET /raw/{id}.
func (g *Gateway) Raw(ctx context.Context, id string) ([]byte, error) {
	if err := g.enter("Raw", id); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	it, ok := g.txs[id]
	if !ok {
		return nil, ao.Errorf(404, "transaction %s not found on the gateway", id)
	}
	return slices.Clone(it.Data), nil
}

// TransactionMeta is the GraphQL query of one transaction.
func (g *Gateway) TransactionMeta(ctx context.Context, id string, skipTags, skipSignature, skipAnchor bool) (*ao.TxMeta, error) {
	if err := g.enter("TransactionMeta", id); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	it, ok := g.txs[id]
	if !ok {
		return nil, ao.Errorf(404, "transaction %s not found on the gateway", id)
	}
	m := &ao.TxMeta{ID: it.ID, Owner: it.Owner, Recipient: it.Target}
	if !skipTags {
		m.Tags = append([]ao.Tag{}, it.Tags...) // [] for none, as GraphQL answers
	}
	if !skipSignature {
		sig := it.Signature
		m.Signature = &sig
	}
	if !skipAnchor {
		a := it.Anchor
		m.Anchor = &a
	}
	return m, nil
}

// Blocks returns the blocks from minHeight on, ascending, up to (without)
// the first whose timestamp in seconds passes maxTimestamp's, as gwclient
// (the reference's loadBlocksMeta) does: block timestamps are whole seconds
// on Arweave.
func (g *Gateway) Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]ao.Block, error) {
	if err := g.enter("Blocks", ""); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []ao.Block
	for _, b := range g.blocks {
		if b.Height < minHeight {
			continue
		}
		if floorDiv(b.Timestamp, 1000) > floorDiv(maxTimestamp, 1000) {
			break
		}
		out = append(out, b)
	}
	return out, nil
}

var _ ao.CheckpointGateway = (*Gateway)(nil)

// FindCheckpoints answers the reference's checkpoint query: items tagged
// Process=pid, Type=Checkpoint, Data-Protocol=ao by one of owners, newest
// first (the order they were put), at most limit.
func (g *Gateway) FindCheckpoints(ctx context.Context, pid string, owners []string, limit int) ([]ao.CheckpointTx, error) {
	if err := g.enter("FindCheckpoints", pid); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []ao.CheckpointTx
	for i := len(g.order) - 1; i >= 0 && len(out) < limit; i-- {
		it := g.txs[g.order[i]]
		p, _ := ao.TagValue(it.Tags, "Process")
		ty, _ := ao.TagValue(it.Tags, "Type")
		dp, _ := ao.TagValue(it.Tags, "Data-Protocol")
		if p == pid && ty == "Checkpoint" && dp == "ao" && slices.Contains(owners, it.Owner.Address) {
			out = append(out, ao.CheckpointTx{ID: it.ID, Owner: it.Owner.Address, Tags: slices.Clone(it.Tags)})
		}
	}
	return out, nil
}

// Upload stores a signed ANS-104 data item (a checkpoint) and returns its id.
func (g *Gateway) Upload(ctx context.Context, item []byte) (string, error) {
	if err := g.enter("Upload", ""); err != nil {
		return "", err
	}
	d, err := arweave.ParseDataItem(item)
	if err != nil {
		return "", ao.WithStatus(400, err)
	}
	if err := d.Verify(); err != nil {
		return "", ao.WithStatus(400, err)
	}
	g.Put(Item{ID: d.ID(), Owner: ao.Owner{Address: d.OwnerAddress(), Key: arweave.B64Encode(d.Owner)}, Tags: d.Tags, Data: d.Data})
	return d.ID(), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
