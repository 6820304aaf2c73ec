// Package localnettest holds helpers shared by the tests of the local network
// servers.
package localnettest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
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
