package su

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// serdeQuote is a JSON string as serde_json (and simd-json) write it: only
// ", \ and the control characters are escaped; \b \f \n \r \t by name,
// the others as \u00xx in lower case. Nothing else is: not <, >, &, DEL,
// U+2028 or U+2029.
func serdeQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// awkward holds what Go's encoding/json writes differently from serde_json
// by default, and what looks like an escape but is text.
const awkward = "if quantity > 0 and a < b && c then -> <script>&amp;</script>" +
	" \u2028line\u2029para \\u2028 \\\\u2029 \"q\" \\ \b\f\n\r\t \x00\x01\x1f\x7f é ✓ 😀 \ufffd"

func serdeTags(tags []arweave.Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = `{"name":` + serdeQuote(t.Name) + `,"value":` + serdeQuote(t.Value) + `}`
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestJSONAsRustSU: message and process JSON is byte for byte what the Rust
// SU's serde_json writes, awkward strings in Data and tags included, with no
// trailing newline.
func TestJSONAsRustSU(t *testing.T) {
	n := startNet(t)
	ptags := localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", "m<>&", "Scheduler", n.su.Address(), "Awk<ward>", awkward)
	p, praw := signItem(t, n.user, awkward, "", "", ptags)
	pid := n.mustPost(t, praw).ID
	if pid != p.ID() {
		t.Fatalf("spawn id %s, want %s", pid, p.ID())
	}
	mtags := localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Eval", "X-<&>", awkward, "\u2028", "\u2029")
	m, mraw := signItem(t, n.user, awkward, pid, "", mtags)
	n.mustPost(t, mraw)

	owner := `{"address":"` + n.user.Address() + `","key":"` + arweave.B64Encode(n.user.PublicKey()) + `"}`
	wantMsg := `{"message":{"id":"` + m.ID() + `","owner":` + owner + `,"data":` + serdeQuote(awkward) +
		`,"tags":` + serdeTags(mtags) + `,"signature":"` + arweave.B64Encode(m.Signature) + `","anchor":null,"target":"` + pid +
		`"},"assignment":{"id":"`
	check := func(name string, body []byte, prefix string, contains ...string) {
		t.Helper()
		if !bytes.HasPrefix(body, []byte(prefix)) {
			t.Errorf("%s: body does not start with the Rust SU's bytes\n got: %.600q\nwant: %.600q", name, body, prefix)
		}
		for _, c := range contains {
			if !bytes.Contains(body, []byte(c)) {
				t.Errorf("%s: body lacks %.200q", name, c)
			}
		}
		for _, bad := range []string{`\u003c`, `\u003e`, `\u0026`, `\u2028"`, `\u007f`} {
			if bytes.Contains(body, []byte(bad)) {
				t.Errorf("%s: body holds %s", name, bad)
			}
		}
		if len(body) == 0 || body[len(body)-1] != '}' {
			t.Errorf("%s: body does not end with }: %q", name, body[max(0, len(body)-20):])
		}
	}

	code, b := do(t, "GET", n.suHS.URL+"/"+m.ID()+"?process-id="+pid, nil)
	if code != 200 {
		t.Fatalf("GET message: %d %s", code, b)
	}
	check("message", b, wantMsg)
	code, b = do(t, "GET", n.suHS.URL+"/"+pid+"/latest", nil)
	if code != 200 {
		t.Fatalf("GET latest: %d %s", code, b)
	}
	check("latest", b, wantMsg)

	// The page: the process's edge, then the message's.
	code, b = do(t, "GET", n.suHS.URL+"/"+pid+"?process-id="+pid, nil)
	if code != 200 {
		t.Fatalf("GET page: %d %s", code, b)
	}
	wantProcMsg := `{"id":"` + pid + `","owner":` + owner + `,"data":` + serdeQuote(awkward) +
		`,"tags":` + serdeTags(ptags) + `,"signature":"` + arweave.B64Encode(p.Signature) + `","anchor":null,"target":null}`
	check("page", b, `{"page_info":{"has_next_page":false},"edges":[{"node":{"message":`+wantProcMsg,
		`{"node":`+wantMsg)

	// The process.
	code, b = do(t, "GET", n.suHS.URL+"/processes/"+pid, nil)
	if code != 200 {
		t.Fatalf("GET process: %d %s", code, b)
	}
	check("process", b, `{"process_id":"`+pid+`","block":"`, `,"owner":`+owner+`,"tags":`+serdeTags(ptags)+`,"timestamp":`,
		`,"data":`+serdeQuote(awkward)+`,"anchor":null,"signature":"`+arweave.B64Encode(p.Signature)+`","target":null}`)
}

func TestUnescapeLineSeparators(t *testing.T) {
	for in, want := range map[string]string{
		`"a\u2028b\u2029c"`:           "\"a\u2028b\u2029c\"",
		`"\\u2028"`:                   `"\\u2028"`,
		`"\\\u2028"`:                  "\"\\\\\u2028\"",
		`"\u2027\u202a\u20289"`:       "\"\\u2027\\u202a\u20289\"",
		`{"k\u2029":["\"\u2028\\"]}`:  "{\"k\u2029\":[\"\\\"\u2028\\\\\"]}",
		`"no escapes at all"`:         `"no escapes at all"`,
		`"trailing backslash pair\\"`: `"trailing backslash pair\\"`,
	} {
		if got := string(unescapeLineSeparators([]byte(in))); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}
