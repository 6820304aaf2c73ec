package weavedrive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testID pads a readable prefix to a 43-character id.
func testID(prefix string) string { return prefix + strings.Repeat("0", 43-len(prefix)) }

var (
	dataID   = testID("DATA_TX_ID_")
	txID     = testID("SOME_TX_ID_")
	bootID   = testID("BOOT_ID_")
	schedID  = testID("SCHEDULER_")
	attestor = testID("ATTESTOR_")
	pid      = testID("PROCESS_")
)

// testContent is a deterministic file of n bytes.
func testContent(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func testReq(path string) Request {
	return Request{Path: path, BlockHeight: 150, ProcessID: pid}
}

func mustOpen(t *testing.T, g *Gateway, req Request) File {
	t.Helper()
	f, err := g.Open(context.Background(), req)
	if err != nil {
		t.Fatalf("Open(%s): %v", req.Path, err)
	}
	if f == nil {
		t.Fatalf("Open(%s): nil file", req.Path)
	}
	return f
}

func wantRequests(t *testing.T, f *fakeGateway, want ...string) {
	t.Helper()
	got := f.requests()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("requests:\n got %q\nwant %q", got, want)
	}
}

func readAt(t *testing.T, f File, n int, off int64) ([]byte, error) {
	t.Helper()
	p := make([]byte, n)
	got, err := f.ReadAt(p, off)
	return p[:got], err
}

