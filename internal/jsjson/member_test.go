package jsjson

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func TestGoldenDecodeUTF8(t *testing.T) {
	g := loadGolden(t)
	if len(g.UTF8) < 500 {
		t.Fatalf("only %d utf8 cases in golden file", len(g.UTF8))
	}
	for _, c := range g.UTF8 {
		in, err := hex.DecodeString(c.In)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString([]byte(DecodeUTF8(in))); got != c.Out {
			t.Errorf("DecodeUTF8(%s) = %s, want %s", c.In, got, c.Out)
		}
	}
}

func TestGoldenMember(t *testing.T) {
	g := loadGolden(t)
	if len(g.Members) < 100 {
		t.Fatalf("only %d member cases in golden file", len(g.Members))
	}
	for _, c := range g.Members {
		v, ok, err := Member([]byte(c.In), c.Key)
		if err != nil || ok != c.Found {
			t.Errorf("%s: Member(%q, %q) = %q, %v, %v; want found=%v", c.Name, short(c.In), c.Key, v, ok, err, c.Found)
			continue
		}
		if !ok {
			continue
		}
		if !bytes.Contains([]byte(c.In), v) || len(bytes.TrimSpace(v)) != len(v) {
			t.Errorf("%s: value %q is not trimmed source text", c.Name, v)
		}
		if n, err := Normalize(v); err != nil || string(n) != c.Out {
			t.Errorf("%s: Normalize(Member(%q, %q)) = %q, %v; want %q", c.Name, short(c.In), c.Key, n, err, c.Out)
		}
		if got := Truthy(v); got != c.Truthy {
			t.Errorf("%s: Truthy(%q) = %v, want %v", c.Name, v, got, c.Truthy)
		}
		s, err := Unquote(v)
		if c.Str == nil {
			if err == nil {
				t.Errorf("%s: Unquote(%q) = %q, want an error (not a string)", c.Name, v, s)
			}
			continue
		}
		if err != nil || s != *c.Str {
			t.Errorf("%s: Unquote(%q) = %q, %v; want %q", c.Name, v, s, err, *c.Str)
		}
		if n := len(utf16.Encode([]rune(s))); n != c.Units {
			t.Errorf("%s: Unquote(%q) has %d UTF-16 units, JavaScript %d", c.Name, v, n, c.Units)
		}
	}
}

func TestGoldenSetMember(t *testing.T) {
	g := loadGolden(t)
	if len(g.Spread) < 50 {
		t.Fatalf("only %d spread cases in golden file", len(g.Spread))
	}
	for _, c := range g.Spread {
		got, err := SetMember([]byte(c.In), c.Key, []byte(c.Val))
		if err != nil || string(got) != c.Out {
			t.Errorf("%s: SetMember(%q, %q, %q)\n got %q, %v\nwant %q", c.Name, short(c.In), c.Key, c.Val, short(string(got)), err, short(c.Out))
		}
	}
}

func TestMemberSourceText(t *testing.T) {
	src := []byte(" {\"a\" : 1e400 ,\"b\":[ ],\"a\"\t:\n\"\\u0041\" , \"c\":{\"d\" : -0.0}}\r\n")
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{
		{"a", `"\u0041"`, true}, // last occurrence, original spelling
		{"b", "[ ]", true},
		{"c", `{"d" : -0.0}`, true},
		{"d", "", false}, // nested members are not top-level members
		{"A", "", false},
	} {
		v, ok, err := Member(src, tc.key)
		if err != nil || ok != tc.ok || string(v) != tc.want {
			t.Errorf("Member(%q) = %q, %v, %v; want %q, %v", tc.key, v, ok, err, tc.want, tc.ok)
		}
	}
	// Values can be looked into again.
	c, _, _ := Member(src, "c")
	if d, ok, err := Member(c, "d"); err != nil || !ok || string(d) != "-0.0" || Truthy(d) {
		t.Errorf(`Member(c, "d") = %q, %v, %v`, d, ok, err)
	}
}

func TestMemberNotObject(t *testing.T) {
	for _, src := range []string{`[1,{"a":2}]`, `"a"`, `null`, `0`, ` true `, `[{"length":1}]`} {
		for _, key := range []string{"a", "0", "length"} {
			if v, ok, err := Member([]byte(src), key); ok || err != nil {
				t.Errorf("Member(%s, %q) = %q, %v, %v; want not found", src, key, v, ok, err)
			}
		}
	}
}

func TestMemberInvalid(t *testing.T) {
	for _, src := range []string{``, `{`, `{"a":1,}`, `{"a":1}x`, `{"a":1} {}`, `{"a":01}`, `{"b":[}`, "\ufeff{}", `{'a':1}`} {
		v, ok, err := Member([]byte(src), "a")
		var se *SyntaxError
		if !errors.As(err, &se) || ok || v != nil {
			t.Errorf("Member(%q) = %q, %v, %v; want a *SyntaxError", src, v, ok, err)
		}
	}
}

