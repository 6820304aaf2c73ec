package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/memimage"
	"github.com/klauspost/compress/gzip"
)

// CheckpointOptions configures checkpoints. The zero value keeps none.
type CheckpointOptions struct {
	Store   ao.CheckpointStore
	Gateway ao.CheckpointGateway // Arweave checkpoints (nil: none)
	Signer  arweave.Signer       // signs Arweave checkpoints
	// FileDir holds file checkpoints (PROCESS_MEMORY_FILE_CHECKPOINTS_DIR).
	FileDir string
	// EagerFile and EagerArweave enable the checkpoints taken when the
	// accumulated gas or evaluation time of a process crosses a threshold
	// (the reference's DISABLE_PROCESS_FILE_CHECKPOINT_CREATION and
	// DISABLE_PROCESS_CHECKPOINT_CREATION, inverted).
	EagerFile     bool
	EagerArweave  bool
	GasThreshold  float64       // EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD
	TimeThreshold time.Duration // EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD
	// Throttle is the least time between two Arweave checkpoints of a process.
	Throttle time.Duration
	// Ahead writes the file checkpoint of a process parked with a state its
	// last one is behind soon after, in the background, so that a shutdown
	// (CheckpointAll) has little left to write (ahead.go).
	Ahead bool
	// IgnoreLocal skips file and record checkpoints when loading.
	IgnoreLocal bool
	// IgnoreArweaveFor lists processes whose record and Arweave checkpoints
	// are not used; IgnoreTx lists checkpoint ids never to use.
	IgnoreArweaveFor []string
	IgnoreTx         []string
	// TrustedOwners are the owners whose Arweave checkpoints are used (the
	// CU's own address when empty); PreferredOwners, when they have any, win.
	TrustedOwners   []string
	PreferredOwners []string
	// UnitID is the Unit-Identifier tag (a random UUID per boot).
	UnitID string
	// Validation of Arweave checkpoints by replay (the reference's
	// CHECKPONT_VALIDATION_*): with more than Steps+Retries candidates, a
	// window of Steps consecutive checkpoints is replayed from its oldest and
	// accepted when matches/Steps >= Thresh; the window moves back by one up
	// to Retries times. Steps <= 0 turns validation off.
	ValidationSteps   int
	ValidationThresh  float64
	ValidationRetries int

	// crashAt, in tests, stops writeFileCheckpoint after a step (stepWritten,
	// stepRecorded) when it returns true, leaving the files as a crash
	// there would.
	crashAt func(step string) bool
}

func (e *Engine) cp() *CheckpointOptions { return &e.opts.Checkpoints }

// checkpointEvaluation describes p's memory at pos (its SHA256 left for the
// caller).
func (e *Engine) checkpointEvaluation(p *proc, pos position) ao.CheckpointEvaluation {
	return ao.CheckpointEvaluation{
		ProcessID: p.id, ModuleID: p.meta.module.ID, AssignmentID: pos.AssignmentID, HashChain: pos.HashChain,
		Timestamp: pos.Timestamp, Epoch: pos.Epoch, Nonce: pos.Nonce, BlockHeight: pos.BlockHeight,
		Ordinate: pos.Ordinate, Cron: pos.Cron, MessageID: pos.MessageID,
	}
}

func positionOf(ev *ao.CheckpointEvaluation) position {
	return position{Timestamp: ev.Timestamp, Ordinate: ev.Ordinate, Cron: ev.Cron, BlockHeight: ev.BlockHeight,
		Nonce: ev.Nonce, Epoch: ev.Epoch, MessageID: ev.MessageID, AssignmentID: ev.AssignmentID, HashChain: ev.HashChain}
}

// Steps of writing a file checkpoint, for tests that stop the engine
// between two of them as a crash would.
const (
	stepWritten  = "written"  // the new file is on disk, not recorded
	stepRecorded = "recorded" // the record names the new file; the old one is still there
)

// errCrashed is returned when a test's crash point stopped a checkpoint.
var errCrashed = errors.New("stopped by a test crash point")

