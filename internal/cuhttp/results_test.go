package cuhttp_test

import (
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao/aotest"
)

// listed is a process whose scheduled messages were evaluated: msgs[i] is
// the message at nonce i+1, errored where errs says so.
type listed struct {
	pid  string
	ts   []int64 // timestamps by nonce (0: the process message)
	errs map[int]bool
}

// evaluated spawns a process with n messages (errored at the nonces in
// errs) and evaluates them all through /result.
func evaluated(t *testing.T, cu *testCU, n int, errs ...int) listed {
	t.Helper()
	l := listed{errs: map[int]bool{}}
	l.pid = cu.w.Spawn(cu.w.PublishModule(nil), "boot")
	l.ts = append(l.ts, cu.w.Clock.Now())
	for _, e := range errs {
		l.errs[e] = true
	}
	var last string
	for i := 1; i <= n; i++ {
		action := "Set"
		if l.errs[i] {
			action = "Error"
		}
		last = cu.w.Send(l.pid, strconv.Itoa(i), aotest.Action(action))
		l.ts = append(l.ts, cu.w.Clock.Now())
	}
	if r := cu.get("/result/" + last + "?process-id=" + l.pid); r.status != 200 {
		t.Fatalf("evaluate: %s", r)
	}
	return l
}

// edge is the exact bytes of the edge of nonce i.
func (l listed) edge(i int, output, sort string) string {
	return `{"node":{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"` + output + `"}},"cursor":"` +
		cursor(l.ts[i], strconv.Itoa(i), "", sort) + `"}`
}

// /results: the reference's page, {pageInfo, edges:[{node, cursor}]} to the
// byte, errored results left out, GasUsed not in nodes; sort, limit and
// cursors.
func TestResultsPage(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	l := evaluated(t, cu, 4, 2) // nonce 2 errored
	base := "/results/" + l.pid
	want(t, "default", cu.get(base), 200, `{"pageInfo":{"hasNextPage":false},"edges":[`+
		l.edge(0, "1:boot", "ASC")+","+l.edge(1, "2:1", "ASC")+","+l.edge(3, "3:3", "ASC")+","+l.edge(4, "4:4", "ASC")+`]}`)
	want(t, "limit 2", cu.get(base+"?limit=2"), 200, `{"pageInfo":{"hasNextPage":true},"edges":[`+
		l.edge(0, "1:boot", "ASC")+","+l.edge(1, "2:1", "ASC")+`]}`)
	// The next page starts after the cursor and skips the errored result.
	want(t, "from cursor", cu.get(base+"?limit=1&from="+url.QueryEscape(cursor(l.ts[1], "1", "", "ASC"))), 200,
		`{"pageInfo":{"hasNextPage":true},"edges":[`+l.edge(3, "3:3", "ASC")+`]}`)
	want(t, "DESC", cu.get(base+"?sort=DESC&limit=2"), 200, `{"pageInfo":{"hasNextPage":true},"edges":[`+
		l.edge(4, "4:4", "DESC")+","+l.edge(3, "3:3", "DESC")+`]}`)
	// A cursor's sort wins over the sort parameter.
	want(t, "cursor sort wins", cu.get(base+"?sort=ASC&limit=1&to="+url.QueryEscape(cursor(l.ts[3], "3", "", "DESC"))), 200,
		`{"pageInfo":{"hasNextPage":true},"edges":[`+l.edge(1, "2:1", "DESC")+`]}`)
	// A plain timestamp from is inclusive, to is inclusive.
	want(t, "timestamps", cu.get(base+fmt.Sprintf("?from=%d&to=%d", l.ts[1], l.ts[3])), 200,
		`{"pageInfo":{"hasNextPage":false},"edges":[`+l.edge(1, "2:1", "ASC")+","+l.edge(3, "3:3", "ASC")+`]}`)
	want(t, "limit 0", cu.get(base+"?limit=0"), 200, `{"pageInfo":{"hasNextPage":true},"edges":[]}`)
	want(t, "unknown process", cu.get("/results/"+aotest.NewID("nobody")), 200, `{"pageInfo":{"hasNextPage":false},"edges":[]}`)
	// /results does not evaluate.
	cu.w.Send(l.pid, "5", aotest.Action("Set"))
	handled := cu.w.Runtime.Counts().Handled
	if p := decodePage(t, cu.get(base)); len(p.Edges) != 4 || cu.w.Runtime.Counts().Handled != handled {
		t.Fatalf("/results evaluated: %d edges", len(p.Edges))
	}
}