func TestUnquote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`""`, ""},
		{` "a" `, "a"},
		{`"\u0041\/\"\\\b\f\n\r\t"`, "A/\"\\\b\f\n\r\t"},
		{`"\ud83d\ude00\uD83D\uDE00"`, "😀😀"},
		{`"\ud800"`, "\uFFFD"},
		{`"\udc00\ud800"`, "\uFFFD\uFFFD"},
		{`"\ud800\ud800\udc00"`, "\uFFFD𐀀"},
		{`"\ud800\u0041"`, "\uFFFDA"},
		{"\"a\xffb\xe2\x82\"", "a\uFFFDb\uFFFD\uFFFD"}, // invalid UTF-8: one U+FFFD per byte
		{"\"<\u2028>\"", "<\u2028>"},
	} {
		if got, err := Unquote([]byte(tc.in)); err != nil || got != tc.want {
			t.Errorf("Unquote(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{``, ` `, `a`, `"a`, `"a" "b"`, `"\x"`, "\"\x01\"", `1`, `null`, `["a"]`, `{"a":"b"}`} {
		got, err := Unquote([]byte(in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Unquote(%q) = %q, %v; want a *SyntaxError", in, got, err)
		}
	}
}

func TestTruthy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0", false}, {"-0", false}, {"0.000", false}, {"-0e-5", false}, {"1e-400", false}, {" 0 ", false},
		{"1", true}, {"-1e-300", true}, {"1e400", true}, {"-1e400", true}, {"1" + strings.Repeat("0", 400), true},
		{`""`, false}, {` "" `, false}, {`"0"`, true}, {`" "`, true}, {`"\u0000"`, true},
		{"false", false}, {"null", false}, {"true", true}, {"[]", true}, {"{}", true}, {"[0]", true},
	} {
		if got := Truthy([]byte(tc.in)); got != tc.want {
			t.Errorf("Truthy(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSetMemberErrors(t *testing.T) {
	for _, tc := range []struct{ obj, val string }{
		{`{"a":1`, `1`}, {`{}}`, `1`}, {`{"a":1}`, `01`}, {`{"a":1}`, ``}, {`{"a":1}`, `1 2`},
	} {
		got, err := SetMember([]byte(tc.obj), "k", []byte(tc.val))
		var se *SyntaxError
		if !errors.As(err, &se) || got != nil {
			t.Errorf("SetMember(%q, k, %q) = %q, %v; want a *SyntaxError", tc.obj, tc.val, got, err)
		}
	}
	for _, obj := range []string{`[]`, `[{"a":1}]`, `"{}"`, `null`, `1`} {
		if got, err := SetMember([]byte(obj), "k", []byte("1")); err == nil || errors.As(err, new(*SyntaxError)) {
			t.Errorf("SetMember(%s) = %q, %v; want a not-an-object error", obj, got, err)
		}
	}
}

// FuzzDecodeUTF8 checks that DecodeUTF8 yields valid UTF-8, leaves valid
// input alone (but for one leading BOM), keeps every valid character of
// ill-formed input and replaces each run of bad bytes with at least one and
// at most one U+FFFD per byte.
func FuzzDecodeUTF8(f *testing.F) {
	for _, c := range loadGolden(f).UTF8 {
		if b, err := hex.DecodeString(c.In); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := DecodeUTF8(b)
		if !utf8.ValidString(s) {
			t.Fatalf("DecodeUTF8(%x) = %x: not valid UTF-8", b, s)
		}
		body := string(bytes.TrimPrefix(b, utf8BOM))
		if utf8.ValidString(body) {
			if s != body {
				t.Fatalf("DecodeUTF8(%x) = %x, want the input without BOM", b, s)
			}
			return
		}
		noFFFD := func(s string) string { return strings.ReplaceAll(s, "\uFFFD", "") }
		if noFFFD(s) != noFFFD(strings.ToValidUTF8(body, "")) {
			t.Fatalf("DecodeUTF8(%x) = %x: valid characters changed", b, s)
		}
		n := strings.Count(s, "\uFFFD")
		perRun := strings.Count(strings.ToValidUTF8(body, "\uFFFD"), "\uFFFD")
		perByte := strings.Count(string([]rune(body)), "\uFFFD")
		if n < perRun || n > perByte {
			t.Fatalf("DecodeUTF8(%x) = %x: %d U+FFFD, want %d to %d", b, s, n, perRun, perByte)
		}
	})
}

// FuzzSetMember checks SetMember against Member and Normalize: the member
// reads back as the normalized value, the other members are unchanged and
// the result is in Normalize form.
func FuzzSetMember(f *testing.F) {
	for _, c := range loadGolden(f).Spread {
		f.Add(c.In, c.Key, c.Val)
	}
	f.Fuzz(func(t *testing.T, obj, key, val string) {
		got, err := SetMember([]byte(obj), key, []byte(val))
		if err != nil {
			return
		}
		if n, err := Normalize(got); err != nil || !bytes.Equal(n, got) {
			t.Fatalf("SetMember(%q, %q, %q) = %q: not in Normalize form", obj, key, val, got)
		}
		v, ok, err := Member(got, key)
		want, _ := Normalize([]byte(val))
		if n, _ := Normalize(v); !ok || err != nil || !bytes.Equal(n, want) {
			t.Fatalf("SetMember(%q, %q, %q) = %q: member reads back as %q, %v, %v", obj, key, val, got, v, ok, err)
		}
		// Setting the value the object already has changes nothing.
		if again, err := SetMember(got, key, v); err != nil || !bytes.Equal(again, got) {
			t.Fatalf("SetMember(%q, %q, %q) = %q, %v; want %q", got, key, v, again, err, got)
		}
	})
}