// writeFileCheckpoint writes p's memory to a new file of FileDir (named by
// process, nonce and hash: see checkpointFileName), fsyncs it and its
// directory, records it, and only then removes the previously recorded file:
// whenever the CU stops, the record names a complete file whose bytes match
// it. Caller holds p.lock.
func (e *Engine) writeFileCheckpoint(ctx context.Context, p *proc) error {
	if p.inst == nil {
		return nil
	}
	mem := p.inst.Memory()
	if mem == nil || p.checkpointed == p.pos {
		return nil
	}
	image := func() ([]byte, error) {
		im, err := pageImage(p, mem)
		if err != nil {
			return nil, err
		}
		return e.enc.Encode(im), nil
	}
	return e.writeCheckpointFile(ctx, p, p.pos, image, int64(len(mem)))
}

// writeDrainedCheckpoint writes a file checkpoint of a drained process from
// its drained file, without bringing it back into memory: the file is the
// drained image itself (a delta with its base's file beside it, see
// idleCheckpointImage). Caller holds p.lock.
func (e *Engine) writeDrainedCheckpoint(ctx context.Context, p *proc) error {
	cp := e.cp()
	if cp.Store == nil || cp.FileDir == "" || p.inst != nil || p.drainFile == "" || p.checkpointed == p.drainPos {
		return nil
	}
	b, err := os.ReadFile(p.drainFile)
	if err != nil {
		return fmt.Errorf("file checkpoint of %s: drained memory: %w", p.id, err)
	}
	if !memimage.IsCompact(b) && !memimage.IsDelta(b) {
		return e.writeFileCheckpointOf(ctx, p, p.drainPos, b)
	}
	size, err := memimage.Size(b)
	if err != nil {
		return fmt.Errorf("file checkpoint of %s: drained memory: %w", p.id, err)
	}
	return e.writeCheckpointFile(ctx, p, p.drainPos, e.idleCheckpointImage(p, b, p.drainBase), size)
}

// writeCachedCheckpoint writes a file checkpoint of a process idle in the
// memory cache from its image, without an instance: the file is the image
// itself (a delta with its base's file beside it, see idleCheckpointImage).
// Caller holds p.lock.
func (e *Engine) writeCachedCheckpoint(ctx context.Context, p *proc) error {
	cp := e.cp()
	if cp.Store == nil || cp.FileDir == "" || p.inst != nil || p.img == nil || p.checkpointed == p.imgPos {
		return nil
	}
	size, err := memimage.Size(p.img)
	if err != nil {
		return fmt.Errorf("file checkpoint of %s: cached memory: %w", p.id, err)
	}
	return e.writeCheckpointFile(ctx, p, p.imgPos, e.idleCheckpointImage(p, p.img, p.imgBase), size)
}

// idleCheckpointImage returns what the file checkpoint of an idle image img
// holds: img itself. A delta is written as it is (4–6× smaller than the
// plain image, and no compression to pay) once its base image has a file of
// its own in the checkpoint directory, named by the base's id
// (base-<id>.dat, a plain compact image, written once and fsynced before
// any checkpoint needs it; sweepFiles removes it at a start when no
// checkpoint left needs it). Should that file fail, the delta is expanded
// to the plain image.
func (e *Engine) idleCheckpointImage(p *proc, img []byte, base *memimage.Base) func() ([]byte, error) {
	return func() ([]byte, error) {
		if !memimage.IsDelta(img) {
			return img, nil
		}
		if err := e.saveBase(base); err != nil {
			e.log.Warn("could not write a base image for a file checkpoint; the checkpoint is written whole", "process", p.id, "err", err)
			return e.enc.Expand(img, base, e.opts.MemoryLimitMax)
		}
		return img, nil
	}
}

// saveBase writes base's file to the checkpoint directory unless it is
// there already.
func (e *Engine) saveBase(base *memimage.Base) error {
	if base == nil {
		return errors.New("a delta image without its base")
	}
	dir := e.cp().FileDir
	path := filepath.Join(dir, baseFileName(base.ID()))
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, e.enc.Encode(base.Image())); err != nil {
		return err
	}
	return syncDir(dir)
}

// loadBase returns the base image with id: one the engine holds, or read
// from its file in dir and checked against its id.
func (e *Engine) loadBase(dir string, id [32]byte) (*memimage.Base, error) {
	if base := e.bases.byID(id); base != nil {
		return base, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, baseFileName(id)))
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	im, err := memimage.Parse(b, e.opts.MemoryLimitMax)
	if err != nil {
		return nil, fmt.Errorf("base image %x: %w", id[:8], err)
	}
	base := memimage.NewBase(im)
	if base.ID() != id {
		return nil, fmt.Errorf("base image %x: its file holds another image", id[:8])
	}
	return base, nil
}