// Invalid cursors, bounds, sorts and limits are 400 (the reference answers
// 500 for a bad sort and 200 with an empty page for garbage bounds).
func TestResultsBadInput(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	l := evaluated(t, cu, 1)
	base := "/results/" + l.pid + "?"
	for _, c := range []struct{ name, query, body string }{
		{"sort", "sort=asc", errBody("'sort': Invalid enum value. Expected 'ASC' | 'DESC', received 'asc'.")},
		{"cursor sort", "from=" + url.QueryEscape(cursorWithSort(1, "up")), errBody("'sort': Invalid enum value. Expected 'ASC' | 'DESC', received 'up'.")},
		{"limit word", "limit=ten", errBody(`'limit': Expected a non-negative integer, received "ten".`)},
		{"limit negative", "limit=-1", errBody(`'limit': Expected a non-negative integer, received "-1".`)},
		{"limit float", "limit=1.5", errBody(`'limit': Expected a non-negative integer, received "1.5".`)},
		{"from garbage", "from=garbage", errBody(`'from': "garbage" is neither a cursor nor a timestamp`)},
		{"to garbage", "to=garbage", errBody(`'to': "garbage" is neither a cursor nor a timestamp`)},
		{"corrupt cursor", "from=" + url.QueryEscape(cursor(1, "0", "", "ASC")[:20]), errBody(fmt.Sprintf(`'from': %q is neither a cursor nor a timestamp`, cursor(1, "0", "", "ASC")[:20]))},
		{"cursor without timestamp", "from=eyJvcmRpbmF0ZSI6IjAifQ==", errBody(`'from': "eyJvcmRpbmF0ZSI6IjAifQ==" is neither a cursor nor a timestamp`)},
	} {
		want(t, c.name, cu.get(base+c.query), 400, c.body)
	}
	want(t, "bad pid", cu.get("/results/abc"), 400, errBody(`'processId': "abc" is not a transaction id (43 base64url characters).`))
	want(t, "bad pid cron", cu.get("/cron/abc"), 400, errBody(`'processId': "abc" is not a transaction id (43 base64url characters).`))
	// A timestamp beyond int64 was taken as 0 and answered an empty page.
	want(t, "cron to out of range", cu.get("/cron/"+l.pid+"?to=99999999999999999999999"), 400, errBody("'to': timestamp 99999999999999999999999 is out of range"))
	want(t, "cron to garbage", cu.get("/cron/"+l.pid+"?to=garbage"), 400, errBody(`'to': "garbage" is neither a cursor nor a timestamp`))
}

func cursorWithSort(ts int64, sort string) string {
	return cursor(ts, "0", "", sort)
}

