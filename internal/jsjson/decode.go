package jsjson

import (
	"bytes"
	"unicode/utf8"
)

// utf8BOM is the UTF-8 encoding of U+FEFF.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DecodeUTF8 returns b decoded as node decodes bytes into a JavaScript string
// with new TextDecoder().decode(b), Response.text() and Response.json() (the
// WHATWG Encoding Standard's "UTF-8 decode"): one leading byte order mark is
// removed, and every maximal subpart of an ill-formed sequence becomes a
// single U+FFFD. A maximal subpart is the longest prefix of a valid UTF-8
// sequence, or a single byte that cannot start one: "\xe2\x82" (a truncated
// "€") gives one U+FFFD, "\xed\xa0\x80" (an encoded surrogate) and "\xc0\xaf"
// (overlong) give one per byte.
//
// Only the BOM and the replacement differ from Go's string(b); the result
// is valid UTF-8 and can be given to Normalize or Member to do what
// JSON.parse(await res.text()) does.
func DecodeUTF8(b []byte) string {
	b = bytes.TrimPrefix(b, utf8BOM)
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, replacementChar...)
			i += maximalSubpart(b[i:])
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return string(out)
}

// maximalSubpart returns the length of the maximal subpart of an ill-formed
// sequence at the start of b, which must not begin with a valid UTF-8
// sequence: the lead byte and the continuation bytes that were valid so far
// (Unicode Table 3-7), or 1 if b[0] cannot start a sequence.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // valid range of the next byte
	var need int                     // continuation bytes the lead byte wants
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0 // no overlong forms
		} else if c == 0xED {
			hi = 0x9F // no surrogates
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90 // no overlong forms
		} else if c == 0xF4 {
			hi = 0x8F // nothing above U+10FFFF
		}
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}
