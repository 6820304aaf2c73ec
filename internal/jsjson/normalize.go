package jsjson

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects that Normalize
// accepts. It bounds recursion so hostile input cannot exhaust the stack.
const MaxDepth = 10000

// SyntaxError describes why Normalize rejected its input.
type SyntaxError struct {
	// Offset is the byte offset in the input at which the error was found.
	Offset int
	// Msg describes the problem, e.g. "invalid character 'x' after top-level value".
	Msg string
}

// Error returns a message of the form
// "jsjson: invalid character 'x' after top-level value at offset 3".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsjson: %s at offset %d", e.Msg, e.Offset)
}

// Normalize returns the bytes of JSON.stringify(JSON.parse(src)) as node
// computes them for the JavaScript string whose characters are the UTF-8
// text src:
//
//   - the result is minified (no insignificant whitespace);
//   - strings are re-escaped the JSON.stringify way ("\u0041" becomes "A",
//     "\/" becomes "/", U+2028 is written literally, control characters
//     use \b \f \n \r \t or lowercase \u00xx);
//   - escaped surrogate pairs become the literal UTF-8 character, while lone
//     surrogate escapes such as "\uD800" are kept as a lowercase escape
//     ("\ud800"), as well-formed JSON.stringify does;
//   - numbers are parsed to float64 (correctly rounded, so big integers lose
//     precision) and written as by AppendNumber (1.0 -> 1, 1E2 -> 100,
//     1e400 -> null);
//   - object members keep their input order, except that keys which are
//     canonical array indices ("0" .. "4294967294") come first in ascending
//     numeric order, and a duplicated key keeps the position of its first
//     occurrence with the value of its last occurrence.
//
// Each input byte inside a string that does not start a valid UTF-8 sequence
// is treated as U+FFFD (see the package documentation).
//
// Normalize accepts exactly the JSON.parse grammar: surrounding whitespace
// (space, tab, CR, LF) is allowed, trailing garbage is not, and nesting
// deeper than MaxDepth is rejected. Errors are *SyntaxError values carrying
// the byte offset of the problem.
func Normalize(src []byte) ([]byte, error) {
	var memberBuf [32]member // avoids allocations for typical documents
	p := parser{src: src, members: memberBuf[:0]}
	return p.parse()
}

// parse parses all of p.src as one JSON text and returns its JSON.stringify
// form.
func (p *parser) parse() ([]byte, error) {
	p.skipWS()
	out, err := p.value(make([]byte, 0, len(p.src)))
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.i < len(p.src) {
		return nil, p.unexpected("after top-level value")
	}
	return out, nil
}

// member records where an object member was written in the output buffer:
// the quoted key is dst[keyStart:keyEnd], followed by ':' and the value,
// which ends at valEnd.
type member struct {
	keyStart, keyEnd, valEnd int
}

// entry is a member scheduled for output when an object must be rebuilt.
type entry struct {
	keyStart, keyEnd int // quoted key in dst
	valStart, valEnd int // value in dst
	index            int64
}

type parser struct {
	src     []byte
	i       int
	depth   int
	members []member // stack of members of the objects being parsed
	entries []entry  // scratch for rebuilding objects
	scratch []byte   // scratch for rebuilding objects

	// onMember, if set, is called for each member of a top-level object,
	// in input order, with the key in JSON.stringify form and the value's
	// source text (a subslice of src without surrounding whitespace).
	onMember func(key, value []byte)
}

func (p *parser) skipWS() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// errAt builds a SyntaxError for offset off.
func errAt(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at p.i (or the end of input) as unexpected in
// the given context.
func (p *parser) unexpected(context string) error {
	return p.unexpectedAt(p.i, context)
}

func (p *parser) unexpectedAt(off int, context string) error {
	if off >= len(p.src) {
		return errAt(off, "unexpected end of input %s", context)
	}
	return errAt(off, "invalid character %s %s", describeByte(p.src[off:]), context)
}

// describeByte renders the character starting at b[0] for error messages.
func describeByte(b []byte) string {
	if b[0] < utf8.RuneSelf {
		return strconv.QuoteRuneToASCII(rune(b[0]))
	}
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf("byte 0x%02x", b[0])
	}
	return strconv.QuoteRuneToASCII(r)
}

func (p *parser) value(dst []byte) ([]byte, error) {
	if p.i >= len(p.src) {
		return nil, p.unexpected("looking for beginning of value")
	}
	switch c := p.src[p.i]; c {
	case '{':
		return p.object(dst)
	case '[':
		return p.array(dst)
	case '"':
		return p.string(dst)
	case 't':
		return p.literal(dst, "true")
	case 'f':
		return p.literal(dst, "false")
	case 'n':
		return p.literal(dst, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.number(dst)
		}
		return nil, p.unexpected("looking for beginning of value")
	}
}

func (p *parser) literal(dst []byte, lit string) ([]byte, error) {
	for j := 0; j < len(lit); j++ {
		if p.i+j >= len(p.src) || p.src[p.i+j] != lit[j] {
			return nil, p.unexpectedAt(p.i+j, "in literal "+lit)
		}
	}
	p.i += len(lit)
	return append(dst, lit...), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) digits() {
	for p.i < len(p.src) && isDigit(p.src[p.i]) {
		p.i++
	}
}