// Following hasNextPage and the cursors over HTTP returns every stored,
// non-errored result exactly once, in both sorts, across errored runs
// (issue 11 item 6).
func TestResultsPagingPastErrors(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	var errs []int
	for i := 1; i <= 60; i++ {
		if i%7 == 3 || (i >= 20 && i < 35) {
			errs = append(errs, i)
		}
	}
	l := evaluated(t, cu, 60, errs...)
	wantSeen := 61 - len(errs)
	for _, sort := range []string{"ASC", "DESC"} {
		for _, limit := range []int{1, 4, 25, 100} {
			seen := map[string]int{}
			q := fmt.Sprintf("?sort=%s&limit=%d", sort, limit)
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatalf("%s limit %d: paging does not end", sort, limit)
				}
				p := decodePage(t, cu.get("/results/"+l.pid+q))
				if len(p.Edges) > limit {
					t.Fatalf("%s limit %d: %d edges", sort, limit, len(p.Edges))
				}
				for i := range p.Edges {
					seen[p.data(i)]++
					if _, ok := p.Edges[i].Node["GasUsed"]; ok {
						t.Fatal("a node has GasUsed")
					}
					if _, ok := p.Edges[i].Node["Error"]; ok {
						t.Fatal("an errored result is listed")
					}
				}
				if !p.PageInfo.HasNextPage {
					break
				}
				if len(p.Edges) == 0 {
					t.Fatalf("%s limit %d: hasNextPage with no edges", sort, limit)
				}
				next := url.QueryEscape(p.Edges[len(p.Edges)-1].Cursor)
				if sort == "ASC" {
					q = fmt.Sprintf("?limit=%d&from=%s", limit, next)
				} else {
					q = fmt.Sprintf("?limit=%d&to=%s", limit, next)
				}
			}
			if len(seen) != wantSeen {
				t.Fatalf("%s limit %d: saw %d results, want %d", sort, limit, len(seen), wantSeen)
			}
			for d, n := range seen {
				if n != 1 {
					t.Fatalf("%s limit %d: %s seen %d times", sort, limit, d, n)
				}
			}
		}
	}
}

// /cron evaluates to the SU's clock (crons included) and lists only cron
// results, ascending whatever the sort, with the cron in the cursor.
func TestCron(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot", aotest.Tag("Cron-Interval", "10-seconds"), aotest.Tag("Cron-Tag-Action", "Tick"))
	start := cu.w.Clock.Now()
	cu.w.Clock.Advance(35 * time.Second)
	r := cu.get("/cron/" + pid + "?limit=2")
	p := decodePage(t, r)
	if len(p.Edges) != 2 || !p.PageInfo.HasNextPage {
		t.Fatalf("cron page %s", r)
	}
	for i, e := range p.Edges {
		if _, ok := e.Node["GasUsed"]; ok {
			t.Fatalf("cron node %d has GasUsed", i)
		}
	}
	first := `{"node":{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"2:"}},"cursor":"` +
		cursor(start+10_000, "0", "0-10-seconds", "ASC") + `"}`
	if got := r.body[len(`{"pageInfo":{"hasNextPage":true},"edges":[`):][:len(first)]; got != first {
		t.Fatalf("first cron edge\n got %s\nwant %s", got, first)
	}
	// The rest, from the cursor; sort=DESC is ignored.
	r = cu.get("/cron/" + pid + "?sort=DESC&from=" + url.QueryEscape(p.Edges[1].Cursor))
	rest := decodePage(t, r)
	if len(rest.Edges) != 1 || rest.PageInfo.HasNextPage || rest.data(0) != "4:" {
		t.Fatalf("rest %s", r)
	}
	// /results lists the process message and the crons.
	if all := decodePage(t, cu.get("/results/"+pid)); len(all.Edges) != 4 {
		t.Fatalf("/results after crons: %d edges", len(all.Edges))
	}
	// A to-bound evaluates no further than it.
	pid2 := cu.w.Spawn(cu.w.PublishModule(nil), "", aotest.Tag("Cron-Interval", "10-seconds"), aotest.Tag("Cron-Tag-Action", "Tick"))
	start2 := cu.w.Clock.Now()
	cu.w.Clock.Advance(35 * time.Second)
	if p := decodePage(t, cu.get(fmt.Sprintf("/cron/%s?to=%d", pid2, start2+15_000))); len(p.Edges) != 1 {
		t.Fatalf("cron to a timestamp: %d edges", len(p.Edges))
	}
}
