package suclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

var errNotInt = errors.New("not an integer")

// parseInt reads s as JavaScript's parseInt(s, 10) does: leading white
// space, an optional sign, then the longest run of decimal digits (the rest
// is ignored). No digits, or a value beyond int64, is an error (NaN or a
// float in JavaScript).
func parseInt(s string) (int64, error) {
	s = strings.TrimLeft(s, " \t\n\v\f\r\u00a0\ufeff")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, errNotInt
	}
	v, err := strconv.ParseUint(s[:n], 10, 63)
	if err != nil {
		return 0, errNotInt
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// jsInt is an integer the SU sends as a JSON number or as a string (like
// "000000001234"), read with parseInt. ok is false when it was absent, null
// or not an integer; raw keeps what was sent.
type jsInt struct {
	v   int64
	ok  bool
	raw []byte
}

func (j *jsInt) UnmarshalJSON(b []byte) error {
	j.raw = bytes.Clone(b)
	j.ok = false
	switch {
	case bytes.Equal(b, []byte("null")):
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if v, err := parseInt(s); err == nil {
			j.v, j.ok = v, true
		}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			// Objects, arrays and booleans are not integers, but not
			// malformed JSON either: leave ok false.
			return nil
		}
		if v, err := n.Int64(); err == nil {
			j.v, j.ok = v, true
		} else if f, err := n.Float64(); err == nil && !math.IsInf(f, 0) && math.Abs(f) < 1<<63 {
			j.v, j.ok = int64(f), true // parseInt of a number truncates it
		}
	}
	return nil
}

// text is what was sent, for errors.
func (j *jsInt) text() string {
	if j.raw == nil {
		return "(absent)"
	}
	if len(j.raw) > 64 {
		return string(j.raw[:64]) + "…"
	}
	return string(j.raw)
}
