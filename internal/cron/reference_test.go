package cron

import (
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
)

// testdata/reference.json.gz was produced by testdata/gen_reference.mjs: the
// reference CU's own loadMessages.js (parseCrons, cronMessagesBetweenWith and
// the whole merged stream of loadMessagesWith, with stubbed I/O), ms@2.1.3,
// ramda@0.30.1 and hyper-async@1.1.2 under Node 22.23.3 (V8 12.4).
type reference struct {
	Node  string `json:"node"`
	V8    string `json:"v8"`
	Sorts []struct {
		In  []*float64 `json:"in"` // null is NaN
		Out []int      `json:"out"`
	} `json:"sorts"`
	Parse []struct {
		Tags  []ao.Tag `json:"tags"`
		Error string   `json:"error"`
		Crons []struct {
			Interval string   `json:"interval"`
			Unit     string   `json:"unit"`
			Value    *float64 `json:"value"`
			Tags     []ao.Tag `json:"tags"`
		} `json:"crons"`
	} `json:"parse"`
	Streams []struct {
		Tags   []ao.Tag `json:"tags"`
		Origin ao.Block `json:"origin"`
		Cold   bool     `json:"cold"`
		Left   struct {
			Ts       int64  `json:"ts"`
			Height   int64  `json:"height"`
			Ordinate string `json:"ordinate"`
		} `json:"left"`
		Scheduled []struct {
			Ts     int64 `json:"ts"`
			Height int64 `json:"height"`
			Nonce  int64 `json:"nonce"`
		} `json:"scheduled"`
		To         *int64     `json:"to"`
		SuNow      int64      `json:"suNow"`
		Blocks     [][2]int64 `json:"blocks"`
		FindBlocks *struct {
			MinHeight    int64 `json:"minHeight"`
			MaxTimestamp int64 `json:"maxTimestamp"`
		} `json:"findBlocks"`
		Out [][3]any `json:"out"` // name, Block-Height, number of tags (-1: not a cron)
	} `json:"streams"`
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	f, err := os.Open("testdata/reference.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.NewDecoder(zr).Decode(&ref); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref.Node, "v22.") {
		t.Fatalf("fixture from node %s", ref.Node)
	}
	return &ref
}

func TestReferenceV8Sort(t *testing.T) {
	ref := loadReference(t)
	withNaN := 0
	for ci, c := range ref.Sorts {
		type item struct {
			v float64
			i int
		}
		a := make([]item, len(c.In))
		for i, p := range c.In {
			a[i] = item{math.NaN(), i}
			if p != nil {
				a[i].v = *p
			} else {
				withNaN++
			}
		}
		v8Sort(a, func(x, y item) int {
			switch {
			case x.v < y.v:
				return -1
			case x.v > y.v:
				return 1
			}
			return 0
		})
		got := make([]int, len(a))
		for i := range a {
			got[i] = a[i].i
		}
		if len(c.Out) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.Out) {
			t.Fatalf("sort %d (n=%d): got %v\nwant %v", ci, len(a), got, c.Out)
		}
	}
	if len(ref.Sorts) < 100 || withNaN == 0 {
		t.Fatalf("fixture: %d sorts, %d NaN", len(ref.Sorts), withNaN)
	}
}

