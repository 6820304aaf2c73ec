package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/cron"
	"github.com/aocu/aocu/internal/jsjson"
	"github.com/aocu/aocu/internal/schedule"
)

// hashChainFromHeight is the block height from which the reference verifies
// the SU's hash chain.
const hashChainFromHeight = 1_440_000

// flushEvery bounds the evaluations kept before they are written.
const (
	flushEvery    = 200
	flushInterval = time.Second
)

// streamState is one evaluation stream: the process brought from its
// position to a target.
type streamState struct {
	e      *Engine
	p      *proc
	meta   *procMeta
	wantID string // evaluation id whose output the caller wants
	stream uint64 // identifies the stream to the runtime (fresh-instance semantics)

	batch      []*ao.Evaluation
	lastFlush  time.Time
	seen       map[string]int64 // messages rows of this stream: id -> nonce
	cronSeen   map[string]bool
	lastOutput []byte
	wanted     []byte
	evaluated  int
	started    time.Time
	lastLog    time.Time
	goal       int64     // target nonce when known, for progress logs
	spec       *specPage // a first page read ahead (speculate.go), or nil
}

// ensureInstance gives p a live instance: from its drained file, else cold.
// Caller holds p.lock.
func (e *Engine) ensureInstance(ctx context.Context, p *proc, meta *procMeta) error {
	if p.inst != nil {
		return nil
	}
	opts := ao.InstanceOptions{GasLimit: float64(meta.computeLimit)}
	pos := position{cold: true, Ordinate: "0", Timestamp: meta.process.Block.Timestamp, BlockHeight: meta.process.Block.Height}
	src := "cold_start"
	if img, base, at, ok := e.idleImage(p); ok {
		opts.Memory, opts.Base, pos, src = img, base, at, "memory"
	}
	if opts.Memory == nil {
		if mem, cpPos, from := e.startingPoint(ctx, p, meta); mem != nil {
			opts.Memory, pos, src = mem, *cpPos, from
			p.checkpointed = pos
		}
	}
	if src != "memory" {
		e.log.Info("process starting point", "process", p.id, "src", src, "nonce", pos.Nonce, "timestamp", pos.Timestamp)
	}
	if opts.Memory != nil {
		opts.Reuse = e.scratch.get(meta.mod) // (a recycled instance: see recycle)
	}
	inst, err := meta.mod.Instantiate(ctx, opts)
	if err != nil {
		return fmt.Errorf("instantiate process %s: %w", p.id, err)
	}
	p.inst, p.pos = inst, pos
	e.removeDrainFile(p)
	p.drainFile = ""
	p.drainedTo.Store(nil)
	p.acct.setLive(p, true)
	return nil
}

// runStream evaluates the process up to t. Caller holds p.lock.
func (e *Engine) runStream(ctx context.Context, p *proc, t target, wantID string) (*streamState, error) {
	return e.runStreamFrom(ctx, p, t, wantID, nil)
}