func TestDataRangedReadsAndReadAhead(t *testing.T) {
	gw := newFakeGateway(t)
	content := testContent(100000)
	gw.data[dataID] = content
	g := newTestGateway(t, Options{Mode: ModeTest, ReadAhead: 32 << 10}, gw)

	f := mustOpen(t, g, testReq("/data/"+dataID))
	wantRequests(t, gw, "HEAD /"+dataID)
	if ae := gw.headers[0].Get("Accept-Encoding"); ae != "identity" {
		t.Errorf("HEAD Accept-Encoding %q, want identity", ae)
	}
	if f.Size() != 100000 {
		t.Fatalf("Size %d", f.Size())
	}

	steps := []struct {
		n       int
		off     int64
		newReqs []string
		wantErr error
	}{
		{10, 0, []string{"GET /" + dataID + " Range=bytes=0-32767"}, nil},
		{100, 1000, nil, nil}, // inside the read-ahead
		// crosses the read-ahead boundary: 8 bytes from the buffer, the rest from a new window
		{20, 32760, []string{"GET /" + dataID + " Range=bytes=32768-65535"}, nil},
		// 25536 bytes from the buffer, then a window of max(24464, 32768) bytes
		{50000, 40000, []string{"GET /" + dataID + " Range=bytes=65536-98303"}, nil},
		// the window is clamped to Size, and a short read says io.EOF
		{10, 99995, []string{"GET /" + dataID + " Range=bytes=99995-99999"}, io.EOF},
		{10, 100000, nil, io.EOF},
		{10, 200000, nil, io.EOF},
		{0, 5, nil, nil},
	}
	for _, s := range steps {
		gw.reset()
		got, err := readAt(t, f, s.n, s.off)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Fatalf("ReadAt(%d, %d): err %v, want %v", s.n, s.off, err, s.wantErr)
		}
		end := min(s.off+int64(s.n), int64(len(content)))
		want := []byte{}
		if s.off < end {
			want = content[s.off:end]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadAt(%d, %d): %d bytes, content differs", s.n, s.off, len(got))
		}
		wantRequests(t, gw, s.newReqs...)
		for _, h := range gw.headers {
			if ae := h.Get("Accept-Encoding"); ae != "identity" {
				t.Errorf("GET Accept-Encoding %q, want identity", ae)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := readAt(t, f, 1, 0); err == nil {
		t.Error("ReadAt after Close: no error")
	}
}

func TestDataLargeReadIsSplit(t *testing.T) {
	gw := newFakeGateway(t)
	content := testContent(100000)
	gw.data[dataID] = content
	g := newTestGateway(t, Options{Mode: ModeTest, ReadAhead: 32 << 10, MaxRequestBytes: 40000}, gw)
	f := mustOpen(t, g, testReq("/data/"+dataID))
	gw.reset()
	got, err := readAt(t, f, 100000, 0)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read all: %d bytes, %v", len(got), err)
	}
	wantRequests(t, gw,
		"GET /"+dataID+" Range=bytes=0-39999",
		"GET /"+dataID+" Range=bytes=40000-79999",
		"GET /"+dataID+" Range=bytes=80000-99999")
}

func TestDataFullBodyAnswer(t *testing.T) {
	gw := newFakeGateway(t)
	content := testContent(100000)
	gw.data[dataID] = content
	gw.ignoreRange = true
	g := newTestGateway(t, Options{Mode: ModeTest, ReadAhead: 32 << 10}, gw)
	f := mustOpen(t, g, testReq("/data/"+dataID))
	gw.reset()
	got, err := readAt(t, f, 10, 50000)
	if err != nil || !bytes.Equal(got, content[50000:50010]) {
		t.Fatalf("read: %v", err)
	}
	wantRequests(t, gw, "GET /"+dataID+" Range=bytes=50000-82767")
	// The whole body was kept: no more requests, anywhere in the file.
	gw.reset()
	for _, off := range []int64{0, 99990, 12345} {
		got, err := readAt(t, f, 10, off)
		if err != nil || !bytes.Equal(got, content[off:off+10]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	wantRequests(t, gw)
	// ... and cached per Gateway: opening it again needs no request.
	f2 := mustOpen(t, g, testReq("/data/"+dataID))
	got, err = readAt(t, f2, 100000, 0)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("cached read: %v", err)
	}
	wantRequests(t, gw)
}

func TestDataFullBodyAnswerLargeFile(t *testing.T) {
	gw := newFakeGateway(t)
	content := testContent(100000)
	gw.data[dataID] = content
	gw.ignoreRange = true
	g := newTestGateway(t, Options{Mode: ModeTest, ReadAhead: 32 << 10, MaxRequestBytes: 40000}, gw)
	f := mustOpen(t, g, testReq("/data/"+dataID))
	for _, off := range []int64{50000, 10, 99999} {
		got, err := readAt(t, f, 10, off)
		want := content[off:min(off+10, 100000)]
		if !bytes.Equal(got, want) || (err != nil && !errors.Is(err, io.EOF)) {
			t.Fatalf("read at %d: %d bytes, %v", off, len(got), err)
		}
	}
	wantRequests(t, gw,
		"HEAD /"+dataID,
		"GET /"+dataID+" Range=bytes=50000-82767",
		"GET /"+dataID+" Range=bytes=10-32777",
		"GET /"+dataID+" Range=bytes=99999-99999")
}

func TestDataNeverMoreThanSize(t *testing.T) {
	for _, ignoreRange := range []bool{false, true} {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(120)
		gw.ignoreRange = ignoreRange
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		put(g.cache, "size/"+dataID, dataMeta{size: 100, path: dataID}, 0) // HEAD said 100
		f := mustOpen(t, g, testReq("/data/"+dataID))
		got, err := readAt(t, f, 200, 0)
		if len(got) != 100 || !errors.Is(err, io.EOF) || !bytes.Equal(got, testContent(100)) {
			t.Fatalf("ignoreRange=%v: %d bytes, %v", ignoreRange, len(got), err)
		}
		wantRequests(t, gw, "GET /"+dataID+" Range=bytes=0-99")
	}
}

func TestDataRawFallback(t *testing.T) {
	t.Run("no Content-Length", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(61)
		gw.rawOnly[dataID] = true
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		f := mustOpen(t, g, testReq("/data/"+dataID))
		got, err := readAt(t, f, 61, 0)
		if err != nil || !bytes.Equal(got, testContent(61)) {
			t.Fatalf("read: %v", err)
		}
		wantRequests(t, gw, "HEAD /"+dataID, "HEAD /raw/"+dataID, "GET /raw/"+dataID+" Range=bytes=0-60")
	})
	t.Run("404", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(61)
		gw.status["HEAD /"+dataID] = http.StatusNotFound
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		f := mustOpen(t, g, testReq("/data/"+dataID))
		if f.Size() != 61 {
			t.Fatalf("Size %d", f.Size())
		}
		wantRequests(t, gw, "HEAD /"+dataID, "HEAD /raw/"+dataID)
	})
}

func TestDataMissingHalts(t *testing.T) {
	gw := newFakeGateway(t)
	g := newTestGateway(t, Options{Mode: ModeTest}, gw)
	id := testID("MISSING_")
	f, err := g.Open(context.Background(), testReq("/data/"+id))
	if f != nil || !errors.Is(err, ErrHalt) {
		t.Fatalf("got %v, %v; want ErrHalt", f, err)
	}
	if !strings.HasPrefix(err.Error(), "HALT: FILE NOT FOUND") {
		t.Errorf("message %q", err)
	}
	// 404 is definitive: no retries.
	wantRequests(t, gw, "HEAD /"+id, "HEAD /raw/"+id)
}

