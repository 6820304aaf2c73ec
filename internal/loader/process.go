package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
	"github.com/aocu/aocu/internal/weavedrive"
)

// ProcessOptions configures a Process.
type ProcessOptions struct {
	// Drive serves WeaveDrive paths; nil means no WeaveDrive (fopen of a drive
	// path returns NULL, as in the reference without the extension).
	Drive weavedrive.Drive
	// Memory, when set, is a memory image to start from (a checkpoint or the
	// Memory of a previous result, from aocu or from the reference loader): a
	// raw memory or a compact image (package memimage). It is restored as the
	// reference does: grow with the heap policy, copy the prefix; only its
	// non-zero pages are written. A delta image (memimage.EncodeAgainst) is
	// decoded against Base.
	Memory []byte
	// Base is the base image of a delta Memory (nil: Memory is not a delta).
	Base *memimage.Base
	// Reuse is a scratch fork (ForkImage, Recycle) whose instance a process
	// restored from Memory is built on when it can be (its memory written
	// over: no new instance, no page faults); nil: a new instance. Taken
	// over: closed when it cannot serve.
	Reuse ao.Fork
	// Timeout stops a message that runs longer (wall clock); 0 means no limit.
	Timeout time.Duration
	// GasLimit is the Compute-Limit of metered formats (0: 9e15, as the glue).
	GasLimit float64
	// Log receives what the module writes to stdout/stderr and glue warnings.
	Log func(string)
	// SnapshotRatio bounds the rollback work: a snapshot of the memory is taken
	// once the evaluation time since the last one reaches SnapshotRatio times the
	// cost of taking it. Default 20 (snapshots cost at most ~5% of evaluation).
	SnapshotRatio float64
}

// Process is the state of one ao process: a warm instance plus what is needed
// to honour the CU's state semantics. After a message whose result has an Error,
// whose handle() rejects, traps, times out or HALTs, the process is exactly as
// it was before that message, and the next message runs as on a freshly built
// instance (the reference CU drops its instance; the glue's clock restarts).
//
// Rollback never copies the whole memory per message: the process keeps a
// snapshot taken now and then plus the messages evaluated since (a replay log);
// a rollback restores the snapshot and replays the log, which is deterministic.
// The snapshot interval adapts so that snapshots cost a fixed small fraction of
// evaluation time, whatever the memory size.
//
// A Process is not safe for concurrent use.
type Process struct {
	mod  *Module
	opts ProcessOptions
	inst *instance
	// anonymous: inst's whole linear memory is private anonymous memory
	// (restored instances), so pages never backed read as zero.
	anonymous bool
	// baseSize is the memory size of an instance built in the base state.
	baseSize uint64
	// stayOnTier: moving to the module's compiled code failed once
	// (switchTier); the process keeps its instance.
	stayOnTier bool

	// hasMemory is false until the first successful message (or a Memory
	// option): the reference keeps Memory null until then.
	hasMemory bool

	base     snapshot
	log      []logEntry
	logBytes int
	logCost  time.Duration
	snapCost time.Duration

	stats ProcessStats

	envCache struct {
		raw []byte
		req weavedrive.Request
	}
	broken error
}

type snapshot struct {
	image []byte          // nil: a freshly built instance (or external, below)
	ext   *extImage       // an external image to start from (ProcessOptions.Memory)
	owned *snapshotBuffer // the process's own buffer behind image, reused by later snapshots
	exact bool            // restore to exactly len(image) (internal), else with the heap policy (external)
	glue  *glueState      // nil: as a freshly loaded instance leaves it
	files map[int32]openFile
	open  map[string]weavedrive.File
	fs    *memFS // the glue's file system; nil: as a freshly loaded instance leaves it
}

type logEntry struct{ msg, env []byte }

// ProcessStats counts the work behind the state semantics, for metrics and
// benchmarks.
type ProcessStats struct {
	Snapshots      int
	SnapshotTime   time.Duration
	Rollbacks      int
	Replayed       int // messages re-evaluated by rollbacks
	RollbackTime   time.Duration
	ReplayLogBytes int // size of the current replay log
}

