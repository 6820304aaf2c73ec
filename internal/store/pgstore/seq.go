package pgstore

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// seqBefore is the WHERE clause of the reference's findMessageBefore on a
// messages row's seq ("<epoch>:<nonce>"), with SQLite's semantics, quirk
// included:
//
//	CAST(substr(seq, instr(seq, ':') + 1) as UNSIGNED) < epoch
//	OR (
//	  CAST(SUBSTR(seq, 1, INSTR(seq, ':') - 1) AS INTEGER) = epoch
//	  AND CAST(SUBSTR(seq, INSTR(seq, ':') + 1) AS INTEGER) < nonce
//	)
//
// It is evaluated here rather than in SQL so that any seq, even one that is
// not two integers, gives what sqlitestore gives: PostgreSQL's CAST raises an
// error on text that is not an integer (and the reference's Postgres query
// casts to the 32-bit INTEGER, so a nonce over 2^31-1 fails there), and its
// SUBSTR rejects the negative length of a seq without ':'.
func seqBefore(seq string, epoch, nonce int64) bool {
	// instr is 1-based and 0 when absent; the parts as SQLite's substr
	// cuts them (a negative length before position 1 gives "").
	var epochPart, noncePart string
	if i := strings.IndexByte(seq, ':'); i >= 0 {
		epochPart, noncePart = seq[:i], seq[i+1:]
	} else {
		epochPart, noncePart = "", seq
	}
	if numericLess(noncePart, epoch) {
		return true
	}
	return sqliteCastInteger(epochPart) == epoch && sqliteCastInteger(noncePart) < nonce
}

// isSpace is SQLite's sqlite3Isspace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// sqliteCastInteger is SQLite's CAST(text AS INTEGER): the longest prefix
// that is an integer (after leading spaces, with an optional sign), 0 if
// none, clamped to the int64 range.
func sqliteCastInteger(s string) int64 {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var u uint64
	overflow := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if u > (math.MaxUint64-d)/10 {
			overflow = true
			continue
		}
		u = u*10 + d
	}
	switch {
	case neg && (overflow || u > 1<<63):
		return math.MinInt64
	case neg:
		return -int64(u)
	case overflow || u > math.MaxInt64:
		return math.MaxInt64
	}
	return int64(u)
}

// numericLess is `CAST(s AS UNSIGNED) < v` in SQLite: the type name UNSIGNED
// has NUMERIC affinity, so the longest prefix of s that is a number becomes
// an INTEGER when it is one that fits (else a REAL), 0 when there is none,
// and is compared numerically with the integer v.
func numericLess(s string, v int64) bool {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	intEnd := i
	isInt := true
	if i < len(s) && s[i] == '.' {
		j := i + 1
		frac := 0
		for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
			frac++
		}
		if digits+frac > 0 {
			i, digits, isInt = j, digits+frac, false
		}
	}
	if digits == 0 {
		return 0 < v
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for ; k < len(s) && s[k] >= '0' && s[k] <= '9'; k++ {
		}
		if k > j {
			i, isInt = k, false
		}
	}
	if isInt {
		if n, err := strconv.ParseInt(s[start:intEnd], 10, 64); err == nil {
			return n < v
		}
	}
	f, _ := strconv.ParseFloat(s[start:i], 64) // ±Inf on overflow, as SQLite
	// A REAL equal to an integer is that integer; otherwise compare the
	// REAL and the integer exactly.
	return new(big.Float).SetFloat64(f).Cmp(new(big.Float).SetInt64(v)) < 0
}