func TestDataHeadTransientFailures(t *testing.T) {
	t.Run("500 then success", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(10)
		gw.failures["HEAD /"+dataID] = 2
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		mustOpen(t, g, testReq("/data/"+dataID))
		wantRequests(t, gw, "HEAD /"+dataID, "HEAD /"+dataID, "HEAD /"+dataID)
	})
	t.Run("always 503 is not a HALT", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(10)
		gw.status["HEAD /"+dataID] = http.StatusServiceUnavailable
		gw.status["HEAD /raw/"+dataID] = http.StatusServiceUnavailable
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		_, err := g.Open(context.Background(), testReq("/data/"+dataID))
		if err == nil || errors.Is(err, ErrHalt) {
			t.Fatalf("err %v, want a non-HALT error", err)
		}
		if n := len(gw.requests()); n != 10 { // (1 try + 4 retries) for /<id> and for /raw/<id>
			t.Errorf("%d requests, want 10", n)
		}
	})
	t.Run("range GET 500 then success", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(10)
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		f := mustOpen(t, g, testReq("/data/"+dataID))
		gw.reset()
		gw.failures["GET /"+dataID] = 1
		got, err := readAt(t, f, 10, 0)
		if err != nil || !bytes.Equal(got, testContent(10)) {
			t.Fatalf("read: %v", err)
		}
		wantRequests(t, gw, "GET /"+dataID+" Range=bytes=0-9", "GET /"+dataID+" Range=bytes=0-9")
	})
}

func TestInvalidIDsHaltWithoutRequests(t *testing.T) {
	gw := newFakeGateway(t)
	g := newTestGateway(t, Options{Mode: ModeTest}, gw)
	for _, p := range []string{
		"/data/short", "/data/", "/data", "/data/" + strings.Repeat("a", 42) + "+", "/data/" + strings.Repeat("a", 44),
		"/tx/x", "/tx/" + strings.Repeat("a", 42) + "=", "/block/abc", "/block/-1", "/block/01", "/block/",
	} {
		f, err := g.Open(context.Background(), testReq(p))
		if f != nil || !errors.Is(err, ErrHalt) {
			t.Errorf("%s: got %v, %v; want ErrHalt", p, f, err)
		}
	}
	wantRequests(t, gw)
}

func TestNonDrivePaths(t *testing.T) {
	gw := newFakeGateway(t)
	g := newTestGateway(t, Options{Mode: ModeTest}, gw)
	for _, p := range []string{
		"/usr/local/share/lua/5.3/x.lua", "./nope.lua", "/headers/" + dataID, "/headers", "", "data/" + dataID,
		"//data/" + dataID, "/DATA/" + dataID, "/", "nope",
	} {
		f, err := g.Open(context.Background(), testReq(p))
		if f != nil || err != nil {
			t.Errorf("%q: got %v, %v; want nil, nil", p, f, err)
		}
	}
	wantRequests(t, gw)
}

func TestDataExtraPathSegmentsIgnored(t *testing.T) {
	// The reference takes filename.split('/')[2] as the id.
	gw := newFakeGateway(t)
	gw.data[dataID] = testContent(5)
	g := newTestGateway(t, Options{Mode: ModeTest}, gw)
	f := mustOpen(t, g, testReq("/data/"+dataID+"/extra"))
	if f.Size() != 5 {
		t.Fatalf("Size %d", f.Size())
	}
	wantRequests(t, gw, "HEAD /"+dataID)
}