// Stats returns the process's counters.
func (p *Process) Stats() ProcessStats {
	s := p.stats
	s.ReplayLogBytes = p.logBytes
	return s
}

// Replay-log limits besides the time ratio.
const (
	maxLogEntries = 20000
	maxLogBytes   = 256 << 20
)

// NewProcess builds a process of the module: a fresh instance, or one restored
// from opts.Memory.
func (m *Module) NewProcess(ctx context.Context, opts ProcessOptions) (*Process, error) {
	if opts.SnapshotRatio <= 0 {
		opts.SnapshotRatio = 20
	}
	reuse := opts.Reuse
	opts.Reuse = nil
	fail := func(err error) (*Process, error) {
		if reuse != nil {
			reuse.Close()
		}
		return nil, err
	}
	p := &Process{mod: m, opts: opts}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if opts.Memory != nil {
		// (the process keeps the image as its base state: not a Decoder's)
		ext, err := readExtImage(opts.Memory, opts.Base, int64(m.spec.heapMax))
		if err != nil {
			return fail(fmt.Errorf("loader: memory image: %w", err))
		}
		p.base.ext = ext
		p.hasMemory = true
		p.opts.Memory, p.opts.Base = nil, nil // the image holds what is needed
	}
	if err := p.rebuildOn(reuse); err != nil {
		return nil, err
	}
	return p, nil
}

// rebuild makes a new instance in the base state.
func (p *Process) rebuild() error { return p.rebuildOn(nil) }

// rebuildOn makes an instance in the base state: reuse's (see
// ProcessOptions.Reuse) when it can serve, else a new one.
func (p *Process) rebuildOn(reuse ao.Fork) error {
	if p.inst != nil {
		p.inst.close()
		p.inst = nil
	}
	if reuse != nil {
		if inst := p.recycledInstance(reuse); inst != nil {
			p.applyBaseHostState(inst)
			p.inst, p.anonymous = inst, true
			p.baseSize = uint64(inst.memSize())
			return nil
		}
	}
	inst, err := p.mod.newInstance(p.opts.Drive, p.opts.Log, p.opts.GasLimit)
	if err != nil {
		return err
	}
	anon := false
	switch {
	case p.base.image != nil:
		var written []bool
		if p.base.owned != nil && len(p.base.owned.buf) == len(p.base.image) {
			written = p.base.owned.written
		}
		anon, err = inst.restore(p.base.image, p.base.exact, written)
	case p.base.ext != nil:
		anon, err = inst.restoreImage(p.base.ext)
	}
	if err != nil {
		inst.close()
		return err
	}
	p.applyBaseHostState(inst)
	p.inst, p.anonymous = inst, anon
	p.baseSize = uint64(inst.memSize())
	return nil
}

func (p *Process) applyBaseHostState(inst *instance) {
	inst.glueState = inst.fresh
	if p.base.glue != nil {
		inst.glueState = *p.base.glue
	}
	inst.files = map[int32]*openFile{}
	for fd, f := range p.base.files {
		f := f
		inst.files[fd] = &f
	}
	inst.opened = map[string]weavedrive.File{}
	for k, v := range p.base.open {
		inst.opened[k] = v
	}
	if p.base.fs != nil {
		inst.fs = p.base.fs.clone(inst.tick)
	} else {
		inst.fs = inst.freshFS.clone(inst.tick)
	}
}

