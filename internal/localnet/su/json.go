package su

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// marshalJSON encodes v as the Rust SU does (serde_json, and simd-json for
// pages, which escape alike): no HTML escaping of <, > and &, U+2028 and
// U+2029 written as they are, control characters as \b \f \n \r \t or
// \u00xx, and no trailing newline.
//
// encoding/json with SetEscapeHTML(false) differs from serde_json only in
// U+2028 and U+2029, which it always escapes; those escapes are put back as
// the characters. Both write invalid UTF-8 differently (Go as U+FFFD, Rust
// cannot hold it in a String), but the SU only writes valid UTF-8 strings.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("su: encode JSON: %w", err)
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return unescapeLineSeparators(out), nil
}

// unescapeLineSeparators replaces the escapes \u2028 and \u2029 in the
// strings of valid JSON js with the characters themselves. An escaped
// backslash followed by "u2028" (the text \u2028 in a string) is left alone.
func unescapeLineSeparators(js []byte) []byte {
	if !bytes.Contains(js, []byte(`\u202`)) {
		return js
	}
	out := make([]byte, 0, len(js))
	for i := 0; i < len(js); i++ {
		c := js[i]
		if c != '\\' || i+1 >= len(js) {
			out = append(out, c)
			continue
		}
		// An escape sequence: copy it whole, or the character it stands for.
		if js[i+1] == 'u' && i+5 < len(js) && string(js[i+2:i+5]) == "202" && (js[i+5] == '8' || js[i+5] == '9') {
			if js[i+5] == '8' {
				out = append(out, "\u2028"...)
			} else {
				out = append(out, "\u2029"...)
			}
			i += 5
			continue
		}
		out = append(out, c, js[i+1])
		i++
	}
	return out
}