func TestAdmissibility(t *testing.T) {
	ext := Tag{Name: "Extension", Value: "WeaveDrive"}
	sched := Tag{Name: "Scheduler", Value: schedID}
	cases := []struct {
		name        string
		process     []Tag
		module      []Tag
		attests     []fakeAttestation
		admitted    bool
		queries     []string // kinds of the GraphQL queries sent
		owners      []string // owners of every query
		errContains string
	}{
		{name: "On-Boot id, no extension needed", process: []Tag{{Name: "On-Boot", Value: dataID}}, admitted: true},
		{name: "last On-Boot counts", process: []Tag{{Name: "On-Boot", Value: dataID}, {Name: "On-Boot", Value: bootID}}, errContains: "Extension: WeaveDrive"},
		{name: "no extension", process: []Tag{sched}, attests: []fakeAttestation{{"Attestation", dataID, schedID, 100}}, errContains: "Extension: WeaveDrive"},
		{name: "extension with another value", process: []Tag{sched, {Name: "Extension", Value: "weavedrive"}}, errContains: "Extension: WeaveDrive"},
		{
			name: "extension on module, attested", process: []Tag{sched}, module: []Tag{ext},
			attests: []fakeAttestation{{"Attestation", dataID, schedID, 100}}, admitted: true,
			queries: []string{"Attestation"}, owners: []string{schedID},
		},
		{
			name: "extension on process, attested", process: []Tag{sched, ext},
			attests: []fakeAttestation{{"Attestation", dataID, schedID, 150}}, admitted: true,
			queries: []string{"Attestation"}, owners: []string{schedID},
		},
		{
			name: "attestation after the message's block", process: []Tag{sched, ext},
			attests: []fakeAttestation{{"Attestation", dataID, schedID, 151}},
			queries: []string{"Attestation"}, owners: []string{schedID}, errContains: "no attestation",
		},
		{
			name: "attestation by someone else", process: []Tag{sched, ext},
			attests: []fakeAttestation{{"Attestation", dataID, attestor, 100}},
			queries: []string{"Attestation"}, owners: []string{schedID}, errContains: "no attestation",
		},
		{
			name: "Attestor tag", process: []Tag{sched, ext, {Name: "Attestor", Value: attestor}, {Name: "Attestor", Value: ""}},
			attests: []fakeAttestation{{"Attestation", dataID, attestor, 100}}, admitted: true,
			queries: []string{"Attestation"}, owners: []string{schedID, attestor},
		},
		{
			name: "Individual: Available item", process: []Tag{sched, ext, {Name: "Availability-Type", Value: "Individual"}},
			attests: []fakeAttestation{{"Available", dataID, schedID, 100}}, admitted: true,
			queries: []string{"Attestation", "Available"}, owners: []string{schedID},
		},
		{
			name: "Individual: nothing", process: []Tag{sched, ext, {Name: "Availability-Type", Value: "Individual"}},
			queries: []string{"Attestation", "Available"}, owners: []string{schedID}, errContains: "no attestation",
		},
		{
			name: "Assignments ignores Available items", process: []Tag{sched, ext},
			attests: []fakeAttestation{{"Available", dataID, schedID, 100}},
			queries: []string{"Attestation"}, owners: []string{schedID}, errContains: "no attestation",
		},
		{
			name: "process Availability-Type overrides the module's", process: []Tag{sched, ext, {Name: "Availability-Type", Value: "Individual"}},
			module: []Tag{{Name: "Availability-Type", Value: "Library"}}, attests: []fakeAttestation{{"Available", dataID, schedID, 100}}, admitted: true,
			queries: []string{"Attestation", "Available"}, owners: []string{schedID},
		},
		{
			name: "Library from the module, no attestation", process: []Tag{sched, ext}, module: []Tag{{Name: "Availability-Type", Value: "Library"}},
			queries: []string{"Attestation"}, owners: []string{schedID}, errContains: "This WeaveDrive implementation does not support Library attestations yet!",
		},
		{
			name: "Library with an attestation", process: []Tag{sched, ext, {Name: "Availability-Type", Value: "Library"}},
			attests: []fakeAttestation{{"Attestation", dataID, schedID, 100}}, admitted: true,
			queries: []string{"Attestation"}, owners: []string{schedID},
		},
		{name: "unsupported mode", process: []Tag{sched, ext, {Name: "Availability-Type", Value: "Everything"}}, errContains: `unsupported WeaveDrive mode`},
		{
			name: "empty Availability-Type falls back", process: []Tag{sched, ext, {Name: "Availability-Type", Value: ""}}, module: []Tag{{Name: "Availability-Type", Value: "Individual"}},
			queries: []string{"Attestation", "Available"}, owners: []string{schedID}, errContains: "no attestation",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gw := newFakeGateway(t)
			gw.data[dataID] = testContent(61)
			gw.attests = c.attests
			g := newTestGateway(t, Options{}, gw)
			req := Request{Path: "/data/" + dataID, BlockHeight: 150, ProcessID: pid, ProcessTags: c.process, ModuleTags: c.module}
			f, err := g.Open(context.Background(), req)
			if c.admitted {
				if err != nil || f == nil {
					t.Fatalf("not admitted: %v", err)
				}
			} else {
				if f != nil || !errors.Is(err, ErrHalt) {
					t.Fatalf("got %v, %v; want ErrHalt", f, err)
				}
				if !strings.Contains(err.Error(), c.errContains) {
					t.Errorf("error %q does not contain %q", err, c.errContains)
				}
			}
			if len(gw.queries) != len(c.queries) {
				t.Fatalf("%d GraphQL queries, want %d (%q)", len(gw.queries), len(c.queries), c.queries)
			}
			for i, q := range gw.queries {
				kind, id, owners, max, err := parseQuery(q)
				if err != nil {
					t.Fatal(err)
				}
				if kind != c.queries[i] || id != dataID || max != 150 || !reflect.DeepEqual(owners, c.owners) {
					t.Errorf("query %d: kind %s id %s max %d owners %q; want %s %s 150 %q", i, kind, id, max, owners, c.queries[i], dataID, c.owners)
				}
			}
			// Nothing is fetched for an inadmissible id.
			heads := 0
			for _, r := range gw.requests() {
				if strings.HasPrefix(r, "HEAD ") {
					heads++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[c.admitted]; heads != want {
				t.Errorf("%d HEAD requests, want %d", heads, want)
			}
		})
	}
}

func TestGraphQLRequestsMatchReference(t *testing.T) {
	ref := loadReference(t)
	id := dataID // the generator's id: "DATA_TX_ID_" + 32 zeros
	gw := newFakeGateway(t)
	g := newTestGateway(t, Options{}, gw)
	// The tags the node generator gave the reference (testdata/gen-reference.cjs).
	req := Request{Path: "/data/" + id, BlockHeight: 1500000, ProcessTags: []Tag{
		{Name: "Scheduler", Value: "SCHED_0"}, {Name: "Scheduler", Value: "SCHED_1"}, {Name: "Attestor", Value: "ATT_1"}, {Name: "Attestor", Value: ""}, {Name: "Attestor", Value: "ATT_2"},
		{Name: "Extension", Value: "WeaveDrive"}, {Name: "Availability-Type", Value: "Individual"},
	}}
	if _, err := g.Open(context.Background(), req); !errors.Is(err, ErrHalt) {
		t.Fatalf("err %v, want ErrHalt", err)
	}
	if len(gw.bodies) != len(ref.GQL) {
		t.Fatalf("%d GraphQL requests, reference %d", len(gw.bodies), len(ref.GQL))
	}
	for i, want := range ref.GQL {
		if gw.bodies[i] != want.Body {
			t.Errorf("body %d:\n got %s\nwant %s", i, gw.bodies[i], want.Body)
		}
		if want.Method != "POST" || want.URL != "http://gw.example/graphql" || want.Headers["Content-Type"] != "application/json" {
			t.Errorf("unexpected reference request %+v", want)
		}
	}
	wantRequests(t, gw, "POST /graphql", "POST /graphql")

	// Library, no Scheduler: owners [] and the reference's message.
	gw.reset()
	req.ProcessTags = []Tag{{Name: "Extension", Value: "WeaveDrive"}, {Name: "Availability-Type", Value: "Library"}}
	_, err := g.Open(context.Background(), req)
	if !errors.Is(err, ErrHalt) || !strings.Contains(err.Error(), ref.LibraryThrow) {
		t.Fatalf("err %v, want ErrHalt with %q", err, ref.LibraryThrow)
	}
	if len(gw.bodies) != 1 || gw.bodies[0] != ref.LibraryLog[0] {
		t.Errorf("Library bodies %q, want %q", gw.bodies, ref.LibraryLog)
	}
}

func TestGraphQLFailures(t *testing.T) {
	tags := []Tag{{Name: "Scheduler", Value: schedID}, {Name: "Extension", Value: "WeaveDrive"}}
	t.Run("500 is a transport error", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.gqlStatus, gw.gqlBody = http.StatusBadGateway, "bad gateway"
		g := newTestGateway(t, Options{}, gw)
		_, err := g.Open(context.Background(), Request{Path: "/data/" + dataID, BlockHeight: 1, ProcessTags: tags})
		if err == nil || errors.Is(err, ErrHalt) {
			t.Fatalf("err %v, want a non-HALT error", err)
		}
		if n := len(gw.requests()); n != 5 {
			t.Errorf("%d requests, want 5", n)
		}
	})
	t.Run("400 with GraphQL errors is not admitted", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.gqlStatus, gw.gqlBody = http.StatusBadRequest, `{"errors":[{"message":"Syntax Error"}]}`
		g := newTestGateway(t, Options{}, gw)
		_, err := g.Open(context.Background(), Request{Path: "/data/" + dataID, BlockHeight: 1, ProcessTags: tags})
		if !errors.Is(err, ErrHalt) {
			t.Fatalf("err %v, want ErrHalt", err)
		}
	})
	t.Run("non-JSON answer is an error", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.gqlStatus, gw.gqlBody = http.StatusOK, `<html>`
		g := newTestGateway(t, Options{}, gw)
		_, err := g.Open(context.Background(), Request{Path: "/data/" + dataID, BlockHeight: 1, ProcessTags: tags})
		if err == nil || errors.Is(err, ErrHalt) {
			t.Fatalf("err %v, want a non-HALT error", err)
		}
	})
}

