package hbclient

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// Skips is the set of slots HyperBEAM marked Skip (its dedup@1.0 found the
// slot's message already computed). The reference evaluates such a slot as a
// no-op: memory unchanged, empty output. Only assignments fill the set, so a
// message cannot make itself skipped.
type Skips struct {
	mu sync.Mutex
	m  map[string]struct{}
}

// maxSkips bounds the set; skips are rare.
const maxSkips = 1 << 16

// NewSkips makes an empty set.
func NewSkips() *Skips { return &Skips{m: map[string]struct{}{}} }

func skipKey(idJSON, nonceJSON []byte) string { return string(idJSON) + "\x00" + string(nonceJSON) }

func (s *Skips) add(messageID string, slot int64) {
	k := skipKey(jsjson.AppendString(nil, messageID), []byte(strconv.FormatInt(slot, 10)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSkips {
		s.m = map[string]struct{}{}
	}
	s.m[k] = struct{}{}
}

func (s *Skips) has(msg *ao.Message) bool {
	if s == nil || msg == nil || msg.ID == nil || msg.Nonce == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[skipKey(msg.ID, msg.Nonce)]
	return ok
}

// Count is what the runtime evaluated for one process.
type Count struct {
	Evaluated  int64 // scheduled messages handled, skips included
	Errors     int64 // of which failed (the reference counts them twice in eval-stream-length)
	ColdStarts int64 // evaluations begun on a fresh memory
}

// Counters counts evaluations per process, for the headers of POST
// /result (cold-start, cu-cached, eval-stream-length).
type Counters struct {
	mu sync.Mutex
	m  map[string]*Count
}

// NewCounters makes empty counters.
func NewCounters() *Counters { return &Counters{m: map[string]*Count{}} }

// Get returns the counts of a process.
func (c *Counters) Get(pid string) Count {
	if c == nil {
		return Count{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.m[pid]; n != nil {
		return *n
	}
	return Count{}
}

func (c *Counters) add(pid string, f func(*Count)) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.m[pid]
	if n == nil {
		if len(c.m) >= 1<<16 {
			c.m = map[string]*Count{}
		}
		n = &Count{}
		c.m[pid] = n
	}
	f(n)
}

// WrapRuntime returns rt with Skip slots evaluated as no-ops and every
// evaluation counted.
func WrapRuntime(rt ao.Runtime, skips *Skips, counters *Counters) ao.Runtime {
	return &runtime{inner: rt, skips: skips, counters: counters}
}

type runtime struct {
	inner    ao.Runtime
	skips    *Skips
	counters *Counters
}

func (r *runtime) Compile(ctx context.Context, wasm []byte, format string) (ao.CompiledModule, error) {
	m, err := r.inner.Compile(ctx, wasm, format)
	if err != nil {
		return nil, err
	}
	return &module{inner: m, rt: r}, nil
}

type module struct {
	inner ao.CompiledModule
	rt    *runtime
}

func (m *module) Instantiate(ctx context.Context, opts ao.InstanceOptions) (ao.Instance, error) {
	in, err := m.inner.Instantiate(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &instance{Instance: in, rt: m.rt, cold: opts.Memory == nil}, nil
}

type instance struct {
	ao.Instance
	rt      *runtime
	cold    bool // made on a fresh memory
	handled bool
}

// noop is the reference's result of a Skip slot.
func noop() *ao.Result {
	return &ao.Result{
		Output:      json.RawMessage(`{"data":"","prompt":"","print":false}`),
		Messages:    json.RawMessage(`[]`),
		Assignments: json.RawMessage(`[]`),
		Spawns:      json.RawMessage(`[]`),
		Patches:     json.RawMessage(`[]`),
		GasUsed:     0,
	}
}

func (i *instance) Handle(ctx context.Context, stream uint64, msg *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	pid := ""
	if env != nil {
		pid = env.Process.ID
	}
	first := !i.handled
	i.handled = true
	var res *ao.Result
	var err error
	if i.rt.skips.has(msg) {
		res = noop()
	} else {
		res, err = i.Instance.Handle(ctx, stream, msg, env, limit)
	}
	i.rt.counters.add(pid, func(c *Count) {
		if first && i.cold {
			c.ColdStarts++
		}
		if err == nil {
			c.Evaluated++
			if res.Failed() {
				c.Errors++
			}
		}
	})
	return res, err
}