func TestReferenceParse(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.Parse {
		crons, err := Parse(c.Tags)
		if c.Error != "" {
			if err == nil || err.Error() != c.Error {
				t.Errorf("%v: err %v, want %q", c.Tags, err, c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: unexpected %v", c.Tags, err)
			continue
		}
		if len(crons) != len(c.Crons) {
			t.Errorf("%v: %d crons, want %d", c.Tags, len(crons), len(c.Crons))
			continue
		}
		for i, w := range c.Crons {
			g := crons[i]
			wantUnit := Seconds
			if w.Unit == "blocks" || w.Unit == "block" {
				wantUnit = Blocks
			}
			var wantValue int64
			wantValid := w.Value != nil && *w.Value != 0
			if w.Value != nil {
				wantValue = clampInt(*w.Value)
			}
			wantTags := w.Tags
			if len(wantTags) == 0 {
				wantTags = nil
			}
			if g.Interval != w.Interval || g.Unit != wantUnit || g.Value != wantValue || g.Valid != wantValid || !reflect.DeepEqual(g.Tags, wantTags) {
				t.Errorf("%q: got %+v, want %+v", w.Interval, g, w)
			}
			if w.Value != nil && g.sortKey() != *w.Value {
				t.Errorf("%q: key %v, want %v", w.Interval, g.sortKey(), *w.Value)
			}
		}
	}
}

// TestReferenceStreams drives Between and Tail as the engine will (a window
// before each scheduled message, then the trailing window) and compares the
// whole stream with the reference's merged stream.
func TestReferenceStreams(t *testing.T) {
	ref := loadReference(t)
	crons, dups, tails := 0, 0, 0
	for ci, c := range ref.Streams {
		parsed, err := Parse(c.Tags)
		if err != nil {
			t.Fatalf("stream %d: %v", ci, err)
		}
		s := NewSchedule(parsed, c.Origin)

		right := c.SuNow
		if c.To != nil {
			right = *c.To
		}
		left := Boundary{Timestamp: c.Left.Ts, Ordinate: c.Left.Ordinate, Block: ao.Block{Height: c.Left.Height, Timestamp: c.Left.Ts}}
		// The blocks the reference loads: height >= the left-most height,
		// timestamp <= the right-most timestamp.
		if c.FindBlocks == nil || c.FindBlocks.MinHeight != left.Block.Height || c.FindBlocks.MaxTimestamp != right {
			t.Fatalf("stream %d: findBlocks %+v, want {%d %d}", ci, c.FindBlocks, left.Block.Height, right)
		}
		var blocks []ao.Block
		for _, b := range c.Blocks {
			if b[0] >= left.Block.Height && b[1] <= right {
				blocks = append(blocks, ao.Block{Height: b[0], Timestamp: b[1]})
			}
		}

		type row struct {
			name   string
			height int64
			tags   int
		}
		timeIDs := map[string]bool{}
		for _, e := range s.time {
			timeIDs[e.id] = true
		}
		var got []row
		fired := map[string]bool{} // time cron id @ second
		emit := func(ms []Message) {
			for _, m := range ms {
				got = append(got, row{m.Name(), m.BlockHeight, len(m.Tags)})
				if timeIDs[m.ID] {
					k := m.ID + "@" + itoa(floorDiv(m.Timestamp, 1000))
					if fired[k] {
						dups++
					}
					fired[k] = true
				}
			}
		}
		prev := left
		for _, m := range c.Scheduled {
			emit(s.Between(prev, m.Ts, blocks))
			got = append(got, row{"Scheduled " + itoa(m.Nonce), m.Height, -1})
			prev = Boundary{Timestamp: m.Ts, Ordinate: itoa(m.Nonce), Block: ao.Block{Height: m.Height, Timestamp: m.Ts}}
		}
		if Tail(prev, right) {
			tails++
			emit(s.Between(prev, right, blocks))
		}

		var want []row
		for _, o := range c.Out {
			name := o[0].(string)
			if strings.HasPrefix(name, "Process Message ") {
				continue // the cold-start prepend is not this package's
			}
			if strings.HasPrefix(name, "Scheduled Message ") {
				name = "Scheduled " + name[strings.LastIndexByte(name, ':')+1:]
			} else {
				crons++
			}
			want = append(want, row{name, int64(o[1].(float64)), int(o[2].(float64))})
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stream %d (ids %v, left %+v, right %d):\n got  %v\n want %v", ci, s.IDs(), left, right, got, want)
		}
	}
	if crons < 1000 || tails == 0 || dups == 0 {
		t.Fatalf("fixture exercised too little: %d crons, %d duplicate seconds, %d tails", crons, dups, tails)
	}
	t.Logf("%d streams, %d cron messages (%d time crons firing twice in a second), %d trailing windows", len(ref.Streams), crons, dups, tails)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
