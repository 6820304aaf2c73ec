package httpretry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

func TestWithDefaults(t *testing.T) {
	p := Policy{}.WithDefaults()
	if p.Retries != DefaultRetries || p.Delay != DefaultDelay || p.Logger == nil {
		t.Errorf("defaults: %+v", p)
	}
	if p := (Policy{Retries: -1, Delay: time.Second}).WithDefaults(); p.Retries != 0 || p.Delay != time.Second {
		t.Errorf("Retries -1: %+v", p)
	}
}

func TestDo(t *testing.T) {
	var log bytes.Buffer
	p := Policy{Retries: 2, Delay: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil)), Name: "x", Key: "url"}
	fail := errors.New("down")
	var tries []int
	err := p.Do(t.Context(), "http://su", func(try int) (bool, error) {
		tries = append(tries, try)
		return true, fail
	})
	if err != fail || len(tries) != 3 {
		t.Errorf("Do = %v after tries %v, want the last error after 3", err, tries)
	}
	if got := log.String(); strings.Count(got, `msg="x: retrying" url=http://su`) != 2 {
		t.Errorf("log:\n%s", got)
	}
	tries = nil
	if err := p.Do(t.Context(), "c", func(try int) (bool, error) { tries = append(tries, try); return false, fail }); err != fail || len(tries) != 1 {
		t.Errorf("not retryable: %v after %d tries", err, len(tries))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err = Policy{Retries: 1, Delay: time.Hour}.Do(ctx, "c", func(int) (bool, error) { return true, fail })
	var ce *CtxError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "context deadline exceeded (last error: down)" {
		t.Errorf("deadline: %v", err)
	}
	if got := ao.StatusOf(Fail(err)); got != http.StatusGatewayTimeout {
		t.Errorf("Fail(deadline) status %d", got)
	}
	if got := ao.StatusOf(Fail(&CtxError{Cause: context.Canceled})); got != 500 {
		t.Errorf("Fail(canceled) status %d", got)
	}
	if got := ao.StatusOf(Fail(fail)); got != http.StatusBadGateway {
		t.Errorf("Fail(down) status %d", got)
	}
}

func TestRead(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(" slow down\n"))
		case "/gone":
			http.Error(w, strings.Repeat("x", 2*MaxErrorBody), http.StatusNotFound)
		default:
			w.Write([]byte("0123456789"))
		}
	}))
	defer hs.Close()
	get := func(path string, limit int64) ([]byte, bool, error) {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return Read(resp, limit)
	}
	if b, retry, err := get("/", 10); err != nil || retry || string(b) != "0123456789" {
		t.Errorf("Read = %q, %v, %v", b, retry, err)
	}
	var tl *TooLargeError
	if _, retry, err := get("/", 9); !errors.As(err, &tl) || retry || err.Error() != "response body exceeds 9 bytes" {
		t.Errorf("over the limit: %v, retry %v", err, retry)
	}
	var he *HTTPError
	if _, retry, err := get("/busy", 10); !errors.As(err, &he) || !retry || err.Error() != "429: slow down" {
		t.Errorf("429: %v, retry %v", err, retry)
	}
	if _, retry, err := get("/gone", 10); !errors.As(err, &he) || retry || len(he.Body) != MaxErrorBody {
		t.Errorf("404: retry %v, %d bytes of body", retry, len(he.Body))
	}
}
