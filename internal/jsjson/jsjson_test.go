package jsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// golden mirrors testdata/golden.json, written by gen_golden.cjs from node's
// JSON.parse/JSON.stringify.
type golden struct {
	Node      string `json:"node"`
	Normalize []struct {
		Name string `json:"name"`
		In   string `json:"in"`
		Out  string `json:"out"`
	} `json:"normalize"`
	Invalid []struct {
		Name    string `json:"name"`
		In      string `json:"in"`
		JSError string `json:"jsError"`
	} `json:"invalid"`
	Numbers []struct {
		Num  *string `json:"num"`
		Bits *string `json:"bits"`
		Out  string  `json:"out"`
	} `json:"numbers"`
	Strings []struct {
		Str string `json:"str"`
		Out string `json:"out"`
	} `json:"strings"`
	UTF8 []struct {
		In  string `json:"in"`  // hex
		Out string `json:"out"` // hex
	} `json:"utf8"`
	Members []struct {
		Name   string  `json:"name"`
		In     string  `json:"in"`
		Key    string  `json:"key"`
		Found  bool    `json:"found"`
		Out    string  `json:"out"`
		Truthy bool    `json:"truthy"`
		Str    *string `json:"str"`
		Units  int     `json:"units"`
	} `json:"members"`
	Spread []struct {
		Name string `json:"name"`
		In   string `json:"in"`
		Key  string `json:"key"`
		Val  string `json:"val"`
		Out  string `json:"out"`
	} `json:"spread"`
}

var (
	goldenOnce sync.Once
	goldenData *golden
	goldenErr  error
)

