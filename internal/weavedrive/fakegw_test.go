package weavedrive

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGateway is an Arweave gateway speaking the wire format the reference relies on: HEAD /<id> and
// /raw/<id> with Content-Length, ranged GET answered 206 with Content-Range (or 200 with the whole body when
// ignoreRange is set or the Range header is not a single valid range), GET /tx/<id>, GET /block/height/<h>, and
// POST /graphql answering the two admissibility queries.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	log         []string          // "METHOD /path" plus " Range=<r>" when a Range header was sent
	headers     []http.Header     // request headers, parallel to log
	queries     []string          // GraphQL query texts received
	bodies      []string          // raw GraphQL POST bodies
	data        map[string][]byte // id -> content, served at /<id> and /raw/<id>
	rawOnly     map[string]bool   // HEAD /<id> answers 200 without Content-Length; only /raw/<id> has it
	ignoreRange bool
	tx          map[string]string // id -> /tx JSON
	blocks      map[string]string // height -> /block/height JSON
	failures    map[string]int    // "METHOD /path" -> number of 500 answers still to give
	status      map[string]int    // "METHOD /path" -> fixed status to answer
	attests     []fakeAttestation
	gqlStatus   int
	gqlBody     string
}

// fakeAttestation is an item the GraphQL endpoint finds: kind "Attestation" (matched by the Message tag) or
// "Available" (matched by the ID tag), owned by owner, in block height.
type fakeAttestation struct {
	kind, id, owner string
	height          int64
}

func newFakeGateway(t *testing.T) *fakeGateway {
	f := &fakeGateway{
		t:        t,
		data:     map[string][]byte{},
		rawOnly:  map[string]bool{},
		tx:       map[string]string{},
		blocks:   map[string]string{},
		failures: map[string]int{},
		status:   map[string]int{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGateway) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeGateway) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log, f.headers, f.queries, f.bodies = nil, nil, nil, nil
}

var (
	reOwners = regexp.MustCompile(`owners: \[([^\]]*)\]`)
	reMax    = regexp.MustCompile(`block: \{min: 0, max: (-?\d+)\}`)
	reMsg    = regexp.MustCompile(`\{ name: "(Message|ID)", values: \["([^"]*)"\]\}`)
	reType   = regexp.MustCompile(`\{ name: "Type", values: \["([^"]*)"\] ?\}`)
)

// parseQuery extracts what an admissibility query asks for.
func parseQuery(q string) (kind, id string, owners []string, max int64, err error) {
	m := reOwners.FindStringSubmatch(q)
	if m == nil {
		return "", "", nil, 0, fmt.Errorf("no owners in %q", q)
	}
	for _, o := range strings.Split(m[1], ", ") {
		if o != "" {
			owners = append(owners, strings.Trim(o, `"`))
		}
	}
	mm := reMax.FindStringSubmatch(q)
	mi := reMsg.FindStringSubmatch(q)
	mt := reType.FindStringSubmatch(q)
	if mm == nil || mi == nil || mt == nil {
		return "", "", nil, 0, fmt.Errorf("unexpected query %q", q)
	}
	max, _ = strconv.ParseInt(mm[1], 10, 64)
	return mt[1], mi[2], owners, max, nil
}

func (f *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	entry := key
	if rg := r.Header.Get("Range"); rg != "" {
		entry += " Range=" + rg
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.log = append(f.log, entry)
	f.headers = append(f.headers, r.Header.Clone())
	if f.failures[key] > 0 {
		f.failures[key]--
		f.mu.Unlock()
		http.Error(w, "gateway overloaded", http.StatusInternalServerError)
		return
	}
	if st := f.status[key]; st != 0 {
		f.mu.Unlock()
		http.Error(w, http.StatusText(st), st)
		return
	}
	defer f.mu.Unlock()

	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/graphql":
		f.serveGraphQL(w, r, body)
	case strings.HasPrefix(path, "/tx/") && r.Method == http.MethodGet:
		if js, ok := f.tx[strings.TrimPrefix(path, "/tx/")]; ok {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, js)
			return
		}
		http.NotFound(w, r)
	case strings.HasPrefix(path, "/block/height/") && r.Method == http.MethodGet:
		if js, ok := f.blocks[strings.TrimPrefix(path, "/block/height/")]; ok {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, js)
			return
		}
		http.NotFound(w, r)
	default:
		raw := strings.HasPrefix(path, "/raw/")
		id := strings.TrimPrefix(strings.TrimPrefix(path, "/raw"), "/")
		content, ok := f.data[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodHead:
			if f.rawOnly[id] && !raw {
				w.WriteHeader(http.StatusOK) // no Content-Length

				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			w.WriteHeader(http.StatusOK)
		case http.MethodGet:
			if first, last, ok := parseRange(r.Header.Get("Range")); ok && !f.ignoreRange && first < int64(len(content)) {
				last = min(last, int64(len(content))-1)
				part := content[first : last+1]
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(content)))
				w.Header().Set("Content-Length", strconv.Itoa(len(part)))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(part)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			w.WriteHeader(http.StatusOK)
			w.Write(content)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	}
}

// parseRange parses a single "bytes=<first>-<last>" range; anything else (including the reference's
// "bytes=00610-61") is not a valid range, so the server ignores it (RFC 9110).
func parseRange(h string) (first, last int64, ok bool) {
	m := regexp.MustCompile(`^bytes=(0|[1-9]\d*)-(0|[1-9]\d*)$`).FindStringSubmatch(h)
	if m == nil {
		return 0, 0, false
	}
	first, _ = strconv.ParseInt(m[1], 10, 64)
	last, _ = strconv.ParseInt(m[2], 10, 64)
	return first, last, first <= last
}

func (f *fakeGateway) serveGraphQL(w http.ResponseWriter, r *http.Request, body []byte) {
	f.bodies = append(f.bodies, string(body))
	if f.gqlStatus != 0 {
		w.WriteHeader(f.gqlStatus)
		io.WriteString(w, f.gqlBody)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("GraphQL Content-Type %q", ct)
	}
	var req struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("GraphQL body %q: %v", body, err)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	f.queries = append(f.queries, req.Query)
	kind, id, owners, max, err := parseQuery(req.Query)
	if err != nil {
		f.t.Error(err)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"message":"syntax"}]}`)
		return
	}
	var edges []string
	for _, a := range f.attests {
		if a.kind == kind && a.id == id && a.height <= max && (len(owners) == 0 || contains(owners, a.owner)) {
			edges = append(edges, `{"node":{"tags":[{"name":"Type","value":"`+kind+`"}]}}`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"data":{"transactions":{"edges":[`+strings.Join(edges, ",")+`]}}}`)
}

// newTestGateway returns a Gateway on the given fake gateways with millisecond retry delays.
func newTestGateway(t *testing.T, opts Options, gws ...*fakeGateway) *Gateway {
	t.Helper()
	var urls []string
	for _, f := range gws {
		urls = append(urls, f.srv.URL)
	}
	if opts.RetryDelays == nil {
		opts.RetryDelays = []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	}
	g, err := NewGateway(strings.Join(urls, ", "), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