// restore puts a memory image into a fresh instance. anon reports that the
// whole memory is now private anonymous memory (see CompactImage).
// written, when not nil, tells which pages of img hold data (a snapshot
// buffer's).
func (h *instance) restore(img []byte, exact bool, written []bool) (anon bool, err error) {
	fresh, err := h.growFor(uint64(len(img)), exact)
	if err != nil {
		return false, err
	}
	d := h.data()
	// The prefix an initialised instance may have written is made zero
	// without touching its pages, then only the image's non-zero pages are
	// written (pages above the fresh size are zero since they grew).
	anon = zeroMemory(d[:min(fresh, len(img))]) && len(img) >= fresh
	if written == nil {
		copyPages(d, img, 0)
		return anon, nil
	}
	for i, w := range written {
		if off := i * copyPage; w && off < len(d) {
			end := min(off+copyPage, len(img), len(d))
			copy(d[off:end], img[off:end])
		}
	}
	return anon, nil
}

// restoreImage puts an external image into a fresh instance, writing only its
// non-zero pages.
func (h *instance) restoreImage(x *extImage) (anon bool, err error) {
	im := x.im
	fresh, err := h.growFor(uint64(x.Len()), false)
	if err != nil {
		return false, err
	}
	d := h.data()
	n := min(len(d), int(x.Len())) // (a delta's base may be shorter than the memory it makes)
	anon = zeroMemory(d[:min(fresh, n)]) && n >= fresh
	im.Each(func(off int64, b []byte) {
		if off >= int64(n) {
			return
		}
		b = b[:min(len(b), n-int(off))]
		populate(d[off : off+int64(len(b))])
		copy(d[off:], b)
	})
	if x.delta != nil {
		x.delta.ApplyTo(d)
	}
	return anon, nil
}

// resetToExternal is the in-place reset of a clean call for a process whose
// base is an external image: the image's pages are written again and the
// pages the call touched outside it cleared (no new instance, no page
// faults). It reports false when the kernel cannot tell which pages were
// touched.
func (p *Process) resetToExternal(inst *instance) bool {
	d := inst.data()
	touched := p.touched(d)
	if touched == nil || int64(len(d)) < p.base.ext.Len() {
		return false
	}
	p.base.ext.writeTo(d, touched)
	return true
}

// extImage is an external image a process or scratch fork starts from: a
// plain image, or a delta written over its base's image (kept as the delta,
// ~100 KB for an aos process, not as the ~3 MB of pages it makes).
type extImage struct {
	im    *memimage.Image // the image, or the delta's base cut to its length
	delta *memimage.Delta
}

// readExtImage reads b (perhaps a delta against base); the image owns its
// buffers.
func readExtImage(b []byte, base *memimage.Base, max int64) (*extImage, error) {
	if !memimage.IsDelta(b) || base == nil {
		// (decoded into a buffer of the image's size: a Decoder's keeps
		// 256 KiB of room past it, for the life of the process)
		im, err := memimage.ParseWith(b, base, max)
		if err != nil {
			return nil, err
		}
		return &extImage{im: im}, nil
	}
	var dec memimage.Decoder
	defer dec.Close() // (the image keeps the buffers it read into)
	return readExtImageWith(&dec, b, base, max)
}

// readExtImageWith is readExtImage with dec's buffers: the image aliases them
// until dec's next use.
func readExtImageWith(dec *memimage.Decoder, b []byte, base *memimage.Base, max int64) (*extImage, error) {
	if memimage.IsDelta(b) && base != nil {
		x, err := dec.ReadDelta(b, base, max)
		if err != nil {
			return nil, err
		}
		if cut := x.Base().Cut(x.Len()); cut != nil {
			return &extImage{im: cut, delta: x}, nil
		}
	}
	im, err := dec.ParseWith(b, base, max)
	if err != nil {
		return nil, err
	}
	return &extImage{im: im}, nil
}

// Len is the length of the memory the image makes.
func (x *extImage) Len() int64 {
	if x.delta != nil {
		return x.delta.Len()
	}
	return x.im.Len()
}

// writeTo makes d hold the image (see resetToImage).
func (x *extImage) writeTo(d []byte, touched func(page int) bool) {
	resetToImage(d, x.im, touched)
	if x.delta != nil {
		x.delta.ApplyTo(d)
	}
}

