package cron

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/aocu/aocu/internal/ao"
)

// oracleBetween is cronMessagesBetweenWith's generator written out literally:
// a 1000 ms tick loop, JS number arithmetic (Math.floor, %), the block queue
// shifted at most once per tick. Between must give exactly this.
func oracleBetween(s *Schedule, left Boundary, right int64, blocks []ao.Block) []Message {
	toSeconds := func(ms int64) float64 { return math.Floor(float64(ms) / 1000) }
	value := func(e entry) float64 {
		if !e.valid {
			return math.NaN()
		}
		return float64(e.value)
	}
	var blocksInRange []ao.Block
	for _, b := range blocks {
		if b.Timestamp > left.Timestamp && b.Timestamp < right {
			blocksInRange = append(blocksInRange, b)
		}
	}
	var out []Message
	curBlock := left.Block
	for cur := left.Timestamp; cur < right; cur += 1000 {
		if len(blocksInRange) > 0 && toSeconds(cur) >= toSeconds(blocksInRange[0].Timestamp) {
			curBlock, blocksInRange = blocksInRange[0], blocksInRange[1:]
			for _, e := range s.block {
				if curBlock.Height == s.origin.Height {
					continue
				}
				if math.Mod(float64(curBlock.Height-s.origin.Height), value(e)) == 0 {
					out = append(out, Message{ID: e.id, Timestamp: curBlock.Timestamp, BlockHeight: curBlock.Height, Ordinate: left.Ordinate, Tags: e.tags})
				}
			}
		}
		for _, e := range s.time {
			ts, os := toSeconds(cur), toSeconds(s.origin.Timestamp)
			if ts == os {
				continue
			}
			if math.Mod(ts-os, value(e)) == 0 {
				out = append(out, Message{ID: e.id, Timestamp: cur, BlockHeight: curBlock.Height, Ordinate: left.Ordinate, Tags: e.tags})
			}
		}
	}
	return out
}

var randomIntervals = []string{
	"1-second", "2-seconds", "3-seconds", "5-seconds", "7-seconds", "10-seconds", "13-seconds",
	"30-seconds", "1-minute", "90-seconds", "1-hour", "1-month", "x-blocks", "0-blocks",
	"1-block", "2-blocks", "3-blocks", "5-blocks", "1.5-minutes", " 4 - seconds ",
}

func randomCase(r *rand.Rand) (s *Schedule, left Boundary, right int64, blocks []ao.Block) {
	var tags []ao.Tag
	for i, n := 0, 1+r.IntN(5); i < n; i++ {
		tags = append(tags, ao.Tag{Name: "Cron-Interval", Value: randomIntervals[r.IntN(len(randomIntervals))]})
		if r.IntN(2) == 0 {
			tags = append(tags, ao.Tag{Name: "Cron-Tag-N", Value: fmt.Sprint(i)})
		}
	}
	crons, err := Parse(tags)
	if err != nil {
		panic(err)
	}
	origin := ao.Block{Height: 1000 + r.Int64N(100), Timestamp: 1700000000000 + r.Int64N(10000)}
	s = NewSchedule(crons, origin)

	// The left boundary: usually at or after the origin, sometimes before it
	// (negative distances), with any millisecond fraction.
	left = Boundary{
		Timestamp: origin.Timestamp + r.Int64N(600000) - 20000,
		Ordinate:  fmt.Sprint(r.IntN(10)),
		Block:     ao.Block{Height: origin.Height + r.Int64N(5) - 1},
	}
	if r.IntN(4) == 0 {
		left.Timestamp = origin.Timestamp
	}
	switch r.IntN(5) {
	case 0:
		right = left.Timestamp + r.Int64N(3000)
	case 1:
		right = left.Timestamp - r.Int64N(3000)
	default:
		right = left.Timestamp + r.Int64N(2*3600*1000)
	}

	// Blocks, usually ascending whole seconds; sometimes dense (several a
	// second), odd milliseconds, or out of order.
	h := left.Block.Height - r.Int64N(3)
	ts := (left.Timestamp/1000 - r.Int64N(5)) * 1000
	dense := r.IntN(3) == 0
	for ts < max(right, left.Timestamp)+10000 && len(blocks) < 5000 {
		b := ao.Block{Height: h, Timestamp: ts}
		if r.IntN(10) == 0 {
			b.Timestamp += r.Int64N(1000)
		}
		blocks = append(blocks, b)
		h++
		if dense {
			ts += r.Int64N(3) * 1000
		} else {
			ts += (20 + r.Int64N(200)) * 1000
		}
	}
	if r.IntN(10) == 0 && len(blocks) > 1 {
		i, j := r.IntN(len(blocks)), r.IntN(len(blocks))
		blocks[i], blocks[j] = blocks[j], blocks[i]
	}
	return s, left, right, blocks
}

func TestBetweenMatchesTickLoop(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 300
	}
	total := 0
	for seed := range n {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		s, left, right, blocks := randomCase(r)
		want := oracleBetween(s, left, right, blocks)
		got := s.Between(left, right, blocks)
		total += len(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: left %+v right %d ids %v\n got  %d %v\n want %d %v", seed, left, right, s.IDs(), len(got), names(got), len(want), names(want))
		}
	}
	if total < 5000 {
		t.Errorf("only %d messages compared", total)
	}
}

func FuzzBetween(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(99), uint64(12345))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		s, left, right, blocks := randomCase(rand.New(rand.NewPCG(a, b)))
		if right-left.Timestamp > 600000 { // keep the oracle quick
			right = left.Timestamp + 600000
		}
		if got, want := s.Between(left, right, blocks), oracleBetween(s, left, right, blocks); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v\nwant %v", names(got), names(want))
		}
	})
}

func TestNextFire(t *testing.T) {
	// Against a scan.
	for d := int64(-40); d <= 40; d++ {
		for v := int64(1); v <= 9; v++ {
			for limit := int64(0); limit <= 30; limit++ {
				want := limit
				for k := int64(0); k < limit; k++ {
					if onCron(d+k, v) {
						want = k
						break
					}
				}
				if got := nextFire(d, v, 0, limit); got != want {
					t.Fatalf("nextFire(%d, %d, 0, %d) = %d, want %d", d, v, limit, got, want)
				}
			}
		}
	}
	// No overflow with huge values: d+delta = MaxInt64 is the next multiple.
	if got := nextFire(5, math.MaxInt64, 3, math.MaxInt64); got != math.MaxInt64-2 {
		t.Errorf("huge value: %d", got)
	}
	if got := nextFire(5, math.MaxInt64, 3, 1000); got != 1000 {
		t.Errorf("huge value, short window: %d", got)
	}
	if got := nextFire(0, math.MaxInt64, 0, math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("origin second skipped past the limit: %d", got)
	}
}

// Without NaN the comparator is consistent, and V8's sort is just a stable
// sort.
func TestV8SortIsStableSortWhenConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type item struct{ v, i int }
	for range 2000 {
		n := r.IntN(400)
		a := make([]item, n)
		for i := range a {
			a[i] = item{r.IntN(1 + n/4), i}
		}
		want := slices.Clone(a)
		sort.SliceStable(want, func(i, j int) bool { return want[i].v < want[j].v })
		v8Sort(a, func(x, y item) int { return x.v - y.v })
		if !reflect.DeepEqual(a, want) {
			t.Fatalf("n=%d: differs", n)
		}
	}
}
