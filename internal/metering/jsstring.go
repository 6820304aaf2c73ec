package metering

import "unicode/utf8"

// jsString emulates Buffer.from(bytes).toString() (WHATWG UTF-8 decoding: every maximal invalid subpart
// becomes one U+FFFD, a BOM is kept) followed by what the toolkit's encoder does with the string: it writes
// the UTF-8 re-encoding and, for import names and custom section names, uses the JS string length (UTF-16
// code units) as the length prefix.
func jsString(b []byte) (utf8Bytes []byte, utf16Len int) {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return b, len(b)
	}
	out := make([]byte, 0, len(b)+8)
	emit := func(r rune) {
		out = utf8.AppendRune(out, r)
		if r >= 0x10000 {
			utf16Len += 2
		} else {
			utf16Len++
		}
	}
	var cp rune
	needed, seen := 0, 0
	lower, upper := 0x80, 0xbf
	for i := 0; i < len(b); {
		c := int(b[i])
		if needed == 0 {
			i++
			switch {
			case c <= 0x7f:
				emit(rune(c))
			case c >= 0xc2 && c <= 0xdf:
				needed, cp = 1, rune(c&0x1f)
			case c >= 0xe0 && c <= 0xef:
				if c == 0xe0 {
					lower = 0xa0
				} else if c == 0xed {
					upper = 0x9f
				}
				needed, cp = 2, rune(c&0x0f)
			case c >= 0xf0 && c <= 0xf4:
				if c == 0xf0 {
					lower = 0x90
				} else if c == 0xf4 {
					upper = 0x8f
				}
				needed, cp = 3, rune(c&0x07)
			default:
				emit(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			// the sequence so far is an invalid subpart; c is processed again as a new start
			cp, needed, seen = 0, 0, 0
			lower, upper = 0x80, 0xbf
			emit(utf8.RuneError)
			continue
		}
		i++
		lower, upper = 0x80, 0xbf
		cp = cp<<6 | rune(c&0x3f)
		seen++
		if seen == needed {
			emit(cp)
			cp, needed, seen = 0, 0, 0
		}
	}
	if needed != 0 {
		emit(utf8.RuneError)
	}
	return out, utf16Len
}
