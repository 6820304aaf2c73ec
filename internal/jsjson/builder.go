package jsjson

// Object builds a JSON object whose members appear exactly in the order in
// which they are added, formatted as JSON.stringify would format them. The
// zero value is an empty object ready to use.
//
// The result equals JSON.stringify of the corresponding JavaScript object only
// if the keys are distinct and none is a canonical array index such as "0" or
// "42": JavaScript would move such keys to the front (see Normalize). Object
// does not check this.
type Object struct {
	buf []byte // "{" followed by the members so far; empty if none
}

func (o *Object) key(k string) {
	if len(o.buf) == 0 {
		o.buf = append(o.buf, '{')
	} else {
		o.buf = append(o.buf, ',')
	}
	o.buf = AppendString(o.buf, k)
	o.buf = append(o.buf, ':')
}

// String adds the member "key":"val", escaping both as AppendString does.
func (o *Object) String(key, val string) {
	o.key(key)
	o.buf = AppendString(o.buf, val)
}

// Number adds the member "key":v with v formatted as AppendNumber does
// (NaN and ±Infinity become null).
func (o *Object) Number(key string, v float64) {
	o.key(key)
	o.buf = AppendNumber(o.buf, v)
}

// Bool adds the member "key":true or "key":false.
func (o *Object) Bool(key string, v bool) {
	o.key(key)
	o.buf = appendBool(o.buf, v)
}

// Null adds the member "key":null.
func (o *Object) Null(key string) {
	o.key(key)
	o.buf = append(o.buf, "null"...)
}

// Raw adds the member "key":raw. raw must already be a single valid JSON
// value in JSON.stringify form (for example the result of Normalize, or of
// Bytes on another Object or Array); it is inserted verbatim, unchecked.
func (o *Object) Raw(key string, raw []byte) {
	o.key(key)
	o.buf = append(o.buf, raw...)
}

// Bytes returns the object built so far, "{...}", in a newly allocated
// slice. The Object remains usable; later additions do not affect the
// returned slice.
func (o *Object) Bytes() []byte {
	if len(o.buf) == 0 {
		return []byte("{}")
	}
	return append(append(make([]byte, 0, len(o.buf)+1), o.buf...), '}')
}

// Array builds a JSON array from elements added in order, formatted as
// JSON.stringify would format them. The zero value is an empty array ready
// to use.
type Array struct {
	buf []byte // "[" followed by the elements so far; empty if none
}

func (a *Array) next() {
	if len(a.buf) == 0 {
		a.buf = append(a.buf, '[')
	} else {
		a.buf = append(a.buf, ',')
	}
}

// String appends the element "v", escaped as AppendString does.
func (a *Array) String(v string) {
	a.next()
	a.buf = AppendString(a.buf, v)
}

// Number appends v formatted as AppendNumber does.
func (a *Array) Number(v float64) {
	a.next()
	a.buf = AppendNumber(a.buf, v)
}

// Bool appends true or false.
func (a *Array) Bool(v bool) {
	a.next()
	a.buf = appendBool(a.buf, v)
}

// Null appends null.
func (a *Array) Null() {
	a.next()
	a.buf = append(a.buf, "null"...)
}

// Raw appends raw verbatim; it must be a single valid JSON value in
// JSON.stringify form (see Object.Raw).
func (a *Array) Raw(raw []byte) {
	a.next()
	a.buf = append(a.buf, raw...)
}

// Bytes returns the array built so far, "[...]", in a newly allocated slice.
// The Array remains usable; later additions do not affect the returned slice.
func (a *Array) Bytes() []byte {
	if len(a.buf) == 0 {
		return []byte("[]")
	}
	return append(append(make([]byte, 0, len(a.buf)+1), a.buf...), ']')
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
