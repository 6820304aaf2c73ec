package weavedrive

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf16"

	"github.com/aocu/aocu/internal/jsjson"
)

// openTx serves /tx/<id> (reference createTxHeader, index.js:136-164).
func (g *Gateway) openTx(ctx context.Context, id string) (File, error) {
	if !validID(id) {
		return nil, halt("/tx/%s: not a transaction id (want 43 base64url characters)", id)
	}
	key := "tx/" + id
	if v, ok := g.cache.Get(key); ok {
		return newMemFile(v.([]byte)), nil
	}
	body, err := g.getDocument(ctx, "tx/"+id)
	if err != nil {
		return nil, err
	}
	content, err := txFileContent(body)
	if err != nil {
		return nil, fmt.Errorf("weavedrive: /tx/%s: %w", id, err)
	}
	put(g.cache, key, content, int64(len(content)))
	return newMemFile(content), nil
}

// openBlock serves /block/<height> (reference createBlockHeader, index.js:114-135).
func (g *Gateway) openBlock(ctx context.Context, height string) (File, error) {
	if !validHeight(height) {
		return nil, halt("/block/%s: not a block height", height)
	}
	key := "block/" + height
	if v, ok := g.cache.Get(key); ok {
		return newMemFile(v.([]byte)), nil
	}
	body, err := g.getDocument(ctx, "block/height/"+height)
	if err != nil {
		return nil, err
	}
	// res.text() then Buffer.from(result, 'utf-8').
	content := []byte(jsjson.DecodeUTF8(body))
	put(g.cache, key, content, int64(len(content)))
	return newMemFile(content), nil
}

// getDocument GETs a /tx or /block document, retrying like the reference on any failure (it retries whenever
// the answer is not ok). 202 (Arweave's "Pending" for a transaction not yet mined) is retried too, and a
// network error is retried where the reference's promise chain would simply reject.
func (g *Gateway) getDocument(ctx context.Context, path string) ([]byte, error) {
	r := httpReq{method: http.MethodGet, path: path}
	var body []byte
	err := g.retry(ctx, func(ctx context.Context) (bool, error) {
		resp, err := g.roundTrip(ctx, r)
		if err != nil {
			return ctx.Err() == nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return true, statusError(r, resp)
		}
		if resp.StatusCode == http.StatusAccepted {
			return true, fmt.Errorf("weavedrive: %s: HTTP %s (pending)", r, resp.Status)
		}
		b, err := readBody(r, resp, maxDocumentBytes)
		if err != nil {
			return ctx.Err() == nil, err
		}
		body = b
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return body, nil
}

// txFileContent builds the /tx file: JSON.stringify({ ...(await res.json()), ownerAddress }) with
// ownerAddress = Arweave.utils.bufferTob64Url(sha256(Arweave.utils.b64UrlToBuffer(entry.owner))).
func txFileContent(body []byte) ([]byte, error) {
	text := []byte(jsjson.DecodeUTF8(body))
	owner, ok, err := jsjson.Member(text, "owner")
	if err != nil {
		return nil, fmt.Errorf("gateway answer is not JSON: %w", err)
	}
	if !ok || owner[0] != '"' {
		return nil, fmt.Errorf("gateway answer is not a JSON object with a string \"owner\"")
	}
	s, err := jsjson.Unquote(owner)
	if err != nil {
		return nil, err
	}
	addr, err := ownerAddress(s)
	if err != nil {
		return nil, err
	}
	return jsjson.SetMember(text, "ownerAddress", jsjson.AppendString(nil, addr))
}

// ownerAddress is the Arweave address of an owner (RSA modulus) given as a base64url string.
func ownerAddress(owner string) (string, error) {
	// As a JavaScript string: UTF-16 code units. (Unquote turned lone surrogates into U+FFFD, which is one code
	// unit outside the base64 alphabet too, so the decoding is the same.)
	raw, err := jsB64URLToBytes(utf16.Encode([]rune(owner)))
	if err != nil {
		return "", fmt.Errorf("owner: %w", err)
	}
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// jsB64URLToBytes is Arweave.utils.b64UrlToBuffer (arweave-js lib/utils.js b64UrlDecode + base64-js
// toByteArray) on a JavaScript string: pad with '=' to a multiple of 4, stop at the first '=', and decode
// leniently (characters outside the alphabet count as 0; '-' and '_' are accepted like '+' and '/'). It fails
// only where the reference throws (a Uint8Array of negative length).
func jsB64URLToBytes(u []uint16) ([]byte, error) {
	n := len(u)
	total := n + (4-n%4)%4
	validLen := n
	for i, c := range u {
		if c == '=' {
			validLen = i
			break
		}
	}
	ph := 0
	if validLen != total {
		ph = 4 - validLen%4
	}
	size := (validLen+ph)*3/4 - ph
	if size < 0 {
		return nil, errors.New("base64: invalid length")
	}
	out := make([]byte, size)
	at := func(i int) uint32 {
		if i >= n { // the '=' padding and reads past the end are undefined in the reference: 0
			return 0
		}
		v := b64Value(u[i])
		if v < 0 {
			return 0
		}
		return uint32(v)
	}
	pos := 0
	put := func(b uint32) { // typed-array writes past the end are dropped
		if pos < len(out) {
			out[pos] = byte(b)
		}
		pos++
	}
	limit := validLen
	if ph > 0 {
		limit = validLen - 4
	}
	i := 0
	for ; i < limit; i += 4 {
		t := at(i)<<18 | at(i+1)<<12 | at(i+2)<<6 | at(i+3)
		put(t >> 16 & 255)
		put(t >> 8 & 255)
		put(t & 255)
	}
	switch ph {
	case 2:
		put((at(i)<<2 | at(i+1)>>4) & 255)
	case 1:
		t := at(i)<<10 | at(i+1)<<4 | at(i+2)>>2
		put(t >> 8 & 255)
		put(t & 255)
	}
	return out, nil
}

// b64Value is base64-js's revLookup: both the standard and the URL alphabets; -1 for anything else.
func b64Value(c uint16) int {
	switch c {
	case '+':
		return 62
	case '/':
		return 63
	}
	if c > 0x7F {
		return -1
	}
	return b64urlValue(byte(c))
}
