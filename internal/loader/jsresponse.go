package loader

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aocu/aocu/internal/jsjson"
)

// The reference loader reads handle()'s string with JavaScript:
//
//	const { ok, response } = JSON.parse(res)
//	if (!ok) throw response
//	return { …, Error: response.Error, Output: response.Output, … }
//
// Lua's json.encode normally makes {"ok":true|false,"response":…}; a process
// that replaces json.encode (or a custom module) can return anything, and
// then JavaScript's rules decide: truthiness of ok, last duplicate key wins,
// the thrown value, TypeErrors reading a property of null, and V8's
// JSON.parse messages.

// v8ParseError returns the message of the SyntaxError V8's JSON.parse (node
// 20) throws for src, which jsjson rejected with err. Positions are in UTF-16
// code units.
func v8ParseError(src string, err error) string {
	var se *jsjson.SyntaxError
	if !errors.As(err, &se) {
		return "Unexpected end of JSON input"
	}
	off := min(se.Offset, len(src))
	pos := utf16Len(src[:off])
	at := func(msg string) string { return msg + " in JSON at position " + strconv.Itoa(pos) }
	ctx := se.Msg[strings.LastIndex(se.Msg, "' ")+2:]
	if strings.HasPrefix(se.Msg, "unexpected end of input ") {
		ctx = strings.TrimPrefix(se.Msg, "unexpected end of input ")
	}
	eos := off >= len(src)
	if !eos && off > 0 && isDigit(src[off]) && isDigit(src[off-1]) {
		return at("Unexpected number") // a digit after a leading 0
	}
	switch {
	case ctx == "after top-level value":
		return "Unexpected non-whitespace character after JSON at position " + strconv.Itoa(pos)
	case ctx == "after array element":
		return at("Expected ',' or ']' after array element")
	case ctx == "after object key:value pair":
		return at("Expected ',' or '}' after property value")
	case ctx == "after object key":
		return at("Expected ':' after property name")
	case ctx == "looking for beginning of object key string":
		if prev := strings.TrimRight(src[:off], " \t\n\r"); strings.HasSuffix(prev, ",") {
			return at("Expected double-quoted property name")
		}
		return at("Expected property name or '}'")
	case ctx == "in string literal":
		if eos {
			return at("Unterminated string")
		}
		return at("Bad control character in string literal")
	case ctx == "in string escape code":
		return at("Bad escaped character")
	case strings.HasPrefix(ctx, "in \\u hexadecimal"):
		return at("Bad Unicode escape")
	case ctx == "in numeric literal":
		return at("No number after minus sign")
	case ctx == "after decimal point in numeric literal":
		return at("Unterminated fractional number")
	case ctx == "in exponent of numeric literal":
		return at("Exponent part is missing a number")
	case eos:
		return "Unexpected end of JSON input"
	}
	// An unexpected token where a value or a literal's next letter was due.
	switch src {
	case "[object Object]", "undefined", "Infinity", "NaN":
		return `"` + src + `" is not valid JSON`
	}
	r, _ := utf8.DecodeRuneInString(src[off:])
	if r >= '0' && r <= '9' || r == '-' {
		return at("Unexpected number")
	}
	if r == '"' {
		return at("Unexpected string")
	}
	// GetErrorMessageWithEllipses: context only for sources of 21+ units.
	units := utf16.Encode([]rune(src))
	tok := string(utf16.Decode(units[pos : pos+1]))
	const n = 10
	if len(units) < 2*n+1 {
		return "Unexpected token '" + tok + "', \"" + src + "\" is not valid JSON"
	}
	sub := func(a, b int) string { return string(utf16.Decode(units[a:min(b, len(units))])) }
	switch {
	case pos < n:
		return "Unexpected token '" + tok + "', \"" + sub(0, pos+n) + "\"... is not valid JSON"
	case pos < len(units)-n:
		return "Unexpected token '" + tok + "', ...\"" + sub(pos-n, pos+n) + "\"... is not valid JSON"
	}
	return "Unexpected token '" + tok + "', ...\"" + sub(pos-n, len(units)) + "\" is not valid JSON"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// jsMember is JSON.parse(src)[key] for an object src: the raw value, or nil
// when undefined (src not an object, or no such own member).
func jsMember(src []byte, key string) []byte {
	v, ok, err := jsjson.Member(src, key)
	if err != nil || !ok {
		return nil
	}
	return v
}

// jsString is String(JSON.parse(v)) for a valid JSON text v; nil is undefined.
func jsString(v []byte) string {
	v = []byte(strings.Trim(string(v), " \t\n\r"))
	if v == nil || len(v) == 0 {
		return "undefined"
	}
	switch v[0] {
	case '"':
		s, _ := jsjson.Unquote(v)
		return s
	case '{':
		return "[object Object]"
	case '[':
		// Array.prototype.join(","): null and undefined elements are "".
		var els []json.RawMessage
		_ = json.Unmarshal(v, &els) // v is valid JSON
		parts := make([]string, 0, len(els))
		for _, el := range els {
			if string(el) == "null" {
				parts = append(parts, "")
			} else {
				parts = append(parts, jsString(el))
			}
		}
		return strings.Join(parts, ",")
	case 't', 'f', 'n':
		return string(v)
	}
	f, _ := strconv.ParseFloat(string(v), 64) // ±Inf beyond range, as JavaScript
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return string(jsjson.AppendNumber(nil, f))
}

// thrownText is what a caller that prints a rejection shows for the thrown
// value v (the reference CU's evaluator and tools/refloader/run.cjs): a string
// as it is, an object's message property if it has one, else String(v).
func thrownText(v []byte) string {
	t := strings.Trim(string(v), " \t\n\r")
	if t != "" && (t[0] == '{' || t[0] == '[') {
		if m := jsMember(v, "message"); m != nil {
			return jsString(m)
		}
	}
	return jsString(v)
}
