package mu_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/mu"
)

type authorityLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *authorityLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *authorityLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUntrustedDelivery: a message one process sends another that does not
// list the MU as an Authority is delivered (and ignored by aos); the MU
// warns once per such process and says so in the delivery's record. A
// delivery to a process that trusts the MU carries no such remark.
func TestUntrustedDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole local network")
	}
	logs := &authorityLog{}
	n := startNet(t, func(c *mu.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	sender, trusting := n.spawn(t, "sender"), n.spawn(t, "trusting")
	// As aoconnect's and the aos CLI's defaults do: another Authority.
	base := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", n.mod,
		"Scheduler", n.su.Address(), "Authority", n.user.Address(), "Name", "untrusting", "SDK", "aoconnect"}
	_, raw := sign(t, n.user, []byte("1984"), "", base...)
	untrusting := n.postMU(t, raw)
	n.waitIdle(t)
	for _, to := range []string{untrusting, trusting, untrusting} {
		n.evalOK(t, sender, fmt.Sprintf(`Send({Target = %q, Data = "hi"})`, to))
	}
	n.waitIdle(t)

	// One warning, naming the process and the fix.
	warnings := strings.Count(logs.String(), "does not trust this MU")
	must(t, warnings == 1, "%d warnings, want 1:\n%s", warnings, logs.String())
	must(t, strings.Contains(logs.String(), "process="+untrusting) && strings.Contains(logs.String(), "Authority = "+n.muWallet.Address()),
		"the warning lacks the process or the fix:\n%s", logs.String())

	// The delivery records.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(n.dir, "mu", "mu.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT item_id, last_error FROM tasks WHERE kind = 'message' AND done = 1`)
	if err != nil {
		t.Fatal(err)
	}
	remarks := map[string]string{}
	for rows.Next() {
		var id, remark string
		if err := rows.Scan(&id, &remark); err != nil {
			t.Fatal(err)
		}
		remarks[id] = remark
	}
	rows.Close()
	untrusted := 0
	for id, remark := range remarks {
		if remark == "" {
			continue
		}
		untrusted++
		must(t, strings.HasPrefix(remark, "untrusted: ") && strings.Contains(remark, untrusting), "remark %q", remark)
		// aos did ignore it.
		out := outputData(t, n.result(t, untrusting, id))
		must(t, strings.Contains(out, "not trusted"), "the untrusting process's output for %s: %q", id, out)
	}
	must(t, len(remarks) == 3 && untrusted == 2, "records: %v", remarks)

	// Where the MU serves its delivery records (GET /?debug=true), the
	// sender's outbox steps say so too.
	resp, body := localnettest.Do(t, "GET", n.muURL+"/?debug=true&process="+sender+"&page-size=100", "", nil)
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var traces struct {
			Edges []struct {
				Node struct{ Type, Status, Error string }
			}
		}
		must(t, json.Unmarshal(body, &traces) == nil, "traces: %s", body)
		flagged := 0
		for _, e := range traces.Edges {
			if strings.HasPrefix(e.Node.Error, "untrusted: ") {
				must(t, e.Node.Type == "MESSAGE" && e.Node.Status == "done", "trace %+v", e.Node)
				flagged++
			}
		}
		must(t, flagged == 2, "%d untrusted steps in the traces, want 2: %s", flagged, body)
	} else {
		t.Logf("no delivery records API on this MU (GET /?debug=true: %d %s)", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
