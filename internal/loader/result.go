package loader

import (
	"bytes"
	"encoding/json"

	"github.com/aocu/aocu/internal/jsjson"
)

// Result is what handle() produced for one message, as the reference loader
// returns it. Every field holds the raw JSON text produced by Lua (never
// re-marshalled); nil means the key was absent (JavaScript undefined).
type Result struct {
	Output      json.RawMessage
	Messages    json.RawMessage
	Spawns      json.RawMessage
	Assignments json.RawMessage
	Error       json.RawMessage
	// Patches is nil (absent) with loader 0.0.44 and 0.0.47; from 0.0.48 on it
	// is `response.Patches || []`.
	Patches json.RawMessage
	GasUsed float64 // a JavaScript number in the reference

	// Rejected is true when handle() rejected (Lua pcall failed, a trap, an
	// abort, out of gas): Error then holds the rejection message as a JSON
	// string and the other fields are nil, as the reference CU records it.
	Rejected bool
	// Thrown is what the reference CU records as the Error of a rejection
	// that threw something other than handle()'s response: JSON.stringify of
	// the thrown value, {} for a JavaScript Error object (a trap, an abort,
	// out of gas, the loader's own TypeError or SyntaxError). Error keeps
	// the Error's message, which the reference loader's callers print. nil
	// when the response itself was thrown (Error is then that value).
	Thrown json.RawMessage
}

// jsErrorObject is JSON.stringify of a JavaScript Error object.
var jsErrorObject = json.RawMessage("{}")

// Failed reports whether the CU discards this message's memory: the result has
// an Error or handle() rejected.
func (r *Result) Failed() bool { return r.Rejected || r.Error != nil }

// parseResponse interprets handle()'s string as the reference loader does
// (see jsresponse.go). withPatches: the loader version adds Patches.
func parseResponse(s string, gas float64, withPatches bool) (*Result, error) {
	src := []byte(s)
	if _, err := jsjson.Normalize(src); err != nil {
		return rejected(v8ParseError(s, err)), nil
	}
	top := bytes.Trim(src, " \t\n\r")
	if string(top) == "null" {
		return rejected("Cannot destructure property 'ok' of 'JSON.parse(...)' as it is null."), nil
	}
	ok, response := jsMember(src, "ok"), jsMember(src, "response")
	if ok == nil || !jsjson.Truthy(ok) {
		// `throw response`: the CU keeps the thrown value as the Error
		// (undefined when there is none).
		return &Result{Error: cloneRaw(response), Rejected: true}, nil
	}
	switch t := string(bytes.Trim(response, " \t\n\r")); t {
	case "":
		return rejected("Cannot read properties of undefined (reading 'Error')"), nil
	case "null":
		return rejected("Cannot read properties of null (reading 'Error')"), nil
	}
	field := func(k string) json.RawMessage { return cloneRaw(jsMember(response, k)) }
	r := &Result{
		Output: field("Output"), Messages: field("Messages"), Spawns: field("Spawns"),
		Assignments: field("Assignments"), Error: field("Error"), GasUsed: gas,
	}
	if withPatches {
		r.Patches = field("Patches")
		if r.Patches == nil || !jsjson.Truthy(r.Patches) {
			r.Patches = json.RawMessage("[]")
		}
	}
	return r, nil
}

func cloneRaw(v []byte) json.RawMessage {
	if v == nil {
		return nil
	}
	return append(json.RawMessage(nil), v...)
}

// ErrorText is the text a rejection is reported with by the reference CU's
// callers that print it (tools/refloader/run.cjs, aocu eval): the thrown
// string, an object's message, else String(value); "undefined" for none.
func (r *Result) ErrorText() string { return thrownText(r.Error) }

func rejected(msg string) *Result {
	b, _ := json.Marshal(msg)
	return &Result{Error: b, Rejected: true, Thrown: jsErrorObject}
}