// parseCheckpointFile parses the bytes b of the file checkpoint in dir: a
// delta with its base image (loadBase), any other form as it is.
func (e *Engine) parseCheckpointFile(dir string, b []byte) (*memimage.Image, error) {
	if !memimage.IsDelta(b) {
		return memimage.Parse(b, e.opts.MemoryLimitMax)
	}
	id, err := memimage.DeltaBaseID(b)
	if err != nil {
		return nil, err
	}
	base, err := e.loadBase(dir, id)
	if err != nil {
		return nil, err
	}
	return memimage.ParseWith(b, base, e.opts.MemoryLimitMax)
}

func (e *Engine) writeFileCheckpointOf(ctx context.Context, p *proc, pos position, mem []byte) error {
	cp := e.cp()
	if cp.Store == nil || cp.FileDir == "" || mem == nil || pos.cold || p.meta == nil {
		return nil
	}
	if p.checkpointed == pos {
		return nil // nothing new since the last one
	}
	return e.writeCheckpointFile(ctx, p, pos, func() ([]byte, error) { return e.enc.Encode(memimage.FromMemory(mem)), nil }, int64(len(mem)))
}

// writeCheckpointFile writes a file checkpoint of the memory of memBytes
// bytes whose compact image image() makes. It records the sha256 of the
// file's bytes, not yet the memory's (memoryHashes adds it when the CU is
// idle): a shutdown then writes a thousand changed processes in a second or
// two, not the minute their 110 MB memories take to hash.
func (e *Engine) writeCheckpointFile(ctx context.Context, p *proc, pos position, image func() ([]byte, error), memBytes int64) error {
	cp := e.cp()
	if cp.Store == nil || cp.FileDir == "" || pos.cold || p.meta == nil || p.checkpointed == pos {
		return nil
	}
	start := time.Now()
	e.baseFiles.RLock() // (the base file image() may write stays until this checkpoint names it)
	defer e.baseFiles.RUnlock()
	img, err := image()
	if err != nil {
		return fmt.Errorf("file checkpoint of %s: %w", p.id, err)
	}
	ev := e.checkpointEvaluation(p, pos)
	fileSum := sha256.Sum256(img)
	ev.FileSHA256 = hex.EncodeToString(fileSum[:])
	name := checkpointFileName(p.id, ev.Nonce, ev.FileSHA256)
	if err := os.MkdirAll(cp.FileDir, 0o755); err != nil {
		return fmt.Errorf("file checkpoint of %s: %w", p.id, err)
	}
	oldName := ""
	if old, err := cp.Store.FindFileCheckpoint(ctx, p.id); err == nil {
		oldName = filepath.Base(old.File)
	} else if !errors.Is(err, ao.ErrNotFound) {
		return fmt.Errorf("file checkpoint of %s: %w", p.id, err)
	}
	path := filepath.Join(cp.FileDir, name)
	if err := fsutil.WriteFileAtomic(path, img); err != nil {
		return fmt.Errorf("file checkpoint of %s: %w", p.id, err)
	}
	if err := syncDir(cp.FileDir); err != nil {
		return fmt.Errorf("file checkpoint of %s: sync directory: %w", p.id, err)
	}
	if cp.crashAt != nil && cp.crashAt(stepWritten) {
		return errCrashed
	}
	if err := cp.Store.SaveFileCheckpoint(ctx, &ao.FileCheckpoint{File: name, Evaluation: ev, CachedAt: e.opts.Now().UnixMilli()}); err != nil {
		// The new file is not recorded (unless the store failed after
		// committing): remove it unless the record names it.
		if fc, ferr := cp.Store.FindFileCheckpoint(context.WithoutCancel(ctx), p.id); name != oldName && (ferr != nil || filepath.Base(fc.File) != name) {
			os.Remove(path)
		}
		return fmt.Errorf("file checkpoint of %s: %w", p.id, err)
	}
	p.checkpointed = pos
	p.memoryHashDue.Store(true)
	if cp.crashAt != nil && cp.crashAt(stepRecorded) {
		return errCrashed
	}
	if oldName != "" && oldName != name {
		if err := os.Remove(filepath.Join(cp.FileDir, oldName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.log.Warn("could not remove the previous file checkpoint", "process", p.id, "file", oldName, "err", err)
		}
	}
	e.log.Info("file checkpoint written", "process", p.id, "file", name, "nonce", ev.Nonce, "timestamp", ev.Timestamp,
		"bytes", memBytes, "fileBytes", len(img), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// CheckpointAll writes a file checkpoint of every process in memory (on
// SIGTERM, SIGUSR2 and PROCESS_MEMORY_CACHE_CHECKPOINT_INTERVAL). A process
// in the middle of a long stream writes its checkpoint at its next batch of
// results; the others are written here.
func (e *Engine) CheckpointAll(ctx context.Context) error {
	e.mu.Lock()
	procs := make([]*proc, 0, len(e.procs))
	for _, p := range e.procs {
		procs = append(procs, p)
	}
	e.mu.Unlock()
	return e.checkpointProcs(ctx, procs)
}

// CheckpointProcess writes a file checkpoint of one process now, as
// CheckpointAll does for every process (UNIT_MODE=hbu's POST /snapshot/<pid>).
// A process the engine does not hold is ao.ErrNotFound.
func (e *Engine) CheckpointProcess(ctx context.Context, pid string) error {
	e.mu.Lock()
	p, ok := e.procs[pid]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("checkpoint of %s: %w", pid, ao.ErrNotFound)
	}
	return e.checkpointProcs(ctx, []*proc{p})
}

// checkpointProcs writes a file checkpoint of each of procs.
func (e *Engine) checkpointProcs(ctx context.Context, procs []*proc) error {
	// A long stream is asked to checkpoint at its next batch, and is not
	// waited for.
	for _, p := range procs {
		p.wantCheckpoint.Store(true)
	}
	// Processes are checkpointed in parallel (hashing and compressing are
	// CPU work); once ctx ends the rest are left, with one error saying so.
	var (
		mu      sync.Mutex
		errs    []error
		n, left int
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	one := func(p *proc) {
		select {
		case p.lock <- struct{}{}:
		default:
			if p.running.Load() {
				return // the stream writes it
			}
			if err := p.acquire(ctx); err != nil {
				mu.Lock()
				left++
				mu.Unlock()
				return
			}
		}
		defer p.release()
		p.wantCheckpoint.Store(false)
		write := e.writeFileCheckpoint
		if p.inst == nil && p.img != nil {
			write = e.writeCachedCheckpoint
		} else if p.inst == nil && p.drainFile != "" {
			// A drained process is checkpointed from its file, not brought
			// back into memory.
			write = e.writeDrainedCheckpoint
		}
		before := p.checkpointed
		err := write(ctx, p)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		} else if p.checkpointed != before {
			n++
		}
	}
	// (twice the CPUs: each checkpoint also waits for two fsyncs)
	for range min(2*max(runtime.NumCPU(), 1), len(procs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(procs) {
					return
				}
				if ctx.Err() != nil {
					// Counted only when it had something to write.
					select {
					case procs[i].lock <- struct{}{}:
						behind := procs[i].behindCheckpoint()
						procs[i].release()
						if !behind {
							continue
						}
					default:
					}
					mu.Lock()
					left++
					mu.Unlock()
					continue
				}
				one(procs[i])
			}
		})
	}
	wg.Wait()
	if left > 0 {
		errs = append(errs, fmt.Errorf("%d processes not checkpointed: %w", left, context.Cause(ctx)))
	}
	e.log.Info("checkpointed processes to file", "count", n)
	return errors.Join(errs...)
}

