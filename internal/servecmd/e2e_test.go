package servecmd

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/localnet/localnettest"
)

var e2eModules = []struct{ file, format string }{
	{"aos2_0_6.wasm", "wasm64-unknown-emscripten-draft_2024_02_15"},
	{"aos2_0_4_32.wasm", "wasm32-unknown-emscripten-metering"},
}

// handlersCode installs Set/Get handlers that reply, as a KV store would.
const handlersCode = `
Store = Store or {}
Handlers.add("Set", Handlers.utils.hasMatchingTag("Action", "Set"), function (msg)
  Store[msg.Tags.Key] = msg.Data
  msg.reply({ Action = "Set-Done", Data = "stored " .. msg.Tags.Key })
end)
Handlers.add("Get", Handlers.utils.hasMatchingTag("Action", "Get"), function (msg)
  msg.reply({ Action = "Get-Result", Data = Store[msg.Tags.Key] or "" })
end)
return "handlers ready"`

func TestServeKVStore(t *testing.T) {
	for _, m := range e2eModules {
		t.Run(m.file, func(t *testing.T) {
			n := startNet(t, m.file, m.format, netOptions{})
			pid := n.spawn(t, "")
			// AOP-6: the process message itself, at nonce 0.
			boot := n.result(t, pid, pid)
			noError(t, boot)

			r := n.result(t, pid, n.eval(t, pid, handlersCode))
			noError(t, r)
			must(t, outputData(t, r) == "handlers ready", "Eval output %s", r["Output"])

			set := n.send(t, pid, "hello world", "Action", "Set", "Key", "greeting")
			r = n.result(t, pid, set)
			noError(t, r)
			var msgs []struct {
				Target string
				Data   string
				Tags   []struct{ Name, Value string }
			}
			if err := json.Unmarshal(r["Messages"], &msgs); err != nil || len(msgs) != 1 {
				t.Fatalf("Set reply: %s", r["Messages"])
			}
			must(t, msgs[0].Target == n.user.Address() && msgs[0].Data == "stored greeting", "Set reply %+v", msgs[0])
			var refd bool
			for _, tg := range msgs[0].Tags {
				if tg.Name == "X-Reference" || tg.Name == "Reference" {
					refd = true
				}
			}
			must(t, refd, "the reply carries no reference tag: %+v", msgs[0].Tags)

			get := n.send(t, pid, "", "Action", "Get", "Key", "greeting")
			r = n.result(t, pid, get)
			noError(t, r)
			must(t, strings.Contains(string(r["Messages"]), `"Data":"hello world"`), "Get reply %s", r["Messages"])

			// A second read is served from the store, byte for byte.
			code, again := n.get(t, "/result/"+get+"?process-id="+pid)
			first, _ := json.Marshal(r)
			must(t, code == 200 && len(again) > 0, "second read %d", code)
			var a, b any
			json.Unmarshal(again, &a)
			json.Unmarshal(first, &b)
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			must(t, string(ja) == string(jb), "second read differs:\n%s\n%s", again, first)
		})
	}
}

type resultsPage struct {
	PageInfo struct {
		HasNextPage bool `json:"hasNextPage"`
	} `json:"pageInfo"`
	Edges []struct {
		Cursor string                     `json:"cursor"`
		Node   map[string]json.RawMessage `json:"node"`
	} `json:"edges"`
}

func (n *testNet) results(t testing.TB, path string) resultsPage {
	t.Helper()
	code, body := n.get(t, path)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var p resultsPage
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("GET %s: %s", path, body)
	}
	return p
}

func cursorOf(t testing.TB, c string) map[string]any {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q: %v", c, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("cursor %s: %v", raw, err)
	}
	return m
}

