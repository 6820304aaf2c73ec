package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/cron"
	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/schedule"
)

// procMeta is what a process needs besides its memory: its process and module
// records, the compiled module, the env JSON, its crons and its SU.
type procMeta struct {
	process      *ao.Process
	processOwner string
	module       *ao.Module
	moduleOwner  string
	suURL        string
	mod          ao.CompiledModule
	env          *ao.Env
	crons        *cron.Schedule
	memoryLimit  int64
	computeLimit int64
}

// loadMeta loads (once per process) the process and module and compiles the
// module. Caller holds p.lock.
func (e *Engine) loadMeta(ctx context.Context, p *proc) (*procMeta, error) {
	if p.meta != nil {
		return p.meta, nil
	}
	proc, suURL, err := e.loadProcessRecord(ctx, p.id)
	if err != nil {
		return nil, err
	}
	m := &procMeta{process: proc, processOwner: schedule.AddressFrom(proc.Owner), suURL: suURL}
	if len(e.opts.AllowOwners) > 0 && !slices.Contains(e.opts.AllowOwners, m.processOwner) {
		return nil, ao.Errorf(403, "Access denied for process owner %s", m.processOwner)
	}
	moduleID, _ := ao.TagValue(proc.Tags, "Module")
	mod, err := e.loadModuleRecord(ctx, moduleID)
	if err != nil {
		return nil, err
	}
	m.module, m.moduleOwner = mod, schedule.AddressFrom(mod.Owner)
	format, err := e.checkModule(proc, mod, m)
	if err != nil {
		return nil, err
	}
	crons, err := cron.Parse(proc.Tags)
	if err != nil {
		return nil, ao.WithStatus(422, fmt.Errorf("process %s: %w", proc.ID, err))
	}
	m.crons = cron.NewSchedule(crons, proc.Block)
	m.mod, err = e.modules.get(ctx, mod.ID, format)
	if err != nil {
		return nil, err
	}
	m.env = schedule.NewEnv(proc, m.processOwner, mod, m.moduleOwner)
	p.meta = m
	return m, nil
}

// loadProcessRecord returns the process (DB first, else the SU, verified and
// saved) and the URL of its SU.
func (e *Engine) loadProcessRecord(ctx context.Context, pid string) (*ao.Process, string, error) {
	proc, ok := e.records.get(pid)
	var err error
	if !ok {
		proc, err = e.opts.Store.FindProcess(ctx, pid)
		if err == nil {
			e.records.put(pid, proc)
		}
	}
	if err == nil {
		hint, _ := ao.TagValue(proc.Tags, "Scheduler")
		su, err := e.opts.Gateway.Locate(ctx, pid, hint)
		if err != nil {
			return nil, "", fmt.Errorf("locate the scheduler of process %s: %w", pid, err)
		}
		return proc, su, nil
	}
	if !isNotFound(err) {
		return nil, "", fmt.Errorf("load process %s: %w", pid, err)
	}
	su, err := e.opts.Gateway.Locate(ctx, pid, "")
	if err != nil {
		return nil, "", fmt.Errorf("locate the scheduler of process %s: %w", pid, err)
	}
	sp, err := e.opts.Scheduler.Process(ctx, su, pid)
	if err != nil {
		return nil, "", err
	}
	proc = &sp.Process
	if err := verifyProcess(proc); err != nil {
		return nil, "", err
	}
	if err := e.opts.Store.SaveProcess(ctx, proc); err != nil {
		return nil, "", fmt.Errorf("save process %s: %w", pid, err)
	}
	e.records.put(pid, proc)
	return proc, su, nil
}

func isNotFound(err error) bool { return errors.Is(err, ao.ErrNotFound) }

// verifyProcess is the reference's check of a process message's tags.
func verifyProcess(p *ao.Process) error {
	has := func(name, want string) bool {
		for _, t := range p.Tags {
			if t.Name == name && (t.Value == want || strings.Contains(t.Value, want)) {
				return true
			}
		}
		return false
	}
	switch {
	case !has("Data-Protocol", "ao"):
		return ao.Errorf(400, "Tag 'Data-Protocol': value 'ao' was not found on process")
	case !has("Type", "Process"):
		return ao.Errorf(400, "Tag 'Type': value 'Process' was not found on process")
	}
	if _, ok := ao.TagValue(p.Tags, "Module"); !ok {
		return ao.Errorf(400, "Tag 'Module': was not found on process")
	}
	return nil
}

