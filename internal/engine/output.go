package engine

import (
	"encoding/json"
	"strconv"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// outputJSON is the stored and served result, as the reference's mergeOutput
// makes it: {Messages, Assignments, Spawns, Output, GasUsed?, Error?}; with
// patches (the feat/hb-unit branch's output schema) Patches, the module's or
// [], follows Output.
func outputJSON(r *ao.Result, patches bool) []byte {
	var o jsjson.Object
	orEmpty := func(key string, v json.RawMessage) {
		if jsjson.Truthy(v) {
			o.Raw(key, norm(v))
		} else {
			o.Raw(key, []byte("[]"))
		}
	}
	orEmpty("Messages", r.Messages)
	orEmpty("Assignments", r.Assignments)
	orEmpty("Spawns", r.Spawns)
	switch out := r.Output; {
	case len(out) == 0 || string(out) == "null":
		o.String("Output", "")
	case out[0] == '-' || (out[0] >= '0' && out[0] <= '9'):
		f, _ := strconv.ParseFloat(string(out), 64)
		o.String("Output", string(jsjson.AppendNumber(nil, f))) // String(number)
	default:
		o.Raw("Output", norm(out))
	}
	if patches {
		if jsjson.Truthy(r.Patches) && !r.Rejected {
			o.Raw("Patches", norm(r.Patches))
		} else {
			o.Raw("Patches", []byte("[]"))
		}
	}
	if !r.Rejected { // a rejection becomes {Error}: no GasUsed
		o.Number("GasUsed", r.GasUsed)
	}
	if r.Error != nil && string(r.Error) != "null" {
		o.Raw("Error", norm(r.Error))
	}
	return o.Bytes()
}

// norm makes Lua's JSON what JSON.stringify(JSON.parse(...)) makes of it.
func norm(v json.RawMessage) []byte {
	b, err := jsjson.Normalize(v)
	if err != nil {
		return v
	}
	return b
}