func TestAttestationCache(t *testing.T) {
	gw := newFakeGateway(t)
	gw.data[dataID] = testContent(10)
	gw.attests = []fakeAttestation{{"Attestation", dataID, schedID, 100}}
	g := newTestGateway(t, Options{}, gw)
	tags := []Tag{{Name: "Scheduler", Value: schedID}, {Name: "Extension", Value: "WeaveDrive"}}
	open := func(h int64) {
		t.Helper()
		if _, err := g.Open(context.Background(), Request{Path: "/data/" + dataID, BlockHeight: h, ProcessTags: tags}); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
	}
	open(150)
	open(150)
	open(1000)
	if len(gw.queries) != 1 {
		t.Fatalf("%d queries, want 1 (cached for heights >= 150)", len(gw.queries))
	}
	open(120) // lower than any cached height: asked again
	open(130)
	if len(gw.queries) != 2 {
		t.Fatalf("%d queries, want 2", len(gw.queries))
	}
	if n := strings.Count(strings.Join(gw.requests(), "\n"), "HEAD "); n != 1 {
		t.Errorf("%d HEADs, want 1 (the size is cached)", n)
	}
}

// RSA-4096 public modulus (JWK "n") and its Arweave address, made with node 20:
//
//	const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 })
//	const n = publicKey.export({ format: 'jwk' }).n
//	crypto.createHash('sha256').update(Buffer.from(n, 'base64url')).digest('base64url')
//
// (testdata/gen-reference.cjs; the reference's own createTxHeader gave the same ownerAddress.)
const (
	rsaModulus = "wvxt0qxa1zz2zU4BlY9rcuV9IUr2fx1t4WFFMVRAnqBnQ2wiEGRvPUderZNGo0KTLXCDLqqR4NSU3JtF0yTWoXCLc_v7MdmRjZtgcHveOpOxCOSvKc5RFxvM_G8zwPorNhG933exHhxmT1WTBo6xXjJvb5pcCNrHmSAJDklPVViSQTOY-t3MR6B1kFpwcXfhDoKQjpAX0aY9elNS7M18QwB5OGCq-Cb18mN4_IyXZuyPr0al6SG2UE627Pkefl1hmgh_2wUc0JDoi5wA8bATytaiihxHCO0Kf2WNxWtzMAkQMwJtFbw8dE_TlU-scBd_tmBflKr82K6O7lkkybgsE-1TWveWIx-wRX45Op2nIvk-D45pUjrCDdINpy8ujfsNMnBk8FxIVLxU-W5o1nqIv72RJXq2-wbXphlRbeiNeuGh7OL4S4nzm7yciIMVbJNyRybotWUEOJZSRuiRnvNuFtfhdIi0lDvVnHJGEP_japUUOiElcqew3_jNq6ACV43kREkKg338B_vHyafAJBcTsC4o5kPvGZKx2c5bo73GP8BW8xbfxD2T2WgJUyVmAyp6n3qWeFhaepvEagzEEI5Av6lbTuiuGjBgO3Nq0w5Ln_zhN9H9889uscmOwR-2WTwR38Xb2TRq17n_K1Yndj7asOeNWeKmbf9btbDyNMB27y0"
	rsaAddress = "rJgbjKkYtaVP3k16DaUjkSOFIMKMj4M84CVb41sTlS4"
)

