package weavedrive

// A minimal model of what the reference does with gateway JSON in node: Response.json() / Response.text()
// (WHATWG "UTF-8 decode": BOM stripped, invalid sequences replaced by U+FFFD), JSON.parse into JavaScript
// values (strings are UTF-16, objects keep property creation order with array-index keys first), and
// JSON.stringify back to text. It exists so that the /tx file holds exactly the bytes the reference produces.

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of parsed JSON (the parser is recursive).
const maxJSONDepth = 10000

type jsKind uint8

const (
	jsNull jsKind = iota
	jsBool
	jsNumber
	jsString
	jsArray
	jsObject
)

// jsValue is a parsed JavaScript value.
type jsValue struct {
	kind jsKind
	b    bool
	num  float64
	str  []uint16 // UTF-16 code units, as in a JavaScript string
	arr  []*jsValue
	obj  *jsObj
}

// jsObj is a JavaScript object: own properties in creation order. Serialisation puts array-index keys first
// (ascending), as OrdinaryOwnPropertyKeys does.
type jsObj struct {
	keys  [][]uint16
	vals  []*jsValue
	index map[string]int // keyOf(key) -> position in keys/vals
}

// keyOf turns UTF-16 code units into a map key (2 bytes per unit, so lone surrogates stay distinct).
func keyOf(u []uint16) string {
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c >> 8)
		b[2*i+1] = byte(c)
	}
	return string(b)
}

// set is CreateDataProperty: an existing key keeps its position and gets the new value.
func (o *jsObj) set(k []uint16, v *jsValue) {
	if o.index == nil {
		o.index = make(map[string]int)
	}
	ks := keyOf(k)
	if i, ok := o.index[ks]; ok {
		o.vals[i] = v
		return
	}
	o.index[ks] = len(o.keys)
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// get returns the own property k, or nil (undefined).
func (o *jsObj) get(k string) *jsValue {
	if i, ok := o.index[keyOf(utf16.Encode([]rune(k)))]; ok {
		return o.vals[i]
	}
	return nil
}

// jsGet is JavaScript's v?.k for the values JSON.parse can produce; nil stands for undefined.
func jsGet(v *jsValue, k string) *jsValue {
	if v == nil {
		return nil
	}
	switch v.kind {
	case jsObject:
		return v.obj.get(k)
	case jsArray:
		if k == "length" {
			return &jsValue{kind: jsNumber, num: float64(len(v.arr))}
		}
		if i, err := strconv.ParseUint(k, 10, 32); err == nil && strconv.FormatUint(i, 10) == k && i < uint64(len(v.arr)) {
			return v.arr[i]
		}
	case jsString:
		if k == "length" {
			return &jsValue{kind: jsNumber, num: float64(len(v.str))}
		}
	}
	return nil
}

// jsTruthy is JavaScript's !!v; nil stands for undefined.
func jsTruthy(v *jsValue) bool {
	if v == nil {
		return false
	}
	switch v.kind {
	case jsNull:
		return false
	case jsBool:
		return v.b
	case jsNumber:
		return v.num != 0 && !math.IsNaN(v.num)
	case jsString:
		return len(v.str) > 0
	}
	return true
}

// jsStr makes a string value from Go text.
func jsStr(s string) *jsValue { return &jsValue{kind: jsString, str: utf16.Encode([]rune(s))} }

// decodeUTF8 is the WHATWG "UTF-8 decode" used by Response.text() and Response.json(): a leading BOM is removed
// and every maximal invalid subpart becomes one U+FFFD.
func decodeUTF8(b []byte) string {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		b = b[3:]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	var (
		cp           rune
		need, seen   int
		lower, upper byte = 0x80, 0xBF
	)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if need == 0 {
			switch {
			case c <= 0x7F:
				out = append(out, c)
			case c >= 0xC2 && c <= 0xDF:
				need, cp = 1, rune(c&0x1F)
			case c >= 0xE0 && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				} else if c == 0xED {
					upper = 0x9F
				}
				need, cp = 2, rune(c&0x0F)
			case c >= 0xF0 && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				} else if c == 0xF4 {
					upper = 0x8F
				}
				need, cp = 3, rune(c&0x07)
			default:
				out = utf8.AppendRune(out, utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			cp, need, seen, lower, upper = 0, 0, 0, 0x80, 0xBF
			out = utf8.AppendRune(out, utf8.RuneError)
			i-- // the byte is processed again as the start of a sequence
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		seen++
		if seen == need {
			out = utf8.AppendRune(out, cp)
			cp, need, seen = 0, 0, 0
		}
	}
	if need != 0 {
		out = utf8.AppendRune(out, utf8.RuneError)
	}
	return string(out)
}

// parseJS is JSON.parse over text that is already valid UTF-8 (the output of decodeUTF8).
func parseJS(s string) (*jsValue, error) {
	p := &jsParser{s: s}
	p.skipWS()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected data after the JSON value")
	}
	return v, nil
}