func (p *parser) number(dst []byte) ([]byte, error) {
	src := p.src
	start := p.i
	if src[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(src) && src[p.i] == '0':
		p.i++
	case p.i < len(src) && isDigit(src[p.i]):
		p.digits()
	default:
		return nil, p.unexpected("in numeric literal")
	}
	intOnly := true
	if p.i < len(src) && src[p.i] == '.' {
		intOnly = false
		p.i++
		if p.i >= len(src) || !isDigit(src[p.i]) {
			return nil, p.unexpected("after decimal point in numeric literal")
		}
		p.digits()
	}
	if p.i < len(src) && (src[p.i] == 'e' || src[p.i] == 'E') {
		intOnly = false
		p.i++
		if p.i < len(src) && (src[p.i] == '+' || src[p.i] == '-') {
			p.i++
		}
		if p.i >= len(src) || !isDigit(src[p.i]) {
			return nil, p.unexpected("in exponent of numeric literal")
		}
		p.digits()
	}
	text := src[start:p.i]

	// Fast path: integers of at most 15 digits are exact in float64 and
	// JavaScript prints them unchanged (the grammar forbids leading zeros).
	if intOnly && len(text) <= 15 {
		if text[0] == '-' && text[1] == '0' {
			return append(dst, '0'), nil // -0
		}
		return append(dst, text...), nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		// Unreachable: the text was validated above.
		return nil, errAt(start, "malformed number %q: %v", text, err)
	}
	// On ErrRange f is ±Inf or ±0, exactly what JavaScript computes.
	return AppendNumber(dst, f), nil
}

// string parses the string literal at p.i and appends its JSON.stringify
// form to dst.
func (p *parser) string(dst []byte) ([]byte, error) {
	src := p.src
	p.i++ // opening quote
	dst = append(dst, '"')
	start := p.i // start of a run of bytes copied verbatim
	for {
		if p.i >= len(src) {
			return nil, p.unexpected("in string literal")
		}
		c := src[p.i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				p.i++
				continue
			}
			dst = append(dst, src[start:p.i]...)
			switch {
			case c == '"':
				p.i++
				return append(dst, '"'), nil
			case c == '\\':
				var err error
				if dst, err = p.escape(dst); err != nil {
					return nil, err
				}
			default: // control character
				return nil, p.unexpected("in string literal")
			}
			start = p.i
			continue
		}
		r, size := utf8.DecodeRune(src[p.i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:p.i]...)
			dst = append(dst, replacementChar...)
			p.i++
			start = p.i
			continue
		}
		p.i += size
	}
}

// hex4 decodes four hex digits at src[off:], returning -1 and the offset of
// the first bad digit if they are not all hex digits.
func hex4(src []byte, off int) (rune, int) {
	var r rune
	for j := off; j < off+4; j++ {
		if j >= len(src) {
			return -1, j
		}
		c := src[j]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1, j
		}
		r = r<<4 | rune(c)
	}
	return r, 0
}

// escape parses the escape sequence at p.i (which holds the backslash) and
// appends its JSON.stringify form to dst.
func (p *parser) escape(dst []byte) ([]byte, error) {
	src := p.src
	p.i++
	if p.i >= len(src) {
		return nil, p.unexpected("in string escape code")
	}
	var r rune
	switch src[p.i] {
	case '"':
		r = '"'
	case '\\':
		r = '\\'
	case '/':
		r = '/'
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		var bad int
		if r, bad = hex4(src, p.i+1); r < 0 {
			return nil, p.unexpectedAt(bad, "in \\u hexadecimal character escape")
		}
		p.i += 5
		if r >= 0xD800 && r < 0xDC00 && p.i+1 < len(src) && src[p.i] == '\\' && src[p.i+1] == 'u' {
			if lo, _ := hex4(src, p.i+2); lo >= 0xDC00 && lo <= 0xDFFF {
				p.i += 6
				return utf8.AppendRune(dst, utf16.DecodeRune(r, lo)), nil
			}
		}
		return appendUnit(dst, r), nil // lone surrogates stay escaped
	default:
		return nil, p.unexpected("in string escape code")
	}
	p.i++
	return appendUnit(dst, r), nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return errAt(p.i, "exceeded maximum nesting depth of %d", MaxDepth)
	}
	return nil
}

func (p *parser) array(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++
	dst = append(dst, '[')
	p.skipWS()
	if p.i < len(p.src) && p.src[p.i] == ']' {
		p.i++
		p.depth--
		return append(dst, ']'), nil
	}
	for {
		var err error
		if dst, err = p.value(dst); err != nil {
			return nil, err
		}
		p.skipWS()
		if p.i >= len(p.src) {
			return nil, p.unexpected("after array element")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
			dst = append(dst, ',')
			p.skipWS()
		case ']':
			p.i++
			p.depth--
			return append(dst, ']'), nil
		default:
			return nil, p.unexpected("after array element")
		}
	}
}

