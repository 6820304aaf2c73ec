package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/loader/wire"
	"github.com/aocu/aocu/internal/weavedrive"
)

// Runtime is the loader behind the engine's port (ao.Runtime): typed messages
// and env in, the reference's JSON encoding and fresh-stream semantics inside.
type Runtime struct {
	eng   *Engine
	drive weavedrive.Drive
	log   *slog.Logger
}

var _ ao.Runtime = (*Runtime)(nil)

// NewRuntime serves ao.Runtime with eng. drive serves WeaveDrive to every
// process (nil: none).
func NewRuntime(eng *Engine, drive weavedrive.Drive, log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.Default()
	}
	return &Runtime{eng: eng, drive: drive, log: log}
}

// Compile compiles a module (the compiled code is cached on disk by the Engine).
func (r *Runtime) Compile(ctx context.Context, wasm []byte, format string) (ao.CompiledModule, error) {
	mod, stats, err := r.eng.Compile(ctx, wasm, Format(format))
	if err != nil {
		if errors.Is(err, ErrInvalidModule) || errors.Is(err, ErrUnknownFormat) {
			return nil, kindError{ao.ErrInvalidModule, err}
		}
		return nil, err
	}
	if stats.CacheErr != nil {
		r.log.Warn("could not cache a compiled module", "sha256", mod.SHA256(), "err", stats.CacheErr)
	}
	r.log.Debug("module compiled", "sha256", mod.SHA256(), "format", format, "fromCache", stats.FromCache, "took", stats.Duration, "tier", stats.Tier)
	if r.eng.cfg.Tier != TierCranelift && r.eng.cfg.Tier != "" {
		if stats.TierReason != "" {
			r.log.Info("module tier", "sha256", mod.SHA256(), "format", format, "tier", stats.Tier, "why", stats.TierReason)
		} else {
			r.log.Info("module tier", "sha256", mod.SHA256(), "format", format, "tier", stats.Tier)
		}
	}
	return &compiledModule{r: r, mod: mod}, nil
}

type compiledModule struct {
	r   *Runtime
	mod *Module
}

func (c *compiledModule) Instantiate(ctx context.Context, o ao.InstanceOptions) (ao.Instance, error) {
	p, err := c.mod.NewProcess(ctx, ProcessOptions{Drive: c.r.drive, Memory: o.Memory, Base: o.Base, GasLimit: o.GasLimit, Reuse: o.Reuse})
	if err != nil {
		return nil, err
	}
	return &runtimeInstance{p: p}, nil
}

// runtimeInstance adapts a Process to ao.Instance.
type runtimeInstance struct {
	p      *Process
	stream uint64 // the stream of the last message (0: none yet, or after a dry-run)
	env    *ao.Env
	envRaw []byte
	msgBuf []byte
}

func (i *runtimeInstance) envJSON(env *ao.Env) []byte {
	if env != i.env || i.envRaw == nil {
		i.env, i.envRaw = env, wire.EncodeEnv(env)
	}
	return i.envRaw
}

func (i *runtimeInstance) Handle(ctx context.Context, stream uint64, msg *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	if stream != i.stream {
		i.p.BeginStream()
		i.stream = stream
	}
	i.msgBuf = wire.AppendMessage(i.msgBuf[:0], msg)
	lctx, cancel := withLimit(ctx, limit)
	defer cancel()
	res, err := i.p.Handle(lctx, i.msgBuf, i.envJSON(env))
	return toAO(res), classifyLimit(ctx, err)
}

func (i *runtimeInstance) DryRun(ctx context.Context, msg *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	i.p.BeginStream()
	i.stream = 0 // the next scheduled message starts a stream again
	i.msgBuf = wire.AppendMessage(i.msgBuf[:0], msg)
	i.p.PrepareReadOnly() // not counted against the limit
	lctx, cancel := withLimit(ctx, limit)
	defer cancel()
	res, err := i.p.HandleReadOnly(lctx, i.msgBuf, i.envJSON(env))
	return toAO(res), classifyLimit(ctx, err)
}

func (i *runtimeInstance) Memory() []byte { return i.p.Memory() }

func (i *runtimeInstance) Close() error { return i.p.Close() }

func withLimit(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if limit <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, limit)
}

func toAO(r *Result) *ao.Result {
	if r == nil {
		return nil
	}
	res := &ao.Result{Output: r.Output, Messages: r.Messages, Spawns: r.Spawns, Assignments: r.Assignments,
		Error: r.Error, Patches: r.Patches, GasUsed: r.GasUsed, Rejected: r.Rejected}
	if r.Thrown != nil {
		// the CU's answers carry what the reference CU's JSON makes of it
		res.Error = r.Thrown
	}
	return res
}

// kindError gives a loader error the port's kind (errors.Is) and keeps its text.
type kindError struct{ kind, err error }

func (k kindError) Error() string        { return k.err.Error() }
func (k kindError) Unwrap() []error      { return []error{k.kind, k.err} }
func (k kindError) Is(target error) bool { return target == k.kind }

// classifyLimit is classify, with the limit's own deadline (the caller's
// context still alive) reported as a timeout.
func classifyLimit(parent context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		return kindError{ao.ErrEvalTimeout, fmt.Errorf("%w: %v", ErrTimeout, err)}
	}
	return classify(err)
}

func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTimeout):
		return kindError{ao.ErrEvalTimeout, err}
	case errors.Is(err, ErrHalt):
		return kindError{ao.ErrHalt, err}
	case errors.Is(err, ErrMessageTooLarge):
		return kindError{ao.ErrMessageTooLarge, err}
	}
	return err
}

// String reports what an instance is, for logs.
func (i *runtimeInstance) String() string { return fmt.Sprintf("loader process (stream %d)", i.stream) }
