package weavedrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
)

// dataMeta is what the size probe of a /data id found.
type dataMeta struct {
	size int64
	path string // "<id>" or "raw/<id>": the path whose HEAD gave the size; reads go there too
}

// openData serves /data/<id> (reference create, index.js:54-113, and read, index.js:210-317).
func (g *Gateway) openData(ctx context.Context, req Request, id string) (File, error) {
	if !validID(id) {
		return nil, halt("/data/%s: not a transaction id (want 43 base64url characters)", id)
	}
	if err := g.admit(ctx, req, id); err != nil {
		return nil, err
	}
	if v, ok := g.cache.Get("data/" + id); ok {
		return newMemFile(v.([]byte)), nil
	}
	var meta dataMeta
	if v, ok := g.cache.Get("size/" + id); ok {
		meta = v.(dataMeta)
	} else {
		m, err := g.probe(ctx, id)
		if err != nil {
			return nil, err
		}
		meta = m
		put(g.cache, "size/"+id, meta, int64(len(meta.path)))
	}
	return &dataFile{g: g, id: id, meta: meta, openCtx: ctx}, nil
}

// probe finds the size of a /data id: HEAD /<id>, and if that gives no usable Content-Length, HEAD /raw/<id>
// (aos d6964cb; 0.0.18 only does HEAD /<id>), both with Accept-Encoding: identity so that the length is the
// length of the data. A missing size is ErrHalt, unless a transient failure (network, 5xx, ...) was involved:
// then it is a plain error, so that a gateway outage does not halt the process.
func (g *Gateway) probe(ctx context.Context, id string) (dataMeta, error) {
	var errs []error
	transient := false
	for _, path := range []string{id, "raw/" + id} {
		size, tr, err := g.head(ctx, path)
		if err == nil {
			return dataMeta{size: size, path: path}, nil
		}
		if ctx.Err() != nil {
			return dataMeta{}, err
		}
		transient = transient || tr
		errs = append(errs, err)
	}
	if transient {
		return dataMeta{}, fmt.Errorf("weavedrive: size of /data/%s: %w", id, errors.Join(errs...))
	}
	return dataMeta{}, fmt.Errorf("%w: weavedrive: /data/%s: no size: %w", ErrHalt, id, errors.Join(errs...))
}

// head sends one HEAD (with retries on transient failures) and returns the Content-Length. transient reports
// whether the final failure was a transient one.
func (g *Gateway) head(ctx context.Context, path string) (size int64, transient bool, err error) {
	r := httpReq{method: http.MethodHead, path: path, header: http.Header{"Accept-Encoding": {"identity"}}}
	err = g.retry(ctx, func(ctx context.Context) (bool, error) {
		resp, err := g.roundTrip(ctx, r)
		if err != nil {
			transient = ctx.Err() == nil
			return transient, err
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			transient = transientStatus(resp.StatusCode)
			return transient, fmt.Errorf("weavedrive: %s: HTTP %s", r, resp.Status)
		}
		transient = false
		cl := strings.TrimSpace(resp.Header.Get("Content-Length"))
		n, perr := strconv.ParseInt(cl, 10, 64)
		if cl == "" || perr != nil || n < 0 {
			return false, fmt.Errorf("weavedrive: %s: no valid Content-Length (%q)", r, cl)
		}
		size = n
		return false, nil
	})
	return size, transient, err
}

// dataFile is an open /data file read with ranged GETs and a read-ahead buffer.
type dataFile struct {
	g       *Gateway
	id      string
	meta    dataMeta
	openCtx context.Context

	mu     sync.Mutex
	closed bool
	buf    []byte // bytes [bufOff, bufOff+len(buf)) of the file
	bufOff int64
}

func (f *dataFile) Size() int64 { return f.meta.size }

// ReadAt reads with the context that was given to Open; see ReadAtContext.
func (f *dataFile) ReadAt(p []byte, off int64) (int, error) {
	return f.ReadAtContext(f.openCtx, p, off)
}

