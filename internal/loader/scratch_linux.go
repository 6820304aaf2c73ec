//go:build linux

package loader

import (
	"context"
	"errors"
	"fmt"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
	"github.com/aocu/aocu/internal/weavedrive"
)

// Scratch forks: a dry-run on an idle process (its memory only a compact
// image in the engine's cache or on file) runs on a recycled instance of
// the module loaded with the image, not on a restored process nor on a fork
// of a memfd. A scratch fork's linear memory is private anonymous memory
// throughout (its initialised prefix remapped when it is made, growth adds
// anonymous pages), so /proc/self/pagemap tells which of its pages an
// earlier image or dry-run wrote; loading the next image writes that
// image's pages and clears only those others. Its pages stay resident from
// one image to the next, so a switch costs the decompression and a copy of
// the image's pages: no new instance, no page faults, no copy-on-write
// faults and the TLB shootdowns they bring (which dominated the switch on a
// virtual machine), no memfd.

// Recycled instances. Parking a live process (the engine keeps it as an
// image) frees its instance; restoring another one needs an instance. A
// new instance costs its instantiation and a page fault for every page the
// image writes (~6 ms for an aos process here, 10% of the CPU of a
// 1,000-process load), so a parked process's instance becomes a scratch
// fork (Recycle), which the next restore of a process of the module is
// built on (ProcessOptions.Reuse) or a dry-run on an idle process loads.
// Its memory is private anonymous memory throughout (the process was
// restored from an image, growth adds anonymous pages), so the pages to
// clear are the ones the kernel backed; the glue's state is reset as for a
// new instance. Only an instance whose last call returned normally is
// recycled (its wasm globals are then what a new instance holds: the stack
// pointer back at its top, Asyncify's state normal), as scratch forks are.

// Recycle closes the process and returns its instance as a scratch fork, or
// nil when it cannot be one (then the instance is closed): not that of a
// process that did not start from an image, of a broken one, or of a
// metered module (its gas counter lives in the instance).
func (i *runtimeInstance) Recycle() ao.Fork {
	p := i.p
	h := p.inst
	if h == nil || !p.anonymous || p.broken != nil || h.async.state != asyncNormal || h.countsGas() {
		p.Close()
		return nil
	}
	p.inst = nil
	p.Close()
	opts := p.opts
	opts.Memory, opts.Base, opts.Reuse = nil, nil, nil
	return &fork{mod: p.mod, inst: h, pagemap: -1, helper: &Process{mod: p.mod, opts: opts},
		scratch: &scratchState{freshSize: h.freshSize, gasLimit: opts.GasLimit}}
}

// recycledInstance loads the process's base image into reuse's instance and
// returns it, or nil (reuse closed) when reuse cannot serve: not a scratch
// fork of the module with the process's gas limit, or its memory larger
// than a new instance restored from the image would be.
func (p *Process) recycledInstance(reuse ao.Fork) *instance {
	f, _ := reuse.(*fork)
	im := p.base.ext
	if f == nil || f.scratch == nil || f.inst == nil || f.mod != p.mod || f.scratch.gasLimit != p.opts.GasLimit ||
		!f.inst.onCurrentTier() || p.base.image != nil || im == nil {
		reuse.Close()
		return nil
	}
	m, h := p.mod, f.inst
	size, ok := restoredSize(f.scratch.freshSize, uint64(im.Len()), m.spec.heapMax, m.maxBytes)
	cur := uint64(h.memSize())
	if !ok || cur > size {
		f.Close()
		return nil
	}
	if cur < size {
		if _, err := h.growPages((size - cur) / pageSize); err != nil {
			f.Close()
			return nil
		}
	}
	d := h.data()
	touched, pg, ok := touchedPages(d)
	if !ok {
		f.Close()
		return nil
	}
	im.writeTo(d, func(page int) bool { return touched[page*copyPage/pg] })
	f.inst = nil
	f.Close()
	h.drive, h.logf = p.opts.Drive, p.opts.Log
	h.driveReq, h.pending, h.ctx = weavedrive.Request{}, nil, context.Background()
	h.async.state, h.async.data, h.async.value = asyncNormal, 0, 0
	return h
}

// scratchState is what a scratch fork keeps between images.
type scratchState struct {
	freshSize uint64 // memory size of a fresh instance of the module
	gasLimit  float64
	dec       memimage.Decoder
}

var _ ao.ImageForker = (*compiledModule)(nil)

