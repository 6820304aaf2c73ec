package weavedrive

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"testing"
	"unicode/utf16"
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
		got, err := ownerAddress(utf16.Encode([]rune(owner)))
		if err != nil {
			got = "THROW " + err.Error()
		}
		if got != want {
			t.Errorf("owner %q: got %s, want %s", owner, got, want)
		}
	}
	if _, err := ownerAddress(utf16.Encode([]rune("="))); err == nil {
		t.Error(`owner "=": want an error (the reference throws: Uint8Array of length -1)`)
	}
}

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
		if got := string(appendJSNumber(nil, f)); got != c[1] {
			t.Errorf("%v (%s): got %s, want %s", f, c[0], got, c[1])
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(appendJSNumber(nil, f)); got != "null" {
			t.Errorf("%v: got %s", f, got)
		}
	}
}

func TestDecodeUTF8MatchesTextDecoder(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.UTF8 {
		in, _ := hex.DecodeString(c[0])
		want, _ := hex.DecodeString(c[1])
		if got := decodeUTF8(in); got != string(want) {
			t.Errorf("%s: got %x, want %s", c[0], got, c[1])
		}
	}
}

func TestParseJSRejectsInvalidJSON(t *testing.T) {
	for _, s := range []string{
		``, ` `, `{`, `{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `+1`, `-`, `1e`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`,
		`"\u+123"`, `tru`, `nul`, `{"a" 1}`, `{a:1}`, `[1 2]`, `1 2`, `NaN`, `'a'`,
	} {
		if _, err := parseJS(s); err == nil {
			t.Errorf("parseJS(%q): no error", s)
		}
	}
	deep := make([]byte, 0, 2*maxJSONDepth+10)
	for i := 0; i < maxJSONDepth+5; i++ {
		deep = append(deep, '[')
	}
	if _, err := parseJS(string(deep)); err == nil {
		t.Error("deep nesting: no error")
	}
}

func TestJSGetTruthy(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"data":{"transactions":{"edges":[{"node":{}}]}}}`, true},
		{`{"data":{"transactions":{"edges":[]}}}`, false},
		{`{"data":{"transactions":{"edges":"x"}}}`, true}, // a string has a length too
		{`{"data":{"transactions":{"edges":{"length":2}}}}`, true},
		{`{"data":{"transactions":{"edges":{"length":0}}}}`, false},
		{`{"data":null,"errors":[{"message":"bad"}]}`, false},
		{`{"errors":[{"message":"bad"}]}`, false},
		{`null`, false},
		{`[1]`, false},
		{`"data"`, false},
	} {
		v, err := parseJS(c.body)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsTruthy(jsGet(jsGet(jsGet(jsGet(v, "data"), "transactions"), "edges"), "length")); got != c.want {
			t.Errorf("%s: got %v, want %v", c.body, got, c.want)
		}
	}
}
