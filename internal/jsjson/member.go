package jsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Member returns the source text of the value of the member named key of the
// JSON object src, the value JavaScript gives JSON.parse(src)[key] for an own
// property: if key occurs more than once, its last occurrence counts, and
// keys are compared after decoding escapes (the key "A" matches "\u0041").
// value is a subslice of src in its original spelling, without surrounding
// whitespace; give it to Normalize for its JSON.stringify form, to Unquote
// for the string it holds, or to Member again for a nested member.
//
// All of src is checked as Normalize checks it: err is a *SyntaxError if src
// is not valid JSON. Otherwise ok reports whether src is an object with an
// own member named key; it is false for every key when src is an array, a
// string or another non-object, and for inherited properties such as
// "constructor".
func Member(src []byte, key string) (value []byte, ok bool, err error) {
	want := AppendString(nil, key) // keys are compared in JSON.stringify form
	var memberBuf [32]member
	p := parser{src: src, members: memberBuf[:0], onMember: func(k, v []byte) {
		if bytes.Equal(k, want) {
			value, ok = v, true
		}
	}}
	if _, err := p.parse(); err != nil {
		return nil, false, err
	}
	return value, ok, nil
}

// Unquote returns the string that the JSON string literal lit (surrounding
// whitespace allowed), such as a value returned by Member, denotes, as
// JSON.parse(lit) decodes it. A Go string cannot hold a lone surrogate, so
// each escaped lone surrogate such as "\ud800" becomes U+FFFD, and, as
// everywhere in this package, so does each byte of lit that does not start a
// valid UTF-8 sequence. For valid UTF-8 input the result therefore has the
// same length in UTF-16 code units as the JavaScript string and the same
// characters except for lone surrogates.
//
// err is a *SyntaxError if lit is not valid JSON or not a string.
func Unquote(lit []byte) (string, error) {
	p := parser{src: lit}
	p.skipWS()
	if p.i < len(lit) && lit[p.i] != '"' {
		return "", p.unexpected("looking for beginning of string literal")
	}
	if _, err := p.parse(); err != nil {
		return "", err
	}
	// lit is a valid string literal now; encoding/json decodes it with the
	// same surrogate and invalid-UTF-8 rules.
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", errAt(0, "cannot decode string literal: %v", err) // unreachable
	}
	return s, nil
}

// Truthy reports whether the JavaScript value JSON.parse(v) is truthy, for v
// a valid JSON text such as a value returned by Member (the result for
// invalid JSON is unspecified). false, null, "" and every number that is zero
// (0, -0, 0e7, and 1e-400, which underflows to 0) are falsy; everything else
// is truthy, including "0", "false", [], {} and 1e400 (Infinity).
func Truthy(v []byte) bool {
	v = bytes.Trim(v, " \t\n\r")
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case 'f', 'n':
		return false
	case '"':
		return len(v) > len(`""`)
	case 't', '[', '{':
		return true
	}
	// Out of range, ParseFloat returns ±Inf or ±0 with an error, as
	// JavaScript rounds.
	f, _ := strconv.ParseFloat(string(v), 64)
	return f != 0
}

// SetMember returns JSON.stringify({...JSON.parse(obj), [key]: JSON.parse(val)}),
// the object obj with its member key set to val as a JavaScript object spread
// sets it: a member already named key keeps its position and gets the new
// value; otherwise the member is added at the end, or, if key is a canonical
// array index such as "7", among the leading array-index keys in ascending
// order (see Normalize). The result is in Normalize form, whatever the
// spelling of obj and val. (A computed key is meant: JavaScript's literal
// {__proto__: v} would set the prototype instead of a member.)
//
// err is a *SyntaxError if obj or val is not valid JSON, and an error if obj
// is not an object.
func SetMember(obj []byte, key string, val []byte) ([]byte, error) {
	o, err := Normalize(obj)
	if err != nil {
		return nil, err
	}
	if o[0] != '{' {
		return nil, errors.New("jsjson: SetMember: not a JSON object")
	}
	v, err := Normalize(val)
	if err != nil {
		return nil, err
	}
	// Normalize gives a repeated key the position of its first occurrence
	// and the value of its last, and moves array-index keys to the front:
	// exactly what happens when the spread object gets one more property.
	buf := o[:len(o)-1]
	if len(o) > len("{}") {
		buf = append(buf, ',')
	}
	buf = AppendString(buf, key)
	buf = append(buf, ':')
	buf = append(buf, v...)
	return Normalize(append(buf, '}'))
}