// behindCheckpoint reports whether p holds a state its file checkpoint is
// behind. Caller holds p.lock.
func (p *proc) behindCheckpoint() bool {
	switch {
	case p.inst != nil:
		return p.inst.Memory() != nil && !p.pos.cold && p.pos != p.checkpointed
	case p.img != nil:
		return !p.imgPos.cold && p.imgPos != p.checkpointed
	case p.drainFile != "":
		return !p.drainPos.cold && p.drainPos != p.checkpointed
	}
	return false
}

// maybeEagerCheckpoint takes the eager checkpoints when the process's
// accumulated gas or evaluation time crosses its threshold. Caller holds
// p.lock; the evaluations up to the position are stored.
func (e *Engine) maybeEagerCheckpoint(ctx context.Context, p *proc) {
	cp := e.cp()
	if !cp.EagerFile && !cp.EagerArweave {
		return
	}
	gasHit := cp.GasThreshold > 0 && p.gasSince >= cp.GasThreshold
	timeHit := cp.TimeThreshold > 0 && p.evalSince >= cp.TimeThreshold
	if !gasHit && !timeHit {
		return
	}
	p.gasSince, p.evalSince = 0, 0
	if cp.EagerFile {
		if err := e.writeFileCheckpoint(ctx, p); err != nil {
			e.log.Error("eager file checkpoint failed", "process", p.id, "err", err)
		}
	}
	if cp.EagerArweave {
		if err := e.uploadCheckpoint(ctx, p); err != nil {
			e.log.Error("Arweave checkpoint failed", "process", p.id, "err", err)
		}
	}
}

