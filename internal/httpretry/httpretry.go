// Package httpretry is how the CU's HTTP clients of ao's servers (suclient,
// gwclient) call them: retries of network failures, 5xx and 429 answers
// with a doubling backoff (the reference's 5 × 500 ms by default), never of
// other 4xx answers, and the errors of a call: the server's answer
// (HTTPError), a body over its limit (TooLargeError), the end of the call's
// context (CtxError), and the status each gives the CU's answer (Fail).
package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// Defaults of Policy (WithDefaults), the reference's.
const (
	DefaultRetries = 5
	DefaultDelay   = 500 * time.Millisecond
)

// MaxErrorBody bounds how much of a failed answer's body is read and quoted
// in its HTTPError.
const MaxErrorBody = 4 << 10

// Policy is how a client retries its calls.
type Policy struct {
	// Retries is the number of retries after the first attempt.
	Retries int
	// Delay is the wait before the first retry, doubled before each next
	// one.
	Delay time.Duration
	// Logger receives the retries (slog.Default() if nil).
	Logger *slog.Logger
	// Name prefixes the log message of a retry: "<Name>: retrying".
	Name string
	// Key is the log attribute that holds Do's what ("call" if empty).
	Key string
}

// WithDefaults is p as a client's options mean it: Retries 0 is
// DefaultRetries and a negative number none, a Delay <= 0 is DefaultDelay,
// a nil Logger is slog.Default().
func (p Policy) WithDefaults() Policy {
	switch {
	case p.Retries == 0:
		p.Retries = DefaultRetries
	case p.Retries < 0:
		p.Retries = 0
	}
	if p.Delay <= 0 {
		p.Delay = DefaultDelay
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	return p
}

// Do calls f (try = 0, 1, ...) until it succeeds, fails for good (retry
// false) or the retries run out, sleeping the backoff between tries, and
// returns f's last error. When ctx ends, it returns a *CtxError with f's
// last error. what names the call in the log.
func (p Policy) Do(ctx context.Context, what string, f func(try int) (retry bool, err error)) error {
	log, key := p.Logger, p.Key
	if log == nil {
		log = slog.Default()
	}
	if key == "" {
		key = "call"
	}
	delay := p.Delay
	for try := 0; ; try++ {
		retry, err := f(try)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &CtxError{Cause: ctx.Err(), Last: err}
		}
		if !retry || try >= p.Retries {
			return err
		}
		log.Warn(p.Name+": retrying", key, what, "retry", try+1, "of", p.Retries, "delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return &CtxError{Cause: ctx.Err(), Last: err}
		case <-t.C:
		}
		delay *= 2
	}
}

// HTTPError is an answer with a status other than 2xx.
type HTTPError struct {
	Status int
	Body   string // at most MaxErrorBody bytes of the body, white space trimmed
}

func (e *HTTPError) Error() string { return strconv.Itoa(e.Status) + ": " + e.Body }

// Retryable tells whether an answer with the status may be retried: a 5xx
// or a 429.
func Retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// Check returns nil for a 2xx answer, else an *HTTPError with the start of
// its body, and whether to retry.
func Check(resp *http.Response) (retry bool, err error) {
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	return Retryable(resp.StatusCode), &HTTPError{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
}

// TooLargeError is a body larger than allowed.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("response body exceeds %d bytes", e.Limit)
}

// Read returns the body of a 2xx answer, of at most limit bytes, or the
// error of the answer (Check) and whether to retry: a failure to read the
// body is retried, a body over the limit (*TooLargeError) is not. The
// caller closes the body.
func Read(resp *http.Response, limit int64) (body []byte, retry bool, err error) {
	if retry, err := Check(resp); err != nil {
		return nil, retry, err
	}
	if resp.ContentLength > limit {
		return nil, false, &TooLargeError{limit}
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, true, err
	}
	if int64(len(body)) > limit {
		return nil, false, &TooLargeError{limit}
	}
	return body, false, nil
}

// CtxError is the end of a call's context (Cause, which it unwraps to), with
// the failure seen before (Last, if any).
type CtxError struct {
	Cause, Last error
}

func (e *CtxError) Error() string {
	if e.Last != nil && !errors.Is(e.Last, e.Cause) {
		return e.Cause.Error() + " (last error: " + e.Last.Error() + ")"
	}
	return e.Cause.Error()
}

func (e *CtxError) Unwrap() error { return e.Cause }

// Fail gives the final error of a call its status for the CU's answer: 504
// when the call's context's deadline passed, none (500) when it was
// cancelled, else 502 (the server failed).
func Fail(err error) error {
	var ce *CtxError
	switch {
	case errors.As(err, &ce) && errors.Is(ce.Cause, context.DeadlineExceeded):
		return ao.WithStatus(http.StatusGatewayTimeout, err)
	case errors.As(err, &ce):
		return err
	}
	return ao.WithStatus(http.StatusBadGateway, err)
}

// Transport is http.DefaultTransport's settings with room for as many idle
// connections per upstream as requests a busy unit has in flight at once
// (the default keeps 2 per host: beyond them every request opened, and the
// upstream accepted, a new TCP connection). Its owner closes its idle
// connections when done.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	return t
}
