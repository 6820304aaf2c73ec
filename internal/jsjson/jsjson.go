// Package jsjson produces JSON text byte-for-byte identical to what
// JavaScript's JSON.stringify produces (as implemented by V8/node >= 12,
// i.e. "well-formed JSON.stringify").
//
// Go's encoding/json differs from JavaScript in several visible ways: it
// escapes <, > and & and U+2028/U+2029, sorts map keys, formats floats
// differently and replaces invalid UTF-8 differently. Bytes that are handed to
// code which expects node's output (for example a wasm module) must be built
// with this package instead.
//
// Invalid UTF-8: a JavaScript string cannot hold invalid UTF-8, so Go input
// containing it has no exact JavaScript counterpart. This package replaces
// every byte that does not start a valid UTF-8 sequence with U+FFFD, one
// U+FFFD per byte (the same rule as Go's utf8.DecodeRune and
// strings.ToValidUTF8 applied per byte). Note that this can differ from
// node's TextDecoder/Buffer.toString, which emits a single U+FFFD for a
// truncated multi-byte sequence (WHATWG "maximal subpart" rule); to read
// bytes as node's Response.json() or TextDecoder does, decode them with
// DecodeUTF8 first.
//
// Besides formatting (AppendString, AppendNumber, Object, Array) and
// Normalize, the package reads parsed JSON the JavaScript way: Member looks
// up an object member as JSON.parse(src)[key] does, Unquote and Truthy
// interpret a value, and SetMember computes {...obj, [key]: value}.
package jsjson

import (
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safeASCII[c] reports whether the ASCII byte c is copied verbatim inside a
// JSON.stringify string literal. Bytes >= 0x80 are handled separately.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// replacementChar is U+FFFD encoded as UTF-8.
const replacementChar = "\uFFFD"

// appendASCIIEscape appends the JSON.stringify escape for an ASCII byte c for
// which safeASCII[c] is false.
func appendASCIIEscape(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendUnit appends the JSON.stringify form of a single UTF-16 code unit or
// code point r: ASCII is escaped as needed, lone surrogates become \udxxx and
// everything else is written as UTF-8.
func appendUnit(dst []byte, r rune) []byte {
	switch {
	case r < utf8.RuneSelf:
		if safeASCII[r] {
			return append(dst, byte(r))
		}
		return appendASCIIEscape(dst, byte(r))
	case r >= 0xD800 && r <= 0xDFFF:
		return append(dst, '\\', 'u',
			hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	}
	return utf8.AppendRune(dst, r)
}

// AppendString appends s to dst as a JSON string literal, exactly as
// JSON.stringify does for the JavaScript string with the same characters.
//
// `"` and `\` become \" and \\; U+0008, U+000C, U+000A, U+000D and U+0009
// become \b, \f, \n, \r and \t; the remaining code points below U+0020 become
// \u00xx with lowercase hex digits. Everything else, including <, >, &, DEL
// (U+007F), U+2028, U+2029 and all other non-ASCII characters, is copied
// verbatim. Each byte of s that does not start a valid UTF-8 sequence
// (including UTF-8-encoded surrogates) is written as U+FFFD; see the package
// documentation.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendASCIIEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacementChar...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendNumber appends f to dst as JSON.stringify formats a JavaScript
// number: NaN, +Infinity and -Infinity become null, -0 becomes 0, and every
// other value is written as by Number.prototype.toString (ECMA-262
// Number::toString): the shortest digit string that round-trips, in plain
// decimal notation when 1e-7 < |f| < 1e21 (so 1e20 is written as
// 100000000000000000000 and 0.000001 as 0.000001) and in exponent notation
// otherwise (1e+21, 1.5e-7, 1.2345678901234567e+21, 5e-324).
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0') // also -0
	}
	if f == math.Trunc(f) && f > -1e15 && f < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10)
	}

	// Shortest round-trip digits in the form [-]d[.ddd]e±xx.
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	var digits [24]byte
	k := 0
	i := 0
	for ; b[i] != 'e'; i++ {
		if b[i] != '.' {
			digits[k] = b[i]
			k++
		}
	}
	exp, err := strconv.Atoi(string(b[i+1:]))
	if err != nil {
		panic("jsjson: unexpected strconv output " + string(b)) // unreachable
	}
	return appendDecimal(dst, digits[:k], exp+1)
}

// appendDecimal writes the number 0.d1d2...dk × 10^n following steps 6-10 of
// ECMA-262 Number::toString (radix 10). digits has no leading or trailing
// zeros.
func appendDecimal(dst, digits []byte, n int) []byte {
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for j := k; j < n; j++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for j := n; j < 0; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		e := n - 1
		if e >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(e), 10)
	}
	return dst
}