// loadGolden reads testdata/golden.json, or the file named by $JSJSON_GOLDEN
// (e.g. a larger corpus made with JSJSON_RANDOM=100000 node gen_golden.cjs).
func loadGolden(tb testing.TB) *golden {
	tb.Helper()
	goldenOnce.Do(func() {
		path := os.Getenv("JSJSON_GOLDEN")
		if path == "" {
			path = filepath.Join("testdata", "golden.json")
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			goldenErr = fmt.Errorf("read golden file: %w", err)
			return
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			goldenErr = fmt.Errorf("decode golden file %s: %w", path, err)
			return
		}
		goldenData = &g
	})
	if goldenErr != nil {
		tb.Fatal(goldenErr)
	}
	return goldenData
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

func TestGoldenNormalize(t *testing.T) {
	g := loadGolden(t)
	if len(g.Normalize) < 100 {
		t.Fatalf("only %d normalize cases in golden file", len(g.Normalize))
	}
	for _, c := range g.Normalize {
		got, err := Normalize([]byte(c.In))
		if err != nil {
			t.Errorf("%s: Normalize(%q): %v", c.Name, short(c.In), err)
			continue
		}
		if string(got) != c.Out {
			t.Errorf("%s: Normalize(%q)\n got %q\nwant %q", c.Name, short(c.In), short(string(got)), short(c.Out))
		}
	}
}

func TestGoldenInvalid(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Invalid {
		got, err := Normalize([]byte(c.In))
		if err == nil {
			t.Errorf("%s: Normalize(%q) = %q, want error (node: %s)", c.Name, c.In, got, c.JSError)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v is not a *SyntaxError", c.Name, err)
		} else if se.Offset < 0 || se.Offset > len(c.In) {
			t.Errorf("%s: offset %d outside input of %d bytes", c.Name, se.Offset, len(c.In))
		}
	}
}

func TestGoldenNumbers(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Numbers {
		var f float64
		var desc string
		switch {
		case c.Bits != nil:
			b, err := strconv.ParseUint(*c.Bits, 16, 64)
			if err != nil {
				t.Fatalf("bad bits %q: %v", *c.Bits, err)
			}
			f, desc = math.Float64frombits(b), "bits "+*c.Bits
		case c.Num != nil:
			desc = *c.Num
			switch *c.Num {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				var err error
				f, err = strconv.ParseFloat(*c.Num, 64)
				if err != nil && !errors.Is(err, strconv.ErrRange) {
					t.Fatalf("bad num %q: %v", *c.Num, err)
				}
			}
		default:
			t.Fatal("number case without num or bits")
		}
		if got := string(AppendNumber(nil, f)); got != c.Out {
			t.Errorf("AppendNumber(%s = %v) = %s, want %s", desc, f, got, c.Out)
		}
	}
}

func TestGoldenStrings(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Strings {
		if got := string(AppendString(nil, c.Str)); got != c.Out {
			t.Errorf("AppendString(%q) = %q, want %q", short(c.Str), short(got), short(c.Out))
		}
		// AppendString must agree with Normalize of the same string.
		quoted, _ := json.Marshal(c.Str)
		if got, err := Normalize(quoted); err != nil || string(got) != c.Out {
			t.Errorf("Normalize(%s) = %q, %v, want %q", short(string(quoted)), short(string(got)), err, short(c.Out))
		}
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\xffb", "\"a\uFFFDb\""},
		{"\xe2\x82", "\"\uFFFD\uFFFD\""},                           // truncated sequence: one U+FFFD per byte
		{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""},                 // UTF-8-encoded surrogate
		{"\xc0\xaf", "\"\uFFFD\uFFFD\""},                           // overlong
		{"ok\u20ac\xf0\x9f\x98", "\"ok\u20ac\uFFFD\uFFFD\uFFFD\""}, // truncated emoji
	} {
		if got := string(AppendString(nil, tc.in)); got != tc.want {
			t.Errorf("AppendString(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// Normalize applies the same rule to raw bytes inside string literals.
		if got, err := Normalize([]byte(`"` + tc.in + `"`)); err != nil || string(got) != tc.want {
			t.Errorf("Normalize(%q) = %q, %v, want %q", `"`+tc.in+`"`, got, err, tc.want)
		}
	}
	if got := string(AppendString([]byte("x="), "y")); got != `x="y"` {
		t.Errorf("AppendString does not append: %q", got)
	}
}

func TestNormalizeErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		offset int
		substr string
	}{
		{"", 0, "unexpected end of input"},
		{"   ", 3, "unexpected end of input"},
		{`{"a":1`, 6, "unexpected end of input"},
		{`{"a":`, 5, "unexpected end of input"},
		{`[1,2`, 4, "unexpected end of input"},
		{`"abc`, 4, "unexpected end of input"},
		{`"\`, 2, "unexpected end of input"},
		{`{} x`, 3, "invalid character 'x' after top-level value"},
		{`{}{}`, 2, "invalid character '{' after top-level value"},
		{`"\x"`, 2, "invalid character 'x' in string escape code"},
		{`"\u12g4"`, 5, "invalid character 'g' in \\u hexadecimal character escape"},
		{`"\u12"`, 5, `invalid character '"' in \u hexadecimal character escape`},
		{"\"a\x01b\"", 2, `invalid character '\x01' in string literal`},
		{"\"a\nb\"", 2, `invalid character '\n' in string literal`},
		{`01`, 1, "invalid character '1' after top-level value"},
		{`[-01]`, 3, "invalid character '1' after array element"},
		{`+1`, 0, "invalid character '+' looking for beginning of value"},
		{`.5`, 0, "invalid character '.' looking for beginning of value"},
		{`1.`, 2, "unexpected end of input after decimal point"},
		{`1.e5`, 2, "invalid character 'e' after decimal point"},
		{`1e+`, 3, "unexpected end of input in exponent"},
		{`-`, 1, "unexpected end of input in numeric literal"},
		{`-a`, 1, "invalid character 'a' in numeric literal"},
		{`NaN`, 0, "invalid character 'N' looking for beginning of value"},
		{`[Infinity]`, 1, "invalid character 'I' looking for beginning of value"},
		{`'a'`, 0, `invalid character '\'' looking for beginning of value`},
		{`{'a':1}`, 1, `invalid character '\'' looking for beginning of object key string`},
		{`{"a" 1}`, 5, "invalid character '1' after object key"},
		{`{"a":1 "b":2}`, 7, `invalid character '"' after object key:value pair`},
		{`[1 2]`, 3, "invalid character '2' after array element"},
		{`[1,]`, 3, "invalid character ']' looking for beginning of value"},
		{`{"a":1,}`, 7, "invalid character '}' looking for beginning of object key string"},
		{`tru`, 3, "unexpected end of input in literal true"},
		{`[nul]`, 4, "invalid character ']' in literal null"},
		{`True`, 0, "invalid character 'T' looking for beginning of value"},
		{"\ufeff{}", 0, `invalid character '\ufeff' looking for beginning of value`},
		{"\u00a0{}", 0, `invalid character '\u00a0' looking for beginning of value`},
		{"[\xff]", 1, "invalid character byte 0xff looking for beginning of value"},
	} {
		got, err := Normalize([]byte(tc.in))
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want error", tc.in, got)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Normalize(%q): error %v is not a *SyntaxError", tc.in, err)
			continue
		}
		msg := err.Error()
		if se.Offset != tc.offset || !strings.HasSuffix(msg, fmt.Sprintf(" at offset %d", tc.offset)) {
			t.Errorf("Normalize(%q): error %q, want offset %d", tc.in, msg, tc.offset)
		}
		if !strings.HasPrefix(msg, "jsjson: ") || !strings.Contains(msg, tc.substr) {
			t.Errorf("Normalize(%q): error %q, want it to contain %q", tc.in, msg, tc.substr)
		}
	}
}

func TestNormalizeDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`[{"a":`, n/2) + "1" + strings.Repeat("}]", n/2))
	}
	if _, err := Normalize(nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	_, err := Normalize(nest(MaxDepth + 2))
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "maximum nesting depth") {
		t.Fatalf("depth %d: got %v, want nesting depth error", MaxDepth+2, err)
	}
	if want := len(`[{"a":`) * MaxDepth / 2; se.Offset != want {
		t.Errorf("depth error offset %d, want %d", se.Offset, want)
	}
	// Very deep input fails fast instead of exhausting the stack.
	if _, err := Normalize(bytes.Repeat([]byte("["), 10_000_000)); err == nil {
		t.Error("10M open brackets accepted")
	}
}

// TestBuilder rebuilds the golden "builder" case field by field.
func TestBuilder(t *testing.T) {
	var want string
	for _, c := range loadGolden(t).Normalize {
		if c.Name == "builder" {
			want = c.Out
		}
	}
	if want == "" {
		t.Fatal(`no "builder" case in golden file`)
	}

	tag := func(name, value string) []byte {
		var o Object
		o.String("name", name)
		o.String("value", value)
		return o.Bytes()
	}
	var tags, list Array
	tags.Raw(tag("Action", "Eval"))
	tags.Raw(tag("X-\u2028", "😀\x00"))
	list.String("a")
	list.Number(1.5)
	list.Bool(true)
	list.Null()
	list.Number(1e21)
	var empty Object
	var emptyList Array

	var o Object
	o.String("Id", "abc")
	o.String("Target", "proc<1>&2")
	o.Raw("Tags", tags.Bytes())
	o.Raw("List", list.Bytes())
	o.Number("Timestamp", 1700000000000)
	o.Number("Block-Height", 1500000)
	o.Bool("Cron", false)
	o.Number("Ratio", 0.1)
	o.Number("Bad", math.NaN())
	o.Number("Inf", math.Inf(-1))
	o.Number("Tiny", 1e-7)
	o.Null("Nothing")
	o.Raw("Empty", empty.Bytes())
	o.Raw("EmptyList", emptyList.Bytes())
	got := o.Bytes()
	if string(got) != want {
		t.Errorf("builder\n got %s\nwant %s", got, want)
	}

	// Bytes returns a copy; the builder stays usable.
	o.Bool("More", true)
	if string(got) != want {
		t.Error("Bytes result changed after a later addition")
	}
	if g2 := o.Bytes(); string(g2) != want[:len(want)-1]+`,"More":true}` {
		t.Errorf("after addition: %s", g2)
	}
}

func TestAppendNumberRoundTrip(t *testing.T) {
	for _, f := range []float64{math.MaxFloat64, math.SmallestNonzeroFloat64, 1e21, 1e-7, 123.456, -0.0001} {
		s := string(AppendNumber(nil, f))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != f {
			t.Errorf("AppendNumber(%v) = %s, parses back as %v, %v", f, s, back, err)
		}
	}
}

// FuzzNormalize checks that Normalize accepts exactly the inputs
// encoding/json.Valid accepts (the grammars and depth limits agree), that its
// output is valid JSON, and that it is idempotent. `go test` runs only the
// seeds; use `go test -fuzz FuzzNormalize ./internal/jsjson/` to explore.
func FuzzNormalize(f *testing.F) {
	g := loadGolden(f)
	for _, c := range g.Normalize {
		if len(c.In) < 4096 {
			f.Add([]byte(c.In))
		}
	}
	for _, c := range g.Invalid {
		f.Add([]byte(c.In))
	}
	for _, c := range g.Numbers {
		if c.Num != nil {
			f.Add([]byte(*c.Num))
		}
	}
	f.Add([]byte("\"a\xffb\xe2\x82\""))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Normalize(in)
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("Normalize(%q): err = %v, but encoding/json.Valid = %v", in, err, valid)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(in) {
				t.Fatalf("Normalize(%q): bad error %v", in, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Normalize(%q) = %q: not valid JSON", in, out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("Normalize(%q) = %q: not valid UTF-8", in, out)
		}
		again, err := Normalize(out)
		if err != nil {
			t.Fatalf("Normalize(Normalize(%q) = %q): %v", in, out, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent for %q:\n once %q\ntwice %q", in, out, again)
		}
	})
}

// FuzzAppendNumber checks that AppendNumber round-trips and agrees with
// Normalize of its own output.
func FuzzAppendNumber(f *testing.F) {
	for _, v := range []float64{0, 1, -1, 0.1, 1e21, 1e20, 1.5e-7, 1e-6, 5e-324, math.MaxFloat64, 1 << 53} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := AppendNumber(nil, v)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if string(s) != "null" {
				t.Fatalf("AppendNumber(%v) = %s", v, s)
			}
			return
		}
		back, err := strconv.ParseFloat(string(s), 64)
		if err != nil || back != v {
			t.Fatalf("AppendNumber(%v) = %s, parses back as %v, %v", v, s, back, err)
		}
		if n, err := Normalize(s); err != nil || !bytes.Equal(n, s) {
			t.Fatalf("Normalize(%s) = %s, %v", s, n, err)
		}
	})
}

// FuzzAppendString checks that AppendString's output is valid JSON that
// decodes to the input with invalid bytes replaced by U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "<>&", "\u2028", "\x00\x1f\x7f", "\xff", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(q, &back); err != nil {
			t.Fatalf("AppendString(%q) = %q: %v", s, q, err)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r) // RuneError for each invalid byte
			i += size
		}
		if back != want.String() {
			t.Fatalf("AppendString(%q) = %q decodes to %q", s, q, back)
		}
		if n, err := Normalize(q); err != nil || !bytes.Equal(n, q) {
			t.Fatalf("Normalize(%q) = %q, %v", q, n, err)
		}
	})
}

// benchMessage is a realistic ~1 KB ao message as another tool (e.g. Go's
// encoding/json) would write it.
var benchMessage = []byte(`{
  "Id": "gNZeNZ6lJW2jvXhB0ibK8eV4xhwfCXHJDkjqzMqIFCQ",
  "Owner": "z1pq2WzmaYnfDwvEFgUZBj48anUsxxN64ZjbWOsIn08",
  "From": "z1pq2WzmaYnfDwvEFgUZBj48anUsxxN64ZjbWOsIn08",
  "Target": "xU9zFkq3X2ZQ6olwNVvr1vUWIjc3kXTWr7xKQD6dh10",
  "Anchor": "00000000000000000000000000000003",
  "Data": "{\"balances\":{\"abc\":\"1000000000000\"},\"note\":\"\u003cb\u003e\u0026amp;\u003c/b\u003e\"}",
  "Tags": [
    {"name": "Data-Protocol", "value": "ao"},
    {"name": "Variant", "value": "ao.TN.1"},
    {"name": "Type", "value": "Message"},
    {"name": "Action", "value": "Transfer"},
    {"name": "Quantity", "value": "1000000000000"},
    {"name": "Recipient", "value": "xU9zFkq3X2ZQ6olwNVvr1vUWIjc3kXTWr7xKQD6dh10"},
    {"name": "X-Note", "value": "h\u00e9llo \ud83d\ude00 \u2028"},
    {"name": "SDK", "value": "aoconnect"}
  ],
  "Timestamp": 1700000000000,
  "Block-Height": 1500000,
  "Cron": false,
  "Epoch": 0,
  "Nonce": 3,
  "Weight": 0.75,
  "Hash-Chain": "hDbMZyqq2gcmgXW0fMFbGXzCyUTUJx4uA9yaDdDaB8U",
  "Module": "Pq2Zftrqut0hdisH_MC2pDOT6S4eQFoxGsFUzR6r350"
}`)

func BenchmarkNormalize(b *testing.B) {
	if _, err := Normalize(benchMessage); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}
