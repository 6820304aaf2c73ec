package loader

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
)

// strftime mirrors the glue's JavaScript strftime (not musl's): two rounds of
// textual substitution in a fixed order, in UTC.
func (h *instance) strftime(a []uint64) (int64, error) {
	d := h.data()
	s, maxsize, format, tm := a[0], a[1], a[2], a[3]
	if !inBounds(d, tm, 56) {
		return 0, h.trapWith(errOOB)
	}
	i32 := func(off uint64) int { return int(int32(binary.LittleEndian.Uint32(d[tm+off:]))) }
	t := tmFields{sec: i32(0), min: i32(4), hour: i32(8), mday: i32(12), mon: i32(16), year: i32(20), wday: i32(24), yday: i32(28)}
	var zone uint64
	if h.is64 {
		t.gmtoff = int64(binary.LittleEndian.Uint64(d[tm+40:]))
		zone = binary.LittleEndian.Uint64(d[tm+48:])
	} else {
		t.gmtoff = int64(int32(binary.LittleEndian.Uint32(d[tm+36:])))
		zone = uint64(binary.LittleEndian.Uint32(d[tm+40:]))
	}
	if zone != 0 {
		t.zone = cstring(d, zone)
	}
	out, err := jsStrftime(cstring(d, format), t)
	if err != nil {
		return 0, h.trapWith(err)
	}
	b := append([]byte(out), 0)
	if uint64(len(b)) > maxsize {
		return 0, nil
	}
	if !inBounds(d, s, uint64(len(b))) {
		return 0, h.trapWith(errOOB)
	}
	copy(d[s:], b)
	return int64(len(b) - 1), nil
}

type tmFields struct {
	sec, min, hour, mday, mon, year, wday, yday int
	gmtoff                                      int64
	zone                                        string
}