// resetToImage makes d (an instance memory of at least the image's length,
// zero beyond it in the base state) equal to the image again: its pages are
// copied, and every other page that touched says can hold data is cleared.
func resetToImage(d []byte, im *memimage.Image, touched func(page int) bool) {
	clearFrom := func(from, to int) {
		for pg := from; pg < to; pg++ {
			if !touched(pg) {
				continue
			}
			off := pg * copyPage
			if b := d[off:min(off+copyPage, len(d))]; !isZero(b) {
				clear(b)
			}
		}
	}
	pages := (len(d) + copyPage - 1) / copyPage
	next := 0
	im.Each(func(off int64, b []byte) {
		first := int(off / copyPage)
		clearFrom(next, first)
		copy(d[off:], b)
		next = first + (len(b)+copyPage-1)/copyPage
	})
	clearFrom(next, pages)
}

// growFor grows a fresh instance's memory for an image of want bytes (exactly
// to it for internal snapshots, else with the heap policy) and returns the
// size the instance had before (its initialised prefix).
func (h *instance) growFor(want uint64, exact bool) (int, error) {
	cur := uint64(h.memSize())
	if exact {
		if want%pageSize != 0 || want < cur {
			return 0, fmt.Errorf("loader: internal snapshot of %d bytes does not fit a %d-byte instance", want, cur)
		}
		if want > cur {
			if _, err := h.growPages((want - cur) / pageSize); err != nil {
				return 0, fmt.Errorf("loader: grow memory to %d bytes: %w", want, err)
			}
		}
	} else if cur < want {
		if !h.resizeHeap(want) {
			return 0, fmt.Errorf("loader: memory image of %d bytes exceeds the module's memory limit (%d bytes)", want, h.mod.maxBytes)
		}
	}
	return int(cur), nil
}

// Handle evaluates one message. msg and env are the exact JSON texts the
// module receives (what JSON.stringify makes of the CU's objects).
//
// A Result is returned for every message the module evaluated, including ones
// whose handle() rejected (Result.Rejected): the process then stays at its
// previous state. An error is returned when there is no result: ErrHalt,
// ErrTimeout, ErrMessageTooLarge, a cancelled context, or a broken process
// (its state could not be rebuilt; it must be discarded).
func (p *Process) Handle(ctx context.Context, msg, env []byte) (*Result, error) {
	return p.handle(ctx, msg, env, false)
}

// HandleReadOnly evaluates one message and then brings the process back to
// its state before it, whatever the result: the reference's dry-run, which
// runs on a fresh instance over a copy of the memory and keeps nothing.
func (p *Process) HandleReadOnly(ctx context.Context, msg, env []byte) (*Result, error) {
	p.PrepareReadOnly()
	return p.handle(ctx, msg, env, true)
}

// PrepareReadOnly does the work a read-only message's rollback would rather
// find done: when replaying the log since the last snapshot costs more than
// a snapshot, it takes one (later messages profit from it too). A caller
// that times the evaluation calls it first, so that the time is not counted.
func (p *Process) PrepareReadOnly() {
	if len(p.log) > 0 && p.inst != nil && p.broken == nil && p.snapCost < p.logCost {
		p.takeSnapshot()
	}
}

// BeginStream makes the next message run as on the reference's new instance
// for a new evaluation stream: the memory is kept, the glue's JavaScript state
// (clock, tempRet0, tzset) and its file system restart as loading leaves them.
func (p *Process) BeginStream() {
	if p.inst == nil || p.broken != nil {
		return
	}
	p.resetGlue(p.inst)
	if len(p.log) > 0 {
		p.log = append(p.log, logEntry{}) // replayed as the same reset
	} else {
		p.base.glue = nil
		p.base.files, p.base.open, p.base.fs = nil, nil, nil
	}
}

func (p *Process) resetGlue(inst *instance) {
	inst.glueState = inst.fresh
	inst.files = map[int32]*openFile{}
	inst.opened = map[string]weavedrive.File{}
	inst.fs = inst.freshFS.clone(inst.tick)
}