func (e *Engine) loadModuleRecord(ctx context.Context, id string) (*ao.Module, error) {
	m, err := e.opts.Store.FindModule(ctx, id)
	if err == nil {
		return m, nil
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("load module %s: %w", id, err)
	}
	meta, err := e.opts.Gateway.TransactionMeta(ctx, id, false, false, false)
	if err != nil {
		return nil, fmt.Errorf("load module %s: %w", id, err)
	}
	m = &ao.Module{ID: meta.ID, Owner: meta.Owner, Tags: meta.Tags}
	if err := e.opts.Store.SaveModule(ctx, m); err != nil {
		return nil, fmt.Errorf("save module %s: %w", id, err)
	}
	return m, nil
}

// checkModule applies the reference's module checks, in its order, and
// returns the format.
func (e *Engine) checkModule(p *ao.Process, m *ao.Module, meta *procMeta) (string, error) {
	tag := func(name string) (string, bool) { return ao.TagValue(m.Tags, name) }
	if v, ok := tag("Input-Encoding"); !ok || v == "" {
		return "", ao.Errorf(422, "Input-Encoding for module %q is not supported", m.ID)
	}
	if v, ok := tag("Output-Encoding"); !ok || v == "" {
		return "", ao.Errorf(422, "Output-Encoding for module %q is not supported", m.ID)
	}
	format, _ := tag("Module-Format")
	format = strings.TrimSpace(format)
	if !slices.Contains(e.opts.SupportedFormats, format) {
		return "", ao.Errorf(422, "Module-Format for module %q is not supported", m.ID)
	}
	limit := func(name string) (string, bool) {
		if v, ok := ao.TagValue(p.Tags, name); ok {
			return v, true
		}
		return tag(name)
	}
	mem, ok := limit("Memory-Limit")
	memBytes, valid := parseBytesJS(strings.Replace(mem, "-", "", 1))
	if !ok || !valid || memBytes > e.opts.MemoryLimitMax {
		return "", ao.Errorf(413, "Memory-Limit for process %q exceeds supported limit", p.ID)
	}
	comp, ok := limit("Compute-Limit")
	compute, valid := schedule.ParseIntJS(comp)
	if !ok || !valid || compute < 0 || compute > e.opts.ComputeLimitMax {
		return "", ao.Errorf(413, "Compute-Limit for process %q exceeds supported limit", p.ID)
	}
	for _, t := range m.Tags {
		if t.Name == "Extension" && !slices.Contains(e.opts.SupportedExtensions, t.Value) {
			return "", ao.Errorf(422, "Module Extensions for module %q are not supported", m.ID)
		}
	}
	meta.memoryLimit, meta.computeLimit = memBytes, compute
	return format, nil
}

var bytesRE = regexp.MustCompile(`(?i)^((-|\+)?(\d+(?:\.\d+)?)) *(kb|mb|gb|tb|pb)$`)

