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

// TestLossyUTF8: String::from_utf8_lossy's replacements (one U+FFFD per
// maximal subpart of an incomplete or invalid sequence; Rust's docs and
// Unicode §3.9's examples).
func TestLossyUTF8(t *testing.T) {
	const r = "\uFFFD"
	for in, want := range map[string]string{
		"plain é ✓ 😀":                   "plain é ✓ 😀",
		"Hello \xF0\x90\x80World":       "Hello " + r + "World",
		"\xE0\x80":                      r + r,
		"\xED\xA0\x80":                  r + r + r,
		"\xF4\x90\x80\x80":              r + r + r + r,
		"\xC0\xAF":                      r + r,
		"\xe2\x82":                      r,
		"\xe2\x82A":                     r + "A",
		"\xff\xfe":                      r + r,
		"a\x80b":                        "a" + r + "b",
		"\xF1\x80\x80":                  r,
		"\xF1\x80\x80\xF1\x80\x80\x80x": r + "\U00040000x",
		"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64": "a" + r + r + r + "b" + r + "c" + r + r + "d",
	} {
		if got := lossyUTF8([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestNotUTF8AsRustSU: a message's data that is not UTF-8 is written as
// from_utf8_lossy makes it (not null); a process's is null; an anchor that
// is not UTF-8 is null (base64url for the assignment with show-anchor).
func TestNotUTF8AsRustSU(t *testing.T) {
	n := startNet(t)
	tags := localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", "m", "Scheduler", n.su.Address())
	_, praw := signItem(t, n.user, "proc \xff data", "", "", tags)
	pid := n.mustPost(t, praw).ID
	binAnchor := string(bytes.Repeat([]byte{0xff}, 32))
	textAnchor := "00000000000000000000000000000007"
	mtags := localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message")
	bin, braw := signItem(t, n.user, "bin \xe2\x82 data \xff", pid, binAnchor, mtags)
	n.mustPost(t, braw)
	text, traw := signItem(t, n.user, "", pid, textAnchor, mtags)
	n.mustPost(t, traw)

	_, b := do(t, "GET", n.suHS.URL+"/"+bin.ID()+"?process-id="+pid, nil)
	if !bytes.Contains(b, []byte(`,"data":"bin `+"\uFFFD"+` data `+"\uFFFD"+`","tags":`)) ||
		!bytes.Contains(b, []byte(`,"anchor":null,"target":"`+pid+`"},"assignment"`)) {
		t.Errorf("binary message: %s", b)
	}
	_, b = do(t, "GET", n.suHS.URL+"/"+text.ID()+"?process-id="+pid+"&show-anchor", nil)
	if !bytes.Contains(b, []byte(`{"message":{"id":"`+text.ID()+`"`)) || !bytes.Contains(b, []byte(`,"data":"","tags":`)) ||
		!bytes.Contains(b, []byte(`,"anchor":"`+textAnchor+`","target":"`+pid+`"},"assignment"`)) {
		t.Errorf("text message: %s", b)
	}
	_, b = do(t, "GET", n.suHS.URL+"/processes/"+pid, nil)
	if !bytes.Contains(b, []byte(`,"data":null,"anchor":null,`)) {
		t.Errorf("process: %s", b)
	}
	_, b = do(t, "GET", n.suHS.URL+"/"+pid+"?process-id="+pid+"&limit=1", nil)
	if !bytes.Contains(b, []byte(`{"node":{"message":{"id":"`+pid+`"`)) || !bytes.Contains(b, []byte(`,"data":null,"tags":`)) ||
		!bytes.Contains(b, []byte(`,"anchor":null,"target":null},"assignment"`)) {
		t.Errorf("process edge: %s", b)
	}

	// anchor_b64: an assignment's anchor under show-anchor.
	a := &arweave.DataItem{Anchor: []byte(binAnchor)}
	if got := anchorB64Of(a); got == nil || *got != arweave.B64Encode([]byte(binAnchor)) {
		t.Errorf("anchor_b64 of a binary anchor: %v", got)
	}
	if got := anchorOf(a); got != nil {
		t.Errorf("anchor of a binary anchor: %q", *got)
	}
	a.Anchor = []byte(textAnchor)
	if got := anchorB64Of(a); got == nil || *got != textAnchor {
		t.Errorf("anchor_b64 of a text anchor: %v", got)
	}
}