// outputSignalsOOM reports the reference CU's rule for older modules: an
// Output (its text, or an aos object's data.output) ending in "not enough
// memory for buffer allocation" keeps the previous memory, without an Error.
func outputSignalsOOM(out json.RawMessage) bool {
	const suffix = "not enough memory for buffer allocation"
	if len(out) == 0 || !bytes.Contains(out, []byte("buffer allocation")) {
		return false
	}
	var s string
	if json.Unmarshal(out, &s) == nil {
		return strings.HasSuffix(s, suffix)
	}
	var obj struct {
		Data struct {
			Output json.RawMessage `json:"output"`
		} `json:"data"`
	}
	if json.Unmarshal(out, &obj) == nil && json.Unmarshal(obj.Data.Output, &s) == nil {
		return strings.HasSuffix(s, suffix)
	}
	return false
}

func (p *Process) handle(ctx context.Context, msg, env []byte, readOnly bool) (*Result, error) {
	if p.broken != nil {
		return nil, p.broken
	}
	if p.inst == nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.switchTier()
	inst := p.inst
	inst.ctx = ctx
	inst.driveReq = p.driveRequest(msg, env)
	sizeBefore := inst.memSize()
	start := time.Now()
	out, err := inst.call(msg, env, p.deadlineTicks(ctx))
	dur := time.Since(start)
	inst.ctx = context.Background()
	if errors.Is(err, ErrMessageTooLarge) {
		return nil, err // nothing ran
	}
	var res *Result
	if err == nil {
		res, err = parseResponse(out, inst.gasUsed(), p.mod.eng.profile.patches)
	}
	// A trap leaves the instance mid-call (stack pointer, Asyncify state): it
	// cannot be reused, unlike a clean Error return.
	var te *trapError
	trapped := errors.As(err, &te)
	if trapped {
		res, err = rejected(te.msg), nil
		if te.thrown != nil {
			res.Thrown = te.thrown
		}
	}
	if err == nil && !res.Failed() && !readOnly && !outputSignalsOOM(res.Output) {
		p.hasMemory = true
		p.record(msg, env, dur)
		return res, nil
	}
	clean := err == nil && !trapped && inst.memSize() == sizeBefore
	if rerr := p.rollback(clean); rerr != nil {
		p.broken = fmt.Errorf("loader: process state lost while rolling back: %w", rerr)
		if err == nil {
			return nil, p.broken
		}
		return nil, errors.Join(err, p.broken)
	}
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return nil, fmt.Errorf("%w after %v", ErrTimeout, dur.Round(time.Millisecond))
		}
		return nil, err
	}
	return res, nil
}

func (p *Process) deadlineTicks(ctx context.Context) uint64 {
	limit := p.opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); limit == 0 || left < limit {
			limit = max(left, time.Millisecond)
		}
	}
	if limit == 0 {
		return 0
	}
	return uint64(limit/epochTick) + 1
}

// record appends a successful message to the replay log and takes a snapshot
// when the log has become expensive enough to replay.
func (p *Process) record(msg, env []byte, dur time.Duration) {
	e := logEntry{msg: append([]byte(nil), msg...)}
	if n := len(p.log); n > 0 && string(p.log[n-1].env) == string(env) {
		e.env = p.log[n-1].env
	} else {
		e.env = append([]byte(nil), env...)
		p.logBytes += len(env)
	}
	p.log = append(p.log, e)
	p.logBytes += len(msg)
	p.logCost += dur
	est := p.snapCost
	if est == 0 {
		// Before the first measurement: about 2 GB/s.
		est = time.Duration(p.inst.memSize()/2000) * time.Microsecond
	}
	// (compared as floats: est × a large ratio does not fit a Duration)
	if float64(p.logCost) >= float64(est)*p.opts.SnapshotRatio || len(p.log) >= maxLogEntries || p.logBytes >= maxLogBytes {
		p.takeSnapshot()
	}
}