func (p *parser) object(dst []byte) ([]byte, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++
	dst = append(dst, '{')
	p.skipWS()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		p.depth--
		return append(dst, '}'), nil
	}
	start := len(dst)
	base := len(p.members)
	for {
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return nil, p.unexpected("looking for beginning of object key string")
		}
		keyStart := len(dst)
		var err error
		if dst, err = p.string(dst); err != nil {
			return nil, err
		}
		keyEnd := len(dst)
		p.skipWS()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, p.unexpected("after object key")
		}
		p.i++
		dst = append(dst, ':')
		p.skipWS()
		valStart := p.i
		if dst, err = p.value(dst); err != nil {
			return nil, err
		}
		if p.onMember != nil && p.depth == 1 {
			p.onMember(dst[keyStart:keyEnd], p.src[valStart:p.i])
		}
		p.members = append(p.members, member{keyStart, keyEnd, len(dst)})
		p.skipWS()
		if p.i >= len(p.src) {
			return nil, p.unexpected("after object key:value pair")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
			dst = append(dst, ',')
			p.skipWS()
			continue
		case '}':
			p.i++
		default:
			return nil, p.unexpected("after object key:value pair")
		}
		break
	}
	dst = p.fixObject(dst, start, p.members[base:])
	p.members = p.members[:base]
	p.depth--
	return append(dst, '}'), nil
}

// arrayIndex returns the numeric value of the quoted key if it is a canonical
// array index ("0" .. "4294967294"), or -1. Such keys are enumerated first,
// in ascending order, by JavaScript objects.
func arrayIndex(quoted []byte) int64 {
	k := quoted[1 : len(quoted)-1]
	if len(k) == 0 || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return -1
	}
	var v int64
	for _, c := range k {
		if !isDigit(c) {
			return -1
		}
		v = v*10 + int64(c-'0')
	}
	if v > 4294967294 {
		return -1
	}
	return v
}

// smallObject is the member count up to which duplicate keys are found by
// pairwise comparison rather than with a map.
const smallObject = 16

// fixObject applies JavaScript's property order to the members of the object
// whose body (after '{') starts at dst[start:]: array-index keys first in
// ascending order, and duplicate keys collapsed to their first position with
// their last value. The body is rewritten only when needed.
//
// Keys are compared in their output (JSON.stringify) form, which is an
// injective encoding of the decoded key, so equal output means equal keys.
func (p *parser) fixObject(dst []byte, start int, ms []member) []byte {
	if len(ms) < 2 {
		return dst
	}
	key := func(m member) []byte { return dst[m.keyStart:m.keyEnd] }

	// Is the order already JavaScript's order, with no duplicates?
	inOrder := true
	last := int64(-1)
	sawName := false
	for _, m := range ms {
		if idx := arrayIndex(key(m)); idx >= 0 {
			if sawName || idx <= last {
				inOrder = false
				break
			}
			last = idx
		} else {
			sawName = true
		}
	}
	if inOrder {
		dup := false
		if len(ms) <= smallObject {
		pairs:
			for i := 1; i < len(ms); i++ {
				for j := 0; j < i; j++ {
					if bytes.Equal(key(ms[i]), key(ms[j])) {
						dup = true
						break pairs
					}
				}
			}
		} else {
			seen := make(map[string]struct{}, len(ms))
			for _, m := range ms {
				if _, ok := seen[string(key(m))]; ok {
					dup = true
					break
				}
				seen[string(key(m))] = struct{}{}
			}
		}
		if !dup {
			return dst
		}
	}

	// Collapse duplicates: first position, last value.
	es := p.entries[:0]
	var firstPos map[string]int
	if len(ms) > smallObject {
		firstPos = make(map[string]int, len(ms))
	}
	for _, m := range ms {
		k := key(m)
		pos := -1
		if firstPos != nil {
			if j, ok := firstPos[string(k)]; ok {
				pos = j
			} else {
				firstPos[string(k)] = len(es)
			}
		} else {
			for j := range es {
				if bytes.Equal(dst[es[j].keyStart:es[j].keyEnd], k) {
					pos = j
					break
				}
			}
		}
		if pos >= 0 {
			es[pos].valStart, es[pos].valEnd = m.keyEnd+1, m.valEnd
			continue
		}
		es = append(es, entry{m.keyStart, m.keyEnd, m.keyEnd + 1, m.valEnd, arrayIndex(k)})
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		switch {
		case a.index >= 0 && b.index >= 0:
			return cmp.Compare(a.index, b.index)
		case a.index >= 0:
			return -1
		case b.index >= 0:
			return 1
		}
		return 0
	})

	buf := p.scratch[:0]
	for j, e := range es {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, dst[e.keyStart:e.keyEnd]...)
		buf = append(buf, ':')
		buf = append(buf, dst[e.valStart:e.valEnd]...)
	}
	dst = append(dst[:start], buf...)
	p.entries, p.scratch = es[:0], buf[:0]
	return dst
}