type jsParser struct {
	s string
	i int
}

func (p *jsParser) errorf(format string, a ...any) error {
	return fmt.Errorf("json: offset %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *jsParser) skipWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsParser) value(depth int) (*jsValue, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nesting deeper than %d", maxJSONDepth)
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		u, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jsValue{kind: jsString, str: u}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.lit("true"):
		return &jsValue{kind: jsBool, b: true}, nil
	case p.lit("false"):
		return &jsValue{kind: jsBool}, nil
	case p.lit("null"):
		return &jsValue{kind: jsNull}, nil
	}
	return nil, p.errorf("unexpected character %q", p.s[p.i])
}

func (p *jsParser) lit(word string) bool {
	if len(p.s)-p.i >= len(word) && p.s[p.i:p.i+len(word)] == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsParser) object(depth int) (*jsValue, error) {
	p.i++ // '{'
	o := &jsObj{}
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return &jsValue{kind: jsObject, obj: o}, nil
	}
	for {
		p.skipWS()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expected a property name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected ':'")
		}
		p.i++
		p.skipWS()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o.set(k, v)
		p.skipWS()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end of input in an object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return &jsValue{kind: jsObject, obj: o}, nil
		default:
			return nil, p.errorf("expected ',' or '}'")
		}
	}
}

func (p *jsParser) array(depth int) (*jsValue, error) {
	p.i++ // '['
	v := &jsValue{kind: jsArray}
	p.skipWS()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.skipWS()
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, e)
		p.skipWS()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end of input in an array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, p.errorf("expected ',' or ']'")
		}
	}
}

func (p *jsParser) number() (*jsValue, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range is ±Infinity or 0, as in JavaScript
		return nil, p.errorf("invalid number: %v", err)
	}
	return &jsValue{kind: jsNumber, num: f}, nil
}

func (p *jsParser) str() ([]uint16, error) {
	p.i++ // opening quote
	var u []uint16
	for {
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			if u == nil {
				u = []uint16{}
			}
			return u, nil
		case c < 0x20:
			return nil, p.errorf("control character in a string")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return nil, p.errorf("unterminated escape")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				u = append(u, uint16(e))
			case 'b':
				u = append(u, '\b')
			case 'f':
				u = append(u, '\f')
			case 'n':
				u = append(u, '\n')
			case 'r':
				u = append(u, '\r')
			case 't':
				u = append(u, '\t')
			case 'u':
				if p.i+4 > len(p.s) {
					return nil, p.errorf("short \\u escape")
				}
				n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
				if err != nil || p.s[p.i] == '+' || p.s[p.i] == '-' {
					return nil, p.errorf("invalid \\u escape")
				}
				u = append(u, uint16(n))
				p.i += 4
			default:
				return nil, p.errorf("invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			u = append(u, uint16(c))
			p.i++
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			p.i += size
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				u = append(u, uint16(r1), uint16(r2))
			} else {
				u = append(u, uint16(r))
			}
		}
	}
}

// appendJS appends JSON.stringify(v) (no indentation).
func appendJS(dst []byte, v *jsValue) []byte {
	switch v.kind {
	case jsNull:
		return append(dst, "null"...)
	case jsBool:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case jsNumber:
		return appendJSNumber(dst, v.num)
	case jsString:
		return appendJSString(dst, v.str)
	case jsArray:
		dst = append(dst, '[')
		for i, e := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJS(dst, e)
		}
		return append(dst, ']')
	}
	// object
	o := v.obj
	order := make([]int, 0, len(o.keys))
	var idx []int
	for i, k := range o.keys {
		if _, ok := arrayIndex(k); ok {
			idx = append(idx, i)
		} else {
			order = append(order, i)
		}
	}
	if len(idx) > 0 {
		sort.Slice(idx, func(a, b int) bool {
			x, _ := arrayIndex(o.keys[idx[a]])
			y, _ := arrayIndex(o.keys[idx[b]])
			return x < y
		})
		order = append(idx, order...)
	}
	dst = append(dst, '{')
	for n, i := range order {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSString(dst, o.keys[i])
		dst = append(dst, ':')
		dst = appendJS(dst, o.vals[i])
	}
	return append(dst, '}')
}

