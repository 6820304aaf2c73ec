package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aocu/aocu/internal/weavedrive"
)

// The WeaveDrive imports. The reference runs them through Asyncify: the import
// mallocs a 40 MiB unwind buffer, unwinds to handle(), does its I/O, then calls
// handle() again to rewind, and frees the buffer. That malloc/free is visible in
// the memory image (every aos spawn grows 71.3 MB -> 110.0 MB because of it), so
// it is reproduced exactly here, while the I/O itself is a synchronous call.

type asyncState int

const (
	asyncNormal asyncState = iota
	asyncUnwinding
	asyncRewinding
)

// openFile is a stream of the glue's JS file system opened through WeaveDrive.
type openFile struct {
	path    string
	data    bool // /data/<id>: read sequentially; /tx and /block: always from offset 0
	file    weavedrive.File
	size    int64
	pos     int64 // the stream position (fseek/ftell)
	readPos int64 // where the next /data read starts
}

// asyncReturn finishes an Asyncify import: in the normal state it starts an
// unwind (the value is handed back on the rewind); in the rewinding state it
// completes the rewind and returns the value.
func (h *instance) asyncReturn(value int64) (int64, error) {
	if !h.spec.async {
		return value, nil
	}
	h.async.value = value
	size := uint64(24 + asyncifyStackSize)
	if !h.is64 {
		size = 12 + asyncifyStackSize
	}
	p, err := h.callPtr(h.ex.malloc, size)
	if err != nil {
		return 0, h.trapErr(err)
	}
	d := h.data()
	if p == 0 || !inBounds(d, p, 24) {
		return 0, h.trapWith(&abortError{"Asyncify: could not allocate the unwind buffer (out of memory)"})
	}
	if h.is64 {
		binary.LittleEndian.PutUint64(d[p:], p+24)
		binary.LittleEndian.PutUint64(d[p+8:], p+24+asyncifyStackSize)
		binary.LittleEndian.PutUint32(d[p+16:], 0) // rewind id of "handle"
	} else {
		binary.LittleEndian.PutUint32(d[p:], uint32(p+12))
		binary.LittleEndian.PutUint32(d[p+4:], uint32(p+12+asyncifyStackSize))
		binary.LittleEndian.PutUint32(d[p+8:], 0)
	}
	if _, err := h.callPtr(h.ex.startUnwind, p); err != nil {
		return 0, h.trapErr(err)
	}
	h.async.state = asyncUnwinding
	h.async.data = p
	return 0, nil
}

// rewound reports whether this import call is the re-entry of a rewind, and if
// so completes it (stop_rewind, free) and returns the saved value.
func (h *instance) rewound() (bool, int64, error) {
	if h.async.state != asyncRewinding {
		return false, 0, nil
	}
	if _, err := h.callPtr(h.ex.stopRewind); err != nil {
		return true, 0, h.trapErr(err)
	}
	if _, err := h.callPtr(h.ex.free, h.async.data); err != nil {
		return true, 0, h.trapErr(err)
	}
	h.async.state = asyncNormal
	h.async.data = 0
	return true, h.async.value, nil
}

func (h *instance) driveOpen(a []uint64) (int64, error) {
	if ok, v, tr := h.rewound(); ok {
		return v, tr
	}
	path := cstring(h.data(), a[0])
	fd, err := h.openPath(path)
	if err != nil {
		return 0, h.trapWith(err)
	}
	return h.asyncReturn(int64(fd))
}