// takeSnapshot makes the current state the base: copy the memory into the
// (reused) snapshot buffer and clear the replay log.
func (p *Process) takeSnapshot() {
	start := time.Now()
	d := p.inst.data()
	buf := p.base.owned
	if buf == nil || len(buf.buf) != len(d) {
		buf.free()
		buf = newSnapshotBuffer(len(d))
	}
	buf.fill(d, p.touched(d))
	glue := p.inst.glueState
	p.base = snapshot{image: buf.buf, owned: buf, exact: true, glue: &glue, files: map[int32]openFile{}, open: map[string]weavedrive.File{},
		fs: p.inst.fs.clone(nil)}
	for fd, f := range p.inst.files {
		p.base.files[fd] = *f
	}
	for k, v := range p.inst.opened {
		p.base.open[k] = v
	}
	p.log, p.logBytes, p.logCost = nil, 0, 0
	p.snapCost = time.Since(start)
	p.stats.Snapshots++
	p.stats.SnapshotTime += p.snapCost
}

// rollback brings the process back to the state after the last successful
// message, as a fresh instance would hold it. clean means the failed call
// returned normally without growing memory, so the instance can be reused.
func (p *Process) rollback(clean bool) error {
	start := time.Now()
	p.stats.Rollbacks++
	p.stats.Replayed += len(p.log)
	defer func() { p.stats.RollbackTime += time.Since(start) }()
	inst := p.inst
	if clean && p.base.image != nil && uint64(len(p.base.image)) == uint64(inst.memSize()) {
		d := inst.data()
		if p.base.owned != nil && len(p.base.owned.buf) == len(d) {
			p.base.owned.restoreTo(d, p.touched(d))
		} else {
			copyPages(d, p.base.image, len(d))
		}
		inst.async.state = asyncNormal
		p.applyBaseHostState(inst)
	} else if clean && p.base.image == nil && p.base.ext != nil && p.anonymous &&
		uint64(inst.memSize()) == p.baseSize && p.resetToExternal(inst) {
		inst.async.state = asyncNormal
		p.applyBaseHostState(inst)
	} else if err := p.rebuild(); err != nil {
		return err
	}
	inst = p.inst
	for i, e := range p.log {
		if e.msg == nil {
			p.resetGlue(inst)
			continue
		}
		inst.driveReq = p.driveRequest(e.msg, e.env)
		out, err := inst.call(e.msg, e.env, 0)
		if err != nil {
			return fmt.Errorf("replay of message %d: %w", i, err)
		}
		res, err := parseResponse(out, inst.gasUsed(), p.mod.eng.profile.patches)
		if err != nil || res.Failed() {
			return fmt.Errorf("replay of message %d did not reproduce its result", i)
		}
	}
	// The reference now builds a new instance around the kept memory: the
	// glue's JavaScript state (clock, tempRet0, tzset) is what loading leaves
	// and the JS file system is empty.
	p.resetGlue(inst)
	if len(p.log) > 0 {
		p.takeSnapshot()
	} else {
		p.base.glue = nil
		p.base.files, p.base.open, p.base.fs = nil, nil, nil
	}
	return nil
}

// driveRequest extracts what WeaveDrive's admissibility check needs.
func (p *Process) driveRequest(msg, env []byte) weavedrive.Request {
	if p.opts.Drive == nil {
		return weavedrive.Request{}
	}
	if string(p.envCache.raw) != string(env) {
		var e struct {
			Process struct {
				Id   string
				Tags []struct{ Name, Value string }
			}
			Module struct {
				Tags []struct{ Name, Value string }
			}
		}
		_ = json.Unmarshal(env, &e)
		req := weavedrive.Request{ProcessID: e.Process.Id}
		for _, t := range e.Process.Tags {
			req.ProcessTags = append(req.ProcessTags, weavedrive.Tag{Name: t.Name, Value: t.Value})
		}
		for _, t := range e.Module.Tags {
			req.ModuleTags = append(req.ModuleTags, weavedrive.Tag{Name: t.Name, Value: t.Value})
		}
		p.envCache.raw = append([]byte(nil), env...)
		p.envCache.req = req
	}
	req := p.envCache.req
	var m struct {
		BlockHeight json.RawMessage `json:"Block-Height"`
	}
	if json.Unmarshal(msg, &m) == nil && len(m.BlockHeight) > 0 {
		s := string(m.BlockHeight)
		if uq, err := strconv.Unquote(s); err == nil {
			s = uq
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) {
			req.BlockHeight = int64(f)
		}
	}
	return req
}