// ReadAtContext implements ContextReaderAt. What is not in the buffer is fetched with one GET per window of
// max(len(p), ReadAhead) bytes (at most MaxRequestBytes, never past Size); the rest of the window stays in the
// buffer for the next read.
func (f *dataFile) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("weavedrive: /data/%s: negative offset %d", f.id, off)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("weavedrive: /data/%s: %w", f.id, os.ErrClosed)
	}
	size := f.meta.size
	n := 0
	for n < len(p) && off+int64(n) < size {
		pos := off + int64(n)
		if pos >= f.bufOff && pos < f.bufOff+int64(len(f.buf)) {
			n += copy(p[n:], f.buf[pos-f.bufOff:])
			continue
		}
		want := max(int64(len(p)-n), f.g.readAhead)
		want = min(want, f.g.maxReq, size-pos)
		buf, bufOff, err := f.fetch(ctx, pos, pos+want)
		if err != nil {
			return n, err
		}
		f.buf, f.bufOff = buf, bufOff
		if bufOff == 0 && int64(len(buf)) == size {
			put(f.g.cache, "data/"+f.id, buf, size)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fetch GETs bytes [start, end) (end <= Size) and returns what it got with its offset: a 206 answer may be
// shorter than asked (at least one byte); a 200 answer (the gateway ignored the Range) is the whole file, which
// is kept whole when it is not larger than MaxRequestBytes.
func (f *dataFile) fetch(ctx context.Context, start, end int64) ([]byte, int64, error) {
	r := httpReq{
		method: http.MethodGet,
		path:   f.meta.path,
		header: http.Header{
			"Range":           {"bytes=" + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end-1, 10)},
			"Accept-Encoding": {"identity"},
		},
	}
	size := f.meta.size
	var (
		out    []byte
		outOff int64
	)
	err := f.g.retry(ctx, func(ctx context.Context) (bool, error) {
		resp, err := f.g.roundTrip(ctx, r)
		if err != nil {
			return ctx.Err() == nil, err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusPartialContent:
			if cr := resp.Header.Get("Content-Range"); cr != "" {
				first, ok := contentRangeStart(cr)
				if !ok || first != start {
					return false, fmt.Errorf("weavedrive: %s %s: answer has Content-Range %q", r, r.header.Get("Range"), cr)
				}
			}
			b, err := readUpTo(resp.Body, end-start)
			if len(b) == 0 {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return ctx.Err() == nil, fmt.Errorf("weavedrive: %s %s: %w", r, r.header.Get("Range"), err)
			}
			out, outOff = b, start
			return false, nil
		case http.StatusOK:
			keepWhole := size <= f.g.maxReq
			from := start
			if keepWhole {
				from = 0
			} else if _, err := io.CopyN(io.Discard, resp.Body, start); err != nil {
				return ctx.Err() == nil, fmt.Errorf("weavedrive: %s (full body): skipping to %d: %w", r, start, err)
			}
			limit := end - from
			if keepWhole {
				limit = size
			}
			b, err := readUpTo(resp.Body, limit)
			if from+int64(len(b)) < end {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return ctx.Err() == nil, fmt.Errorf("weavedrive: %s (full body): %d bytes where %d were expected: %w", r, from+int64(len(b)), size, err)
			}
			out, outOff = b, from
			return false, nil
		}
		return transientStatus(resp.StatusCode), statusError(r, resp)
	})
	if err != nil {
		return nil, 0, err
	}
	return out, outOff, nil
}

// readUpTo reads at most n bytes; a short body is not an error (the error is returned only if reading failed
// before EOF).
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	b := make([]byte, n)
	got, err := io.ReadFull(r, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return b[:got], err
}

// contentRangeStart parses the first byte position of "bytes <first>-<last>/<total>".
func contentRangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(cr), "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	return n, err == nil
}

func (f *dataFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.buf = nil
	return nil
}

// memFile is a drive file held in memory (/tx, /block, and cached /data contents).
type memFile struct {
	mu     sync.Mutex
	data   []byte
	closed bool
}

func newMemFile(b []byte) *memFile { return &memFile{data: b} }

func (f *memFile) Size() int64 { return int64(len(f.data)) }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("weavedrive: negative offset %d", off)
	}
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("weavedrive: %w", os.ErrClosed)
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// ReadAtContext implements ContextReaderAt; a memory file never blocks.
func (f *memFile) ReadAtContext(_ context.Context, p []byte, off int64) (int, error) {
	return f.ReadAt(p, off)
}

func (f *memFile) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
