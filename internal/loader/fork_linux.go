//go:build linux

package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/loader/wire"
)

// Forks: a dry-run runs on a private fork of the committed memory instead of
// on the process's instance. The committed memory is captured once per
// state into a memfd (its zero pages left as holes); a fork is an instance of
// the module whose linear memory is that memfd mapped MAP_PRIVATE over the
// wasm memory: the pages a dry-run writes become private copies. After the
// call the fork finds its private pages in /proc/self/pagemap and copies the
// image back over those that differ, so the next dry-run sees the image again
// and writes the same pages without faulting (dropping them instead, with
// MADV_DONTNEED, makes every dry-run pay a copy-on-write fault and a TLB
// shootdown per page it writes). Neither capture nor reset copies the whole
// memory, and any number of forks run at once beside the process's instance.

// memImage is an ao.Image over a memfd. It lives while its owner (Release)
// or a fork mapping it holds a reference.
type memImage struct {
	mod  *Module
	opts ProcessOptions
	size int
	view []byte // the memfd mapped shared, read-only: what a fork resets to
	data []bool // per page: holds data (else a hole: zero)

	fd       int // closed with the last reference
	refs     atomic.Int64
	released atomic.Bool
	forks    atomic.Int64 // forks made, for tests
}

var _ ao.Forker = (*runtimeInstance)(nil)

// Image captures the committed memory of the instance.
func (i *runtimeInstance) Image() (ao.Image, error) { return i.p.captureImage() }

func (p *Process) captureImage() (*memImage, error) {
	if p.broken != nil {
		return nil, p.broken
	}
	mem := p.Memory()
	if mem == nil {
		return nil, errors.New("loader: no committed memory to fork")
	}
	if unix.Getpagesize() != copyPage || len(mem)%copyPage != 0 {
		return nil, fmt.Errorf("loader: memory of %d bytes is not in %d-byte pages", len(mem), copyPage)
	}
	fd, err := unix.MemfdCreate("aocu-image", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loader: memfd: %w", err)
	}
	img := &memImage{mod: p.mod, opts: p.opts, size: len(mem), fd: fd, data: make([]bool, len(mem)/copyPage)}
	img.refs.Store(1)
	if err := unix.Ftruncate(fd, int64(len(mem))); err != nil {
		img.Release()
		return nil, fmt.Errorf("loader: size the image: %w", err)
	}
	// Write the runs of non-zero pages; zero pages stay holes.
	const chunk = copyPage
	run := -1
	flush := func(end int) error {
		for off := run; off < end; {
			n, err := unix.Pwrite(fd, mem[off:end], int64(off))
			if err != nil {
				return fmt.Errorf("loader: write the image: %w", err)
			}
			off += n
		}
		return nil
	}
	// A restored instance's untouched pages are zero: not read (see Process.touched).
	maybe := p.touched(mem)
	for off := 0; off <= len(mem); off += chunk {
		data := off < len(mem) && (maybe == nil || maybe(off/chunk)) && !isZero(mem[off:min(off+chunk, len(mem))])
		if data {
			img.data[off/chunk] = true
		}
		switch {
		case data && run < 0:
			run = off
		case !data && run >= 0:
			if err := flush(min(off, len(mem))); err != nil {
				img.Release()
				return nil, err
			}
			run = -1
		}
	}
	view, err := unix.Mmap(fd, 0, len(mem), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		img.Release()
		return nil, fmt.Errorf("loader: map the image: %w", err)
	}
	img.view = view
	return img, nil
}

func (img *memImage) Size() int64 { return int64(img.size) }

