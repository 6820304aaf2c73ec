// Package cron reproduces the reference ao CU's cron message generation
// (permaweb/ao servers/cu/src/domain/lib/loadMessages.js: parseCrons,
// isBlockOnCron, isTimestampOnCron, cronMessagesBetweenWith and the merged
// stream of loadCronMessagesWith) bit for bit, quirks included:
//
//   - a time cron's Timestamp keeps the left boundary's millisecond fraction;
//   - the same cron second can fire twice, at the end of one window and the
//     start of the next, when a scheduled message shares that second;
//   - ids are "<i>-<raw interval>", with i the index in the block-cron list
//     (tag order) or in the time-cron list sorted by V8's Array.prototype.sort;
//   - intervals the ms package cannot read ("1-month") parse to NaN and never
//     fire.
//
// It does no I/O: the engine passes in the boundaries and the blocks.
package cron

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/aocu/aocu/internal/ao"
)

// Unit is the unit of a cron's Value.
type Unit int

const (
	// Seconds is a time-based cron (every unit but block/blocks).
	Seconds Unit = iota
	// Blocks is a block-based cron (unit "block" or "blocks", case-sensitive).
	Blocks
)

func (u Unit) String() string {
	if u == Blocks {
		return "blocks"
	}
	return "seconds"
}

// Cron is one Cron-Interval of a process, with its Cron-Tag-* tags.
type Cron struct {
	// Interval is the raw tag value, untrimmed (it is part of the cron id).
	Interval string
	// Unit is Seconds or Blocks.
	Unit Unit
	// Value is the interval in seconds (floor(ms/1000)) or in blocks. A value
	// the reference holds as a float beyond int64 is clamped to MaxInt64 (it
	// can never fire either way).
	Value int64
	// Valid is false when the cron can never fire: the reference's value is
	// NaN (an unreadable time interval such as "1-month", or a block count
	// parseInt cannot read) or a block count of 0 (x % 0 is NaN).
	Valid bool
	// Tags are the Cron-Tag-<Name> tags that followed the interval:
	// {Name: <Name>, Value}.
	Tags []ao.Tag

	// key is the value as the reference holds it (a float64, NaN when
	// invalid); it orders the time crons. Parse sets it; for a Cron built by
	// hand (keySet false) it is derived from Valid and Value.
	key    float64
	keySet bool
}

// sortKey is the number ramda's ascend(prop('value')) compares.
func (c *Cron) sortKey() float64 {
	if c.keySet {
		return c.key
	}
	if !c.Valid {
		return math.NaN()
	}
	return float64(c.Value)
}

// ErrIntervalTooShort is the reference's error for a time cron whose interval
// is under one second (after flooring to whole seconds).
var ErrIntervalTooShort = errors.New("time-based cron cannot be less than 1 second")

// UnmatchedTagError is the reference's error for a Cron-Tag-* tag that comes
// before any Cron-Interval tag.
type UnmatchedTagError struct{ Name string }

func (e *UnmatchedTagError) Error() string {
	return "Unmatched Cron-Tag with no preceding Cron-Interval: " + e.Name
}

const (
	tagInterval  = "Cron-Interval"
	tagCronTagPf = "Cron-Tag-"
)

// Parse scans the process tags in order, as parseCrons does: Cron-Interval
// opens a cron, Cron-Tag-<Name> (matching /^Cron-Tag-(.+)$/) adds {Name,
// Value} to the latest one. The first error in tag order is returned:
// *UnmatchedTagError or ErrIntervalTooShort. No Cron-Interval gives nil, nil.
func Parse(tags []ao.Tag) ([]Cron, error) {
	var crons []Cron
	for _, t := range tags {
		if t.Name == tagInterval {
			c, err := parseInterval(t.Value)
			if err != nil {
				return nil, err
			}
			crons = append(crons, c)
			continue
		}
		name, ok := cronTagName(t.Name)
		if !ok {
			continue
		}
		if len(crons) == 0 {
			return nil, &UnmatchedTagError{Name: t.Name}
		}
		last := &crons[len(crons)-1]
		last.Tags = append(last.Tags, ao.Tag{Name: name, Value: t.Value})
	}
	return crons, nil
}

// cronTagName matches /^Cron-Tag-(.+)$/ (no flags): "." does not match the
// JS line terminators, and "$" only matches at the end of the input.
func cronTagName(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, tagCronTagPf)
	if !ok || rest == "" {
		return "", false
	}
	if strings.ContainsAny(rest, "\n\r\u2028\u2029") {
		return "", false
	}
	return rest, true
}