var (
	weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// expansion1 is EXPANSION_RULES_1, applied in this order.
var expansion1 = [][2]string{
	{"%c", "%a %b %d %H:%M:%S %Y"}, {"%D", "%m/%d/%y"}, {"%F", "%Y-%m-%d"}, {"%h", "%b"}, {"%r", "%I:%M:%S %p"},
	{"%R", "%H:%M"}, {"%T", "%H:%M:%S"}, {"%x", "%m/%d/%y"}, {"%X", "%H:%M:%S"}, {"%Ec", "%c"}, {"%EC", "%C"},
	{"%Ex", "%m/%d/%y"}, {"%EX", "%H:%M:%S"}, {"%Ey", "%y"}, {"%EY", "%Y"}, {"%Od", "%d"}, {"%Oe", "%e"},
	{"%OH", "%H"}, {"%OI", "%I"}, {"%Om", "%m"}, {"%OM", "%M"}, {"%OS", "%S"}, {"%Ou", "%u"}, {"%OU", "%U"},
	{"%OV", "%V"}, {"%Ow", "%w"}, {"%OW", "%W"}, {"%Oy", "%y"},
}

func lead(v string, n int, ch string) string {
	for len(v) < n {
		v = ch + v
	}
	return v
}

func leadInt(v, n int) string { return lead(strconv.Itoa(v), n, "0") }

// substr2 is JavaScript's s.substring(2).
func substr2(s string) string {
	if len(s) < 2 {
		return ""
	}
	return s[2:]
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// jsDay is a JavaScript Date at local midnight (TZ=UTC) as a day number
// since the epoch; valid is false for an Invalid Date (beyond ±8.64e15 ms).
type jsDay struct {
	days  int64
	valid bool
}

const maxJSDays = 100000000 // 8.64e15 ms

// jsNewDate is new Date(y, m, d): a year 0-99 means 1900-1999, month and
// day overflow into the next ones.
func jsNewDate(y, m, d int) jsDay {
	if y >= 0 && y <= 99 {
		y += 1900
	}
	t := time.Date(y, time.Month(m+1), d, 0, 0, 0, 0, time.UTC)
	days := t.Unix() / 86400
	return jsDay{days: days, valid: days >= -maxJSDays && days <= maxJSDays}
}

func (j jsDay) time() time.Time { return time.Unix(j.days*86400, 0).UTC() }

// addDays is the glue's addDays (plain day arithmetic; it only moves forward).
func (j jsDay) addDays(n int) jsDay {
	if !j.valid || n <= 0 {
		return j
	}
	j.days += int64(n)
	j.valid = j.days <= maxJSDays
	return j
}

// compareByDay is the glue's compareByDay: an Invalid Date compares equal
// (sgn(NaN) is 0 at every level).
func compareByDay(a, b jsDay) int {
	if !a.valid || !b.valid {
		return 0
	}
	switch {
	case a.days < b.days:
		return -1
	case a.days > b.days:
		return 1
	}
	return 0
}

// firstWeekStart is getFirstWeekStartDate: false (undefined) for an
// Invalid Date, whose getDay() is NaN.
func firstWeekStart(jan4 jsDay) (jsDay, bool) {
	if !jan4.valid {
		return jsDay{}, false
	}
	t := jan4.time()
	y := t.Year()
	switch t.Weekday() {
	case 0:
		return jsNewDate(y-1, 11, 29), true
	case 1:
		return jan4, true
	case 2:
		return jsNewDate(y, 0, 3), true
	case 3:
		return jsNewDate(y, 0, 2), true
	case 4:
		return jsNewDate(y, 0, 1), true
	case 5:
		return jsNewDate(y-1, 11, 31), true
	}
	return jsNewDate(y-1, 11, 30), true
}

// errWeekBasedYear is the TypeError getWeekBasedYear throws when a first
// week start is undefined (compareByDay reads its getFullYear).
var errWeekBasedYear = &abortError{"Cannot read properties of undefined (reading 'getFullYear')"}

// weekBasedYear is the glue's getWeekBasedYear, JavaScript Date quirks
// included: new Date(y, ...) maps the years 0-99 to 1900-1999, so the
// week-based year of a date in the years 0-99 is computed in 1900-1999.
func weekBasedYear(t tmFields) (int, error) {
	this := jsNewDate(t.year+1900, 0, 1).addDays(t.yday)
	if !this.valid {
		// getFullYear() is NaN: both January 4ths are Invalid Dates.
		return 0, errWeekBasedYear
	}
	y := this.time().Year()
	a, okA := firstWeekStart(jsNewDate(y, 0, 4))
	b, okB := firstWeekStart(jsNewDate(y+1, 0, 4))
	if !okA {
		return 0, errWeekBasedYear
	}
	if compareByDay(a, this) <= 0 {
		if !okB {
			return 0, errWeekBasedYear
		}
		if compareByDay(b, this) <= 0 {
			return y + 1, nil
		}
		return y, nil
	}
	return y - 1, nil
}

// jsStrftime performs the glue's substitutions on a format string.
func jsStrftime(pattern string, t tmFields) (string, error) {
	for _, r := range expansion1 {
		pattern = strings.ReplaceAll(pattern, r[0], r[1])
	}
	monthDays := []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if isLeap(t.year + 1900) {
		monthDays[1] = 29
	}
	var failed error // a JavaScript exception of a rule: strftime throws
	rules := []struct {
		k string
		f func() string
	}{
		{"%a", func() string { return weekdays[t.wday%7][:3] }},
		{"%A", func() string { return weekdays[t.wday%7] }},
		{"%b", func() string { return months[t.mon%12][:3] }},
		{"%B", func() string { return months[t.mon%12] }},
		{"%C", func() string { return leadInt((t.year+1900)/100, 2) }},
		{"%d", func() string { return leadInt(t.mday, 2) }},
		{"%e", func() string { return lead(strconv.Itoa(t.mday), 2, " ") }},
		{"%g", func() string {
			y, err := weekBasedYear(t)
			if err != nil {
				failed = err
			}
			return substr2(strconv.Itoa(y))
		}},
		{"%G", func() string {
			y, err := weekBasedYear(t)
			if err != nil {
				failed = err
			}
			return strconv.Itoa(y)
		}},
		{"%H", func() string { return leadInt(t.hour, 2) }},
		{"%I", func() string {
			h := t.hour
			if h == 0 {
				h = 12
			} else if h > 12 {
				h -= 12
			}
			return leadInt(h, 2)
		}},
		{"%j", func() string {
			sum := 0
			for i := 0; i <= t.mon-1 && i < 12; i++ {
				sum += monthDays[i]
			}
			return leadInt(t.mday+sum, 3)
		}},
		{"%m", func() string { return leadInt(t.mon+1, 2) }},
		{"%M", func() string { return leadInt(t.min, 2) }},
		{"%n", func() string { return "\n" }},
		{"%p", func() string {
			if t.hour >= 0 && t.hour < 12 {
				return "AM"
			}
			return "PM"
		}},
		{"%S", func() string { return leadInt(t.sec, 2) }},
		{"%t", func() string { return "\t" }},
		{"%u", func() string {
			if t.wday == 0 {
				return "7"
			}
			return strconv.Itoa(t.wday)
		}},
		{"%U", func() string { return leadInt(int(math.Floor(float64(t.yday+7-t.wday)/7)), 2) }},
		{"%V", func() string {
			val := int(math.Floor(float64(t.yday+7-(t.wday+6)%7) / 7))
			if (t.wday+371-t.yday-2)%7 <= 2 {
				val++
			}
			if val == 0 {
				val = 52
				dec31 := (t.wday + 7 - t.yday - 1) % 7
				if dec31 == 4 || (dec31 == 5 && isLeap(t.year%400-1)) {
					val++
				}
			} else if val == 53 {
				jan1 := (t.wday + 371 - t.yday) % 7
				if jan1 != 4 && (jan1 != 3 || !isLeap(t.year)) {
					val = 1
				}
			}
			return leadInt(val, 2)
		}},
		{"%w", func() string { return strconv.Itoa(t.wday) }},
		{"%W", func() string { return leadInt(int(math.Floor(float64(t.yday+7-(t.wday+6)%7)/7)), 2) }},
		{"%y", func() string { return substr2(strconv.Itoa(t.year + 1900)) }},
		{"%Y", func() string { return strconv.Itoa(t.year + 1900) }},
		{"%z", func() string {
			off := t.gmtoff
			sign := "+"
			if off < 0 {
				sign, off = "-", -off
			}
			m := float64(off) / 60
			v := m/60*100 + math.Mod(m, 60)
			s := "0000" + strconv.FormatFloat(v, 'f', -1, 64)
			return sign + s[len(s)-4:]
		}},
		{"%Z", func() string { return t.zone }},
		{"%%", func() string { return "%" }},
	}
	pattern = strings.ReplaceAll(pattern, "%%", "\x00\x00")
	for _, r := range rules {
		if strings.Contains(pattern, r.k) {
			pattern = strings.ReplaceAll(pattern, r.k, r.f())
			if failed != nil {
				return "", failed
			}
		}
	}
	return strings.ReplaceAll(pattern, "\x00\x00", "%"), nil
}
