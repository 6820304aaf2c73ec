package mu_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/mu"
)

// syncBuffer is a log sink shared by the MU's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type traceNode struct {
	ID, MessageID, ProcessID, ParentID, Type, Status, Error string
	Attempts                                                int
}

// traces reads the MU's delivery records (GET /?debug=true).
func (n *testNet) traces(t testing.TB, query string) ([]traceNode, bool) {
	t.Helper()
	resp, body := localnettest.Do(t, "GET", n.muURL+"/?debug=true&"+query, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /?debug=true&%s: %d %s", query, resp.StatusCode, body)
	}
	var c struct {
		PageInfo struct{ HasNextPage bool }
		Edges    []struct {
			Node   traceNode
			Cursor string
		}
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("traces: %s", body)
	}
	var out []traceNode
	for _, e := range c.Edges {
		if e.Cursor != e.Node.ID {
			t.Errorf("cursor %s of node %s", e.Cursor, e.Node.ID)
		}
		out = append(out, e.Node)
	}
	return out, c.PageInfo.HasNextPage
}

// failedPush finds, in the delivery records of message id sent to process
// from, the step that pushed a message to target, and the step that read
// id's result.
func (n *testNet) failedPush(t testing.TB, from, id, target string) (push, result traceNode) {
	t.Helper()
	nodes, _ := n.traces(t, "process="+url.QueryEscape(from)+"&message="+url.QueryEscape(id))
	var gotPush, gotResult bool
	for _, nd := range nodes {
		switch {
		case nd.Type == "MESSAGE" && nd.ProcessID == target:
			push, gotPush = nd, true
		case nd.Type == "RESULT" && nd.MessageID == id:
			result, gotResult = nd, true
		}
	}
	if !gotPush || !gotResult {
		t.Fatalf("no MESSAGE to %s and RESULT of %s in the records of %s: %+v", target, id, id, nodes)
	}
	return push, result
}

// TestDeliveryRecords: a message refused by a unit reaches the sender as an
// error it can see. One network for all parts.
func TestDeliveryRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole local network")
	}
	logs := &syncBuffer{}
	n := startNet(t, func(c *mu.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	a := n.spawn(t, "sender")
	b := n.spawn(t, "receiver")
	n.waitIdle(t)

	// An ao.send of 11 MiB (the issue saw 20 MB), which no SU accepts (10
	// MiB), is not posted; the MU records the failed delivery durably with
	// the reason, logs it once at ERROR, and shows it in its delivery
	// records for the process and for the message that caused it, across a
	// restart.
	t.Run("ao.send too large for the SU", func(t *testing.T) {
		t0 := time.Now()
		id, out := n.evalOK(t, a, `ao.send({Target = "`+b+`", Action = "Big", Data = string.rep("x", 11 * 1024 * 1024)}); return "sent"`)
		must(t, out == "sent", "eval output %q", out)
		t.Logf("eval and result of an 11 MiB ao.send: %v", time.Since(t0))
		n.waitIdle(t)
		t.Logf("crank done: %v", time.Since(t0))

		check := func(when string) {
			t.Helper()
			failed, result := n.failedPush(t, a, id, b)
			must(t, result.Status == "done" && result.ProcessID == a, "%s: result step %+v", when, result)
			must(t, failed.Status == "failed" && failed.ParentID == id && failed.Attempts == 1 &&
				strings.Contains(failed.Error, "more than the 10485760 bytes an SU accepts") &&
				strings.Contains(failed.Error, "A payload reached size limit."),
				"%s: failed delivery %+v", when, failed)
			// The process's records show it too.
			all, _ := n.traces(t, "process="+url.QueryEscape(a)+"&page-size=1000")
			found := false
			for _, nd := range all {
				found = found || nd.ID == failed.ID && nd.Status == "failed"
			}
			must(t, found, "%s: the process's records lack %s: %+v", when, failed.ID, all)
		}
		check("after the crank")

		// Logged once, at ERROR, with the reason.
		var lines []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "giving up") && strings.Contains(l, "more than the 10485760 bytes") {
				lines = append(lines, l)
			}
		}
		must(t, len(lines) == 1 && strings.Contains(lines[0], "level=ERROR"), "log lines: %q", lines)
		must(t, n.metric(t, `ao_mu_task_failures_total{kind="message"}`) == 1, "failures metric")

		// Nothing reached the receiver, and the record survives a restart.
		must(t, len(withTag(n.stream(t, b), "Action", "Big")) == 0, "the 11 MiB message reached the SU")
		n.stopMU(t)
		n.startMU(t)
		check("after a restart")
	})

	// An SU that answers 413 (one with a lower limit than ours) ends the
	// push at once, recorded with the SU's answer.
	t.Run("SU answers 413", func(t *testing.T) {
		n.suFault.answer(func(r *http.Request, body []byte) bool {
			return r.Method == "POST" && signedBy(body, n.muWallet) && bytes.Contains(body, []byte("Medium"))
		}, http.StatusRequestEntityTooLarge, "A payload reached size limit.")
		defer n.suFault.clear()
		id, out := n.evalOK(t, a, `ao.send({Target = "`+b+`", Action = "Medium", Data = string.rep("y", 200 * 1024)}); return "sent"`)
		must(t, out == "sent", "eval output %q", out)
		n.waitIdle(t)
		failed, _ := n.failedPush(t, a, id, b)
		must(t, failed.Status == "failed" && failed.Attempts == 1 && failed.MessageID != "" &&
			strings.Contains(failed.Error, "413 A payload reached size limit."), "failed delivery %+v", failed)
		must(t, n.suFault.count() == 1, "%d posts of a refused item", n.suFault.count())
		must(t, len(withTag(n.stream(t, b), "Action", "Medium")) == 0, "the refused message reached the SU")
	})

	// The plain GET / is unchanged, the debug route checks its parameters,
	// and its pages add up to the whole.
	t.Run("trace route", func(t *testing.T) {
		resp, body := localnettest.Do(t, "GET", n.muURL+"/", "", nil)
		must(t, resp.StatusCode == 200 && string(body) == "ao messenger unit", "GET /: %d %s", resp.StatusCode, body)
		for q, want := range map[string]int{
			"debug=true":                                  400,
			"debug=true&process=p&page=0":                 400,
			"debug=true&process=p&page-size=x":            400,
			"debug=true&process=p&message=m&assign=a":     422,
			"debug=true&process=p&page=2&page-size=1000":  200,
			"debug=false&process=p&page=whatever-ignored": 200,
		} {
			resp, body := localnettest.Do(t, "GET", n.muURL+"/?"+q, "", nil)
			must(t, resp.StatusCode == want, "%s: %d %s, want %d", q, resp.StatusCode, body, want)
		}
		for range 2 {
			n.evalOK(t, b, `return "x"`)
		}
		n.waitIdle(t)
		all, more := n.traces(t, "process="+b+"&page-size=100")
		must(t, len(all) >= 3 && !more, "%d records, more %v", len(all), more)
		var paged []traceNode
		for page := 1; ; page++ {
			nodes, more := n.traces(t, "process="+b+"&page-size=2&page="+strconv.Itoa(page))
			paged = append(paged, nodes...)
			if !more {
				break
			}
			must(t, page < 20, "no end")
		}
		must(t, len(paged) == len(all), "paged %d, all %d", len(paged), len(all))
		for i := range all {
			must(t, paged[i].ID == all[i].ID, "record %d: %+v / %+v", i, paged[i], all[i])
		}
	})
}