// parseInterval is parseCrons' parseInterval: interval.split('-') (only the
// first two parts count), each trimmed; unit "blocks"/"block" is block-based
// with parseInt(value); anything else is time-based with
// floor(ms(value + ' ' + unit) / 1000) seconds, and a value <= 0 throws.
func parseInterval(interval string) (Cron, error) {
	value, unit := interval, ""
	if i := strings.IndexByte(interval, '-'); i >= 0 {
		value, unit = interval[:i], interval[i+1:]
		if j := strings.IndexByte(unit, '-'); j >= 0 {
			unit = unit[:j]
		}
	}
	value, unit = jsTrim(value), jsTrim(unit)
	c := Cron{Interval: interval, keySet: true}
	if unit == "blocks" || unit == "block" {
		c.Unit = Blocks
		f := jsParseInt(value)
		c.key = f
		switch {
		case math.IsNaN(f), f == 0:
			c.Valid = false
		default:
			c.Valid = true
		}
		c.Value = clampInt(f)
		return c, nil
	}
	c.Unit = Seconds
	msv := msParse(value + " " + unit)
	secs := math.Floor(msv / 1000)
	if secs <= 0 { // false for NaN, as in JS
		return Cron{}, ErrIntervalTooShort
	}
	c.key = secs
	c.Valid = !math.IsNaN(secs)
	c.Value = clampInt(secs)
	return c, nil
}

// clampInt converts a non-negative whole float to int64: NaN is 0, values
// past int64 are MaxInt64.
func clampInt(f float64) int64 {
	switch {
	case math.IsNaN(f), f <= 0:
		return 0
	case f >= 1<<63:
		return math.MaxInt64
	}
	return int64(f)
}

// isJSSpace reports whether r is trimmed by String.prototype.trim: the
// ECMAScript WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP, Zs) and
// LineTerminator (LF, CR, LS, PS) code points. It differs from
// unicode.IsSpace on U+0085 (not JS space) and U+FEFF (JS space).
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x00A0, 0xFEFF, 0x2028, 0x2029:
		return true
	}
	return r > 0x7f && unicode.Is(unicode.Zs, r)
}

func jsTrim(s string) string { return strings.TrimFunc(s, isJSSpace) }

// jsParseInt is parseInt(s) with no radix for an already trimmed string: an
// optional sign, a "0x"/"0X" prefix selecting hex, then the longest run of
// digits; none gives NaN.
func jsParseInt(s string) float64 {
	s = strings.TrimLeftFunc(s, isJSSpace)
	sign := 1.0
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	radix := 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		radix, s = 16, s[2:]
	}
	n := 0
	for n < len(s) && digitVal(s[n]) < radix {
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	if radix == 10 {
		// Correctly rounded, as V8 does for decimal strings.
		f, _ := strconv.ParseFloat(s[:n], 64)
		return sign * f
	}
	f := 0.0
	for i := 0; i < n; i++ {
		f = f*16 + float64(digitVal(s[i]))
	}
	return sign * f
}

func digitVal(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'z':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'Z':
		return int(b-'A') + 10
	}
	return 99
}

// msRe is the grammar of the ms package, version 2.1.3. It is only applied to
// ASCII input: JS's non-unicode /i never folds a non-ASCII character onto an
// ASCII one, while RE2's (?i) would (U+017F onto 's', U+212A onto 'k').
var msRe = regexp.MustCompile(`(?i)^(-?(?:\d+)?\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$`)

const (
	msSecond = 1000.0
	msMinute = msSecond * 60
	msHour   = msMinute * 60
	msDay    = msHour * 24
	msWeek   = msDay * 7
	msYear   = msDay * 365.25
)

// msParse is ms(str) for a non-empty string: the number of milliseconds, or
// NaN where ms returns undefined.
func msParse(str string) float64 {
	if len(str) > 100 {
		return math.NaN()
	}
	for i := 0; i < len(str); i++ {
		if str[i] >= 0x80 {
			return math.NaN()
		}
	}
	m := msRe.FindStringSubmatch(str)
	if m == nil {
		return math.NaN()
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.NaN()
	}
	switch strings.ToLower(m[2]) {
	case "years", "year", "yrs", "yr", "y":
		return n * msYear
	case "weeks", "week", "w":
		return n * msWeek
	case "days", "day", "d":
		return n * msDay
	case "hours", "hour", "hrs", "hr", "h":
		return n * msHour
	case "minutes", "minute", "mins", "min", "m":
		return n * msMinute
	case "seconds", "second", "secs", "sec", "s":
		return n * msSecond
	case "milliseconds", "millisecond", "msecs", "msec", "ms", "":
		return n
	}
	return math.NaN()
}
