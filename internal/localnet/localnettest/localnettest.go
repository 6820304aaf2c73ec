// Package localnettest holds helpers shared by the tests of the local network
// servers.
package localnettest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
)

// Do sends one HTTP request and returns the response with its whole body
// read; any transport error fails the test.
func Do(t testing.TB, method, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return DoRequest(t, req)
}

// DoRequest sends req and returns the response with its whole body read; any
// transport error fails the test.
func DoRequest(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Wallet loads the RSA test wallet of internal/arweave (testdata/wallet.json).
func Wallet(t testing.TB) *arweave.Wallet {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	w, err := arweave.LoadWalletFile(filepath.Join(filepath.Dir(file), "..", "..", "arweave", "testdata", "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// EDSigner is a fast deterministic ED25519 signer derived from seed.
func EDSigner(seed string) arweave.ED25519Signer {
	s := sha256.Sum256([]byte(seed))
	return arweave.ED25519Signer{Key: ed25519.NewKeyFromSeed(s[:])}
}

// Tags builds tags from name, value pairs.
func Tags(kv ...string) []arweave.Tag {
	out := make([]arweave.Tag, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, arweave.Tag{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// Signed makes a data item signed by s and returns it with its bytes.
func Signed(t testing.TB, s arweave.Signer, data, target, anchor string, tags []arweave.Tag) (*arweave.DataItem, []byte) {
	t.Helper()
	d, err := arweave.NewDataItem([]byte(data), target, anchor, tags)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sign(s); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}
