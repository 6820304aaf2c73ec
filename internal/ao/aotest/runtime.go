package aotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/aocu/aocu/internal/memimage"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// Handler is a scripted module: from the memory before a message and the
// message, the memory after it and the result. It must return when ctx ends
// (with ctx.Err()).
type Handler func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error)

// Runtime is a fake wasm runtime (ao.Runtime) whose modules run a Handler.
// Like the real loader it refuses bytes that are not wasm, keeps the memory of
// a failed result as it was, and starts a fresh JavaScript state at the first
// message of every stream.
type Runtime struct {
	handler Handler

	mu          sync.Mutex
	compiled    int
	instances   int
	streams     int
	handled     int
	dryRuns     int
	images      int
	forks       int
	imageForks  int
	recycled    int
	reused      int
	memoryDiffs int
}

var _ ao.Runtime = (*Runtime)(nil)

// NewRuntime makes a runtime running h (Script if nil).
func NewRuntime(h Handler) *Runtime {
	if h == nil {
		h = Script
	}
	return &Runtime{handler: h}
}

// Counts are what the runtime did.
type Counts struct {
	Compiled, Instances, Streams, Handled, DryRuns int
	// Images and Forks count the memory images captured and the forks made
	// for dry-runs.
	Images, Forks int
	// ImageForks counts the memory images loaded into forks for dry-runs on
	// idle processes (ao.ImageForker).
	ImageForks int
	// Recycled counts the instances made forks (ao.Recycler), Reused the
	// instances (of Instances) built on one (ao.InstanceOptions.Reuse).
	Recycled, Reused int
	// MemoryDiffs counts the memories compared with a base image without
	// a page image (DiffMemory).
	MemoryDiffs int
}

// Counts returns the runtime's counters.
func (r *Runtime) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Counts{r.compiled, r.instances, r.streams, r.handled, r.dryRuns, r.images, r.forks, r.imageForks, r.recycled, r.reused, r.memoryDiffs}
}

// Compile accepts any bytes with the wasm header.
func (r *Runtime) Compile(ctx context.Context, wasm []byte, format string) (ao.CompiledModule, error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, fmt.Errorf("%w: not a WebAssembly binary (missing \\0asm header)", ao.ErrInvalidModule)
	}
	r.mu.Lock()
	r.compiled++
	r.mu.Unlock()
	return &module{r: r}, nil
}

type module struct{ r *Runtime }

func (m *module) Instantiate(ctx context.Context, o ao.InstanceOptions) (ao.Instance, error) {
	reused := false
	if f, ok := o.Reuse.(*fork); ok && !f.closed && o.Memory != nil {
		reused = true // (the loader writes the image over the fork's memory; here it is a new slice all the same)
	}
	if o.Reuse != nil {
		o.Reuse.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mem, err := memimage.DecodeWith(o.Memory, o.Base, 0) // a raw memory, a compact image or a delta, as the loader takes
	if err != nil {
		return nil, err
	}
	m.r.mu.Lock()
	m.r.instances++
	if reused {
		m.r.reused++
	}
	m.r.mu.Unlock()
	return &instance{r: m.r, mem: slices.Clone(mem)}, nil
}

type instance struct {
	r      *Runtime
	mem    []byte
	stream uint64
	closed bool
}

func (i *instance) run(ctx context.Context, msg *ao.Message, env *ao.Env, limit time.Duration) ([]byte, *ao.Result, error) {
	if i.closed {
		return nil, nil, errors.New("aotest: instance closed")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if limit > 0 {
		runCtx, cancel = context.WithTimeout(ctx, limit)
	}
	defer cancel()
	mem, res, err := i.r.handler(runCtx, slices.Clone(i.mem), msg, env)
	if err != nil && ctx.Err() == nil && runCtx.Err() != nil {
		return nil, nil, fmt.Errorf("%w after %v", ao.ErrEvalTimeout, limit)
	}
	if err != nil {
		return nil, nil, err
	}
	return mem, res, nil
}

func (i *instance) Handle(ctx context.Context, stream uint64, msg *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	i.r.mu.Lock()
	if stream != i.stream {
		i.r.streams++
		i.stream = stream
	}
	i.r.handled++
	i.r.mu.Unlock()
	mem, res, err := i.run(ctx, msg, env, limit)
	if err != nil {
		return nil, err
	}
	if !res.Failed() {
		i.mem = mem
	}
	return res, nil
}

func (i *instance) DryRun(ctx context.Context, msg *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	i.r.mu.Lock()
	i.r.dryRuns++
	i.r.mu.Unlock()
	i.stream = 0
	_, res, err := i.run(ctx, msg, env, limit)
	return res, err
}

func (i *instance) Memory() []byte { return i.mem }

// DiffMemory compares the memory with base without making its page image,
// as the loader's instances do (the engine parks a process still close to
// the base it was restored against this way).
func (i *instance) DiffMemory(base *memimage.Base) *memimage.MemoryDiff {
	i.r.mu.Lock()
	i.r.memoryDiffs++
	i.r.mu.Unlock()
	return memimage.DiffMemory(i.mem, nil, base)
}

func (i *instance) Close() error {
	i.closed = true
	i.mem = nil
	return nil
}

// Script is the default module. Its memory is a log of the messages it
// accepted, one line each ("<Action>:<Data>\n"); Output is
// {"data":"<lines>:<Data>"}. Actions with effects:
//
//	Error   an Error result (memory unchanged)
//	Trap    a rejected handle (memory unchanged)
//	Loop    runs until stopped (a runaway evaluation)
//	Grow    appends Data bytes (a decimal count) to the memory (a memory bomb)
//	Send    one outbox message to the Target tag with the Data
//	Count   Output only: the number of lines, memory unchanged
func Script(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
	action, _ := ao.TagValue(msg.Tags, "Action")
	data := ""
	if msg.Data != nil {
		data, _ = jsjson.Unquote(msg.Data)
	}
	out := func(s string) []byte {
		var o jsjson.Object
		o.String("data", s)
		return o.Bytes()
	}
	res := &ao.Result{Messages: []byte("[]"), Spawns: []byte("[]"), Assignments: []byte("[]"), GasUsed: 1}
	lines := bytes.Count(mem, []byte("\n"))
	switch action {
	case "Error":
		res.Output, res.Error = out("failing"), jsjson.AppendString(nil, "handler error: "+data)
		return mem, res, nil
	case "Trap":
		return mem, &ao.Result{Error: jsjson.AppendString(nil, "RuntimeError: unreachable"), Rejected: true}, nil
	case "Loop":
		<-ctx.Done()
		return nil, nil, ctx.Err()
	case "Grow":
		n, _ := strconv.Atoi(data)
		mem = append(mem, make([]byte, n)...)
	case "Send":
		target, _ := ao.TagValue(msg.Tags, "Target")
		var m jsjson.Object
		m.String("Target", target)
		m.String("Data", data)
		var a jsjson.Array
		a.Raw(m.Bytes())
		res.Messages = a.Bytes()
	case "Count":
		res.Output = out(strconv.Itoa(lines))
		return mem, res, nil
	}
	if msg.ReadOnly {
		res.Output = out(fmt.Sprintf("%d:%s", lines, data))
		return mem, res, nil
	}
	mem = append(mem, action+":"+data+"\n"...)
	res.Output = out(fmt.Sprintf("%d:%s", lines+1, data))
	return mem, res, nil
}