// Memory returns the process's linear memory (the state after the last
// successful message), or nil before any. The slice aliases live memory: it is
// valid until the next call on the process; copy it to keep it.
func (p *Process) Memory() []byte {
	if !p.hasMemory || p.inst == nil {
		return nil
	}
	return p.inst.data()
}

// CompactImage returns the compact image (package memimage) of Memory(), or
// nil before any. The memory of a restored instance is private anonymous
// memory throughout (restore replaced its initialised prefix, growth adds
// anonymous pages), so only the pages the kernel has ever backed are read:
// encoding costs what the process holds, not its linear memory size.
func (p *Process) CompactImage() ([]byte, error) {
	mem := p.Memory()
	if mem == nil {
		return nil, nil
	}
	img, err := memimage.FromMemoryWhere(mem, p.touched(mem)).Encode()
	if err != nil {
		return nil, fmt.Errorf("loader: compact image: %w", err)
	}
	return img, nil
}

// touched returns which 4-KiB pages of the instance's memory d can hold
// data, when the kernel can tell, else nil (every page). A restored instance
// is anonymous memory throughout (see anonymous); a fresh one maps its data
// segments from the runtime's file image, whose pages all count, so that a
// scan of a cold-started process does not fault in its untouched pages.
func (p *Process) touched(d []byte) func(page int) bool {
	var touched []bool
	var pg int
	var ok bool
	if p.anonymous {
		touched, pg, ok = touchedPages(d)
	} else {
		touched, pg, ok = mappedDataPages(d)
	}
	if !ok {
		return nil
	}
	return func(page int) bool { return touched[page*memimage.PageSize/pg] }
}

// PageImage returns the image of Memory() (its non-zero pages, not
// compressed), or nil before any: what the engine encodes against its
// module's base image. Only the pages the kernel has backed are read, as
// for CompactImage.
func (p *Process) PageImage() *memimage.Image {
	mem := p.Memory()
	if mem == nil {
		return nil
	}
	return memimage.FromMemoryWhere(mem, p.touched(mem))
}

// DiffMemory compares Memory() with base without copying its pages (nil
// before any memory): what the engine encodes a parked process with while
// it is close to the base it was restored against. Only the pages the
// kernel has backed are read, as for PageImage.
func (p *Process) DiffMemory(base *memimage.Base) *memimage.MemoryDiff {
	mem := p.Memory()
	if mem == nil {
		return nil
	}
	return memimage.DiffMemory(mem, p.touched(mem), base)
}

// DiffMemory compares the process's memory with base (see
// Process.DiffMemory).
func (i *runtimeInstance) DiffMemory(base *memimage.Base) *memimage.MemoryDiff {
	return i.p.DiffMemory(base)
}

// CompactImage makes the process's compact image (see Process.CompactImage).
func (i *runtimeInstance) CompactImage() ([]byte, error) { return i.p.CompactImage() }

// PageImage makes the process's image (see Process.PageImage).
func (i *runtimeInstance) PageImage() (*memimage.Image, error) { return i.p.PageImage(), nil }

// Close releases the instance.
func (p *Process) Close() error {
	if p.inst != nil {
		p.inst.close()
		p.inst = nil
	}
	p.base.owned.free()
	p.base = snapshot{}
	p.log = nil
	return nil
}
