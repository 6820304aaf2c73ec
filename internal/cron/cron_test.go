package cron

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/aocu/aocu/internal/ao"
)

func TestParseIntervalGrammar(t *testing.T) {
	const tooShort = "time-based cron cannot be less than 1 second"
	tests := []struct {
		in    string
		unit  Unit
		value int64
		valid bool
		err   string
	}{
		{"10-seconds", Seconds, 10, true, ""},
		{"1-second", Seconds, 1, true, ""},
		{"10-Minutes", Seconds, 600, true, ""},
		{"10-SECONDS", Seconds, 10, true, ""},
		{"1-month", Seconds, 0, false, ""},  // ms has no month: NaN, never fires
		{"2-months", Seconds, 0, false, ""}, //
		{" 5 - seconds ", Seconds, 5, true, ""},
		{"10  -  seconds", Seconds, 10, true, ""},
		{"1.5-minutes", Seconds, 90, true, ""},
		{".5-minutes", Seconds, 30, true, ""},
		{"1.-seconds", Seconds, 0, false, ""}, // ms needs a digit after the dot
		{"1.1-seconds", Seconds, 1, true, ""}, // 1100.0000000000002 ms
		{"1.9999999-seconds", Seconds, 1, true, ""},
		{"500-ms", 0, 0, false, tooShort}, // floor(0.5) = 0
		{"999-ms", 0, 0, false, tooShort},
		{"1000-ms", Seconds, 1, true, ""},
		{"2000-ms", Seconds, 2, true, ""},
		{"90000-msec", Seconds, 90, true, ""},
		{"7-MSECS", 0, 0, false, tooShort},
		{"1-millisecond", 0, 0, false, tooShort},
		{"1000", Seconds, 1, true, ""}, // "1000 " is 1000 ms
		{"10", 0, 0, false, tooShort},  // 10 ms
		{"10-", 0, 0, false, tooShort}, // "10 " is 10 ms
		{"0-seconds", 0, 0, false, tooShort},
		{"0.0001-seconds", 0, 0, false, tooShort},
		{"1-s", Seconds, 1, true, ""},
		{"3-secs", Seconds, 3, true, ""},
		{"45-S", Seconds, 45, true, ""},
		{"5-mins", Seconds, 300, true, ""},
		{"30-m", Seconds, 1800, true, ""},
		{"1-hour", Seconds, 3600, true, ""},
		{"1-hrs", Seconds, 3600, true, ""},
		{"2-h", Seconds, 7200, true, ""},
		{"1-day", Seconds, 86400, true, ""},
		{"1-week", Seconds, 604800, true, ""},
		{"2-w", Seconds, 1209600, true, ""},
		{"1-year", Seconds, 31557600, true, ""}, // 365.25 days
		{"1-yr", Seconds, 31557600, true, ""},
		{"0.001-years", Seconds, 31557, true, ""},
		{"1-seconds-extra", Seconds, 1, true, ""}, // only the first two parts count
		{"-10-seconds", Seconds, 0, false, ""},    // value "" unit "10": " 10"
		{"1 0-seconds", Seconds, 0, false, ""},
		{"10-sec onds", Seconds, 0, false, ""},
		{"", Seconds, 0, false, ""},
		{"-", Seconds, 0, false, ""},
		{"1-\u017feconds", Seconds, 0, false, ""}, // JS /i does not fold ſ onto s
		{"\u00a010-seconds\u00a0", Seconds, 10, true, ""},
		{"\ufeff10-seconds", Seconds, 10, true, ""}, // JS trim removes U+FEFF
		{"\u008510-seconds", Seconds, 0, false, ""}, // but not U+0085
		{"2-blocks", Blocks, 2, true, ""},
		{"1-block", Blocks, 1, true, ""},
		{" 3 - blocks ", Blocks, 3, true, ""},
		{"10-Blocks", Seconds, 0, false, ""}, // unit compare is case-sensitive
		{"0-blocks", Blocks, 0, false, ""},   // x % 0 is NaN
		{"abc-blocks", Blocks, 0, false, ""},
		{"0x3-blocks", Blocks, 3, true, ""},
		{"+4-blocks", Blocks, 4, true, ""},
		{"5.9-blocks", Blocks, 5, true, ""},
		{"1e2-blocks", Blocks, 1, true, ""},
		{"12345678901234567890-blocks", Blocks, math.MaxInt64, true, ""},
	}
	for _, tt := range tests {
		c, err := parseInterval(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			if !errors.Is(err, ErrIntervalTooShort) {
				t.Errorf("%q: err %v is not ErrIntervalTooShort", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: unexpected error %v", tt.in, err)
			continue
		}
		if c.Unit != tt.unit || c.Value != tt.value || c.Valid != tt.valid || c.Interval != tt.in {
			t.Errorf("%q: got {%v %d valid=%v %q}, want {%v %d valid=%v}", tt.in, c.Unit, c.Value, c.Valid, c.Interval, tt.unit, tt.value, tt.valid)
		}
	}
}

func TestParseTags(t *testing.T) {
	tags := []ao.Tag{
		{Name: "Type", Value: "Process"},
		{Name: "Cron-Interval", Value: "10-minutes"},
		{Name: "Cron-Tag-Action", Value: "Tick"},
		{Name: "Cron-Tag-", Value: "ignored: (.+) needs a character"},
		{Name: "Cron-Tag-A\nB", Value: "ignored: . does not match a newline"},
		{Name: "cron-tag-lower", Value: "ignored: case-sensitive"},
		{Name: "Cron-Interval", Value: "5-seconds"},
		{Name: "Cron-Tag-Action", Value: "Fast"},
		{Name: "Cron-Tag-Cron-Tag-X", Value: "nested"},
		{Name: "Cron-Interval", Value: "2-blocks"},
	}
	crons, err := Parse(tags)
	if err != nil {
		t.Fatal(err)
	}
	want := []Cron{
		{Interval: "10-minutes", Unit: Seconds, Value: 600, Valid: true, Tags: []ao.Tag{{Name: "Action", Value: "Tick"}}},
		{Interval: "5-seconds", Unit: Seconds, Value: 5, Valid: true, Tags: []ao.Tag{{Name: "Action", Value: "Fast"}, {Name: "Cron-Tag-X", Value: "nested"}}},
		{Interval: "2-blocks", Unit: Blocks, Value: 2, Valid: true},
	}
	if len(crons) != len(want) {
		t.Fatalf("got %d crons, want %d", len(crons), len(want))
	}
	for i := range want {
		g, w := crons[i], want[i]
		if g.Interval != w.Interval || g.Unit != w.Unit || g.Value != w.Value || g.Valid != w.Valid || !reflect.DeepEqual(g.Tags, w.Tags) {
			t.Errorf("cron %d: got %+v, want %+v", i, g, w)
		}
	}

	// Time crons are sorted ascending; the id index is the sorted index, and
	// block crons have their own list.
	s := NewSchedule(crons, ao.Block{Height: 1, Timestamp: 0})
	if got, want := s.IDs(), []string{"0-2-blocks", "0-5-seconds", "1-10-minutes"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}

	if crons, err := Parse([]ao.Tag{{Name: "Type", Value: "Process"}}); crons != nil || err != nil {
		t.Errorf("no crons: got %v, %v", crons, err)
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse([]ao.Tag{{Name: "Cron-Tag-Action", Value: "x"}, {Name: "Cron-Interval", Value: "1-second"}})
	if err == nil || err.Error() != "Unmatched Cron-Tag with no preceding Cron-Interval: Cron-Tag-Action" {
		t.Errorf("unmatched: %v", err)
	}
	var ue *UnmatchedTagError
	if !errors.As(err, &ue) || ue.Name != "Cron-Tag-Action" {
		t.Errorf("unmatched: not an *UnmatchedTagError: %#v", err)
	}
	// The first error in tag order wins.
	_, err = Parse([]ao.Tag{{Name: "Cron-Interval", Value: "500-ms"}, {Name: "Cron-Tag-X", Value: "x"}})
	if !errors.Is(err, ErrIntervalTooShort) {
		t.Errorf("too short: %v", err)
	}
	_, err = Parse([]ao.Tag{{Name: "Cron-Tag-X", Value: "x"}, {Name: "Cron-Interval", Value: "500-ms"}})
	if !errors.As(err, &ue) {
		t.Errorf("unmatched first: %v", err)
	}
	// An unreadable interval is not an error.
	crons, err := Parse([]ao.Tag{{Name: "Cron-Interval", Value: "1-month"}})
	if err != nil || len(crons) != 1 || crons[0].Valid {
		t.Errorf("1-month: %+v, %v", crons, err)
	}
}

func names(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name())
	}
	return out
}

func mustSchedule(t *testing.T, origin ao.Block, tags ...ao.Tag) *Schedule {
	t.Helper()
	crons, err := Parse(tags)
	if err != nil {
		t.Fatal(err)
	}
	return NewSchedule(crons, origin)
}

// ref-cu.md §3.6 B [run]: after a process at ...000123 a 10-seconds cron fires
// at 1700000010123, 1700000020123, ...
func TestObservedMillisecondFraction(t *testing.T) {
	origin := ao.Block{Height: 100, Timestamp: 1700000000123}
	s := mustSchedule(t, origin, ao.Tag{Name: "Cron-Interval", Value: "10-seconds"})
	left := Boundary{Timestamp: origin.Timestamp, Ordinate: "0", Block: origin}
	got := s.Between(left, 1700000045000, nil)
	want := []string{
		"Cron Message 1700000010123,0,0-10-seconds",
		"Cron Message 1700000020123,0,0-10-seconds",
		"Cron Message 1700000030123,0,0-10-seconds",
		"Cron Message 1700000040123,0,0-10-seconds",
	}
	if !reflect.DeepEqual(names(got), want) {
		t.Fatalf("got %v\nwant %v", names(got), want)
	}
	for _, m := range got {
		if m.BlockHeight != 100 || m.Ordinate != "0" || m.ID != "0-10-seconds" {
			t.Errorf("message %+v", m)
		}
	}
}

// ref-cu.md §3.6 B [run]: "Cron Message 1700000070124,1,0-10-seconds", then
// the scheduled message at 1700000070125 (nonce 2), then "Cron Message
// 1700000070125,2,0-10-seconds". The engine's boundaries: the process
// (nonce 0) at 1700000000123, message 1 at 1700000064124, message 2 at
// 1700000070125, then the trailing window to the SU's current time.
func TestObservedDuplicateSecond(t *testing.T) {
	origin := ao.Block{Height: 100, Timestamp: 1700000000123}
	s := mustSchedule(t, origin, ao.Tag{Name: "Cron-Interval", Value: "10-seconds"})

	m0 := Boundary{Timestamp: 1700000000123, Ordinate: "0", Block: ao.Block{Height: 100, Timestamp: 1700000000123}}
	m1 := Boundary{Timestamp: 1700000064124, Ordinate: "1", Block: ao.Block{Height: 100, Timestamp: 1700000064124}}
	m2 := Boundary{Timestamp: 1700000070125, Ordinate: "2", Block: ao.Block{Height: 101, Timestamp: 1700000070125}}
	const now = 1700000072000

	var stream []string
	stream = append(stream, names(s.Between(m0, m1.Timestamp, nil))...)
	stream = append(stream, "Scheduled 1")
	stream = append(stream, names(s.Between(m1, m2.Timestamp, nil))...)
	stream = append(stream, "Scheduled 2")
	if !Tail(m2, now) {
		t.Fatal("Tail(m2, now) = false")
	}
	stream = append(stream, names(s.Between(m2, now, nil))...)

	want := []string{
		"Cron Message 1700000010123,0,0-10-seconds",
		"Cron Message 1700000020123,0,0-10-seconds",
		"Cron Message 1700000030123,0,0-10-seconds",
		"Cron Message 1700000040123,0,0-10-seconds",
		"Cron Message 1700000050123,0,0-10-seconds",
		"Cron Message 1700000060123,0,0-10-seconds",
		"Scheduled 1",
		"Cron Message 1700000070124,1,0-10-seconds",
		"Scheduled 2",
		"Cron Message 1700000070125,2,0-10-seconds",
	}
	if !reflect.DeepEqual(stream, want) {
		t.Fatalf("got  %q\nwant %q", stream, want)
	}

	// Within the same second no trailing window is made, so reading the
	// result of message 2 itself (to = its timestamp) or a moment later in
	// that second gives no duplicate.
	if Tail(m2, m2.Timestamp) || Tail(m2, 1700000070999) {
		t.Error("Tail within the same second")
	}
	if !Tail(m2, 1700000071000) {
		t.Error("Tail at the next second")
	}
}

func TestBlockAndTimeCrons(t *testing.T) {
	origin := ao.Block{Height: 1000, Timestamp: 1700000000500}
	s := mustSchedule(t, origin,
		ao.Tag{Name: "Cron-Interval", Value: "1-minute"},
		ao.Tag{Name: "Cron-Tag-Action", Value: "Minute"},
		ao.Tag{Name: "Cron-Interval", Value: "2-blocks"},
		ao.Tag{Name: "Cron-Tag-Action", Value: "Blocks"},
		ao.Tag{Name: "Cron-Interval", Value: "30-seconds"},
	)
	if got, want := s.IDs(), []string{"0-2-blocks", "0-30-seconds", "1-1-minute"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	blocks := []ao.Block{
		{Height: 999, Timestamp: 1699999990000},  // before the window: ignored
		{Height: 1000, Timestamp: 1700000000000}, // before the window (ts < left): ignored
		{Height: 1001, Timestamp: 1700000020000},
		{Height: 1002, Timestamp: 1700000050000},
		{Height: 1003, Timestamp: 1700000060000}, // odd height: no block cron
		{Height: 1004, Timestamp: 1700000090000}, // same second as a time tick: block first
		{Height: 1005, Timestamp: 1700000095000}, // ts > right: ignored
	}
	left := Boundary{Timestamp: origin.Timestamp, Ordinate: "0", Block: origin}
	got := s.Between(left, 1700000091000, blocks)
	type row struct {
		name   string
		height int64
		tags   int
	}
	var rows []row
	for _, m := range got {
		rows = append(rows, row{m.Name(), m.BlockHeight, len(m.Tags)})
	}
	want := []row{
		{"Cron Message 1700000030500,0,0-30-seconds", 1001, 0},
		{"Cron Message 1700000050000,0,0-2-blocks", 1002, 1},
		{"Cron Message 1700000060500,0,0-30-seconds", 1003, 0},
		{"Cron Message 1700000060500,0,1-1-minute", 1003, 1},
		{"Cron Message 1700000090000,0,0-2-blocks", 1004, 1},
		{"Cron Message 1700000090500,0,0-30-seconds", 1004, 0},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got  %v\nwant %v", rows, want)
	}
	if got[1].Tags[0] != (ao.Tag{Name: "Action", Value: "Blocks"}) || got[3].Tags[0] != (ao.Tag{Name: "Action", Value: "Minute"}) {
		t.Errorf("tags: %v %v", got[1].Tags, got[3].Tags)
	}
}

// Blocks are taken one per tick, so a block closer than a second to the
// previous one is taken a tick late, and a block whose second is never
// ticked is dropped from the window.
func TestBlockPerTickQuirks(t *testing.T) {
	origin := ao.Block{Height: 0, Timestamp: 1700000000000}
	s := mustSchedule(t, origin, ao.Tag{Name: "Cron-Interval", Value: "1-block"})
	blocks := []ao.Block{
		{Height: 1, Timestamp: 1700000005000},
		{Height: 2, Timestamp: 1700000005000},
		{Height: 3, Timestamp: 1700000005000},
		{Height: 4, Timestamp: 1700000009000}, // never ticked: the last tick is 1700000008700
	}
	left := Boundary{Timestamp: 1700000000700, Ordinate: "3", Block: ao.Block{Height: 0}}
	got := s.Between(left, 1700000009500, blocks)
	want := []string{
		"Cron Message 1700000005000,3,0-1-block",
		"Cron Message 1700000005000,3,0-1-block",
		"Cron Message 1700000005000,3,0-1-block",
	}
	if !reflect.DeepEqual(names(got), want) {
		t.Fatalf("got %v", names(got))
	}
	for i, m := range got {
		if m.BlockHeight != int64(i+1) {
			t.Errorf("message %d height %d", i, m.BlockHeight)
		}
	}
}

func TestNaNIntervalNeverFiresButKeepsItsIndex(t *testing.T) {
	origin := ao.Block{Height: 0, Timestamp: 1700000000000}
	s := mustSchedule(t, origin,
		ao.Tag{Name: "Cron-Interval", Value: "1-month"},
		ao.Tag{Name: "Cron-Interval", Value: "2-seconds"},
	)
	if s.Empty() {
		t.Fatal("a schedule with only unfireable crons is not Empty")
	}
	if got, want := s.IDs(), []string{"0-1-month", "1-2-seconds"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	got := s.Between(Boundary{Timestamp: origin.Timestamp, Ordinate: "0"}, origin.Timestamp+5000, nil)
	if want := []string{"Cron Message 1700000002000,0,1-2-seconds", "Cron Message 1700000004000,0,1-2-seconds"}; !reflect.DeepEqual(names(got), want) {
		t.Fatalf("got %v", names(got))
	}
	if !NewSchedule(nil, origin).Empty() {
		t.Error("no crons: not Empty")
	}
}

func TestBetweenEdges(t *testing.T) {
	origin := ao.Block{Height: 0, Timestamp: 1700000000000}
	s := mustSchedule(t, origin, ao.Tag{Name: "Cron-Interval", Value: "1-second"})
	left := Boundary{Timestamp: 1700000010000, Ordinate: "1"}
	if got := s.Between(left, left.Timestamp, nil); len(got) != 0 {
		t.Errorf("empty window: %v", names(got))
	}
	if got := s.Between(left, left.Timestamp-5000, nil); len(got) != 0 {
		t.Errorf("reversed window: %v", names(got))
	}
	// The left tick itself fires (it is not the origin second).
	if got := s.Between(left, left.Timestamp+1, nil); !reflect.DeepEqual(names(got), []string{"Cron Message 1700000010000,1,0-1-second"}) {
		t.Errorf("one tick: %v", names(got))
	}
	// The origin second never fires, also on a cold start.
	cold := Boundary{Timestamp: origin.Timestamp, Ordinate: "0"}
	if got := s.Between(cold, origin.Timestamp+2000, nil); !reflect.DeepEqual(names(got), []string{"Cron Message 1700000001000,0,0-1-second"}) {
		t.Errorf("cold: %v", names(got))
	}
	// The iterator stops when asked.
	n := 0
	for range s.Messages(left, left.Timestamp+100000, nil) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("iterator: %d", n)
	}
}

// A month of a 1-second cron: millions of messages, and the fast path must
// count them without ticking.
func TestMonthOfSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	origin := ao.Block{Height: 0, Timestamp: 1700000000123}
	s := mustSchedule(t, origin, ao.Tag{Name: "Cron-Interval", Value: "1-second"}, ao.Tag{Name: "Cron-Interval", Value: "1-hour"})
	left := Boundary{Timestamp: origin.Timestamp, Ordinate: "0"}
	const month = 30 * 24 * 3600 * 1000
	n, hours := 0, 0
	var last Message
	for m := range s.Messages(left, origin.Timestamp+month, nil) {
		n++
		if m.ID == "1-1-hour" {
			hours++
		}
		last = m
	}
	if n != 30*24*3600-1+30*24-1 || hours != 30*24-1 {
		t.Errorf("n=%d hours=%d", n, hours)
	}
	if last.Timestamp != origin.Timestamp+month-1000 || last.ID != "0-1-second" {
		t.Errorf("last %+v", last)
	}
}

func TestFewAllocations(t *testing.T) {
	origin := ao.Block{Height: 0, Timestamp: 1700000000123}
	s := mustSchedule(t, origin, ao.Tag{Name: "Cron-Interval", Value: "1-day"}, ao.Tag{Name: "Cron-Interval", Value: "7-blocks"})
	left := Boundary{Timestamp: origin.Timestamp, Ordinate: "0"}
	const month = 30 * 24 * 3600 * 1000
	var blocks []ao.Block
	for h := int64(1); h <= 30*24*30; h++ { // a block every 2 minutes
		blocks = append(blocks, ao.Block{Height: h, Timestamp: origin.Timestamp - 123 + h*120000})
	}
	var got []Message
	allocs := testing.AllocsPerRun(5, func() { got = s.Between(left, origin.Timestamp+month, blocks) })
	if len(got) != 29+21600/7 {
		t.Fatalf("%d messages", len(got))
	}
	// Only the growth of the result slice allocates: nothing per tick, nothing per message.
	if allocs > 30 {
		t.Errorf("%v allocations", allocs)
	}
}

func BenchmarkMonthOneSecondCron(b *testing.B) {
	origin := ao.Block{Height: 0, Timestamp: 1700000000123}
	crons, _ := Parse([]ao.Tag{{Name: "Cron-Interval", Value: "1-second"}})
	s := NewSchedule(crons, origin)
	left := Boundary{Timestamp: origin.Timestamp, Ordinate: "0"}
	const month = 30 * 24 * 3600 * 1000
	for b.Loop() {
		n := 0
		for range s.Messages(left, origin.Timestamp+month, nil) {
			n++
		}
	}
}

func BenchmarkMonthOneDayCron(b *testing.B) {
	origin := ao.Block{Height: 0, Timestamp: 1700000000123}
	crons, _ := Parse([]ao.Tag{{Name: "Cron-Interval", Value: "1-day"}})
	s := NewSchedule(crons, origin)
	left := Boundary{Timestamp: origin.Timestamp, Ordinate: "0"}
	const month = 30 * 24 * 3600 * 1000
	for b.Loop() {
		s.Between(left, origin.Timestamp+month, nil)
	}
}