// checkpointTags are the reference's tags of an Arweave checkpoint, in order.
func checkpointTags(ev *ao.CheckpointEvaluation, unitID string) []arweave.Tag {
	nonce := strconv.FormatInt(ev.Nonce, 10)
	if ev.Cron != "" {
		nonce = ev.Ordinate // the reference's `nonce || ordinate`: crons carry no nonce
	}
	tags := []arweave.Tag{
		{Name: "Data-Protocol", Value: "ao"}, {Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Checkpoint"},
		{Name: "Module", Value: ev.ModuleID}, {Name: "Process", Value: ev.ProcessID}, {Name: "Nonce", Value: nonce},
		{Name: "Timestamp", Value: strconv.FormatInt(ev.Timestamp, 10)}, {Name: "Block-Height", Value: strconv.FormatInt(ev.BlockHeight, 10)},
		{Name: "Content-Type", Value: "application/octet-stream"}, {Name: "SHA-256", Value: ev.SHA256},
		{Name: "Content-Encoding", Value: "gzip"}, {Name: "Unit-Identifier", Value: unitID},
		{Name: "Ordinate", Value: ev.Ordinate},
	}
	if ev.AssignmentID != "" {
		tags = append(tags, arweave.Tag{Name: "Assignment", Value: ev.AssignmentID})
	}
	if ev.HashChain != "" {
		tags = append(tags, arweave.Tag{Name: "Hash-Chain", Value: ev.HashChain})
	}
	if ev.Epoch != 0 {
		tags = append(tags, arweave.Tag{Name: "Epoch", Value: strconv.FormatInt(ev.Epoch, 10)})
	}
	if ev.Cron != "" {
		tags = append(tags, arweave.Tag{Name: "Cron-Interval", Value: ev.Cron})
	}
	return tags
}

// uploadCheckpoint uploads p's memory as an Arweave checkpoint (gzip level
// 9, signed by the CU) at most once per Throttle, and records it.
func (e *Engine) uploadCheckpoint(ctx context.Context, p *proc) error {
	cp := e.cp()
	if cp.Gateway == nil || cp.Signer == nil || cp.Store == nil || p.inst == nil || p.pos.cold {
		return nil
	}
	if !p.uploadedAt.IsZero() && e.opts.Now().Sub(p.uploadedAt) < cp.Throttle {
		return nil
	}
	mem := p.inst.Memory()
	ev := e.checkpointEvaluation(p, p.pos)
	sum := sha256.Sum256(mem)
	ev.SHA256 = hex.EncodeToString(sum[:])
	ev.Encoding = "gzip"
	start := time.Now()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(mem); err != nil {
		return fmt.Errorf("gzip checkpoint: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip checkpoint: %w", err)
	}
	item, err := arweave.NewDataItem(buf.Bytes(), "", "", checkpointTags(&ev, cp.UnitID))
	if err != nil {
		return err
	}
	if err := item.Sign(cp.Signer); err != nil {
		return fmt.Errorf("sign checkpoint: %w", err)
	}
	raw, err := item.Bytes()
	if err != nil {
		return err
	}
	id, err := cp.Gateway.Upload(ctx, raw)
	if err != nil {
		return fmt.Errorf("upload checkpoint: %w", err)
	}
	if err := cp.Store.SaveCheckpoint(ctx, &ao.Checkpoint{TxID: id, Encoding: "gzip", Evaluation: ev}); err != nil {
		return err
	}
	p.uploadedAt = e.opts.Now()
	e.log.Info("Arweave checkpoint uploaded", "process", p.id, "tx", id, "nonce", ev.Nonce, "bytes", len(mem),
		"gzipped", buf.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// startingPoint finds the latest checkpoint of p, in the reference's order
// (file, record, Arweave), verified: a checkpoint whose memory does not match
// its SHA-256 is refused with a log line and the next source is tried.
// It returns nil memory for a cold start.
func (e *Engine) startingPoint(ctx context.Context, p *proc, meta *procMeta) ([]byte, *position, string) {
	cp := e.cp()
	if cp.Store == nil {
		return nil, nil, "cold_start"
	}
	if !cp.IgnoreLocal {
		if fc, err := cp.Store.FindFileCheckpoint(ctx, p.id); err == nil {
			mem, err := e.readFileCheckpoint(filepath.Join(cp.FileDir, filepath.Base(fc.File)), &fc.Evaluation)
			if err == nil {
				pos := positionOf(&fc.Evaluation)
				p.memoryHashDue.Store(fc.Evaluation.SHA256 == "")
				return mem, &pos, "file"
			}
			e.log.Warn("file checkpoint refused", "process", p.id, "file", fc.File, "err", err)
		} else if !errors.Is(err, ao.ErrNotFound) {
			e.log.Warn("file checkpoint lookup failed", "process", p.id, "err", err)
		}
	}
	ignoreArweave := slices.Contains(cp.IgnoreArweaveFor, p.id)
	if !cp.IgnoreLocal && !ignoreArweave {
		recs, err := cp.Store.Checkpoints(ctx, p.id, e.opts.Now().UnixMilli(), 5)
		if err != nil {
			e.log.Warn("checkpoint records lookup failed", "process", p.id, "err", err)
		}
		for _, r := range recs {
			if slices.Contains(cp.IgnoreTx, r.TxID) {
				continue
			}
			mem, err := e.fetchCheckpoint(ctx, r.TxID, r.Encoding, r.Evaluation.SHA256)
			if err == nil {
				pos := positionOf(&r.Evaluation)
				return mem, &pos, "record"
			}
			e.log.Warn("checkpoint record refused", "process", p.id, "tx", r.TxID, "err", err)
		}
	}
	if cp.Gateway != nil && !ignoreArweave {
		if mem, pos := e.arweaveCheckpoint(ctx, p, meta); mem != nil {
			return mem, pos, "arweave"
		}
	}
	return nil, nil, "cold_start"
}

// readFileCheckpoint reads a file checkpoint's memory and checks it: the
// file's bytes against FileSHA256 when it is recorded (the image decodes to
// one memory), else the memory against SHA256 (the reference's raw files,
// aocu's files before FileSHA256).
func (e *Engine) readFileCheckpoint(path string, ev *ao.CheckpointEvaluation) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if ev.FileSHA256 != "" {
		if err := checkFileHash(b, ev.FileSHA256); err != nil {
			return nil, err
		}
		if memimage.IsDelta(b) {
			im, err := e.parseCheckpointFile(filepath.Dir(path), b)
			if err != nil {
				return nil, err
			}
			return im.Bytes(), nil
		}
		return memimage.Decode(b, e.opts.MemoryLimitMax)
	}
	mem, err := memimage.Decode(b, e.opts.MemoryLimitMax)
	if err != nil {
		return nil, err
	}
	if !verifyMemory(mem, ev.SHA256) {
		return nil, errors.New("sha256 mismatch")
	}
	return mem, nil
}

// checkFileHash checks a file checkpoint's bytes against its FileSHA256.
func checkFileHash(b []byte, want string) error {
	sum := sha256.Sum256(b)
	if want == "" || hex.EncodeToString(sum[:]) != want {
		return errors.New("the file does not match the sha256 recorded for it")
	}
	return nil
}

func verifyMemory(mem []byte, want string) bool {
	if want == "" {
		return false // never trusted without a hash to check
	}
	sum := sha256.Sum256(mem)
	return hex.EncodeToString(sum[:]) == want
}

// fetchCheckpoint downloads a checkpoint's data, gunzips it and checks it.
func (e *Engine) fetchCheckpoint(ctx context.Context, txID, encoding, sha string) ([]byte, error) {
	if encoding != "" && encoding != "gzip" {
		return nil, fmt.Errorf("unsupported Content-Encoding %q", encoding)
	}
	data, err := e.opts.Gateway.Raw(ctx, txID)
	if err != nil {
		return nil, err
	}
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, e.opts.MemoryLimitMax+1)); err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
		if int64(len(data)) > e.opts.MemoryLimitMax {
			return nil, fmt.Errorf("memory larger than PROCESS_WASM_MEMORY_MAX_LIMIT")
		}
	}
	if !verifyMemory(data, sha) {
		return nil, fmt.Errorf("SHA-256 mismatch (or no SHA-256 tag)")
	}
	return data, nil
}