func TestTxFile(t *testing.T) {
	gw := newFakeGateway(t)
	gw.tx[txID] = `{"id":"` + txID + `","owner":"` + rsaModulus + `","tags":[],"data_size":"0","target":""}`
	g := newTestGateway(t, Options{}, gw) // /tx needs no admissibility
	f := mustOpen(t, g, testReq("/tx/"+txID))
	want := `{"id":"` + txID + `","owner":"` + rsaModulus + `","tags":[],"data_size":"0","target":"","ownerAddress":"` + rsaAddress + `"}`
	if f.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", f.Size(), len(want))
	}
	got, err := readAt(t, f, len(want)+10, 0)
	if string(got) != want || !errors.Is(err, io.EOF) {
		t.Fatalf("content %s (%v)\nwant %s", got, err, want)
	}
	wantRequests(t, gw, "GET /tx/"+txID)
	// Cached per Gateway.
	mustOpen(t, g, testReq("/tx/"+txID))
	wantRequests(t, gw, "GET /tx/"+txID)
}

func TestTxBadAnswers(t *testing.T) {
	for _, body := range []string{`not json`, `[1]`, `{"id":"x"}`, `{"owner":5}`, `{"owner":"="}`} {
		gw := newFakeGateway(t)
		gw.tx[txID] = body
		g := newTestGateway(t, Options{}, gw)
		f, err := g.Open(context.Background(), testReq("/tx/"+txID))
		if f != nil || err == nil || errors.Is(err, ErrHalt) {
			t.Errorf("%s: got %v, %v; want a non-HALT error", body, f, err)
		}
	}
}

func TestBlockFile(t *testing.T) {
	gw := newFakeGateway(t)
	body := `{"height":1500000,"indep_hash":"BLOCK_HASH","timestamp":1700000000}`
	gw.blocks["1500000"] = body
	gw.blocks["7"] = "\ufeff{ \"height\" : 7 }\xff" // kept as text: BOM removed, invalid UTF-8 replaced, not re-serialised
	g := newTestGateway(t, Options{}, gw)
	f := mustOpen(t, g, testReq("/block/1500000"))
	if got, _ := readAt(t, f, 1000, 0); string(got) != body {
		t.Fatalf("content %q", got)
	}
	f = mustOpen(t, g, testReq("/block/7"))
	if got, _ := readAt(t, f, 1000, 0); string(got) != "{ \"height\" : 7 }\uFFFD" {
		t.Fatalf("content %q", got)
	}
	wantRequests(t, gw, "GET /block/height/1500000", "GET /block/height/7")
}

