package aotest

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
)

// The scripted runtime gives dry-runs forks (ao.Forker) as the real loader
// does: an image is a copy of the committed memory, a fork runs the handler
// on a copy of its image and keeps nothing.

var _ ao.Forker = (*instance)(nil)

var _ ao.Recycler = (*instance)(nil)

// Recycle closes the instance and returns a fork (ao.Recycler), as the
// loader does for an instance restored from an image.
func (i *instance) Recycle() ao.Fork {
	if i.closed {
		return nil
	}
	i.Close()
	i.r.mu.Lock()
	i.r.recycled++
	i.r.mu.Unlock()
	return &fork{r: i.r}
}

// Image captures the committed memory.
func (i *instance) Image() (ao.Image, error) {
	if i.closed {
		return nil, errors.New("aotest: instance closed")
	}
	if i.mem == nil {
		return nil, errors.New("aotest: no committed memory")
	}
	i.r.mu.Lock()
	i.r.images++
	i.r.mu.Unlock()
	return &image{r: i.r, mem: slices.Clone(i.mem)}, nil
}

type image struct {
	r        *Runtime
	mem      []byte
	released atomic.Bool
}

func (m *image) Size() int64 { return int64(len(m.mem)) }

func (m *image) ReadAt(p []byte, off int64) (int, error) {
	if m.released.Load() {
		return 0, errors.New("aotest: image released")
	}
	if off >= int64(len(m.mem)) {
		return 0, io.EOF
	}
	n := copy(p, m.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *image) Release() { m.released.Store(true) }

func (m *image) Fork(ctx context.Context, reuse ao.Fork) (ao.Fork, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.released.Load() {
		return nil, errors.New("aotest: image released")
	}
	return m.r.fork(reuse, m.mem), nil
}

// fork re-points reuse at mem when it is an open fork (a fork whose
// dry-run failed closed itself, as the loader's does), else closes it and
// makes a new one.
func (r *Runtime) fork(reuse ao.Fork, mem []byte) *fork {
	if f, ok := reuse.(*fork); ok && !f.closed {
		f.mem = mem
		return f
	}
	if reuse != nil {
		reuse.Close()
	}
	r.mu.Lock()
	r.forks++
	r.mu.Unlock()
	return &fork{r: r, mem: mem}
}

type fork struct {
	r      *Runtime
	mem    []byte
	closed bool
}

func (f *fork) DryRun(ctx context.Context, msg *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	if f.closed {
		return nil, errors.New("aotest: fork closed")
	}
	f.r.mu.Lock()
	f.r.dryRuns++
	f.r.mu.Unlock()
	in := &instance{r: f.r, mem: f.mem}
	_, res, err := in.run(ctx, msg, env, limit)
	if err != nil {
		f.closed = true // as the loader's: a fork that did not finish is not reused
	}
	return res, err
}

func (f *fork) Close() error {
	f.closed = true
	return nil
}

var _ ao.ImageForker = (*module)(nil)

// ForkImage gives a dry-run on an idle process a fork of its memory image,
// as the loader's scratch forks do.
func (m *module) ForkImage(ctx context.Context, o ao.InstanceOptions, reuse ao.Fork) (ao.Fork, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mem, err := memimage.DecodeWith(o.Memory, o.Base, 0)
	if err != nil {
		if reuse != nil {
			reuse.Close()
		}
		return nil, err
	}
	m.r.mu.Lock()
	m.r.imageForks++
	m.r.mu.Unlock()
	return m.r.fork(reuse, slices.Clone(mem)), nil
}