// runStreamFrom is runStream, with the first page perhaps read ahead.
func (e *Engine) runStreamFrom(ctx context.Context, p *proc, t target, wantID string, spec *specPage) (*streamState, error) {
	meta, err := e.loadMeta(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := e.ensureInstance(ctx, p, meta); err != nil {
		return nil, err
	}
	st := &streamState{e: e, p: p, meta: meta, wantID: wantID, stream: e.streams.Add(1), seen: map[string]int64{}, cronSeen: map[string]bool{},
		started: time.Now(), lastFlush: time.Now(), lastLog: time.Now(), goal: -1, spec: spec}
	if !t.latest && !p.pos.cold {
		if t.equalTo(p.pos) {
			return st, nil
		}
		if t.earlierThan(p.pos) {
			if t.Ordinate != "" {
				return nil, ao.Errorf(425, "message at nonce %s not found cached, and earlier than latest known nonce %s", t.Ordinate, p.pos.Ordinate)
			}
			return nil, ao.Errorf(425, "message at timestamp %d not found cached, and earlier than latest known nonce %s", t.Timestamp, p.pos.Ordinate)
		}
	}
	if n, err := strconv.ParseInt(t.Ordinate, 10, 64); err == nil {
		st.goal = n
	}
	p.running.Store(true)
	p.currentNonce.Store(p.pos.Nonce)
	defer p.running.Store(false)
	err = st.run(ctx, t)
	if ferr := st.flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	if err == nil && !p.replayOnly {
		e.maybeEagerCheckpoint(ctx, p)
	}
	if st.evaluated > 0 {
		e.log.Debug("evaluation stream done", "process", p.id, "messages", st.evaluated, "took", time.Since(st.started).Round(time.Millisecond))
	}
	if t.latest && err == nil {
		p.syncedAt = e.opts.Now()
	}
	e.hot.set(p.id, p.pos, err == nil && p.inst != nil)
	return st, err
}

func (st *streamState) run(ctx context.Context, t target) error {
	e, p, meta := st.e, st.p, st.meta
	from, to := "", ""
	if !p.pos.cold {
		from = strconv.FormatInt(p.pos.Timestamp, 10)
	}
	if !t.latest {
		to = strconv.FormatInt(t.Timestamp, 10)
	}
	// Crons need the right boundary and the blocks in between.
	var right int64
	var blocks []ao.Block
	if !meta.crons.Empty() {
		if t.latest {
			ts, _, err := e.opts.Scheduler.Timestamp(ctx, meta.suURL, p.id)
			if err != nil {
				return err
			}
			right = ts
		} else {
			right = t.Timestamp
		}
		var err error
		if blocks, err = e.blocks(ctx, p.pos.BlockHeight, right); err != nil {
			return err
		}
	}
	pc := schedule.NewPageChecker(meta.suURL, p.id, schedule.Position{Cold: p.pos.cold, Nonce: p.pos.Nonce, Timestamp: p.pos.Timestamp,
		AssignmentID: p.pos.AssignmentID, HashChain: p.pos.HashChain}, meta.process.Block.Height >= hashChainFromHeight)
	var firstPage *ao.SUPage
	if !p.pos.cold {
		firstPage = st.spec.first(from, to)
	}
	src := newPageSource(ctx, e.opts.Scheduler, meta.suURL, p.id, from, to, e.opts.PageSize, pc.Check, firstPage)
	defer src.close()
	if !p.pos.cold {
		st.cronSeen[strconv.FormatInt(p.pos.Timestamp, 10)+"-"+p.pos.Cron] = true
	}
	first := p.pos.cold
	for {
		edge, ok, err := src.next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		m, err := schedule.FromEdge(edge)
		if err != nil {
			return ao.WithStatus(502, fmt.Errorf("scheduled message of process %s: %w", p.id, err))
		}
		if first {
			first = false
			if !isProcessMessage(edge) {
				if err := st.prependProcessMessage(ctx); err != nil {
					return err
				}
			}
		}
		if err := st.crons(ctx, m.Timestamp, blocks); err != nil {
			return err
		}
		if err := st.scheduled(ctx, m); err != nil {
			return err
		}
	}
	if first {
		if err := st.prependProcessMessage(ctx); err != nil {
			return err
		}
	}
	if !meta.crons.Empty() && cron.Tail(st.boundary(), right) {
		return st.crons(ctx, right, blocks)
	}
	return nil
}

func isProcessMessage(e *ao.SUEdge) bool {
	if e.Message == nil {
		return false
	}
	v, _ := ao.TagValue(e.Message.Tags, "Type")
	return v == "Process"
}

func (st *streamState) boundary() cron.Boundary {
	pos := st.p.pos
	return cron.Boundary{Timestamp: pos.Timestamp, Ordinate: pos.Ordinate, Block: ao.Block{Height: pos.BlockHeight, Timestamp: pos.Timestamp}}
}

// crons evaluates the cron messages between the position and right.
func (st *streamState) crons(ctx context.Context, right int64, blocks []ao.Block) error {
	if st.meta.crons.Empty() {
		return nil
	}
	for _, c := range st.meta.crons.Between(st.boundary(), right, blocks) {
		key := strconv.FormatInt(c.Timestamp, 10) + "-" + c.ID
		if st.cronSeen[key] {
			continue
		}
		st.cronSeen[key] = true
		if len(st.cronSeen) > 1000 {
			st.cronSeen = map[string]bool{key: true}
		}
		pid := st.p.id
		m := &schedule.Message{
			Owner: st.meta.processOwner, Target: &pid, From: st.meta.processOwner, Tags: c.Tags,
			Timestamp: c.Timestamp, Block: c.BlockHeight, Cron: true,
			Name: fmt.Sprintf("Cron Message %d,%s,%s", c.Timestamp, c.Ordinate, c.ID), Ordinate: c.Ordinate, CronID: c.ID,
		}
		if m.Tags == nil {
			m.Tags = []ao.Tag{}
		}
		if err := st.evaluate(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// prependProcessMessage evaluates the process message on a cold start when the
// SU does not deliver it (processes before AOP-6). It is not saved.
func (st *streamState) prependProcessMessage(ctx context.Context) error {
	proc := st.meta.process
	data, err := st.e.opts.Gateway.Raw(ctx, proc.ID)
	if err != nil {
		return fmt.Errorf("load the data of process %s: %w", proc.ID, err)
	}
	pid := proc.ID
	m := &schedule.Message{
		ID: &pid, Data: schedule.JSString(jsjson.DecodeUTF8(data)), Owner: st.meta.processOwner, Target: &pid,
		From: schedule.MapFrom(proc.Tags, st.meta.processOwner), Tags: proc.Tags,
		Timestamp: proc.Block.Timestamp, Block: proc.Block.Height,
		Name: "Process Message " + pid, Ordinate: "0", NoSave: true,
	}
	if proc.Signature != "" {
		m.Signature = schedule.JSString(proc.Signature)
	}
	if proc.Anchor != "" {
		m.Anchor = schedule.JSString(proc.Anchor)
	}
	return st.evaluate(ctx, m)
}

// scheduled checks, hydrates, deduplicates and evaluates a scheduled message.
func (st *streamState) scheduled(ctx context.Context, m *schedule.Message) error {
	e, p := st.e, st.p
	if st.meta.process.Block.Height >= hashChainFromHeight {
		if err := verifyHashChain(p.pos, m); err != nil {
			return err
		}
	}
	if m.Forwarded != nil {
		h, err := schedule.PushedDeepHash(m)
		if err != nil {
			return ao.WithStatus(422, err)
		}
		m.DeepHash = h
	}
	if m.IsAssignment {
		if err := st.hydrate(ctx, m); err != nil {
			return err
		}
	}
	if m.DeepHash != "" || m.IsAssignment {
		id := m.DeepHash
		if m.IsAssignment {
			id = *m.ID
		}
		if n, ok := st.seen[id]; ok && n < *m.Nonce {
			st.skip(m)
			return nil
		}
		dup, err := e.opts.Store.MessageSeenBefore(ctx, p.id, id, *m.Epoch, *m.Nonce)
		if err != nil {
			return fmt.Errorf("duplicate check of %s: %w", m.Name, err)
		}
		if dup {
			st.skip(m)
			return nil
		}
		st.seen[id] = *m.Nonce
	}
	return st.evaluate(ctx, m)
}

func (st *streamState) skip(m *schedule.Message) {
	st.e.log.Info("skipping a message already evaluated at a lower nonce", "process", st.p.id, "message", m.Name)
	// The schedule still moves on: the next messages are read after it.
	st.p.pos.AssignmentID, st.p.pos.HashChain = m.AssignmentID, schedule.Deref(m.HashChain)
}

// verifyHashChain checks an SU's hash chain link:
// base64url(sha256(prev assignment id || prev hash chain)).
func verifyHashChain(prev position, m *schedule.Message) error {
	actual := schedule.Deref(m.HashChain)
	if prev.AssignmentID == "" || prev.HashChain == "" {
		if actual == "" {
			return ao.Errorf(422, "HashChain invalid on message %s", schedule.Deref(m.ID))
		}
		return nil
	}
	a, err1 := base64.RawURLEncoding.DecodeString(prev.AssignmentID)
	h, err2 := base64.RawURLEncoding.DecodeString(prev.HashChain)
	if err1 != nil || err2 != nil {
		return ao.Errorf(422, "HashChain invalid on message %s", schedule.Deref(m.ID))
	}
	sum := sha256.Sum256(append(a, h...))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != actual {
		return ao.Errorf(422, "HashChain invalid on message %s", schedule.Deref(m.ID))
	}
	return nil
}

// hydrate loads an assigned item from the gateway.
func (st *streamState) hydrate(ctx context.Context, m *schedule.Message) error {
	gw := st.e.opts.Gateway
	meta, err := gw.TransactionMeta(ctx, *m.ID, m.Excludes("Tags"), m.Excludes("Signature"), m.Excludes("Anchor"))
	if err != nil {
		return fmt.Errorf("hydrate %s: %w", m.Name, err)
	}
	var data []byte
	if !m.Excludes("Data") {
		if data, err = gw.Raw(ctx, *m.ID); err != nil {
			return fmt.Errorf("hydrate %s: %w", m.Name, err)
		}
		if data == nil {
			data = []byte{}
		}
	}
	schedule.Hydrate(m, meta, data)
	return nil
}

// evaluate runs one message and records its result.
func (st *streamState) evaluate(ctx context.Context, m *schedule.Message) error {
	e, p := st.e, st.p
	var res *ao.Result
	var err error
	if e.opts.EnableMemoryReset && m.Owner == st.meta.processOwner && hasAction(m.Tags, "Reset-Memory") {
		res, err = st.resetMemory(ctx, m)
	} else {
		var am *ao.Message
		if e.opts.HyperBEAM {
			am = m.ToAOHyperBEAM()
		} else {
			am = m.ToAO()
		}
		res, err = p.inst.Handle(ctx, st.stream, am, st.meta.env, e.opts.MessageTimeout)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ao.ErrEvalTimeout) {
			f := &procFailure{messageID: schedule.Deref(m.ID), nonce: p.pos.Nonce + 1, limit: e.opts.MessageTimeout}
			if m.Nonce != nil {
				f.nonce = *m.Nonce
			}
			if m.CronID != "" {
				f.messageID = m.Name
			}
			p.failed.Store(f)
			e.log.Error("process failed: a message ran past the evaluation time limit; it is not evaluated further until restart",
				"process", p.id, "message", m.Name, "nonce", f.nonce, "limit", e.opts.MessageTimeout)
			if e.opts.Observer != nil {
				e.opts.Observer.Evaluated("primary", "timeout", true)
			}
			return f.err(p.id)
		}
		if !errors.Is(err, ao.ErrEvalTimeout) && !errors.Is(err, ao.ErrHalt) && !errors.Is(err, ao.ErrMessageTooLarge) {
			p.closeInstance() // its state is lost; the next stream rebuilds it
			return fmt.Errorf("evaluate %s: %w", m.Name, err)
		}
		// The reference turns a thrown error into {Error}: the state is kept.
		e.log.Warn("message failed", "process", p.id, "message", m.Name, "err", err)
		res = &ao.Result{Error: schedule.JSString(err.Error()), Rejected: true}
	}
	out := outputJSON(res, e.opts.HyperBEAM)
	p.gasSince += res.GasUsed
	kind := "scheduled"
	switch {
	case m.CronID != "":
		kind = "cron"
	case m.IsAssignment:
		kind = "assignment"
	}
	if e.opts.Observer != nil {
		e.opts.Observer.Evaluated("primary", kind, res.Failed())
	}
	st.evaluated++
	e.evaluated.Add(1)
	st.lastOutput = out
	p.version++ // forks of the previous state are stale
	pos := &p.pos
	pos.cold = false
	pos.Timestamp, pos.Ordinate, pos.Cron, pos.BlockHeight = m.Timestamp, m.Ordinate, m.CronID, m.Block
	if m.Nonce != nil {
		pos.Nonce, pos.Epoch = *m.Nonce, *m.Epoch
		p.currentNonce.Store(*m.Nonce)
	}
	if m.ID != nil {
		pos.MessageID = *m.ID
	}
	if !m.NoSave && m.CronID == "" {
		pos.AssignmentID, pos.HashChain = m.AssignmentID, schedule.Deref(m.HashChain)
	}
	if !m.NoSave && !p.replayOnly {
		ev := &ao.Evaluation{
			ProcessID: p.id, MessageID: schedule.Deref(m.ID), DeepHash: m.DeepHash, Nonce: m.Nonce, Epoch: m.Epoch,
			Timestamp: m.Timestamp, Ordinate: m.Ordinate, BlockHeight: m.Block, Cron: m.CronID,
			Output: out, EvaluatedAt: e.opts.Now().UnixMilli(), IsAssignment: m.IsAssignment,
		}
		if ev.ID() == st.wantID {
			st.wanted = out
		}
		st.batch = append(st.batch, ev)
		if len(st.batch) >= flushEvery || time.Since(st.lastFlush) >= flushInterval {
			if err := st.flush(ctx); err != nil {
				return err
			}
			e.maybeEagerCheckpoint(ctx, p)
			if p.wantCheckpoint.Load() {
				if err := e.writeFileCheckpoint(ctx, p); err != nil {
					e.log.Error("requested file checkpoint failed", "process", p.id, "err", err)
				}
				p.wantCheckpoint.Store(false)
			}
			st.lastFlush = time.Now() // checkpoint time is not evaluation time
		}
	}
	if time.Since(st.lastLog) >= e.opts.ProgressInterval {
		st.lastLog = time.Now()
		rate := float64(st.evaluated) / time.Since(st.started).Seconds()
		args := []any{"process", p.id, "evaluated", st.evaluated, "perSecond", int(rate), "nonce", pos.Nonce}
		if st.goal > pos.Nonce && rate > 0 {
			left := st.goal - pos.Nonce
			args = append(args, "remaining", left, "eta", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
		e.log.Info("evaluation stream progress", args...)
	}
	return nil
}

// flush writes the batch in one transaction.
func (st *streamState) flush(ctx context.Context) error {
	st.p.evalSince += time.Since(st.lastFlush)
	st.lastFlush = time.Now()
	if len(st.batch) == 0 {
		return nil
	}
	if err := st.e.opts.Store.SaveEvaluations(ctx, st.batch, st.e.opts.DisableEvaluationCache); err != nil {
		return fmt.Errorf("save evaluations of process %s: %w", st.p.id, err)
	}
	st.batch = st.batch[:0]
	return nil
}

// blocks returns the block metadata from minHeight up to maxTimestamp. The
// DB's blocks are used when they run without a gap from minHeight past
// maxTimestamp; otherwise the missing tail is fetched from the gateway and
// stored. Unlike the reference (which trusts its DB when its last block is
// within 90 s of maxTimestamp), the blocks a window sees do not depend on when
// the CU happened to evaluate: crons are the same on every CU.
func (e *Engine) blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]ao.Block, error) {
	have, err := e.opts.Store.Blocks(ctx, minHeight, math.MaxInt64)
	if err != nil {
		return nil, fmt.Errorf("load blocks: %w", err)
	}
	next := minHeight // the first height not known contiguously
	var out []ao.Block
	for _, b := range have {
		if b.Height != next {
			break
		}
		if b.Timestamp > maxTimestamp {
			return out, nil // the window is closed: every block in it is known
		}
		out = append(out, b)
		next++
	}
	fetched, err := e.opts.Gateway.Blocks(ctx, next, maxTimestamp)
	if err != nil {
		return nil, fmt.Errorf("load block metadata from the gateway: %w", err)
	}
	if err := e.opts.Store.SaveBlocks(ctx, fetched); err != nil {
		return nil, fmt.Errorf("save blocks: %w", err)
	}
	for _, b := range fetched {
		if b.Height >= next && b.Timestamp <= maxTimestamp {
			out = append(out, b)
		}
	}
	return out, nil
}
