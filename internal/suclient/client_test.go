package suclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

func wantStatus(t *testing.T, err error, status int, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want status %d", status)
	}
	if got := ao.StatusOf(err); got != status {
		t.Errorf("status %d, want %d: %v", got, status, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q lacks %q", err, c)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestAgainstLocalSU schedules a process, three messages and an assignment
// of an existing item on the local SU and reads them back with every call.
func TestAgainstLocalSU(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	proc, spawned := n.spawn(t, "process data")
	pid := proc.ID()
	var msgs []postReply
	var datas []string
	for range 3 {
		d, pr := n.message(t, pid)
		msgs, datas = append(msgs, pr), append(datas, d)
	}
	other, _ := n.spawn(t, "other process")
	_, om := n.message(t, other.ID())
	assigned := n.assign(t, pid, om.ID)

	c := fastClient(0)
	su := n.suURL
	owner := ao.Owner{Address: n.user.Address(), Key: arweave.B64Encode(n.user.PublicKey())}

	// Messages, page after page with limit 2 (the cursor is the next from).
	var edges []ao.SUEdge
	from := ""
	for page := 0; ; page++ {
		p, err := c.Messages(ctx, su, pid, from, "", 2)
		if err != nil {
			t.Fatal(err)
		}
		if page < 2 && (len(p.Edges) != 2 || !p.HasNextPage) || page == 2 && (len(p.Edges) != 1 || p.HasNextPage) {
			t.Fatalf("page %d: %d edges, has next %v", page, len(p.Edges), p.HasNextPage)
		}
		edges = append(edges, p.Edges...)
		if !p.HasNextPage {
			break
		}
		from = p.Edges[len(p.Edges)-1].Cursor
	}
	if len(edges) != 5 {
		t.Fatalf("%d edges", len(edges))
	}
	wantIDs := []string{pid, msgs[0].ID, msgs[1].ID, msgs[2].ID}
	wantTS := []int64{spawned.Timestamp, msgs[0].Timestamp, msgs[1].Timestamp, msgs[2].Timestamp, assigned.Timestamp}
	for i, e := range edges {
		tags := e.Assignment.Tags
		if v, _ := ao.TagValue(tags, "Nonce"); v != strconv.Itoa(i) {
			t.Errorf("edge %d: Nonce %q", i, v)
		}
		if v, _ := ao.TagValue(tags, "Timestamp"); v != strconv.FormatInt(wantTS[i], 10) || e.Cursor != v {
			t.Errorf("edge %d: Timestamp %q, cursor %q, want %d", i, v, e.Cursor, wantTS[i])
		}
		if e.Assignment.ID == "" || e.Assignment.Owner.Address != n.su.Address() {
			t.Errorf("edge %d: assignment %+v", i, e.Assignment)
		}
		if i == 4 {
			if e.Message != nil || e.Assignment.ID != assigned.ID {
				t.Errorf("assignment edge: message %+v, assignment %s want %s", e.Message, e.Assignment.ID, assigned.ID)
			}
			if v, _ := ao.TagValue(tags, "Message"); v != om.ID {
				t.Errorf("assignment edge: Message tag %q, want %s", v, om.ID)
			}
			continue
		}
		m := e.Message
		if m == nil || m.ID != wantIDs[i] || m.Owner != owner {
			t.Fatalf("edge %d: message %+v", i, m)
		}
		if len(m.Signature) < 3 || m.Signature[0] != '"' {
			t.Errorf("edge %d: signature %s", i, m.Signature)
		}
		// The SU sends anchor null: kept as null, not dropped.
		if string(m.Anchor) != "null" {
			t.Errorf("edge %d: anchor %q, want null", i, m.Anchor)
		}
		if i == 0 {
			if string(m.Data) != jsonString("process data") || string(m.Target) != "null" {
				t.Errorf("process edge: data %s target %s", m.Data, m.Target)
			}
			if v, _ := ao.TagValue(m.Tags, "Type"); v != "Process" {
				t.Errorf("process edge: tags %v", m.Tags)
			}
			continue
		}
		if string(m.Data) != jsonString(datas[i-1]) || string(m.Target) != jsonString(pid) {
			t.Errorf("edge %d: data %s target %s", i, m.Data, m.Target)
		}
		if v, _ := ao.TagValue(m.Tags, "Action"); v != "Eval" {
			t.Errorf("edge %d: tags %v", i, m.Tags)
		}
	}

	// Messages with to (inclusive) and from (exclusive).
	p, err := c.Messages(ctx, su, pid, "", strconv.FormatInt(msgs[1].Timestamp, 10), 100)
	if err != nil || len(p.Edges) != 3 || p.Edges[2].Message.ID != msgs[1].ID {
		t.Fatalf("Messages(to): %v %+v", err, p)
	}
	p, err = c.Messages(ctx, su, pid, strconv.FormatInt(msgs[0].Timestamp, 10), strconv.FormatInt(msgs[2].Timestamp, 10), 0)
	if err != nil || len(p.Edges) != 2 || p.Edges[0].Message.ID != msgs[1].ID || p.Edges[1].Message.ID != msgs[2].ID {
		t.Fatalf("Messages(from, to): %v %+v", err, p)
	}

	// Process: the SU's view, with the process's timestamp and block.
	sp, err := c.Process(ctx, su, pid)
	if err != nil {
		t.Fatal(err)
	}
	blockTag, _ := ao.TagValue(edges[0].Assignment.Tags, "Block-Height")
	wantHeight, _ := strconv.ParseInt(blockTag, 10, 64)
	if len(blockTag) != 12 || wantHeight == 0 {
		t.Fatalf("Block-Height tag %q", blockTag)
	}
	if sp.ID != pid || sp.Owner != owner || sp.Block != (ao.Block{Height: wantHeight, Timestamp: spawned.Timestamp}) {
		t.Errorf("Process: %+v", sp.Process)
	}
	if sp.Signature != arweave.B64Encode(proc.Signature) || sp.Anchor != "" {
		t.Errorf("Process signature %q anchor %q", sp.Signature, sp.Anchor)
	}
	if string(sp.Data) != jsonString("process data") {
		t.Errorf("Process data %s", sp.Data)
	}
	if len(sp.Tags) != len(proc.Tags) {
		t.Errorf("Process tags %v", sp.Tags)
	}
	for i, tg := range proc.Tags {
		if i < len(sp.Tags) && sp.Tags[i] != (ao.Tag{Name: tg.Name, Value: tg.Value}) {
			t.Errorf("Process tag %d: %v, want %v", i, sp.Tags[i], tg)
		}
	}

	// Message: a scheduled message, and an assigned item in both processes.
	for _, c2 := range []struct {
		msg, pid string
		want     ao.MessageMeta
	}{
		{pid, pid, ao.MessageMeta{ProcessID: pid, Timestamp: spawned.Timestamp, Nonce: 0}},
		{msgs[1].ID, pid, ao.MessageMeta{ProcessID: pid, Timestamp: msgs[1].Timestamp, Nonce: 2}},
		{om.ID, pid, ao.MessageMeta{ProcessID: pid, Timestamp: assigned.Timestamp, Nonce: 4}},
		{om.ID, other.ID(), ao.MessageMeta{ProcessID: other.ID(), Timestamp: om.Timestamp, Nonce: 1}},
	} {
		mm, err := c.Message(ctx, su, c2.msg, c2.pid)
		if err != nil || *mm != c2.want {
			t.Errorf("Message(%s, %s) = %+v, %v; want %+v", c2.msg, c2.pid, mm, err, c2.want)
		}
	}
	unknown := arweave.B64Encode(make([]byte, 32))
	_, err = c.Message(ctx, su, unknown, pid)
	wantStatus(t, err, 404, `Error Encountered when loading message from Scheduler Unit: 400: {"error":"Message or Process not found"}`)

	// Latest: the assignment.
	lm, err := c.Latest(ctx, su, pid)
	if err != nil || *lm != (ao.MessageMeta{ProcessID: pid, Timestamp: assigned.Timestamp, Nonce: 4}) {
		t.Errorf("Latest = %+v, %v", lm, err)
	}

	// Timestamp: the SU's clock and the gateway's height.
	before := time.Now().UnixMilli()
	ts, height, err := c.Timestamp(ctx, su, pid)
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Height int64 }
	resp, b := localnettest.Do(t, "GET", n.gwURL+"/info", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(b, &info) != nil {
		t.Fatalf("GET /info: %d %s", resp.StatusCode, b)
	}
	if ts < before-1000 || ts > time.Now().UnixMilli()+1000 || height != info.Height || height < wantHeight {
		t.Errorf("Timestamp = %d, %d; want about %d and %d", ts, height, before, info.Height)
	}

	// Unknown processes are 404s.
	_, err = c.Process(ctx, su, unknown)
	wantStatus(t, err, 404, "Error Encountered when loading process from Scheduler Unit: 400: ", "Process not found")
	_, err = c.Latest(ctx, su, unknown)
	wantStatus(t, err, 404, "Error Encountered when loading latest message from Scheduler Unit: 400: ")
	_, err = c.Messages(ctx, su, unknown, "", "", 10)
	wantStatus(t, err, 404, `Encountered Error fetching scheduled messages from Scheduler Unit: 400: {"error":"Message or Process not found"}`)
}

func TestMessagesURL(t *testing.T) {
	for _, c := range []struct {
		from, to string
		limit    int
		want     string
	}{
		{"", "", 0, "http://su/p?process-id=p"},
		{"1", "", 0, "http://su/p?process-id=p&from=1"},
		{"", "2", 0, "http://su/p?process-id=p&to=2"},
		{"", "", 5, "http://su/p?process-id=p&limit=5"},
		{"1", "2", 5, "http://su/p?process-id=p&from=1&to=2&limit=5"},
	} {
		if got := MessagesURL("http://su", "p", c.from, c.to, c.limit); got != c.want {
			t.Errorf("MessagesURL(%q, %q, %d) = %s, want %s", c.from, c.to, c.limit, got, c.want)
		}
	}
}

// TestRetries: 5xx and 429 are retried, other 4xx are not.
func TestRetries(t *testing.T) {
	n := startNet(t)
	proc, spawned := n.spawn(t, "x")
	pid := proc.ID()
	var hits atomic.Int32
	failFirst := func(k int32, status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) <= k {
				http.Error(w, "busy", status)
				return
			}
			n.su.ServeHTTP(w, r)
		})
	}
	ctx := context.Background()

	for _, status := range []int{503, 429, 500} {
		hits.Store(0)
		hs := httptest.NewServer(failFirst(2, status))
		p, err := fastClient(0).Process(ctx, hs.URL, pid)
		hs.Close()
		if err != nil || p.Block.Timestamp != spawned.Timestamp || hits.Load() != 3 {
			t.Errorf("%d twice then OK: %v, %d requests", status, err, hits.Load())
		}
	}

	// Out of retries: a 502 with the last answer.
	hits.Store(0)
	hs := httptest.NewServer(failFirst(100, 503))
	_, _, err := fastClient(2).Timestamp(ctx, hs.URL, pid)
	hs.Close()
	wantStatus(t, err, 502, "Error Encountered when loading timestamp for process from Scheduler Unit: 503: busy")
	if hits.Load() != 3 {
		t.Errorf("%d requests with 2 retries", hits.Load())
	}

	// 4xx other than 429: one request.
	for _, c := range []struct {
		status int
		body   string
		want   int
	}{
		{400, `{"error":"bad request"}`, 502},
		{400, `{"error":"Message or Process not found"}`, 404},
		{404, `nope`, 404},
		{403, `forbidden`, 502},
	} {
		hits.Store(0)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}))
		_, err := fastClient(0).Message(ctx, hs.URL, "m", pid)
		hs.Close()
		wantStatus(t, err, c.want, "Error Encountered when loading message from Scheduler Unit: "+strconv.Itoa(c.status)+": "+c.body)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != c.status {
			t.Errorf("%d: no HTTPError in %v", c.status, err)
		}
		if hits.Load() != 1 {
			t.Errorf("%d: %d requests", c.status, hits.Load())
		}
	}

	// Network errors are retried, then a 502.
	hs = httptest.NewServer(http.NotFoundHandler())
	dead := hs.URL
	hs.Close()
	_, err = fastClient(1).Latest(ctx, dead, pid)
	wantStatus(t, err, 502, "Error Encountered when loading latest message from Scheduler Unit: ", "connect")
}

