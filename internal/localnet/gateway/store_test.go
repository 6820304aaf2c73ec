package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// A wallet that owns thousands of items (an SU: every assignment it signs)
// and one with a rare tag (its Scheduler-Location): a query by that wallet
// and that tag reads the tag's items through the tags index, not every item
// of the wallet (SQLite, without statistics, picks the owner index); a tag
// shared by thousands of items leaves the owner index to SQLite. The answers
// are the same either way.
func TestQueryReadsThroughTheRarerFilter(t *testing.T) {
	ctx := context.Background()
	s, err := openStore(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	su, other := localnettest.EDSigner("busy su"), localnettest.EDSigner("another su")
	var items []*arweave.DataItem
	add := func(signer arweave.Signer, typ string, i int) {
		d, _ := signItem(t, signer, fmt.Sprint(i), "", "", localnettest.Tags("Data-Protocol", "ao", "Type", typ))
		items = append(items, d)
	}
	for i := range 1500 {
		add(su, "Assignment", i)
	}
	add(su, "Scheduler-Location", 0)
	add(other, "Scheduler-Location", 1)
	for i := range 20 {
		add(other, "Assignment", 2000+i)
	}
	if _, err := s.insert(ctx, items, make([]string, len(items)), time.Now()); err != nil {
		t.Fatal(err)
	}
	name := func(v string) *string { return &v }
	tags := func(typ string) []tagFilter {
		return []tagFilter{{Name: name("Data-Protocol"), Values: []string{"ao"}}, {Name: name("Type"), Values: []string{typ}}}
	}
	for _, c := range []struct {
		what      string
		q         txQuery
		want      int
		throughTg bool
	}{
		{"the SU's Scheduler-Location", txQuery{Owners: []string{su.Address()}, Tags: tags("Scheduler-Location"), page: page{Desc: true, First: 1}}, 1, true},
		{"every Scheduler-Location", txQuery{Tags: tags("Scheduler-Location"), page: page{First: 10}}, 2, true},
		{"the other wallet's assignments", txQuery{Owners: []string{other.Address()}, Tags: tags("Assignment"), page: page{First: 100}}, 20, false},
		{"the SU's assignments", txQuery{Owners: []string{su.Address()}, Tags: tags("Assignment"), page: page{Desc: true, First: 5}}, 5, false},
	} {
		got, _, err := s.queryItems(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if len(got) != c.want {
			t.Errorf("%s: %d items, want %d", c.what, len(got), c.want)
		}
		for _, it := range got {
			if len(c.q.Owners) > 0 && it.OwnerAddr != c.q.Owners[0] {
				t.Errorf("%s: an item of %s", c.what, it.OwnerAddr)
			}
		}
		sqlText, args, err := s.itemsSQL(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqlText, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		// Read through the tag: the items looked up by the seq the tags
		// index gives; else by the owner index.
		if through := strings.Contains(p, "SEARCH items USING INTEGER PRIMARY KEY"); through != c.throughTg {
			t.Errorf("%s: read through the tag %v, want %v (plan: %s)", c.what, through, c.throughTg, p)
		}
		if byOwner := strings.Contains(p, "items_owner"); byOwner == c.throughTg {
			t.Errorf("%s: read through the owner index %v, want %v (plan: %s)", c.what, byOwner, !c.throughTg, p)
		}
	}
}
