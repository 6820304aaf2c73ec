package weavedrive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ModeTest is the Options.Mode that admits every /data id without any check (the reference's mode:'test').
const ModeTest = "test"

// Defaults for Options.
const (
	DefaultTimeout         = 60 * time.Second
	DefaultReadAhead       = 64 << 10
	MinReadAhead           = 32 << 10 // the reference's CACHE_SZ
	DefaultMaxRequestBytes = 8 << 20
	DefaultCacheBytes      = 64 << 20
)

// maxDocumentBytes bounds a /tx, /block or GraphQL response body.
const maxDocumentBytes = 64 << 20

// DefaultRetryDelays are the sleeps before the retries of a failed request (1, 2, 3 and 4 s: the reference's
// schedule, ten times shorter).
var DefaultRetryDelays = []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}

// ReferenceRetryDelays is the reference's schedule for /tx and /block: 4 retries after 10, 20, 30 and 40 s
// (index.js:117-128, 143-155).
var ReferenceRetryDelays = []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second}

// Options configure a Gateway. The zero value gives the defaults.
type Options struct {
	// Mode "test" (ModeTest) admits every /data id, like the reference's mode:'test'. Anything else checks
	// admissibility.
	Mode string
	// Timeout bounds one HTTP request to one gateway, including reading its body. 0 means DefaultTimeout;
	// a negative value means no timeout (only the caller's context).
	Timeout time.Duration
	// RetryDelays are the sleeps before each retry of a failed request; their number is the number of retries.
	// nil means DefaultRetryDelays; a non-nil empty slice disables retries. /tx and /block retry on any
	// failure, like the reference; the /data size probe, range reads and GraphQL retry only on transient
	// failures (network errors, timeouts, 408, 429, 5xx).
	RetryDelays []time.Duration
	// ReadAhead is the minimum number of bytes one ranged GET of a /data file asks for; what the reader did not
	// ask for is kept for its next read. 0 means DefaultReadAhead; smaller values are raised to MinReadAhead.
	ReadAhead int
	// MaxRequestBytes caps the length of one ranged GET; larger reads are split. 0 means
	// DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// CacheBytes bounds the per-Gateway cache of /tx and /block contents, /data sizes and whole /data contents
	// that were fetched completely. 0 means DefaultCacheBytes; a negative value disables the cache.
	CacheBytes int64
}

// Gateway is a Drive backed by Arweave gateways (the reference's ARWEAVE setting).
//
// Every request goes to the gateways in order and the first 2xx answer is used; when none answers 2xx, the
// primary's (first) answer or error counts (reference customFetch, index.js:26-52).
//
//   - /data/<id>: the id must be 43 base64url characters; it must be admissible (see admit); its size comes from
//     HEAD /<id>, falling back to HEAD /raw/<id>, with Accept-Encoding: identity; reads are ranged GETs on the
//     path whose HEAD gave the size, with a read-ahead buffer. A missing size or a definitive HEAD failure
//     (e.g. 404) is ErrHalt.
//   - /tx/<id>: GET /tx/<id>; the file is the JSON re-serialised as node's JSON.stringify({...tx, ownerAddress})
//     would, ownerAddress = base64url(sha256(base64url-decode(owner))).
//   - /block/<height>: GET /block/height/<height>; the file is the body as UTF-8 text (BOM removed, invalid
//     sequences replaced, as Response.text() does).
//   - /headers/... and every other path: (nil, nil), i.e. fopen returns NULL.
//
// Contents and sizes are cached per Gateway in a byte-bounded LRU (the reference caches them per instance in its
// JS file system for the instance's lifetime): /tx and /block contents, the size and path of each /data id, and
// the whole content of a /data file once it has been fetched completely. Admissibility is checked on every open
// (the reference checks once per instance); positive attestation results are cached per (query, owners, id) with
// the lowest block height at which they were found, which is sound because a result found with block.max = h is
// found with any larger max.
//
// Deviations from the reference, none of which changes what a process reads from a file that opens:
//   - ids (43 base64url characters) and heights (decimal) are checked before any request; a bad one is ErrHalt.
//     The reference sends whatever the path holds.
//   - Reads send a valid Range (bytes=<first>-<last>, last inclusive and < Size). The reference sends
//     bytes=<pos>-<min(total, pos+max(len, 32 KiB))> (one byte too many) and, after a seek, a malformed value
//     built by string concatenation that servers ignore.
//   - Transient failures (network, timeouts, 408, 429, 5xx) of the size probe, range reads and GraphQL are
//     retried and then reported as plain errors, not ErrHalt, so a gateway outage does not halt a process. The
//     reference halts (HEAD) or throws (network errors, non-JSON answers), which leaves its handle() pending.
//   - /tx and /block also retry network errors and 202 (pending); after the last retry they fail instead of
//     using the error answer (the reference stores an error body as the block file, or throws for /tx).
//   - Scheduler and Attestor tag values are escaped inside the GraphQL query (the reference pastes them in
//     quotes as they are); for ordinary addresses the query text is identical. Like the reference, a process
//     with neither tag sends owners: [].
//   - The path is joined to a base URL with a "/" (the reference appends it to the base's pathname, which only
//     differs for a base with a path not ending in "/").
//
// A Gateway is safe for concurrent use.
type Gateway struct {
	bases     []*url.URL
	client    *http.Client
	mode      string
	timeout   time.Duration
	delays    []time.Duration
	readAhead int64
	maxReq    int64
	cache     *cache // "tx/<id>", "block/<h>", "data/<id>" -> []byte; "size/<id>" -> dataMeta
	attest    *cache // attestation key -> int64 lowest admitted block height
}

