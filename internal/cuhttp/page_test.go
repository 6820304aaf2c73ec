package cuhttp

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/memstore"
)

func TestCursors(t *testing.T) {
	ev := &ao.Evaluation{ProcessID: "P", Timestamp: 1700000000123, Ordinate: "0"}
	c := encodeCursor(ev, "ASC")
	raw, _ := base64.StdEncoding.DecodeString(c)
	if string(raw) != `{"timestamp":1700000000123,"ordinate":"0","cron":null,"sort":"ASC"}` {
		t.Fatalf("cursor %s", raw)
	}
	p := parseCursor(c)
	if lowerBound("P", p) != "P,1700000000123,0" || p.Sort != "ASC" {
		t.Fatalf("parsed %+v -> %s", p, lowerBound("P", p))
	}
	cron := parseCursor(encodeCursor(&ao.Evaluation{ProcessID: "P", Timestamp: 5, Ordinate: "1", Cron: "0-10-seconds"}, "DESC"))
	if upperBound("P", cron) != "P,5,1,0-10-seconds" {
		t.Fatalf("upper %s", upperBound("P", cron))
	}
	// A plain timestamp: inclusive from (no ordinate), inclusive to.
	ts := parseCursor("1700000000123")
	if lowerBound("P", ts) != "P,1700000000123" || upperBound("P", ts) != "P,1700000000123,"+maxCodePoint {
		t.Fatalf("timestamp bounds %s %s", lowerBound("P", ts), upperBound("P", ts))
	}
	if lowerBound("P", nil) != "P," || upperBound("P", nil) != "P,"+maxCodePoint {
		t.Fatal("open bounds")
	}
}

// Edges are {node, cursor}, in the reference's key order; errored results
// are left out.
func TestResultsPageShape(t *testing.T) {
	row := func(ord, out string) *ao.Evaluation {
		return &ao.Evaluation{ProcessID: "P", Timestamp: 1, Ordinate: ord, Output: []byte(out)}
	}
	page := string(resultsPage([]*ao.Evaluation{row("1", `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"a","GasUsed":1}`)}, true, "ASC"))
	want := `{"pageInfo":{"hasNextPage":true},"edges":[{"node":{"Messages":[],"Assignments":[],"Spawns":[],"Output":"a"},"cursor":"` +
		base64.StdEncoding.EncodeToString([]byte(`{"timestamp":1,"ordinate":"1","cron":null,"sort":"ASC"}`)) + `"}]}`
	if page != want {
		t.Fatalf("page\n got %s\nwant %s", page, want)
	}
	// UNIT_MODE=hbu stores Patches; the feat/hb-unit branch pages them after Output
	page = string(resultsPage([]*ao.Evaluation{row("1", `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"a","Patches":[{"x":1}],"GasUsed":1}`)}, false, "ASC"))
	if !strings.Contains(page, `{"node":{"Messages":[],"Assignments":[],"Spawns":[],"Output":"a","Patches":[{"x":1}]},"cursor"`) {
		t.Fatalf("hbu page %s", page)
	}
}

// Following hasNextPage and the cursors returns every non-errored result
// exactly once, in both sorts, whatever errored in between (the reference
// stops at the first page holding an errored result).
func TestPagingPastErroredResults(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	var evals []*ao.Evaluation
	want := map[string]bool{}
	for i := range 200 {
		out := `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"ok","GasUsed":1}`
		if i%7 == 3 || (i >= 50 && i < 90) { // scattered errors and a long errored run
			out = `{"Messages":[],"Assignments":[],"Spawns":[],"Output":"","GasUsed":1,"Error":"boom"}`
		}
		n := int64(i)
		ev := &ao.Evaluation{ProcessID: "P", MessageID: fmt.Sprint("m", i), Nonce: &n, Epoch: new(int64),
			Timestamp: 1700000000000 + int64(i), Ordinate: fmt.Sprint(i), Output: []byte(out)}
		evals = append(evals, ev)
		if !strings.Contains(out, "boom") {
			want[ev.ID()] = true
		}
	}
	if err := store.SaveEvaluations(ctx, evals, false); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{"ASC", "DESC"} {
		for _, limit := range []int{1, 5, 25, 1000} {
			lq := listQuery{pid: "P", sort: sort, limit: limit}
			seen := map[string]int{}
			for pages := 0; ; pages++ {
				if pages > 500 {
					t.Fatalf("%s limit %d: paging does not end", sort, limit)
				}
				rows, more, err := readPage(ctx, store.Evaluations, lq.rangeQuery(false), limit, lq.skip())
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					seen[r.ID()]++
				}
				if !more {
					break
				}
				c := parseCursor(encodeCursor(rows[len(rows)-1], sort))
				if sort == "ASC" {
					lq.from = c
				} else {
					lq.to = c
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("%s limit %d: saw %d results, want %d", sort, limit, len(seen), len(want))
			}
			for id, n := range seen {
				if !want[id] || n != 1 {
					t.Fatalf("%s limit %d: %s seen %d times (want %v)", sort, limit, id, n, want[id])
				}
			}
		}
	}
}
