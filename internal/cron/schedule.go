package cron

import (
	"iter"
	"strconv"

	"github.com/aocu/aocu/internal/ao"
)

// Schedule is the parsed crons of a process prepared for generation: block
// crons in tag order, time crons sorted ascending by value as the reference
// sorts them (V8's Array.prototype.sort with ramda's ascend, which is a
// stable sort unless a NaN interval is present); the index in each list is
// the id index.
type Schedule struct {
	origin ao.Block
	n      int // number of crons, fired or not
	block  []entry
	time   []entry
}

type entry struct {
	id    string // "<i>-<interval>"
	value int64
	valid bool
	tags  []ao.Tag
}

// NewSchedule prepares crons (as Parse returns them) for generation. origin
// is the process's block: {height, timestamp in ms} of the process message
// as the SU reports it.
func NewSchedule(crons []Cron, origin ao.Block) *Schedule {
	s := &Schedule{origin: origin, n: len(crons)}
	var timed []*Cron
	for i := range crons {
		c := &crons[i]
		if c.Unit == Blocks {
			s.block = append(s.block, newEntry(len(s.block), c))
		} else {
			timed = append(timed, c)
		}
	}
	v8Sort(timed, func(x, y *Cron) int {
		a, b := x.sortKey(), y.sortKey()
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0 // equal, or either is NaN
	})
	for i, c := range timed {
		s.time = append(s.time, newEntry(i, c))
	}
	return s
}

func newEntry(i int, c *Cron) entry {
	return entry{
		id:    strconv.Itoa(i) + "-" + c.Interval,
		value: c.Value,
		valid: c.Valid && c.Value > 0,
		tags:  c.Tags,
	}
}

// Empty reports whether the process has no Cron-Interval at all. Only then
// does the reference skip the cron machinery (no SU /timestamp call, no block
// loading, no trailing window): a schedule whose crons can never fire is not
// Empty.
func (s *Schedule) Empty() bool { return s == nil || s.n == 0 }

// IDs returns the cron ids in generation order: the block crons, then the
// time crons (sorted).
func (s *Schedule) IDs() []string {
	var ids []string
	for _, e := range s.block {
		ids = append(ids, e.id)
	}
	for _, e := range s.time {
		ids = append(ids, e.id)
	}
	return ids
}

// Boundary is a left boundary: the last evaluated scheduled message (or, on
// a cold start, the process; on a hot start, the last evaluation).
//
// The reference ticks from left.block.timestamp, which for all three kinds
// is the boundary's own timestamp ({height: Block-Height, timestamp:
// Timestamp} of a scheduled message, the process block, or {fromBlockHeight,
// from}), so Timestamp is used for the ticks and Block only for its Height
// (the Block-Height of crons fired before the first block in range).
type Boundary struct {
	Timestamp int64 // ms
	Ordinate  string
	Block     ao.Block
}

// Message is one generated cron message.
type Message struct {
	// ID is the cron id, "<i>-<interval>", e.g. "0-10-seconds".
	ID string
	// Timestamp is in ms: the tick (which keeps the left boundary's
	// millisecond fraction) for time crons, the block's timestamp for block
	// crons.
	Timestamp   int64
	BlockHeight int64
	// Ordinate is the left boundary's ordinate.
	Ordinate string
	// Tags are the cron's Cron-Tag-* tags. The slice is shared by every
	// message of the cron (as in the reference): do not modify it.
	Tags []ao.Tag
}

// Name is the reference's stream name of the message:
// "Cron Message <timestamp>,<ordinate>,<id>".
func (m Message) Name() string {
	return "Cron Message " + strconv.FormatInt(m.Timestamp, 10) + "," + m.Ordinate + "," + m.ID
}

// Tail reports whether the reference generates the trailing window
// crons(last, {timestamp: rightTimestamp}) after the last scheduled message
// (or after the left-most boundary when there is none). The reference's
// condition (loadMessages.js, genBoundariesAsTuples) is
//
//	toSeconds(prev.block.timestamp) < toSeconds(rightMostTimestamp)
//
// i.e. floor(last.Timestamp/1000) < floor(rightTimestamp/1000). It only
// applies when the process has crons (Schedule.Empty is false).
func Tail(last Boundary, rightTimestamp int64) bool {
	return floorDiv(last.Timestamp, 1000) < floorDiv(rightTimestamp, 1000)
}