// arrayIndex reports whether k is an array index (the canonical decimal form of an integer in [0, 2^32-2]),
// which JavaScript enumerates before the other keys of an object, in ascending order.
func arrayIndex(k []uint16) (uint32, bool) {
	if len(k) == 0 || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range k {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxUint32-1 {
		return 0, false
	}
	return uint32(n), true
}

const lowerHex = "0123456789abcdef"

// appendJSString appends the JSON.stringify quoting of a UTF-16 string (well-formed JSON.stringify: lone
// surrogates become \udxxx escapes; nothing but '"', '\\' and control characters is escaped).
func appendJSString(dst []byte, u []uint16) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '"':
			dst = append(dst, '\\', '"')
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&15])
		case c < utf8.RuneSelf:
			dst = append(dst, byte(c))
		case c >= 0xD800 && c <= 0xDBFF && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] <= 0xDFFF:
			dst = utf8.AppendRune(dst, utf16.DecodeRune(rune(c), rune(u[i+1])))
			i++
		case c >= 0xD800 && c <= 0xDFFF:
			dst = append(dst, '\\', 'u', lowerHex[c>>12], lowerHex[c>>8&15], lowerHex[c>>4&15], lowerHex[c&15])
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return append(dst, '"')
}

// appendJSNumber appends a number as JSON.stringify writes it (Number::toString; NaN and ±Infinity are null).
func appendJSNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0') // also -0
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits d1.d2d3...e±x; then n is the decimal exponent with value = 0.digits × 10^n.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := cutByte(e, 'e')
	x, _ := strconv.Atoi(exp)
	digits := make([]byte, 0, len(mant))
	for i := 0; i < len(mant); i++ {
		if mant[i] != '.' {
			digits = append(digits, mant[i])
		}
	}
	k, n := len(digits), x+1
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := 0; i < n-k; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -n; i++ {
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
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

func cutByte(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// jsB64URLToBytes is Arweave.utils.b64UrlToBuffer (arweave-js lib/utils.js b64UrlDecode + base64-js
// toByteArray) on a JavaScript string: pad with '=' to a multiple of 4, stop at the first '=', and decode
// leniently (characters outside the alphabet count as 0; '-' and '_' are accepted like '+' and '/'). It fails
// only where the reference throws (a Uint8Array of negative length).
func jsB64URLToBytes(u []uint16) ([]byte, error) {
	n := len(u)
	total := n + (4-n%4)%4
	validLen := n
	for i, c := range u {
		if c == '=' {
			validLen = i
			break
		}
	}
	ph := 0
	if validLen != total {
		ph = 4 - validLen%4
	}
	size := (validLen+ph)*3/4 - ph
	if size < 0 {
		return nil, errors.New("base64: invalid length")
	}
	out := make([]byte, size)
	at := func(i int) uint32 {
		if i >= n { // the '=' padding and reads past the end are undefined in the reference: 0
			return 0
		}
		v := b64Value(u[i])
		if v < 0 {
			return 0
		}
		return uint32(v)
	}
	pos := 0
	put := func(b uint32) { // typed-array writes past the end are dropped
		if pos < len(out) {
			out[pos] = byte(b)
		}
		pos++
	}
	limit := validLen
	if ph > 0 {
		limit = validLen - 4
	}
	i := 0
	for ; i < limit; i += 4 {
		t := at(i)<<18 | at(i+1)<<12 | at(i+2)<<6 | at(i+3)
		put(t >> 16 & 255)
		put(t >> 8 & 255)
		put(t & 255)
	}
	switch ph {
	case 2:
		put((at(i)<<2 | at(i+1)>>4) & 255)
	case 1:
		t := at(i)<<10 | at(i+1)<<4 | at(i+2)>>2
		put(t >> 8 & 255)
		put(t & 255)
	}
	return out, nil
}

// b64Value is base64-js's revLookup: both the standard and the URL alphabets; -1 for anything else.
func b64Value(c uint16) int {
	switch c {
	case '+':
		return 62
	case '/':
		return 63
	}
	if c > 0x7F {
		return -1
	}
	return b64urlValue(byte(c))
}
