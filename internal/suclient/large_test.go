package suclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/su"
)

// TestLargeMessages: messages of 2 MiB and 9 MiB (the SU takes items up to
// 10 MiB) are read back from the local SU by Message and in a page alike.
func TestLargeMessages(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	proc, _ := n.spawn(t, "large messages")
	pid := proc.ID()
	c := fastClient(0)
	for _, size := range []int{2 << 20, 9 << 20} {
		data := strings.Repeat("0123456789<>&\"abcdef", size/20+1)[:size]
		d, raw := n.item(t, data, pid, localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Big"))
		if len(raw) > su.MaxBodySize {
			t.Fatalf("a %d-byte item is over the SU's limit", len(raw))
		}
		pr := n.postSU(t, "", raw)
		mm, err := c.Message(ctx, n.suURL, d.ID(), pid)
		if err != nil {
			t.Fatalf("%d bytes: Message: %v", size, err)
		}
		if mm.ProcessID != pid || mm.Timestamp != pr.Timestamp {
			t.Fatalf("%d bytes: Message = %+v, want process %s at %d", size, mm, pid, pr.Timestamp)
		}
		latest, err := c.Latest(ctx, n.suURL, pid)
		if err != nil || latest.Timestamp != pr.Timestamp {
			t.Fatalf("%d bytes: Latest = %+v, %v", size, latest, err)
		}
		page, err := c.Messages(ctx, n.suURL, pid, "", "", 0)
		if err != nil {
			t.Fatalf("%d bytes: Messages: %v", size, err)
		}
		last := page.Edges[len(page.Edges)-1].Message
		var got string
		if last == nil || last.ID != d.ID() || jsonUnquote(t, last.Data, &got) != size || got != data {
			t.Fatalf("%d bytes: the page's last message is not it (%d bytes of data)", size, len(got))
		}
	}
}

func jsonUnquote(t *testing.T, raw []byte, s *string) int {
	t.Helper()
	if err := json.Unmarshal(raw, s); err != nil {
		t.Fatalf("data %.40s: %v", raw, err)
	}
	return len(*s)
}

// TestPageNotFound: an SU (or a proxy before it) that answers not found for
// a page of a process it holds gives a 502 naming the SU and the process;
// for a process the SU does not know, the answer stays a 404.
func TestPageNotFound(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	proc, _ := n.spawn(t, "held")
	pid := proc.ID()
	for _, c := range []struct {
		status int
		body   string
	}{
		{http.StatusNotFound, "404 page not found"},
		{http.StatusBadRequest, `{"error":"Message or Process not found"}`},
	} {
		var pages atomic.Int32
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/"+pid && r.URL.Query().Get("process-id") == pid {
				pages.Add(1)
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
				return
			}
			n.su.ServeHTTP(w, r)
		}))
		_, err := fastClient(0).Messages(ctx, hs.URL, pid, "", "", 10)
		wantStatus(t, err, http.StatusBadGateway, "Encountered Error fetching scheduled messages from Scheduler Unit",
			"the Scheduler Unit "+hs.URL+" answered not found for a page of process "+pid+", which it holds", c.body)
		if pages.Load() != 1 {
			t.Errorf("%d: %d page requests", c.status, pages.Load())
		}
		// The SU is down for /processes too: still a 502, never a 404.
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/processes/") {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}))
		_, err = fastClient(0).Messages(ctx, down.URL, pid, "", "", 10)
		wantStatus(t, err, http.StatusBadGateway, "answered not found for a page of process "+pid+", and reading the process failed")
		down.Close()
		hs.Close()
	}
	// A process the SU does not know: 404, as before.
	_, err := fastClient(0).Messages(ctx, n.suURL, arweave.B64Encode(make([]byte, 32)), "", "", 10)
	wantStatus(t, err, http.StatusNotFound, `Encountered Error fetching scheduled messages from Scheduler Unit: 400: {"error":"Message or Process not found"}`)
}