func TestTxAndBlockRetries(t *testing.T) {
	t.Run("500 twice then success", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.blocks["5"] = `{"height":5}`
		gw.failures["GET /block/height/5"] = 2
		g := newTestGateway(t, Options{}, gw)
		mustOpen(t, g, testReq("/block/5"))
		wantRequests(t, gw, "GET /block/height/5", "GET /block/height/5", "GET /block/height/5")
	})
	t.Run("404 is retried like the reference, then fails without HALT", func(t *testing.T) {
		gw := newFakeGateway(t)
		g := newTestGateway(t, Options{}, gw)
		_, err := g.Open(context.Background(), testReq("/tx/"+txID))
		if err == nil || errors.Is(err, ErrHalt) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err %v", err)
		}
		if n := len(gw.requests()); n != 5 {
			t.Errorf("%d requests, want 5 (1 + 4 retries)", n)
		}
	})
	t.Run("202 pending is retried", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.status["GET /tx/"+txID] = http.StatusAccepted
		g := newTestGateway(t, Options{RetryDelays: []time.Duration{time.Millisecond}}, gw)
		if _, err := g.Open(context.Background(), testReq("/tx/"+txID)); err == nil || errors.Is(err, ErrHalt) {
			t.Fatalf("err %v", err)
		}
		if n := len(gw.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("no retries", func(t *testing.T) {
		gw := newFakeGateway(t)
		g := newTestGateway(t, Options{RetryDelays: []time.Duration{}}, gw)
		if _, err := g.Open(context.Background(), testReq("/block/9")); err == nil {
			t.Fatal("no error")
		}
		if n := len(gw.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestContextCancellation(t *testing.T) {
	t.Run("during a retry sleep", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.status["GET /tx/"+txID] = http.StatusInternalServerError
		g := newTestGateway(t, Options{RetryDelays: []time.Duration{time.Hour}}, gw)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for len(gw.requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		start := time.Now()
		_, err := g.Open(ctx, testReq("/tx/"+txID))
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrHalt) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		gw := newFakeGateway(t)
		gw.data[dataID] = testContent(10)
		g := newTestGateway(t, Options{Mode: ModeTest}, gw)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, p := range []string{"/data/" + dataID, "/tx/" + txID, "/block/1"} {
			if _, err := g.Open(ctx, testReq(p)); !errors.Is(err, context.Canceled) || errors.Is(err, ErrHalt) {
				t.Errorf("%s: err %v, want context.Canceled", p, err)
			}
		}
		// A read bound to a cancelled context fails too.
		f := mustOpen(t, g, testReq("/data/"+dataID))
		if _, err := ReadAt(ctx, f, make([]byte, 4), 0); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadAt: err %v, want context.Canceled", err)
		}
		if got, err := readAt(t, f, 4, 0); err != nil || !bytes.Equal(got, testContent(4)) {
			t.Errorf("ReadAt with the open context: %v", err)
		}
	})
	t.Run("request timeout", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(release)
		g, err := NewGateway(slow.URL, nil, Options{Timeout: 50 * time.Millisecond, RetryDelays: []time.Duration{time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = g.Open(context.Background(), testReq("/block/1"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a deadline error", err)
		}
	})
}

func TestMultipleGateways(t *testing.T) {
	empty := newFakeGateway(t)
	full := newFakeGateway(t)
	full.data[dataID] = testContent(100)
	full.tx[txID] = `{"owner":"` + rsaModulus + `"}`
	g := newTestGateway(t, Options{Mode: ModeTest}, empty, full)
	f := mustOpen(t, g, testReq("/data/"+dataID))
	if got, err := readAt(t, f, 100, 0); err != nil || !bytes.Equal(got, testContent(100)) {
		t.Fatalf("read: %v", err)
	}
	mustOpen(t, g, testReq("/tx/"+txID))
	wantRequests(t, empty, "HEAD /"+dataID, "GET /"+dataID+" Range=bytes=0-99", "GET /tx/"+txID)
	wantRequests(t, full, "HEAD /"+dataID, "GET /"+dataID+" Range=bytes=0-99", "GET /tx/"+txID)

	// A primary that is down is skipped too.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	g, err := NewGateway(downURL+" , "+full.srv.URL, nil, Options{Mode: ModeTest, RetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, g, testReq("/data/"+dataID))

	// When every gateway fails, the primary's answer counts: 404 there is a HALT.
	other := newFakeGateway(t)
	other.status["HEAD /"+testID("NONE_")] = http.StatusInternalServerError
	other.status["HEAD /raw/"+testID("NONE_")] = http.StatusInternalServerError
	g = newTestGateway(t, Options{Mode: ModeTest}, empty, other)
	if _, err := g.Open(context.Background(), testReq("/data/"+testID("NONE_"))); !errors.Is(err, ErrHalt) {
		t.Errorf("err %v, want ErrHalt", err)
	}
}

func TestNewGatewayValidation(t *testing.T) {
	for _, s := range []string{"", "arweave.net", "ftp://x", "http://", "https://a.example,"} {
		if _, err := NewGateway(s, nil, Options{}); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	g, err := NewGateway(" https://a.example/ , http://b.example/prefix", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := urlFor(g.bases[0], "tx/x"); got != "https://a.example/tx/x" {
		t.Errorf("got %s", got)
	}
	if got := urlFor(g.bases[1], "graphql"); got != "http://b.example/prefix/graphql" {
		t.Errorf("got %s", got)
	}
}

func TestConcurrentReads(t *testing.T) {
	gw := newFakeGateway(t)
	content := testContent(300000)
	gw.data[dataID] = content
	g := newTestGateway(t, Options{Mode: ModeTest, ReadAhead: 32 << 10}, gw)
	f := mustOpen(t, g, testReq("/data/"+dataID))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < 30; i++ {
				off := rng.Int63n(int64(len(content)))
				n := rng.Intn(70000)
				p := make([]byte, n)
				got, err := f.ReadAt(p, off)
				end := min(off+int64(n), int64(len(content)))
				if int64(got) != end-off || !bytes.Equal(p[:got], content[off:end]) {
					t.Errorf("ReadAt(%d, %d) = %d, %v", n, off, got, err)
					return
				}
				if (end < off+int64(n)) != errors.Is(err, io.EOF) {
					t.Errorf("ReadAt(%d, %d): err %v", n, off, err)
				}
			}
		}(int64(w))
	}
	wg.Wait()
}

func TestLRU(t *testing.T) {
	c := newLRU(3*entryOverhead + 30)
	put(c, "a", 1, 10-1)
	put(c, "b", 2, 10-1)
	put(c, "c", 3, 10-1)
	if _, ok := c.Get("a"); !ok { // a becomes the most recent
		t.Fatal("a missing")
	}
	put(c, "d", 4, 10-1) // evicts b
	if _, ok := c.Get("b"); ok {
		t.Error("b not evicted")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s missing", k)
		}
	}
	put(c, "huge", 5, 1<<20)
	if _, ok := c.Get("huge"); ok {
		t.Error("an entry larger than the cache was stored")
	}
	var none *cache
	put(none, "x", 1, 1)
	if _, ok := none.Get("x"); ok {
		t.Error("nil cache stored")
	}
}

func TestSerializeStringArrEscapes(t *testing.T) {
	got := serializeStringArr([]string{"a", `x"]}, owners: ["`, `b\c`, "n\nl\x01"})
	want := `["a", "x\"]}, owners: [\"", "b\\c", "n\nl\u0001"]`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := serializeStringArr(nil); got != "[]" {
		t.Errorf("empty: %s", got)
	}
}

// oddServer answers HEAD with Content-Length 100 and ranged GETs with 206 through answer.
func oddServer(t *testing.T, answer func(w http.ResponseWriter, first, last int64)) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var log []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, r.Method+" "+r.Header.Get("Range"))
		mu.Unlock()
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "100")
			return
		}
		first, last, ok := parseRange(r.Header.Get("Range"))
		if !ok {
			t.Errorf("bad range %q", r.Header.Get("Range"))
		}
		answer(w, first, last)
	}))
	t.Cleanup(srv.Close)
	return srv, &log
}

