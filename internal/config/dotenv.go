package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// readDotenv reads a .env file. A missing file is not an error (nil map).
func readDotenv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	vars, err := parseDotenv(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return vars, nil
}

// dotenvError names the line (1-based) where an entry starts.
type dotenvError struct {
	line int
	msg  string
}

func (e *dotenvError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

// parseDotenv follows the `dotenv` npm package the reference loads with
// `-r dotenv/config`, so that an operator's .env means the same here:
//
//   - KEY=VALUE, spaces around KEY, "=" and VALUE ignored; an optional
//     "export " prefix; keys are letters, digits, "_", "." and "-";
//   - "#" starts a comment, on its own line or after a value; an unquoted
//     value ends at the first "#" (as in dotenv);
//   - values may be quoted with ', " or `, and then span lines and hold "#";
//     in double quotes \n and \r become newline and carriage return (as in
//     dotenv) and, as an extension, \t, \" and \\ are unescaped too;
//   - a later line wins over an earlier one for the same key.
//
// Unlike dotenv, which skips what it cannot read, a malformed line is an
// error naming the line: a typo in a .env should not silently drop a setting.
func parseDotenv(src string) (map[string]string, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	vars := map[string]string{}
	line := 1
	i := 0
	skipBlanks := func() {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
	}
	skipToEOL := func() {
		for i < len(src) && src[i] != '\n' {
			i++
		}
	}
	for i < len(src) {
		skipBlanks()
		if i >= len(src) {
			break
		}
		if src[i] == '\n' {
			i++
			line++
			continue
		}
		if src[i] == '#' {
			skipToEOL()
			continue
		}
		start := line
		fail := func(format string, args ...any) error {
			return &dotenvError{line: start, msg: fmt.Sprintf(format, args...)}
		}
		if rest := src[i:]; strings.HasPrefix(rest, "export") && len(rest) > 6 && (rest[6] == ' ' || rest[6] == '\t') {
			i += 6
			skipBlanks()
		}
		k := i
		for i < len(src) && isKeyByte(src[i]) {
			i++
		}
		key := src[k:i]
		if key == "" {
			return nil, fail("expected KEY=VALUE")
		}
		skipBlanks()
		if i >= len(src) || src[i] != '=' {
			return nil, fail("expected '=' after %s", key)
		}
		i++
		skipBlanks()
		var value string
		if i < len(src) && (src[i] == '\'' || src[i] == '"' || src[i] == '`') {
			q := src[i]
			i++
			v := i
			for i < len(src) && src[i] != q {
				if src[i] == '\\' && i+1 < len(src) {
					if src[i+1] == '\n' {
						line++
					}
					i++
				} else if src[i] == '\n' {
					line++
				}
				i++
			}
			if i >= len(src) {
				return nil, fail("%s: unterminated %c-quoted value", key, q)
			}
			value = src[v:i]
			i++
			if q == '"' {
				value = unescapeDouble(value)
			}
			skipBlanks()
			if i < len(src) && src[i] != '\n' && src[i] != '#' {
				return nil, fail("%s: unexpected text after the closing quote", key)
			}
			skipToEOL()
		} else {
			v := i
			for i < len(src) && src[i] != '\n' && src[i] != '#' {
				i++
			}
			value = strings.TrimRight(src[v:i], " \t")
			skipToEOL()
		}
		vars[key] = value
	}
	return vars, nil
}

func isKeyByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-'
}

func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\':
				b.WriteByte(s[i+1])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i+1])
			}
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