// Between returns the cron messages strictly after left and before
// rightTimestamp, exactly as cronMessagesBetweenWith's generator does:
//
//	blocksInRange = blocks with left.Timestamp < b.Timestamp < rightTimestamp (given order)
//	curBlock = left.Block
//	for t = left.Timestamp; t < rightTimestamp; t += 1000:
//	    if blocksInRange non-empty && floor(t/1000) >= floor(blocksInRange[0].Timestamp/1000):
//	        curBlock = shift(blocksInRange)   // at most one block per tick
//	        block crons on curBlock.Height    (Timestamp = curBlock.Timestamp)
//	    time crons on floor(t/1000)            (Timestamp = t, BlockHeight = curBlock.Height)
//
// blocks are the process's blocks metadata (ascending height, timestamps in
// ms) as the engine loaded them; only those strictly inside the window count.
// It does not tick second by second: it jumps to the next tick at which a
// block is taken or a cron fires, so its cost is in the messages and blocks,
// not in the length of the window.
func (s *Schedule) Between(left Boundary, rightTimestamp int64, blocks []ao.Block) []Message {
	var out []Message
	s.each(left, rightTimestamp, blocks, func(m Message) bool {
		out = append(out, m)
		return true
	})
	return out
}

// Messages is Between as an iterator, for the engine to stream the messages
// without collecting them.
func (s *Schedule) Messages(left Boundary, rightTimestamp int64, blocks []ao.Block) iter.Seq[Message] {
	return func(yield func(Message) bool) {
		s.each(left, rightTimestamp, blocks, yield)
	}
}

func (s *Schedule) each(left Boundary, right int64, blocks []ao.Block, yield func(Message) bool) {
	if s == nil || (len(s.block) == 0 && len(s.time) == 0) {
		return
	}
	L := left.Timestamp
	if right <= L {
		return
	}
	// Ticks are t_k = L + 1000k for 0 <= k < nTicks; floor(t_k/1000) = sL + k.
	diff := uint64(right) - uint64(L)
	nTicks := int64(diff / 1000)
	if diff%1000 != 0 {
		nTicks++
	}
	sL := floorDiv(L, 1000)
	originSec := floorDiv(s.origin.Timestamp, 1000)

	curHeight := left.Block.Height
	lastShift := int64(-1) // tick at which the previous block was taken
	bi := nextInRange(blocks, 0, L, right)

	for k := int64(0); k < nTicks; k++ {
		// The tick at which the next block in range is taken.
		kb := nTicks
		if bi < len(blocks) {
			kb = max(lastShift+1, floorDiv(blocks[bi].Timestamp, 1000)-sL)
		}
		// The first tick >= k at which a time cron fires.
		kt := nTicks
		for i := range s.time {
			e := &s.time[i]
			if e.valid {
				kt = min(kt, nextFire(sL+k-originSec, e.value, k, kt))
			}
		}
		k = min(kb, kt)
		if k >= nTicks {
			return
		}
		if k == kb {
			b := blocks[bi]
			curHeight = b.Height
			lastShift = k
			bi = nextInRange(blocks, bi+1, L, right)
			for i := range s.block {
				e := &s.block[i]
				if e.valid && onCron(b.Height-s.origin.Height, e.value) {
					m := Message{ID: e.id, Timestamp: b.Timestamp, BlockHeight: b.Height, Ordinate: left.Ordinate, Tags: e.tags}
					if !yield(m) {
						return
					}
				}
			}
		}
		if k == kt {
			d := sL + k - originSec
			t := L + 1000*k
			for i := range s.time {
				e := &s.time[i]
				if e.valid && onCron(d, e.value) {
					m := Message{ID: e.id, Timestamp: t, BlockHeight: curHeight, Ordinate: left.Ordinate, Tags: e.tags}
					if !yield(m) {
						return
					}
				}
			}
		}
	}
}

// onCron is the reference's "d !== 0 && d % value === 0" (isBlockOnCron,
// isTimestampOnCron) for value > 0.
func onCron(d, value int64) bool { return d != 0 && d%value == 0 }

// nextFire returns the first tick k' >= k (d is the distance in seconds from
// the origin at tick k) at which onCron holds for value, or limit if there
// is none before limit.
func nextFire(d, value, k, limit int64) int64 {
	r := d % value
	if r < 0 {
		r += value
	}
	delta := int64(0)
	if r != 0 {
		delta = value - r
	}
	if delta >= limit-k {
		return limit
	}
	if d+delta == 0 { // the origin second never fires
		if value >= limit-k-delta {
			return limit
		}
		delta += value
	}
	return k + delta
}

// nextInRange returns the index of the first block at or after i with
// L < timestamp < right, or len(blocks).
func nextInRange(blocks []ao.Block, i int, L, right int64) int {
	for ; i < len(blocks); i++ {
		if ts := blocks[i].Timestamp; ts > L && ts < right {
			return i
		}
	}
	return i
}

// floorDiv is Math.floor(a / b) for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
