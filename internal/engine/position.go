package engine

import (
	"strconv"
)

// position is where a process's memory stands: the last evaluated message.
type position struct {
	cold         bool // nothing evaluated: the memory is the module's fresh one
	Timestamp    int64
	Ordinate     string
	Cron         string
	BlockHeight  int64
	Nonce        int64
	Epoch        int64
	MessageID    string
	AssignmentID string // most recent scheduled assignment (hash chain)
	HashChain    string
}

// target is what a request asks the process to be evaluated to.
type target struct {
	latest    bool // up to the SU's latest (and crons up to its clock)
	Timestamp int64
	Ordinate  string // "" when not given
	Cron      string
}

func (p position) tsString() string {
	if p.cold {
		return "0"
	}
	return strconv.FormatInt(p.Timestamp, 10)
}

// earlierThan is the reference's isEarlierThan(pos, t): t is before pos.
// Timestamps compare as strings; equal timestamps compare cron ids.
func (t target) earlierThan(p position) bool {
	t1 := p.tsString()
	t2 := strconv.FormatInt(t.Timestamp, 10)
	if t1 == t2 {
		return t.Cron < p.Cron
	}
	return t2 < t1
}

// equalTo is the reference's isEqualTo.
func (t target) equalTo(p position) bool {
	return !p.cold && p.Timestamp == t.Timestamp && p.Ordinate == t.Ordinate && p.Cron == t.Cron
}