// TestMalformedAnswers: garbage and wrong shapes are clear 502s, never
// panics, and are not retried.
func TestMalformedAnswers(t *testing.T) {
	ctx := context.Background()
	for _, body := range []string{
		`not json{`,
		``,
		`[1,2]`,
		`{"edges": 5}`,
		`{"block": "abc", "timestamp": 1, "assignment": {"tags": [{"name": "Nonce", "value": "x"}]}, "edges": [{"node": {}}]}`,
		`{"tags": "x", "page_info": 3, "block_height": {}}`,
		`{"assignment": null}`,
	} {
		var hits atomic.Int32
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(body))
		}))
		c := fastClient(0)
		calls := map[string]func() error{
			"process":   func() error { _, err := c.Process(ctx, hs.URL, "p"); return err },
			"message":   func() error { _, err := c.Message(ctx, hs.URL, "m", "p"); return err },
			"latest":    func() error { _, err := c.Latest(ctx, hs.URL, "p"); return err },
			"timestamp": func() error { _, _, err := c.Timestamp(ctx, hs.URL, "p"); return err },
			"messages":  func() error { _, err := c.Messages(ctx, hs.URL, "p", "", "", 1); return err },
		}
		for name, call := range calls {
			hits.Store(0)
			err := call()
			if body == `{"assignment": null}` && name == "messages" {
				// A page without edges.
				if err != nil {
					t.Errorf("%s %q: %v", name, body, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s %q: no error", name, body)
				continue
			}
			wantStatus(t, err, 502)
			if hits.Load() != 1 {
				t.Errorf("%s %q: %d requests", name, body, hits.Load())
			}
		}
		hs.Close()
	}
}

