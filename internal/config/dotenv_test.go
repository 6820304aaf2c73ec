package config

import (
	"maps"
	"strings"
	"testing"
)

func TestParseDotenv(t *testing.T) {
	src := strings.Join([]string{
		"# comment",
		"   # indented comment",
		"PLAIN=value",
		"SPACED  =  spaced value  ",
		"export EXPORTED=yes",
		"export\tTABBED=tab",
		"EMPTY=",
		"EMPTY_QUOTED=\"\"",
		"INLINE=value # comment",
		"HASH=abc#def",
		`SINGLE='its' `,
		`SINGLE2='a "b" #c \n'`,
		`DOUBLE="line1\nline2 # not a comment" # a comment`,
		`ESCAPES="tab\there \"quoted\" back\\slash \x"`,
		"BACKTICK=`a 'b' \"c\"`",
		`JSON={"kty":"RSA","e":"AQAB"}`,
		`JSON_QUOTED='{"kty":"RSA","e":"AQAB"}'`,
		`MULTI="first`,
		`second"`,
		"DOTTED.KEY-1=x",
		"DUP=first",
		"DUP=second",
		"WINDOWS=crlf\r",
		"",
	}, "\n")
	got, err := parseDotenv(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PLAIN":        "value",
		"SPACED":       "spaced value",
		"EXPORTED":     "yes",
		"TABBED":       "tab",
		"EMPTY":        "",
		"EMPTY_QUOTED": "",
		"INLINE":       "value",
		"HASH":         "abc",
		"SINGLE":       "its",
		"SINGLE2":      `a "b" #c \n`,
		"DOUBLE":       "line1\nline2 # not a comment",
		"ESCAPES":      "tab\there \"quoted\" back\\slash \\x",
		"BACKTICK":     `a 'b' "c"`,
		"JSON":         `{"kty":"RSA","e":"AQAB"}`,
		"JSON_QUOTED":  `{"kty":"RSA","e":"AQAB"}`,
		"MULTI":        "first\nsecond",
		"DOTTED.KEY-1": "x",
		"DUP":          "second",
		"WINDOWS":      "crlf",
	}
	if !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: got %q, want %q", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected key %q", k)
			}
		}
	}
}

func TestParseDotenvErrors(t *testing.T) {
	cases := []struct {
		src, line, msg string
	}{
		{"A=1\nnot a line\n", "2:", "expected '=' after not"},
		{"A=1\n\n=value\n", "3:", "expected KEY=VALUE"},
		{"JUSTKEY\n", "1:", "expected '=' after JUSTKEY"},
		{"A=1\nB=\"open\nC=2\n", "2:", "unterminated"},
		{"A='x' y\n", "1:", "after the closing quote"},
		{"A='it''s'\n", "1:", "after the closing quote"},
		{"export\n", "1:", "expected '=' after export"},
		{"A=\"x\"\n\nB=\"multi\nline\"\nC\n", "5:", "expected '=' after C"},
	}
	for _, tc := range cases {
		_, err := parseDotenv(tc.src)
		if err == nil || !strings.HasPrefix(err.Error(), tc.line) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %v, want line %s and %q", tc.src, err, tc.line, tc.msg)
		}
	}
}