// TestServeResultsDryRunState: /results paging both ways, a dry-run that
// leaves the state untouched, and /state bytes equal to an independent replay
// of the same stream through the loader.
func TestServeResultsDryRunState(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	ids := []string{pid, n.eval(t, pid, handlersCode)}
	for i := 0; i < 4; i++ {
		ids = append(ids, n.send(t, pid, fmt.Sprint("v", i), "Action", "Set", "Key", fmt.Sprint("k", i)))
	}
	last := n.result(t, pid, ids[len(ids)-1])
	noError(t, last)

	// Paging ascending, 2 by 2, with the cursors.
	var seen []float64
	from := ""
	for pages := 0; ; pages++ {
		must(t, pages < 10, "paging does not end")
		p := n.results(t, "/results/"+pid+"?limit=2"+from)
		for _, e := range p.Edges {
			c := cursorOf(t, e.Cursor)
			must(t, c["sort"] == "ASC" && c["cron"] == nil, "cursor %v", c)
			ord, _ := strconv.ParseFloat(c["ordinate"].(string), 64)
			seen = append(seen, ord)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		from = "&from=" + url.QueryEscape(p.Edges[len(p.Edges)-1].Cursor)
	}
	must(t, fmt.Sprint(seen) == "[0 1 2 3 4 5]", "ascending nonces %v", seen)
	desc := n.results(t, "/results/"+pid+"?sort=DESC&limit=3")
	must(t, len(desc.Edges) == 3 && desc.PageInfo.HasNextPage, "DESC page %+v", desc.PageInfo)
	must(t, cursorOf(t, desc.Edges[0].Cursor)["ordinate"] == "5", "DESC starts at %v", cursorOf(t, desc.Edges[0].Cursor))
	// The reference's bounds: from is an exclusive lower bound and to an upper
	// one whatever the sort; the cursor's sort wins. An encoded cursor as to
	// is exclusive here (the reference includes the row it names, so a client
	// paging DESC by to sees it twice): docs/compatibility.md.
	ords := func(p resultsPage) string {
		var o []string
		for _, e := range p.Edges {
			o = append(o, cursorOf(t, e.Cursor)["ordinate"].(string))
		}
		return strings.Join(o, ",")
	}
	above := n.results(t, "/results/"+pid+"?limit=10&from="+url.QueryEscape(desc.Edges[2].Cursor))
	must(t, ords(above) == "5,4", "from a DESC cursor: %s", ords(above))
	next := n.results(t, "/results/"+pid+"?limit=10&to="+url.QueryEscape(desc.Edges[2].Cursor))
	must(t, ords(next) == "2,1,0", "to a DESC cursor: %s", ords(next))
	for _, e := range next.Edges {
		_, has := e.Node["GasUsed"]
		must(t, !has, "a /results node has GasUsed")
	}

	// Dry-run: reads the state, changes nothing.
	stateBefore := n.state(t, pid)
	dry := n.dryRun(t, pid, `{"Id":"1234","Owner":"1234","Target":"`+pid+`","Data":"1234","Anchor":"0","Tags":[{"name":"Action","value":"Get"},{"name":"Key","value":"k2"}]}`)
	must(t, strings.Contains(string(dry["Messages"]), `"Data":"v2"`), "dry-run Get: %s", dry["Messages"])
	dry2 := n.dryRun(t, pid, `{"Owner":"`+n.user.Address()+`","Tags":[{"name":"Action","value":"Eval"}],"Data":"Store.k2 = 'changed'; return Store.k2"}`)
	must(t, outputData(t, dry2) == "changed", "dry-run Eval output %s", dry2["Output"])
	stateAfter := n.state(t, pid)
	must(t, sha(stateBefore) == sha(stateAfter), "a dry-run changed the state")
	r := n.result(t, pid, n.send(t, pid, "", "Action", "Get", "Key", "k2"))
	must(t, strings.Contains(string(r["Messages"]), `"Data":"v2"`), "state after dry-runs: %s", r["Messages"])

	// /state equals an independent replay of the SU's stream.
	want := n.replay(t, pid)
	got := n.state(t, pid)
	must(t, sha(got) == sha(want), "/state sha %s, independent replay %s", sha(got), sha(want))
}

func (n *testNet) state(t testing.TB, pid string) []byte {
	t.Helper()
	resp, body := localnettest.Do(t, "GET", n.cuURL+"/state/"+pid, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /state: %d %s", resp.StatusCode, body)
	}
	must(t, resp.Header.Get("Last-Ordinate") != "" && resp.Header.Get("Last-Timestamp") != "", "state headers %v", resp.Header)
	return body
}

func (n *testNet) dryRun(t testing.TB, pid, body string) map[string]json.RawMessage {
	t.Helper()
	resp, out := localnettest.Do(t, "POST", n.cuURL+"/dry-run?process-id="+pid, "application/json", []byte(body))
	if resp.StatusCode != 200 {
		t.Fatalf("dry-run: %d %s", resp.StatusCode, out)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("dry-run: %s", out)
	}
	return m
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
