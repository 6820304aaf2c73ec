package weavedrive

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/jsjson"
)

// reference holds testdata/reference.json, the output of testdata/gen-reference.cjs run with node against the
// published reference extension (npm @permaweb/weavedrive@0.0.18, package/dist/index.cjs): what its
// createTxHeader stores for given gateway answers, the GraphQL bodies its checkAdmissible sends, and node's
// JSON.stringify / TextDecoder on many inputs.
type reference struct {
	N          string            `json:"n"`
	Indep      string            `json:"indep"`
	SimpleBody string            `json:"simpleBody"`
	SimpleFile string            `json:"simpleFile"`
	TrickyBody string            `json:"trickyBody"`
	TrickyFile string            `json:"trickyFile"`
	Owners     map[string]string `json:"owners"`
	GQL        []struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"gql"`
	LibraryThrow string      `json:"libraryThrow"`
	LibraryLog   []string    `json:"libraryLog"`
	Numbers      [][2]string `json:"numbers"`
	UTF8         [][2]string `json:"utf8"`
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestTxFileMatchesReference(t *testing.T) {
	ref := loadReference(t)
	for _, c := range []struct{ name, body, want string }{
		{"simple", ref.SimpleBody, ref.SimpleFile},
		// BOM, white space, escapes, lone surrogates, number formats, 1e400, duplicate keys, array-index keys
		// (top level and nested), an existing ownerAddress key.
		{"tricky", ref.TrickyBody, ref.TrickyFile},
	} {
		got, err := txFileContent([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestOwnerAddressLenientLikeReference(t *testing.T) {
	ref := loadReference(t)
	if len(ref.Owners) == 0 {
		t.Fatal("no owner cases in the fixture")
	}
	for owner, want := range ref.Owners {
		got, err := ownerAddress(owner)
		if err != nil {
			got = "THROW " + err.Error()
		}
		if got != want {
			t.Errorf("owner %q: got %s, want %s", owner, got, want)
		}
	}
	if _, err := ownerAddress("="); err == nil {
		t.Error(`owner "=": want an error (the reference throws: Uint8Array of length -1)`)
	}
}

// The numbers and the UTF-8 decoding the reference's node produced, checked against what txFileContent and
// the block file use (package jsjson has its own, larger node-generated corpus).
func TestJSNumberFormatMatchesNode(t *testing.T) {
	ref := loadReference(t)
	if len(ref.Numbers) < 1500 {
		t.Fatalf("only %d numbers in the fixture", len(ref.Numbers))
	}
	for _, c := range ref.Numbers {
		b, err := hex.DecodeString(c[0])
		if err != nil {
			t.Fatal(err)
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(b))
		if got := string(jsjson.AppendNumber(nil, f)); got != c[1] {
			t.Errorf("%v (%s): got %s, want %s", f, c[0], got, c[1])
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(jsjson.AppendNumber(nil, f)); got != "null" {
			t.Errorf("%v: got %s", f, got)
		}
	}
}

func TestDecodeUTF8MatchesTextDecoder(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.UTF8 {
		in, _ := hex.DecodeString(c[0])
		want, _ := hex.DecodeString(c[1])
		if got := jsjson.DecodeUTF8(in); got != string(want) {
			t.Errorf("%s: got %x, want %s", c[0], got, c[1])
		}
	}
}

func TestTxFileRejectsInvalidAnswers(t *testing.T) {
	for _, body := range []string{
		``, ` `, `{`, `{"owner":"AQAB",}`, `{"owner":"AQAB"}x`, `{"owner":01}`, `{"owner":"AQAB","a":1.}`, `{owner:"AQAB"}`,
		`{"owner":"\x"}`, "{\"owner\":\"\x01\"}", `{"owner":"AQAB","a":NaN}`, `'a'`, // not JSON
		`[{"owner":"AQAB"}]`, `"owner"`, `null`, `{}`, `{"x":{"owner":"AQAB"}}`, // no owner member
		`{"owner":5}`, `{"owner":null}`, `{"owner":["AQAB"]}`, // owner not a string
		`{"owner":"="}`, // the reference throws
	} {
		if got, err := txFileContent([]byte(body)); err == nil {
			t.Errorf("txFileContent(%q) = %s, want an error", body, got)
		}
	}
	deep := strings.Repeat(`{"a":`, jsjson.MaxDepth+5) + `{"owner":"AQAB"}` + strings.Repeat("}", jsjson.MaxDepth+5)
	if _, err := txFileContent([]byte(deep)); err == nil {
		t.Error("deep nesting: no error")
	}
}

func TestTxFileOwnerEscapes(t *testing.T) {
	// The owner is decoded like JSON.parse before the lenient base64 decoding: escapes count as the characters
	// they stand for, a lone surrogate as one (invalid) character.
	for _, c := range []struct{ escaped, plain string }{
		{`"\u0041\u0042\u0043\u0044"`, `"ABCD"`},
		{`"A\/B\u005f"`, `"A/B_"`},
		{`"\ud800xyz"`, `"\uFFFDxyz"`},
		{`"\ud83d\ude00xyz"`, `"😀xyz"`},
	} {
		a, err1 := txFileContent([]byte(`{"owner":` + c.escaped + `}`))
		b, err2 := txFileContent([]byte(`{"owner":` + c.plain + `}`))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v, %v", c.escaped, err1, err2)
		}
		addr := func(file []byte) string {
			v, _, _ := jsjson.Member(file, "ownerAddress")
			return string(v)
		}
		if addr(a) != addr(b) {
			t.Errorf("owner %s: address %s, but %s gives %s", c.escaped, addr(a), c.plain, addr(b))
		}
	}
}

func TestHasEdges(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"data":{"transactions":{"edges":[{"node":{}}]}}}`, true},
		{`{"data":{"transactions":{"edges":[]}}}`, false},
		{"\ufeff { \"data\" : { \"transactions\" : { \"edges\" : [ \n ] } } } ", false},
		{`{"data":{"transactions":{"edges":[0]}}}`, true},
		{`{"data":{"transactions":{"edges":[],"edges":[1]}}}`, true}, // the last duplicate counts
		{`{"data":{"transactions":{"edges":"x"}}}`, true},            // a string has a length too
		{`{"data":{"transactions":{"edges":""}}}`, false},
		{`{"data":{"transactions":{"edges":{"length":2}}}}`, true},
		{`{"data":{"transactions":{"edges":{"length":0}}}}`, false},
		{`{"data":{"transactions":{"edges":{"length":1e400}}}}`, true}, // Infinity
		{`{"data":{"transactions":{"edges":{"length":1e-400}}}}`, false},
		{`{"data":{"transactions":{"edges":{"length":"0"}}}}`, true},
		{`{"data":{"transactions":{"edges":{"size":1}}}}`, false},
		{`{"data":{"transactions":{"edges":5}}}`, false},
		{`{"data":{"transactions":{"edges":true}}}`, false},
		{`{"data":{"transactions":{"edges":null}}}`, false},
		{`{"data":{"transactions":null}}`, false},
		{`{"data":[{"transactions":{"edges":[1]}}]}`, false},
		{`{"data":null,"errors":[{"message":"bad"}]}`, false},
		{`{"errors":[{"message":"bad"}]}`, false},
		{`null`, false},
		{`[1]`, false},
		{`"data"`, false},
	} {
		got, err := hasEdges([]byte(c.body))
		if err != nil || got != c.want {
			t.Errorf("%s: got %v, %v; want %v", c.body, got, err, c.want)
		}
	}
	for _, body := range []string{``, `<html>`, `{"data":{"transactions":{"edges":[1,]}}}`, `{"data":1}{}`} {
		if _, err := hasEdges([]byte(body)); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}
