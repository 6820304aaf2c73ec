// Package weavedrive serves the WeaveDrive virtual files (/data/<id>, /tx/<id>, /block/<height>) that ao
// process modules open through their patched libc fopen.
//
// The behaviour follows the reference extension: npm @permaweb/weavedrive 0.0.18 (what the reference CU runs)
// and its source, permaweb/aos extensions/weavedrive/src/index.js at d6964cb, which adds Accept-Encoding:
// identity and the /raw fallback to the size probe (unreleased: npm 0.0.18 only sends a plain HEAD /<id>).
// "index.js:N" in this package means line N of that source file. Where a reference bug is not observable by
// the process (such as the malformed Range header that JavaScript string concatenation produces), the
// documented meaning is implemented instead. See Gateway for the details and the deviations.
package weavedrive

import (
	"context"
	"errors"
	"strings"

	"github.com/aocu/aocu/internal/arweave"
)

// ErrHalt marks a fatal drive error: the file is missing or not admissible. The loader turns it into a
// distinct fatal "HALT" error for the whole message (the reference CU halts the process).
var ErrHalt = errors.New("HALT: FILE NOT FOUND")

// Request is what the loader knows when the module opens a path.
type Request struct {
	Path        string // the C path string, e.g. "/data/<43-char id>"
	BlockHeight int64  // msg["Block-Height"] of the message being evaluated (0 if absent)
	ProcessID   string
	ProcessTags []Tag // env.Process.Tags
	ModuleTags  []Tag // env.Module.Tags
}

// Tag is one name/value tag of an ao process or module.
type Tag = arweave.Tag

// File is an open drive file. Reads are synchronous.
//
// ReadAt has io.ReaderAt semantics (a short read returns a non-nil error, io.EOF at the end of the file, and
// never more than Size bytes in total). Files returned by Gateway also implement ContextReaderAt; a loader should
// prefer it (see ReadAt in this package) so that every read is bound to the context of the message being
// evaluated rather than to the one that was current when the file was opened.
type File interface {
	Size() int64
	ReadAt(p []byte, off int64) (int, error) // io.ReaderAt semantics
	Close() error
}

// ContextReaderAt is implemented by Files whose reads may block on the network: ReadAtContext is ReadAt with an
// explicit context for the HTTP requests and retry sleeps it may make.
type ContextReaderAt interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// ReadAt reads from f at off, passing ctx on when f implements ContextReaderAt and falling back to f.ReadAt
// (which uses the context given to Open) otherwise.
func ReadAt(ctx context.Context, f File, p []byte, off int64) (int, error) {
	if cr, ok := f.(ContextReaderAt); ok {
		return cr.ReadAtContext(ctx, p, off)
	}
	return f.ReadAt(p, off)
}

// Drive opens drive paths. It returns (nil, nil) for a path that is not a drive path (the module's fopen gets NULL,
// e.g. Lua's package searchers probing /usr/local/share/lua/5.3/x.lua), an error wrapping ErrHalt for a missing or
// inadmissible /data id, and other errors for transport failures after retries (also fatal for the message).
type Drive interface {
	Open(ctx context.Context, req Request) (File, error)
}

// Path categories, the second element of the path split at "/" (reference: open(), index.js:165-208).
const (
	categoryData    = "data"
	categoryTx      = "tx"
	categoryBlock   = "block"
	categoryHeaders = "headers"
)

// splitPath splits a drive path the way the reference does: filename.split('/')[1] is the category and
// filename.split('/')[2] the id; anything after the id is ignored. ok is false when the path has no second
// element (it then names no category).
func splitPath(p string) (category, id string, ok bool) {
	parts := strings.SplitN(p, "/", 4)
	if len(parts) < 2 {
		return "", "", false
	}
	category = parts[1]
	if len(parts) > 2 {
		id = parts[2]
	}
	return category, id, true
}

// validID reports whether id looks like an Arweave id: exactly 43 characters of the base64url alphabet. (The
// canonical-encoding bits of the last character are not checked, so nothing a gateway might serve is refused.)
func validID(id string) bool {
	if len(id) != 43 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b64urlValue(id[i]) < 0 {
			return false
		}
	}
	return true
}

// validHeight reports whether h is a block height as a plain decimal number (no sign, no leading zeros).
func validHeight(h string) bool {
	if h == "" || len(h) > 18 || (len(h) > 1 && h[0] == '0') {
		return false
	}
	for i := 0; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	return true
}

// b64urlValue is the 6-bit value of a base64url character, or -1.
func b64urlValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// tagValues returns the values of every tag named key, in order (reference getTagValues, index.js:488-496).
func tagValues(key string, tags []Tag) []string {
	var out []string
	for _, t := range tags {
		if t.Name == key {
			out = append(out, t.Value)
		}
	}
	return out
}

// tagValue returns the value of the last tag named key, or "" (reference getTagValue = getTagValues(...).pop(),
// index.js:498-501; the reference treats a missing tag and an empty value alike wherever it uses the result).
func tagValue(key string, tags []Tag) string {
	v := tagValues(key, tags)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}