func TestDataShortPartialAnswers(t *testing.T) {
	content := testContent(100)
	srv, log := oddServer(t, func(w http.ResponseWriter, first, last int64) {
		last = min(last, first+9) // at most 10 bytes per answer
		w.Header().Set("Content-Range", "bytes "+itoa(first)+"-"+itoa(last)+"/100")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(content[first : last+1])
	})
	g, err := NewGateway(srv.URL, nil, Options{Mode: ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, g, testReq("/data/"+dataID))
	got, err := readAt(t, f, 35, 20)
	if err != nil || !bytes.Equal(got, content[20:55]) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	want := []string{"HEAD ", "GET bytes=20-99", "GET bytes=30-99", "GET bytes=40-99", "GET bytes=50-99"}
	if !reflect.DeepEqual(*log, want) {
		t.Errorf("requests %q\nwant %q", *log, want)
	}
}

func TestDataWrongContentRange(t *testing.T) {
	srv, log := oddServer(t, func(w http.ResponseWriter, first, last int64) {
		w.Header().Set("Content-Range", "bytes 5-9/100")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(testContent(5))
	})
	g, err := NewGateway(srv.URL, nil, Options{Mode: ModeTest})
	if err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, g, testReq("/data/"+dataID))
	if _, err := readAt(t, f, 10, 0); err == nil || errors.Is(err, ErrHalt) {
		t.Fatalf("err %v, want a non-HALT error", err)
	}
	if len(*log) != 2 {
		t.Errorf("requests %q: a wrong range is not retried", *log)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