func TestLegacyAndNumberShapes(t *testing.T) {
	ctx := context.Background()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/timestamp":
			w.Write([]byte(`{"timestamp": 1700000000123, "block_height": 42}`))
		case r.URL.Path == "/processes/p":
			w.Write([]byte(`{"process_id":"p","block":1234,"owner":{"address":"a","key":"k"},"tags":[],"timestamp":"1700000000000","signature":null}`))
		default:
			w.Write([]byte(`{"process_id": "p", "timestamp": 1700000000123, "nonce": "7"}`))
		}
	}))
	defer hs.Close()
	c := fastClient(0)
	mm, err := c.Message(ctx, hs.URL, "m", "p")
	if err != nil || *mm != (ao.MessageMeta{ProcessID: "p", Timestamp: 1700000000123, Nonce: 7}) {
		t.Errorf("legacy Message = %+v, %v", mm, err)
	}
	ts, h, err := c.Timestamp(ctx, hs.URL, "p")
	if err != nil || ts != 1700000000123 || h != 42 {
		t.Errorf("Timestamp = %d, %d, %v", ts, h, err)
	}
	p, err := c.Process(ctx, hs.URL, "p")
	if err != nil || p.Block != (ao.Block{Height: 1234, Timestamp: 1700000000000}) || p.Data != nil || p.Signature != "" {
		t.Errorf("Process = %+v, %v", p, err)
	}
}