// openPath resolves a path through the drive; 0 means fopen returns NULL.
func (h *instance) openPath(path string) (int32, error) {
	if h.drive == nil {
		return 0, nil
	}
	parts := strings.Split(path, "/")
	if len(parts) < 3 || parts[0] != "" {
		return 0, nil
	}
	switch parts[1] {
	case "data", "tx", "block":
	default:
		return 0, nil
	}
	f, ok := h.opened[path]
	if !ok {
		req := h.driveReq
		req.Path = path
		var err error
		f, err = h.drive.Open(h.ctx, req)
		if err != nil {
			if errors.Is(err, weavedrive.ErrHalt) {
				return 0, fmt.Errorf("%w: %s: %v", ErrHalt, path, err)
			}
			return 0, fmt.Errorf("weavedrive: open %s: %w", path, err)
		}
		if f == nil {
			return 0, nil
		}
		h.opened[path] = f
	}
	// The lowest fd free among the glue's streams and the drive files (the
	// reference opens drive files as streams of its file system).
	fd, err := h.fs.nextfd(h.driveTaken)
	if err != nil {
		return 0, nil
	}
	h.files[fd] = &openFile{path: path, data: parts[1] == "data", file: f, size: f.Size()}
	return fd, nil
}

func (h *instance) driveRead(a []uint64) (int64, error) {
	if ok, v, tr := h.rewound(); ok {
		return v, tr
	}
	fd, dst, n := int32(a[0]), a[1], a[2]
	of, ok := h.files[fd]
	if !ok {
		return 0, h.trapWith(&abortError{fmt.Sprintf("WeaveDrive: read from unknown fd %d", fd)})
	}
	d := h.data()
	if !inBounds(d, dst, n) {
		return 0, h.trapWith(errOOB)
	}
	var got int64
	if of.data {
		// Sequential reads from the start of the file. (The reference's seek
		// position is a string-concatenation accident; its reads effectively
		// start at 0, which is what aos's drive.getData relies on.)
		want := int64(n)
		if rest := of.size - of.readPos; want > rest {
			want = max(rest, 0)
		}
		if want > 0 {
			m, err := weavedrive.ReadAt(h.ctx, of.file, d[dst:dst+uint64(want)], of.readPos)
			if err != nil && int64(m) < want {
				return 0, h.trapWith(fmt.Errorf("weavedrive: read %s: %w", of.path, err))
			}
			got = int64(m)
			of.readPos += got
		}
	} else {
		// /tx and /block: the glue copies contents[0:n] and reports n.
		want := min(int64(n), of.size)
		if want > 0 {
			if _, err := weavedrive.ReadAt(h.ctx, of.file, d[dst:dst+uint64(want)], 0); err != nil && !isEOF(err) {
				return 0, h.trapWith(fmt.Errorf("weavedrive: read %s: %w", of.path, err))
			}
		}
		got = int64(n)
	}
	return h.asyncReturn(got)
}

func (h *instance) driveClose(a []uint64) (int64, error) {
	if ok, v, tr := h.rewound(); ok {
		return v, tr
	}
	delete(h.files, int32(a[0]))
	return h.asyncReturn(0)
}

// fdSeek is wasi fd_seek: on the glue's streams (memfs.go), and on drive
// files, which seek within their size.
func (h *instance) fdSeek(a []uint64) (int64, error) {
	fd := int32(a[0])
	var whence int32
	var out uint64
	off, ok, next := h.i53(a, 1)
	whence, out = int32(a[next]), a[next+1]
	if !ok {
		return errnoOVERFL, nil
	}
	d := h.data()
	of, drive := h.files[fd]
	if !drive {
		s, err := h.stream(fd)
		if err != nil {
			return h.fdResult(err)
		}
		pos, err := h.fs.llseek(s, off, whence)
		if err != nil {
			return h.fdResult(err)
		}
		if inBounds(d, out, 8) {
			binary.LittleEndian.PutUint64(d[out:], uint64(int64(pos)))
		}
		return 0, nil
	}
	pos := int64(off)
	switch whence {
	case 0:
	case 1:
		pos += of.pos
	case 2:
		pos += of.size
	default:
		return errnoINVAL, nil
	}
	if pos < 0 {
		return errnoINVAL, nil
	}
	of.pos = pos
	if !inBounds(d, out, 8) {
		return 0, h.trapWith(errOOB)
	}
	binary.LittleEndian.PutUint64(d[out:], uint64(pos))
	return 0, nil
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
