package arweave

import (
	"encoding/base64"
	"strings"
)

// B64Encode encodes b as base64url without padding, the encoding Arweave uses
// for ids, addresses, owners and signatures.
func B64Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// B64Decode decodes base64url, with or without '=' padding.
func B64Decode(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
