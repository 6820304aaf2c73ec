package weavedrive

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
)

// openTx serves /tx/<id> (reference createTxHeader, index.js:136-164).
func (g *Gateway) openTx(ctx context.Context, id string) (File, error) {
	if !validID(id) {
		return nil, halt("/tx/%s: not a transaction id (want 43 base64url characters)", id)
	}
	key := "tx/" + id
	if v, ok := g.cache.get(key); ok {
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
	g.cache.put(key, content, int64(len(content)))
	return newMemFile(content), nil
}

// openBlock serves /block/<height> (reference createBlockHeader, index.js:114-135).
func (g *Gateway) openBlock(ctx context.Context, height string) (File, error) {
	if !validHeight(height) {
		return nil, halt("/block/%s: not a block height", height)
	}
	key := "block/" + height
	if v, ok := g.cache.get(key); ok {
		return newMemFile(v.([]byte)), nil
	}
	body, err := g.getDocument(ctx, "block/height/"+height)
	if err != nil {
		return nil, err
	}
	// res.text() then Buffer.from(result, 'utf-8').
	content := []byte(decodeUTF8(body))
	g.cache.put(key, content, int64(len(content)))
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
	v, err := parseJS(decodeUTF8(body))
	if err != nil {
		return nil, fmt.Errorf("gateway answer is not JSON: %w", err)
	}
	if v.kind != jsObject {
		return nil, fmt.Errorf("gateway answer is not a JSON object")
	}
	owner := v.obj.get("owner")
	if owner == nil || owner.kind != jsString {
		return nil, fmt.Errorf("gateway answer has no string \"owner\"")
	}
	addr, err := ownerAddress(owner.str)
	if err != nil {
		return nil, err
	}
	v.obj.set(jsStr("ownerAddress").str, jsStr(addr))
	return appendJS(nil, v), nil
}

// ownerAddress is the Arweave address of an owner (RSA modulus) given as a base64url JavaScript string.
func ownerAddress(owner []uint16) (string, error) {
	raw, err := jsB64URLToBytes(owner)
	if err != nil {
		return "", fmt.Errorf("owner: %w", err)
	}
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