func (img *memImage) ReadAt(b []byte, off int64) (int, error) {
	if img.released.Load() {
		return 0, errors.New("loader: image released")
	}
	if off >= int64(img.size) {
		return 0, io.EOF
	}
	want := b[:min(int64(len(b)), int64(img.size)-off)]
	n := 0
	for n < len(want) {
		m, err := unix.Pread(img.fd, want[n:], off+int64(n))
		if err != nil {
			return n, fmt.Errorf("loader: read the image: %w", err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// Release drops the owner's reference; forks mapping the image keep it.
func (img *memImage) Release() {
	if img.released.CompareAndSwap(false, true) {
		img.unref()
	}
}

func (img *memImage) unref() {
	if img.refs.Add(-1) > 0 {
		return
	}
	if img.view != nil {
		unix.Munmap(img.view)
		img.view = nil
	}
	unix.Close(img.fd)
}

// Fork re-points reuse at the image, or makes a new fork.
func (img *memImage) Fork(ctx context.Context, reuse ao.Fork) (ao.Fork, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if img.released.Load() {
		return nil, errors.New("loader: image released")
	}
	if f, ok := reuse.(*fork); ok && f.inst != nil && f.mod == img.mod && f.inst.onCurrentTier() {
		if f.img == img {
			return f, nil // maps it already, reset after its last dry-run
		}
		if err := f.mapImage(img); err == nil {
			return f, nil
		}
	}
	if reuse != nil {
		reuse.Close()
	}
	inst, err := img.mod.newInstance(img.opts.Drive, img.opts.Log, img.opts.GasLimit)
	if err != nil {
		return nil, err
	}
	pm, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		pm = -1 // resets drop the written pages instead (slower: faults again)
	}
	f := &fork{mod: img.mod, inst: inst, pagemap: pm, helper: &Process{mod: img.mod, opts: img.opts}}
	if err := f.mapImage(img); err != nil {
		f.Close()
		return nil, err
	}
	img.forks.Add(1)
	return f, nil
}

// fork is an ao.Fork: an instance whose memory maps an image privately.
type fork struct {
	mod     *Module
	inst    *instance
	img     *memImage // the image mapped (a reference)
	pagemap int       // /proc/self/pagemap
	entries []uint64
	size    int
	helper  *Process // its driveRequest and deadline (no instance of its own)
	env     *ao.Env
	envRaw  []byte
	msgBuf  []byte
	// scratch: a fork without an image (scratch_linux.go), loaded with one
	// memory after another; nothing is reset after a dry-run.
	scratch *scratchState
}

// mapImage maps img over the fork's memory.
func (f *fork) mapImage(img *memImage) error {
	h := f.inst
	cur := int(h.memSize())
	if img.size < cur {
		return fmt.Errorf("loader: image of %d bytes is smaller than the fork's memory of %d", img.size, cur)
	}
	if img.size > cur {
		if _, err := h.growPages(uint64(img.size-cur) / pageSize); err != nil {
			return fmt.Errorf("loader: grow the fork to %d bytes: %w", img.size, err)
		}
	}
	d := h.data()
	if len(d) != img.size {
		return fmt.Errorf("loader: fork memory is %d bytes, image %d", len(d), img.size)
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(d)))
	r, _, errno := unix.Syscall6(unix.SYS_MMAP, addr, uintptr(img.size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_FIXED, uintptr(img.fd), 0)
	if errno != 0 || r != addr {
		// The region may be half replaced: the instance is unusable.
		f.inst.close()
		f.inst = nil
		return fmt.Errorf("loader: map the image over the fork: %w", errno)
	}
	if f.img != img {
		if f.img != nil {
			f.img.unref()
		}
		img.refs.Add(1)
		f.img = img
	}
	f.size = img.size
	f.fresh()
	return nil
}

// fresh makes the glue's state (clock, files, its file system) what loading
// leaves, as Process.BeginStream does before the instance's own dry-run (a
// dry-run runs as on a new instance).
func (f *fork) fresh() {
	f.helper.resetGlue(f.inst)
	f.inst.async.state = asyncNormal
}

func (f *fork) envJSON(env *ao.Env) []byte {
	if env != f.env || f.envRaw == nil {
		f.env, f.envRaw = env, wire.EncodeEnv(env)
	}
	return f.envRaw
}

// DryRun evaluates msg and then drops what it wrote. A fork whose call
// trapped, grew the memory or did not finish is closed (the next Fork of an
// image replaces it).
func (f *fork) DryRun(ctx context.Context, m *ao.Message, env *ao.Env, limit time.Duration) (*ao.Result, error) {
	h := f.inst
	if h == nil {
		return nil, ErrClosed
	}
	f.msgBuf = wire.AppendMessage(f.msgBuf[:0], m)
	msg, envRaw := f.msgBuf, f.envJSON(env)
	lctx, cancel := withLimit(ctx, limit)
	defer cancel()
	if err := lctx.Err(); err != nil {
		return nil, classifyLimit(ctx, err)
	}
	h.ctx = lctx
	h.driveReq = f.helper.driveRequest(msg, envRaw)
	start := time.Now()
	// One tick more than Process.handle: the first tick may come at once, and
	// nothing after the call (no rollback) delays the answer past the limit.
	ticks := f.helper.deadlineTicks(lctx)
	if ticks > 0 {
		ticks++
	}
	out, err := h.call(msg, envRaw, ticks)
	dur := time.Since(start)
	h.ctx = context.Background()
	var res *Result
	if err == nil {
		res, err = parseResponse(out, h.gasUsed(), f.mod.eng.profile.patches)
	}
	var te *trapError
	trapped := errors.As(err, &te)
	if trapped { // as Process.handle
		res, err = rejected(te.msg), nil
		if te.thrown != nil {
			res.Thrown = te.thrown
		}
	}
	clean := (err == nil || errors.Is(err, ErrMessageTooLarge)) && !trapped && int(h.memSize()) == f.size
	switch {
	case clean && f.scratch != nil: // the next load resets what it wrote
	case clean:
		f.reset()
	default:
		f.Close()
	}
	if errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w after %v", ErrTimeout, dur.Round(time.Millisecond))
	}
	if err != nil {
		return nil, classifyLimit(ctx, err)
	}
	return toAO(res), nil
}

// reset brings the fork's memory back to its image: the pages the fork
// holds privately (written by this or an earlier dry-run) are compared with
// the image and copied back where they differ; the other pages still map the
// image.
func (f *fork) reset() {
	var err error
	if f.pagemap >= 0 {
		err = f.restorePrivatePages()
	} else {
		err = unix.Madvise(f.inst.data()[:f.size], unix.MADV_DONTNEED)
	}
	if err != nil {
		f.Close()
		return
	}
	f.fresh()
}

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent = 1 << 63
	pmFile    = 1 << 61 // file page or shared anonymous: not a private copy
)

func (f *fork) restorePrivatePages() error {
	d := f.inst.data()[:f.size]
	img := f.img
	var err error
	f.entries, err = privatePages(f.pagemap, uintptr(unsafe.Pointer(unsafe.SliceData(d))), copyPage, f.size/copyPage, f.entries, func(i int) {
		page := d[i*copyPage : (i+1)*copyPage]
		if img.data[i] {
			want := img.view[i*copyPage : (i+1)*copyPage]
			if !bytes.Equal(page, want) {
				copy(page, want)
			}
		} else if !isZero(page) {
			clear(page)
		}
	})
	return err
}

func (f *fork) Close() error {
	if f.inst != nil {
		f.inst.close()
		f.inst = nil
	}
	if f.img != nil {
		f.img.unref()
		f.img = nil
	}
	if f.pagemap >= 0 {
		unix.Close(f.pagemap)
		f.pagemap = -1
	}
	if f.scratch != nil {
		f.scratch.dec.Close()
	}
	return nil
}