// parseBytesJS is the npm bytes package's parse (1024-based); ok is false
// where it returns null.
func parseBytesJS(s string) (int64, bool) {
	units := map[string]float64{"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}
	var f float64
	unit := "b"
	if m := bytesRE.FindStringSubmatch(s); m != nil {
		f, _ = strconv.ParseFloat(m[1], 64)
		unit = strings.ToLower(m[4])
	} else {
		n, ok := schedule.ParseIntJS(s)
		if !ok {
			return 0, false
		}
		f = float64(n)
	}
	v := math.Floor(units[unit] * f)
	if math.IsNaN(v) || v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// moduleCache holds compiled modules (WASM_MODULE_CACHE_MAX_SIZE entries);
// a module compiles once even when many processes ask at the same time.
type moduleCache struct {
	e   *Engine
	max int
	mu  sync.Mutex
	m   map[string]*moduleEntry
	seq int64
}

type moduleEntry struct {
	ready chan struct{}
	mod   ao.CompiledModule
	err   error
	used  int64
}

func newModuleCache(e *Engine, max int) *moduleCache {
	return &moduleCache{e: e, max: max, m: map[string]*moduleEntry{}}
}

func (c *moduleCache) get(ctx context.Context, id, format string) (ao.CompiledModule, error) {
	c.mu.Lock()
	c.seq++
	ent := c.m[id]
	if ent == nil {
		ent = &moduleEntry{ready: make(chan struct{})}
		c.m[id] = ent
		c.mu.Unlock()
		ent.mod, ent.err = c.e.compile(ctx, id, format)
		close(ent.ready)
		c.mu.Lock()
		if ent.err != nil {
			delete(c.m, id)
		}
		c.trim()
	}
	ent.used = c.seq
	c.mu.Unlock()
	select {
	case <-ent.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ent.mod, ent.err
}

// trim forgets the least recently used compiled modules beyond the bound.
// Processes that hold one keep using it. Caller holds c.mu.
func (c *moduleCache) trim() {
	for len(c.m) > c.max {
		var oldest string
		var used int64 = math.MaxInt64
		for id, ent := range c.m {
			select {
			case <-ent.ready:
			default:
				continue
			}
			if ent.used < used {
				oldest, used = id, ent.used
			}
		}
		if oldest == "" {
			return
		}
		delete(c.m, oldest)
	}
}

func (c *moduleCache) close() {
	c.mu.Lock()
	c.m = map[string]*moduleEntry{}
	c.mu.Unlock()
}

// compile loads the module's binary and compiles it (the runtime keeps
// compiled code on disk). A cached binary is used only when the store's
// record of it (sha256 and size, written when it first compiled) matches;
// otherwise it is discarded and fetched again from the gateway. A binary is
// cached only after it compiled, atomically, in a directory of the CU's own.
func (e *Engine) compile(ctx context.Context, id, format string) (ao.CompiledModule, error) {
	dir := filepath.Join(e.opts.WasmBinaryDir, moduleBinaryDir)
	file := filepath.Join(dir, id+".wasm")
	wasm, fromCache := e.cachedBinary(ctx, id, file)
	if !fromCache {
		var err error
		if wasm, err = e.opts.Gateway.Raw(ctx, id); err != nil {
			return nil, fmt.Errorf("load the binary of module %s: %w", id, err)
		}
	}
	start := e.opts.Now()
	mod, err := e.opts.Runtime.Compile(ctx, wasm, format)
	if err != nil {
		return nil, ao.WithStatus(422, fmt.Errorf("module %s: %w", id, err))
	}
	if !fromCache {
		e.cacheBinary(ctx, id, file, wasm)
	}
	e.log.Info("module ready", "module", id, "format", format, "fromCache", fromCache, "took", e.opts.Now().Sub(start))
	return mod, nil
}

// moduleBinaryDir is the CU's own directory (0700) under
// WASM_BINARY_FILE_DIRECTORY for module binaries.
const moduleBinaryDir = "aocu-modules"

// cachedBinary returns the cached binary of module id when its record
// vouches for it; a mismatching file is removed.
func (e *Engine) cachedBinary(ctx context.Context, id, file string) ([]byte, bool) {
	bs, ok := e.opts.Store.(ao.ModuleBinaryStore)
	if !ok {
		return nil, false
	}
	rec, err := bs.FindModuleBinary(ctx, id)
	if err != nil {
		return nil, false
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(wasm)
	if int64(len(wasm)) != rec.Size || hex.EncodeToString(sum[:]) != rec.SHA256 {
		e.log.Warn("cached module binary does not match its record; fetching it again", "module", id, "file", file,
			"size", len(wasm), "wantSize", rec.Size)
		_ = os.Remove(file)
		return nil, false
	}
	return wasm, true
}

// cacheBinary writes a binary that compiled and records its hash.
func (e *Engine) cacheBinary(ctx context.Context, id, file string, wasm []byte) {
	bs, ok := e.opts.Store.(ao.ModuleBinaryStore)
	if !ok {
		return
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		e.log.Warn("could not cache a module binary", "module", id, "err", err)
		return
	}
	if err := fsutil.WriteFileAtomic(file, wasm); err != nil {
		e.log.Warn("could not cache a module binary", "module", id, "err", err)
		return
	}
	sum := sha256.Sum256(wasm)
	if err := bs.SaveModuleBinary(ctx, &ao.ModuleBinary{ModuleID: id, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(wasm))}); err != nil {
		e.log.Warn("could not record a module binary", "module", id, "err", err)
	}
}

// processRecords caches process records (immutable once stored) so that a
// /result does not read the store for them each time.
type processRecords struct {
	mu sync.Mutex
	m  map[string]*ao.Process
}

// maxProcessRecords bounds the cache; past it, it starts again empty.
const maxProcessRecords = 10000

func (c *processRecords) get(pid string) (*ao.Process, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[pid]
	return p, ok
}

func (c *processRecords) put(pid string, p *ao.Process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxProcessRecords {
		c.m = map[string]*ao.Process{}
	}
	c.m[pid] = p
}