// arweaveCheckpoint queries the trusted (or preferred) owners' checkpoints
// and takes the one with the highest nonce whose memory checks out.
func (e *Engine) arweaveCheckpoint(ctx context.Context, p *proc, meta *procMeta) ([]byte, *position) {
	cp := e.cp()
	owners := cp.TrustedOwners
	if len(owners) == 0 && cp.Signer != nil {
		owners = []string{signerAddress(cp.Signer)}
	}
	if len(owners) == 0 {
		return nil, nil
	}
	txs, err := cp.Gateway.FindCheckpoints(ctx, p.id, owners, 50)
	if err != nil {
		e.log.Warn("Arweave checkpoint query failed", "process", p.id, "err", err)
		return nil, nil
	}
	if len(cp.PreferredOwners) > 0 {
		if pref, err := cp.Gateway.FindCheckpoints(ctx, p.id, cp.PreferredOwners, 50); err == nil && len(pref) > 0 {
			txs = pref
		}
	}
	type cand struct {
		tx    ao.CheckpointTx
		nonce int64
	}
	var cands []cand
	for _, tx := range txs {
		if slices.Contains(cp.IgnoreTx, tx.ID) {
			continue
		}
		if m, _ := ao.TagValue(tx.Tags, "Module"); m != meta.module.ID {
			continue
		}
		v, _ := ao.TagValue(tx.Tags, "Nonce")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		cands = append(cands, cand{tx, n})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].nonce > cands[j].nonce })
	if cp.ValidationSteps > 0 && len(cands) > cp.ValidationSteps+cp.ValidationRetries {
		newestFirst := make([]ao.CheckpointTx, len(cands))
		for i, c := range cands {
			newestFirst[i] = c.tx
		}
		return e.validatedCheckpoint(ctx, p, meta, newestFirst)
	}
	for _, c := range cands {
		tag := func(n string) string { v, _ := ao.TagValue(c.tx.Tags, n); return v }
		enc := tag("Content-Encoding")
		mem, err := e.fetchCheckpoint(ctx, c.tx.ID, enc, tag("SHA-256"))
		if err != nil {
			e.log.Warn("Arweave checkpoint refused", "process", p.id, "tx", c.tx.ID, "err", err)
			continue
		}
		pos := checkpointPosition(c.tx.Tags)
		return mem, pos
	}
	return nil, nil
}

// checkpointPosition is where an Arweave checkpoint stands, from its tags.
func checkpointPosition(tags []ao.Tag) *position {
	tag := func(n string) string { v, _ := ao.TagValue(tags, n); return v }
	ts, _ := strconv.ParseInt(tag("Timestamp"), 10, 64)
	bh, _ := strconv.ParseInt(tag("Block-Height"), 10, 64)
	ep, _ := strconv.ParseInt(tag("Epoch"), 10, 64)
	n, _ := strconv.ParseInt(tag("Nonce"), 10, 64)
	pos := &position{Timestamp: ts, Ordinate: tag("Nonce"), Cron: tag("Cron-Interval"), BlockHeight: bh,
		Nonce: n, Epoch: ep, AssignmentID: tag("Assignment"), HashChain: tag("Hash-Chain")}
	if o := tag("Ordinate"); o != "" {
		pos.Ordinate = o
	}
	return pos
}

type addressed interface{ Address() string }

func signerAddress(s arweave.Signer) string {
	if a, ok := s.(addressed); ok {
		return a.Address()
	}
	return ""
}
