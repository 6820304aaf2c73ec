package loader

import "github.com/aocu/aocu/internal/jsjson"

// utf8ToString reads the NUL-terminated string at p and decodes it as the glue's
// UTF8ToString does (TextDecoder('utf-8')): every maximal invalid subpart
// becomes one U+FFFD, unlike Go's strings.ToValidUTF8.
func utf8ToString(d []byte, p uint64) string {
	if p >= uint64(len(d)) {
		return ""
	}
	end := p
	for end < uint64(len(d)) && d[end] != 0 {
		end++
	}
	return jsjson.DecodeUTF8(d[p:end])
}
