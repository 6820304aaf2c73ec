package su

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// The write path in three stages:
//
//  1. Under the process lock: the duplicate checks, the next nonce, timestamp
//     and hash chain (from the process's tail in memory), and the RSA
//     signature. The signature cannot leave the lock: the next assignment's
//     Hash-Chain is SHA-256(this assignment's id || this chain), and the id
//     is SHA-256 of the signature.
//  2. The signed assignment is queued for the committer and the lock is
//     released: the next assignment of the process is signed while this one
//     is written.
//  3. The committer writes every queued assignment, of every process, in one
//     transaction (one fsync), in queue order, which is slot order within a
//     process. A writer answers only once its transaction is durable.
//
// A crash loses only assignments nobody has been answered for; an
// assignment whose predecessor fails to commit fails too, and the process's
// tail is then read again from disk, so slots stay gap-free.

// errClosed answers writes that arrive while the SU shuts down.
var errClosed = errors.New("su: shutting down")

// maxBatch bounds the assignments of one transaction.
const maxBatch = 256

// commitReq is one assignment on its way to disk.
type commitReq struct {
	row       *row
	isProcess bool
	deepHash  string
	uploads   [][]byte
	uploadSeq int64 // the seq of its last queued upload, once written
	// prev is the process's previous assignment when it was still on its
	// way to disk as this one was signed on top of it.
	prev *commitReq
	// keys are the pending-set keys of this assignment (message id, deep
	// hash), dropped once it is resolved.
	keys []string

	done chan struct{} // closed once err is final
	err  error
}

func (c *commitReq) failed() bool {
	select {
	case <-c.done:
		return c.err != nil
	default:
		return false
	}
}

// committer writes queued assignments in batches, in order.
type committer struct {
	st      *store
	pending *pendingSet

	mu     sync.Mutex
	queue  []*commitReq
	closed bool
	wake   chan struct{}
	// queuedSeq is the last upload queued by a committed transaction.
	queuedSeq atomic.Int64
	// beforeCommit, when set (tests; under mu), runs inside each
	// transaction before it commits; an error fails the batch.
	beforeCommit func(batch []*commitReq) error
}

func newCommitter(st *store, p *pendingSet) *committer {
	return &committer{st: st, pending: p, wake: make(chan struct{}, 1)}
}

// enqueue queues c for the next transaction.
func (k *committer) enqueue(c *commitReq) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return errClosed
	}
	k.queue = append(k.queue, c)
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
	return nil
}

// run commits batches until stop ends and the queue is empty.
func (k *committer) run(stop <-chan struct{}) {
	for {
		k.mu.Lock()
		batch := k.queue
		if len(batch) > maxBatch {
			batch = batch[:maxBatch]
		}
		k.queue = k.queue[len(batch):]
		if len(k.queue) == 0 {
			k.queue = nil
		}
		closed := k.closed
		k.mu.Unlock()
		if len(batch) > 0 {
			k.commit(batch)
			continue
		}
		if closed {
			return
		}
		select {
		case <-k.wake:
		case <-stop:
			k.mu.Lock()
			k.closed = true
			k.mu.Unlock()
		}
	}
}

// commit writes one batch in one transaction and resolves its requests.
// Each assignment has its own savepoint, so one that fails (say, a
// constraint) does not take the others with it, except the assignments
// signed on top of it.
func (k *committer) commit(batch []*commitReq) {
	// No request context: a writer that gives up waiting does not undo
	// an assignment that other writers may have built on.
	ctx := context.Background()
	errs := make([]error, len(batch))
	failed := map[*commitReq]error{}
	prevErr := func(c *commitReq) error {
		if c.prev == nil {
			return nil
		}
		if err, ok := failed[c.prev]; ok {
			return err
		}
		if c.prev.failed() {
			return c.prev.err
		}
		return nil
	}
	k.mu.Lock()
	hook := k.beforeCommit
	k.mu.Unlock()
	err := k.st.withTx(ctx, func(tx txExec) error {
		for i, c := range batch {
			if perr := prevErr(c); perr != nil {
				errs[i] = fmt.Errorf("su: assignment %d of %s not committed: its predecessor failed: %w", c.row.Nonce, c.row.ProcessID, perr)
				failed[c] = errs[i]
				continue
			}
			if err := insertOne(ctx, tx, c); err != nil {
				errs[i] = err
				failed[c] = err
			}
		}
		if hook != nil {
			return hook(batch)
		}
		return nil
	})
	if err == nil {
		var last int64
		for i, c := range batch {
			if errs[i] == nil {
				last = max(last, c.uploadSeq)
			}
		}
		if last > k.queuedSeq.Load() {
			k.queuedSeq.Store(last) // only the committer writes it
		}
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.err = errs[i]
		}
		k.pending.drop(c.keys)
		c.prev = nil // resolved: no chain of old requests stays reachable
		close(c.done)
	}
}

// pendingSet holds the message ids and deep hashes of assignments signed
// but not yet resolved, so that a duplicate is refused before the first is
// on disk. Checked before the database: an entry leaves the set only after
// its commit.
type pendingSet struct {
	mu sync.Mutex
	m  map[string]int
}

func pendingKey(pid, kind, v string) string { return pid + "\x00" + kind + "\x00" + v }

func (p *pendingSet) add(keys []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]int{}
	}
	for _, k := range keys {
		p.m[k]++
	}
}

func (p *pendingSet) drop(keys []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		if p.m[k] <= 1 {
			delete(p.m, k)
		} else {
			p.m[k]--
		}
	}
}

func (p *pendingSet) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[key] > 0
}

// procTail is what the next assignment of a process is built on. It is
// read and written under the process lock only.
type procTail struct {
	nonce, epoch, ts, height int64
	chain, assignmentID      string
	// last is the latest assignment built, nil once known on disk.
	last *commitReq
}

// tails maps process ids to their tails.
type tails struct {
	mu sync.Mutex
	m  map[string]*procTail
}

func (t *tails) get(pid string) *procTail {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[pid]
}

func (t *tails) set(pid string, p *procTail) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*procTail{}
	}
	if p == nil {
		delete(t.m, pid)
		return
	}
	t.m[pid] = p
}

// tail returns what the next assignment of pid builds on, nil for a
// process without assignments (not spawned). The caller holds pid's lock.
func (s *Server) tail(ctx context.Context, pid string) (*procTail, error) {
	if t := s.tails.get(pid); t != nil {
		if t.last == nil || !t.last.failed() {
			return t, nil
		}
		// The latest assignment did not reach the disk (nor any built on
		// it): start again from what is there.
		s.tails.set(pid, nil)
	}
	prev, err := s.store.latest(ctx, pid)
	if err != nil || prev == nil {
		return nil, err
	}
	t := &procTail{nonce: prev.Nonce, epoch: prev.Epoch, ts: prev.Timestamp, chain: prev.HashChain, assignmentID: prev.AssignmentID}
	s.tails.set(pid, t)
	return t, nil
}