func TestBodyLimit(t *testing.T) {
	big := `{"timestamp":"1","block_height":"1","pad":"` + strings.Repeat("x", 1000) + `"}`
	var hits atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.(http.Flusher).Flush() // chunked: no Content-Length to check up front
		w.Write([]byte(big))
	}))
	defer hs.Close()
	c := New(Options{Logger: quiet, MaxBodySize: 100, Delay: time.Millisecond})
	_, _, err := c.Timestamp(context.Background(), hs.URL, "p")
	wantStatus(t, err, 502, "exceeds 100 bytes")
	_, err = c.Messages(context.Background(), hs.URL, "p", "", "", 1)
	wantStatus(t, err, 502, "exceeds 100 bytes")
	if hits.Load() != 2 {
		t.Errorf("%d requests", hits.Load())
	}
	if _, _, err := New(Options{Logger: quiet, MaxBodySize: 2000}).Timestamp(context.Background(), hs.URL, "p"); err != nil {
		t.Errorf("under the limit: %v", err)
	}
}

// TestContextCancel: cancelling stops a backoff sleep at once; a deadline
// is a 504.
func TestContextCancel(t *testing.T) {
	hit := make(chan struct{}, 10)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		http.Error(w, "down", 503)
	}))
	defer hs.Close()
	c := New(Options{Logger: quiet, Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-hit
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err := c.Messages(ctx, hs.URL, "p", "", "", 1)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	if !strings.Contains(err.Error(), "Encountered Error fetching scheduled messages from Scheduler Unit") || !strings.Contains(err.Error(), "503: down") {
		t.Errorf("error %q", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c.Process(ctx, hs.URL, "p")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	wantStatus(t, err, 504)
}

func TestParseInt(t *testing.T) {
	for s, want := range map[string]int64{
		"000000001234": 1234, "42": 42, " 7x": 7, "-3": -3, "+5": 5, "1.9": 1, "1700000000123": 1700000000123,
	} {
		if got, err := parseInt(s); err != nil || got != want {
			t.Errorf("parseInt(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "x1", "-", " ", "99999999999999999999"} {
		if _, err := parseInt(s); err == nil {
			t.Errorf("parseInt(%q): no error", s)
		}
	}
}
