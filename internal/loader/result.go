package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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
}

// Failed reports whether the CU discards this message's memory: the result has
// an Error or handle() rejected.
func (r *Result) Failed() bool { return r.Rejected || r.Error != nil }

// parseResponse parses the {"ok":…,"response":…} envelope of loader.lua.
// withPatches: the loader version adds Patches to the result.
func parseResponse(s string, gas float64, withPatches bool) (*Result, error) {
	var env struct {
		Ok       bool            `json:"ok"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal([]byte(s), &env); err != nil {
		msg := "Unexpected end of JSON input"
		if strings.TrimSpace(s) != "" {
			msg = fmt.Sprintf("invalid JSON from handle: %v", err)
		}
		return rejected(msg), nil
	}
	if !env.Ok {
		// `throw response`: the CU stores the thrown value as the Error.
		var str string
		if err := json.Unmarshal(env.Response, &str); err == nil {
			return rejected(str), nil
		}
		return &Result{Error: append(json.RawMessage(nil), env.Response...), Rejected: true}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(env.Response, &fields); err != nil {
		return nil, fmt.Errorf("loader: handle response is not an object: %w", err)
	}
	r := &Result{
		Output: fields["Output"], Messages: fields["Messages"], Spawns: fields["Spawns"],
		Assignments: fields["Assignments"], Error: fields["Error"], GasUsed: gas,
	}
	if withPatches {
		r.Patches = fields["Patches"]
		if !jsTruthy(r.Patches) {
			r.Patches = json.RawMessage("[]")
		}
	}
	return r, nil
}

func rejected(msg string) *Result {
	b, _ := json.Marshal(msg)
	return &Result{Error: b, Rejected: true}
}

// jsTruthy reports whether a JSON value is truthy in JavaScript (`x || []`).
func jsTruthy(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	switch string(v) {
	case "", "null", "false", `""`, "0", "-0":
		return false
	}
	if v[0] >= '0' && v[0] <= '9' || v[0] == '-' {
		var f float64
		if json.Unmarshal(v, &f) == nil && f == 0 {
			return false
		}
	}
	return true
}
