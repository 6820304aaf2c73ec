package loader

import (
	"strings"
	"unicode/utf8"
)

// utf8ToString reads the NUL-terminated string at p and decodes it as the glue's
// UTF8ToString does (TextDecoder('utf-8')): every maximal invalid subpart becomes
// one U+FFFD (WHATWG Encoding §4.1), unlike Go's strings.ToValidUTF8.
func utf8ToString(d []byte, p uint64) string {
	if p >= uint64(len(d)) {
		return ""
	}
	end := p
	for end < uint64(len(d)) && d[end] != 0 {
		end++
	}
	return decodeWHATWG(d[p:end])
}

func decodeWHATWG(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 16)
	i := 0
	for i < len(b) {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		need, lower, upper := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lower = 0xA0
			} else if c == 0xED {
				upper = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lower = 0x90
			} else if c == 0xF4 {
				upper = 0x8F
			}
		default:
			sb.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) || b[j] < lower || b[j] > upper {
				ok = false
				break
			}
			lower, upper = 0x80, 0xBF
			j++
		}
		if !ok {
			// The bytes consumed so far form one maximal subpart.
			sb.WriteRune(utf8.RuneError)
			i = j
			continue
		}
		sb.Write(b[i:j])
		i = j
	}
	return sb.String()
}
