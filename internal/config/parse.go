package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The value parsers. Each takes a value already trimmed of surrounding
// spaces and never empty (an empty value means "use the default"), and
// returns an error that says what was expected; Load prefixes it with the
// variable's name.

// parseInt64 reads a count as the reference's positiveIntSchema does
// (underscores stripped, base 10, not negative) but rejects what parseInt
// would silently truncate ("12abc", "1.5", "1gb").
func parseInt64(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("out of range")
		}
		return 0, errors.New("not an integer")
	}
	if n < 0 {
		return 0, errors.New("must not be negative")
	}
	return n, nil
}

// byteUnit follows the `bytes` npm package the reference uses for its own
// defaults (1024 base, case-insensitive), plus the IEC spellings.
func byteUnit(unit string) (int64, bool) {
	switch strings.ToLower(unit) {
	case "b":
		return 1, true
	case "kb", "kib":
		return 1 << 10, true
	case "mb", "mib":
		return 1 << 20, true
	case "gb", "gib":
		return 1 << 30, true
	case "tb", "tib":
		return 1 << 40, true
	case "pb", "pib":
		return 1 << 50, true
	}
	return 0, false
}

var sizeWithUnit = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$`)

// parseBytes reads a size: a plain integer is bytes (as in the reference);
// "512mb", "1gb", "1.5GiB" are an extension.
func parseBytes(s string) (int64, error) {
	t := strings.ReplaceAll(s, "_", "")
	if strings.HasPrefix(t, "-") {
		return 0, errors.New("must not be negative")
	}
	if n, err := parseInt64(t); err == nil || isDigits(t) {
		return n, err
	}
	m := sizeWithUnit.FindStringSubmatch(t)
	if m == nil {
		return 0, errors.New("not a size (want bytes, or a size like 512mb, 1gb, 1GiB)")
	}
	mult, ok := byteUnit(m[2])
	if !ok {
		return 0, fmt.Errorf("unknown size unit %q (want b, kb, mb, gb, tb, pb or kib, mib, gib, tib, pib)", m[2])
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, errors.New("not a size (want bytes, or a size like 512mb, 1gb, 1GiB)")
	}
	v := math.Floor(f * float64(mult))
	if v >= math.MaxInt64 {
		return 0, errors.New("out of range")
	}
	return int64(v), nil
}

// parseDuration reads a time: a plain integer is milliseconds (as in the
// reference); Go durations ("1500ms", "30s", "15m", "1h30m") and days ("1d")
// are an extension.
func parseDuration(s string) (time.Duration, error) {
	t := strings.ReplaceAll(s, "_", "")
	if strings.HasPrefix(t, "-") {
		return 0, errors.New("must not be negative")
	}
	if n, err := parseInt64(t); err == nil || isDigits(t) {
		if err != nil {
			return 0, err
		}
		if n > math.MaxInt64/int64(time.Millisecond) {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	const want = "not a duration (want milliseconds, or a duration like 1500ms, 30s, 15m, 1h, 1d)"
	if days, ok := strings.CutSuffix(t, "d"); ok && days != "" {
		f, err := strconv.ParseFloat(days, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errors.New(want)
		}
		v := f * float64(24*time.Hour)
		if v >= math.MaxInt64 {
			return 0, errors.New("out of range")
		}
		return time.Duration(v), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, errors.New(want)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// parseFloat reads a non-negative decimal, as the reference's decimalSchema
// (underscores stripped), rejecting trailing garbage.
func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("not a number")
	}
	if f < 0 {
		return 0, errors.New("must not be negative")
	}
	return f, nil
}

// parseBool is deliberately stricter than the reference's `!!value`, for
// which "false" is true: it knows the usual spellings and rejects the rest.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, errors.New("not a boolean (want true/false, 1/0, yes/no or on/off)")
}

// parseFlag is for the variables the reference documents as "set to any
// value": any value is true except the spellings of false.
func parseFlag(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return true, nil
}

// parseList splits a comma-delimited list and trims each item, as the
// reference's commaDelimitedArraySchema; empty items are dropped.
func parseList(s string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out, nil
}

// parseURL accepts an absolute http or https URL and trims its trailing
// slashes, so that paths can be appended with "/".
func parseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an absolute http(s) URL")
	}
	return strings.TrimRight(s, "/"), nil
}

func parseURLList(s string) ([]string, error) {
	items, _ := parseList(s)
	for i, item := range items {
		u, err := parseURL(item)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", item, err)
		}
		items[i] = u
	}
	return items, nil
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// formatBytes writes a size the way an operator would: "1GiB" when it is a
// whole number of KiB, MiB or GiB, else bytes. parseBytes reads it back.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatDuration is time.Duration.String without the zero tails: "30m",
// "24h", "16m40s". parseDuration reads it back.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// redactURL hides the password of a URL (userinfo or a password query
// parameter, both of which pg connection strings allow).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