// ForkImage loads o.Memory into reuse (a scratch fork of this module with
// the same gas limit whose memory is not larger than the image needs) or
// into a new scratch fork.
func (c *compiledModule) ForkImage(ctx context.Context, o ao.InstanceOptions, reuse ao.Fork) (ao.Fork, error) {
	if err := ctx.Err(); err != nil {
		if reuse != nil {
			reuse.Close()
		}
		return nil, err
	}
	return c.mod.scratchFork(ProcessOptions{Drive: c.r.drive, Memory: o.Memory, Base: o.Base, GasLimit: o.GasLimit}, reuse)
}

func (m *Module) scratchFork(opts ProcessOptions, reuse ao.Fork) (*fork, error) {
	if opts.Memory == nil {
		if reuse != nil {
			reuse.Close()
		}
		return nil, errors.New("loader: a scratch fork needs a memory image")
	}
	f, _ := reuse.(*fork)
	if f == nil || f.scratch == nil || f.inst == nil || f.mod != m || f.scratch.gasLimit != opts.GasLimit || !f.inst.onCurrentTier() {
		if reuse != nil {
			reuse.Close()
		}
		f = nil
	}
	im, dec, err := parseFor(m, opts, f)
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	if f == nil {
		if f, err = m.newScratchFork(opts); err != nil {
			return nil, err
		}
		f.scratch.dec = *dec // the parse's decoder is this fork's from now on
	}
	size, ok := restoredSize(f.scratch.freshSize, uint64(im.Len()), m.spec.heapMax, m.maxBytes)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("loader: memory image of %d bytes exceeds the module's memory limit (%d bytes)", im.Len(), m.maxBytes)
	}
	h := f.inst
	if cur := uint64(h.memSize()); cur > size {
		// Memories do not shrink: another fork for the smaller image.
		f.Close()
		g, err := m.newScratchFork(opts)
		if err != nil {
			return nil, err
		}
		if im, _, err = parseFor(m, opts, g); err != nil {
			g.Close()
			return nil, err
		}
		f, h = g, g.inst
	}
	if cur := uint64(h.memSize()); cur < size {
		if _, err := h.growPages((size - cur) / pageSize); err != nil {
			f.Close()
			return nil, fmt.Errorf("loader: grow a scratch fork to %d bytes: %w", size, err)
		}
	}
	d := h.data()
	touched, pg, ok := touchedPages(d)
	if !ok {
		f.Close()
		return nil, errors.New("loader: the kernel does not tell which pages of a scratch fork were written")
	}
	im.writeTo(d, func(page int) bool { return touched[page*copyPage/pg] })
	f.size = len(d)
	f.fresh()
	return f, nil
}

// parseFor reads opts.Memory (perhaps a delta against opts.Base) with f's
// decoder (a new one when f is nil).
func parseFor(m *Module, opts ProcessOptions, f *fork) (*extImage, *memimage.Decoder, error) {
	dec := &memimage.Decoder{}
	if f != nil {
		dec = &f.scratch.dec
	}
	im, err := readExtImageWith(dec, opts.Memory, opts.Base, int64(m.spec.heapMax))
	if err != nil {
		if f == nil {
			dec.Close()
		}
		return nil, nil, fmt.Errorf("loader: memory image: %w", err)
	}
	return im, dec, nil
}

// newScratchFork makes an instance whose whole memory is private anonymous
// memory reading as zero.
func (m *Module) newScratchFork(opts ProcessOptions) (*fork, error) {
	inst, err := m.newInstance(opts.Drive, opts.Log, opts.GasLimit)
	if err != nil {
		return nil, err
	}
	fresh := uint64(inst.memSize())
	if !zeroMemory(inst.data()) {
		inst.close()
		return nil, errors.New("loader: the memory of a scratch fork could not be remapped")
	}
	// (no pagemap descriptor: reset is not used, the next load resets; the
	// helper keeps no image: the fork holds what is needed)
	opts.Memory, opts.Base = nil, nil
	return &fork{mod: m, inst: inst, pagemap: -1, helper: &Process{mod: m, opts: opts},
		scratch: &scratchState{freshSize: fresh, gasLimit: opts.GasLimit}}, nil
}

// restoredSize is the memory size of an instance restored from an image of
// want bytes (Process.rebuild → growFor with the heap policy): a fresh
// instance of fresh bytes grown by the glue's rule, the first attempt that
// fits the module's declared maximum (0: none).
func restoredSize(fresh, want, heapMax, maxBytes uint64) (uint64, bool) {
	if fresh >= want {
		return fresh, true
	}
	if want > heapMax {
		return 0, false
	}
	for cut := 1.0; cut <= 4; cut *= 2 {
		pages, _ := heapGrowth(fresh, want, heapMax, cut)
		if size := fresh + pages*pageSize; maxBytes == 0 || size <= maxBytes {
			return size, true
		}
	}
	return 0, false
}