// NewGateway returns a Gateway for arweave, a comma-separated list of gateway base URLs tried in order (each
// entry is trimmed). client nil means a new http.Client with no timeout of its own.
func NewGateway(arweave string, client *http.Client, opts Options) (*Gateway, error) {
	var bases []*url.URL
	for _, s := range strings.Split(arweave, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("weavedrive: gateway URL %q: %w", s, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("weavedrive: gateway URL %q: want an absolute http(s) URL", s)
		}
		bases = append(bases, u)
	}
	if client == nil {
		client = &http.Client{}
	}
	g := &Gateway{
		bases:     bases,
		client:    client,
		mode:      opts.Mode,
		timeout:   opts.Timeout,
		delays:    opts.RetryDelays,
		readAhead: int64(opts.ReadAhead),
		maxReq:    opts.MaxRequestBytes,
	}
	if g.timeout == 0 {
		g.timeout = DefaultTimeout
	}
	if g.delays == nil {
		g.delays = DefaultRetryDelays
	}
	if g.readAhead == 0 {
		g.readAhead = DefaultReadAhead
	}
	if g.readAhead < MinReadAhead {
		g.readAhead = MinReadAhead
	}
	if g.maxReq <= 0 {
		g.maxReq = DefaultMaxRequestBytes
	}
	if g.maxReq < g.readAhead {
		g.maxReq = g.readAhead
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = DefaultCacheBytes
	}
	g.cache = newLRU(cacheBytes)
	if cacheBytes > 0 {
		g.attest = newLRU(1 << 20)
	}
	return g, nil
}

// Open implements Drive.
func (g *Gateway) Open(ctx context.Context, req Request) (File, error) {
	category, id, ok := splitPath(req.Path)
	if !ok {
		return nil, nil
	}
	switch category {
	case categoryData:
		return g.openData(ctx, req, id)
	case categoryTx:
		return g.openTx(ctx, id)
	case categoryBlock:
		return g.openBlock(ctx, id)
	}
	// "headers" is "not implemented yet" in the reference and returns 0; any other category is invalid and
	// also returns 0. Either way fopen returns NULL.
	return nil, nil
}

// halt returns an error wrapping ErrHalt.
func halt(format string, a ...any) error {
	return fmt.Errorf("%w: weavedrive: %s", ErrHalt, fmt.Sprintf(format, a...))
}

// httpReq is one request, sent to every gateway in turn.
type httpReq struct {
	method string
	path   string // relative to the gateway base URL, without a leading "/"
	header http.Header
	body   []byte
}

func (r httpReq) String() string { return r.method + " /" + r.path }

// urlFor joins a base URL and a path. (The reference appends the path to the base's pathname without a separator,
// which only differs for a base with a path that does not end in "/".)
func urlFor(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + path
	u.RawPath = ""
	return u.String()
}

// roundTrip is the reference's customFetch: the request goes to each gateway in order and the first 2xx response
// is returned; if there is none, the primary's response or error. The caller closes the response body.
func (g *Gateway) roundTrip(ctx context.Context, r httpReq) (*http.Response, error) {
	var (
		primary    *http.Response
		primaryErr error
	)
	for i, base := range g.bases {
		resp, err := g.send(ctx, base, r)
		if err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			if primary != nil {
				discard(primary)
			}
			return resp, nil
		}
		if i == 0 {
			primary, primaryErr = resp, err
		} else if resp != nil {
			discard(resp)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return primary, primaryErr
}

// send makes one request to one gateway. The per-request timeout stays in force until the body is closed.
func (g *Gateway) send(ctx context.Context, base *url.URL, r httpReq) (*http.Response, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if g.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, g.timeout)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, urlFor(base, r.path), body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("weavedrive: %s: %w", r, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := g.client.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("weavedrive: %w", err)
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases the request's timeout context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// discard drains a little of a response body (so the connection can be reused) and closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}

// transientStatus reports whether an HTTP status is worth retrying.
func transientStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// statusError describes a non-2xx answer.
func statusError(r httpReq, resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if len(msg) > 0 {
		return fmt.Errorf("weavedrive: %s: HTTP %s: %q", r, resp.Status, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("weavedrive: %s: HTTP %s", r, resp.Status)
}

// retry runs op until it succeeds, fails for good (op says the failure is not retryable), or the retry delays
// are used up. It sleeps between attempts and gives up early when ctx ends.
func (g *Gateway) retry(ctx context.Context, op func(ctx context.Context) (retryable bool, err error)) error {
	for attempt := 0; ; attempt++ {
		retryable, err := op(ctx)
		if err == nil || !retryable || attempt >= len(g.delays) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(g.delays[attempt])
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (retry abandoned: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// readBody reads a whole body of at most limit bytes.
func readBody(r httpReq, resp *http.Response, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("weavedrive: %s: reading the body: %w", r, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("weavedrive: %s: body larger than %d bytes", r, limit)
	}
	return b, nil
}
