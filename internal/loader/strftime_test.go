package loader

import (
	"errors"
	"testing"
	"time"
)

// gmtimeFields is what the glue's __gmtime_js leaves in a struct tm for t
// (seconds): yday counted from Date.UTC(year, 0, 1), which maps the years
// 0-99 to 1900-1999.
func gmtimeFields(t int64) tmFields {
	tt := time.Unix(t, 0).UTC()
	f := tmFields{sec: tt.Second(), min: tt.Minute(), hour: tt.Hour(), mday: tt.Day(), mon: int(tt.Month()) - 1,
		year: tt.Year() - 1900, wday: int(tt.Weekday()), yday: tt.YearDay() - 1}
	if start, ok := jsDateUTC(tt.Year()); ok {
		f.yday = int(int64((float64(t)*1e3 - start) / 864e5))
	}
	return f
}

// TestStrftimeWeekBasedYear: %G and %g as the glue's getWeekBasedYear gives
// them (values read from @permaweb/ao-loader 0.0.49 under node 20, the
// weekyear scenario), JavaScript Date's mapping of the years 0-99 included.
func TestStrftimeWeekBasedYear(t *testing.T) {
	for _, c := range []struct {
		t      int64
		format string
		want   string
	}{
		{-62135596800, "%G %g", "1901 01"},                               // 0001-01-01: Date(1, 0, 1) is 1901
		{-62167219200, "%G %g %V %U %W", "1900 00 -99137 -99138 -99137"}, // year 0
		{-60000000000, "%G %g %V", "1968 68 -99101"},
		{-59042995200, "%G %g %V", "1998 98 -99137"}, // year 99
		{-59011459200 + 86400*3, "%G", "100"},        // 0100-01-04: first week start new Date(99, 11, 29) is in 1999
		{-62135596800 + 86400*364, "%G %g", "1901 01"},
		{1700000000, "%G %g %V", "2023 23 46"},
	} {
		got, err := jsStrftime(c.format, gmtimeFields(c.t))
		if err != nil || got != c.want {
			t.Errorf("strftime(%q, %d) = %q, %v; want %q", c.format, c.t, got, err, c.want)
		}
	}
	// The last valid time: the next January 4th is an Invalid Date, so the
	// glue's compareByDay reads getFullYear of undefined and strftime throws.
	for _, tt := range []int64{8640000000000, 8640000000000 - 86400*10} {
		if _, err := jsStrftime("%g", gmtimeFields(tt)); !errors.Is(err, errWeekBasedYear) {
			t.Errorf("strftime(%%g, %d): %v, want the TypeError", tt, err)
		}
	}
	if got, err := jsStrftime("%Y", gmtimeFields(8640000000000)); err != nil || got != "275760" {
		t.Errorf("%%Y of the last valid time: %q %v", got, err)
	}
}
