package mu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/arweave"
)

const (
	maxResultBody = 256 << 20 // a CU result or cron page: as much as the CU reads from an SU (suclient)
	maxErrorBody  = 4 << 10
)

// httpError is a non-2xx answer of a unit.
type httpError struct {
	Op     string
	Status int
	Body   string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.Op, e.Status, e.Body)
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// isPermanent reports whether err cannot be fixed by a retry: a
// permanentError, or a 4xx answer other than 404, 408, 425 and 429.
func isPermanent(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	var he *httpError
	if errors.As(err, &he) && he.Status >= 400 && he.Status < 500 {
		switch he.Status {
		case http.StatusNotFound, http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
			return false
		}
		return true
	}
	return false
}

// The Rust SU's answers to an item or assignment it already holds.
const (
	suMessageExists  = `MessageExists("Message already exists")`
	suDeepHashExists = `MessageExists("Deep hash already exists")`
)

var (
	// errDuplicate: the SU holds this very item already (a retried post).
	errDuplicate = errors.New("the SU already holds this item")
	// errDuplicateContent: the SU holds another item with the same
	// content (deep hash) as this one.
	errDuplicateContent = errors.New("the SU already holds a message with this content")
)

// suDuplicate maps the SU's duplicate answers to errDuplicate and
// errDuplicateContent.
func suDuplicate(err error) error {
	var he *httpError
	if errors.As(err, &he) && he.Status == http.StatusBadRequest {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(he.Body), &e)
		switch e.Error {
		case suMessageExists:
			return fmt.Errorf("%w: %w", errDuplicate, err)
		case suDeepHashExists:
			return fmt.Errorf("%w: %w", errDuplicateContent, err)
		}
	}
	return err
}

// do sends one request and returns the 2xx body (read up to limit bytes).
func (s *Server) do(ctx context.Context, op, method, u, contentType string, body []byte, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, permanent(fmt.Errorf("%s: %w", op, err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := s.http.Do(req)
	status := "error"
	defer func() {
		s.metrics.outgoing.WithLabelValues(op, status).Observe(time.Since(start).Seconds())
	}()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, u, err)
	}
	defer resp.Body.Close()
	status = strconv.Itoa(resp.StatusCode)
	// A GET answered 202 (a busy CU) has no answer yet: retried later.
	if resp.StatusCode/100 != 2 || (method == http.MethodGet && resp.StatusCode == http.StatusAccepted) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &httpError{Op: op + " " + u, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", op, u, err)
	}
	if int64(len(data)) > limit {
		return nil, permanent(fmt.Errorf("%s %s: answer larger than %d bytes", op, u, limit))
	}
	return data, nil
}

// suPost posts a signed item to an SU (POST / follows 307 and 308 with the
// body, as the reference MU does by hand) and returns the id it answered.
func (s *Server) suPost(ctx context.Context, suURL string, item []byte) (string, error) {
	b, err := s.do(ctx, "su_write", http.MethodPost, suURL+"/", "application/octet-stream", item, 1<<20)
	if err != nil {
		return "", suDuplicate(err)
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("su_write %s: answer %q: %w", suURL, truncate(b), err)
	}
	return r.ID, nil
}

// suAssign posts an assignment of an existing message to an SU and returns
// the assignment id.
func (s *Server) suAssign(ctx context.Context, suURL, pid, msg string, exclude []string, baseLayer bool) (string, error) {
	q := "process-id=" + url.QueryEscape(pid) + "&assign=" + url.QueryEscape(msg)
	if baseLayer {
		q += "&base-layer"
	}
	if len(exclude) > 0 {
		q += "&exclude=" + url.QueryEscape(strings.Join(exclude, ","))
	}
	b, err := s.do(ctx, "su_assign", http.MethodPost, suURL+"/?"+q, "", nil, 1<<20)
	if err != nil {
		return "", suDuplicate(err)
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("su_assign %s: answer %q: %w", suURL, truncate(b), err)
	}
	return r.ID, nil
}

// suProcess reads a process's tags from its SU (GET /processes/{id}).
func (s *Server) suProcess(ctx context.Context, suURL, pid string) ([]arweave.Tag, error) {
	b, err := s.do(ctx, "su_process", http.MethodGet, suURL+"/processes/"+url.PathEscape(pid), "", nil, maxResultBody)
	if err != nil {
		return nil, err
	}
	var p struct {
		Tags []arweave.Tag `json:"tags"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("su_process %s: answer: %w", pid, err)
	}
	return p.Tags, nil
}

// gatewayUpload posts an item for a wallet to the gateway's bundler (the
// reference MU uploads those to Arweave).
func (s *Server) gatewayUpload(ctx context.Context, item []byte) error {
	_, err := s.do(ctx, "upload", http.MethodPost, s.cfg.GatewayURL+"/tx", "application/octet-stream", item, 1<<20)
	return err
}

// cuResult is GET {CU}/result/{id}?process-id={pid}&no-busy=1.
func (s *Server) fetchResult(ctx context.Context, pid, id string) (*cuResult, error) {
	u := s.cfg.CUURL + "/result/" + url.PathEscape(id) + "?process-id=" + url.QueryEscape(pid) + "&no-busy=1"
	b, err := s.do(ctx, "result", http.MethodGet, u, "", nil, maxResultBody)
	if err != nil {
		return nil, err
	}
	var r cuResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("result %s: answer %q: %w", id, truncate(b), err)
	}
	return &r, nil
}

// cronPage is a page of GET {CU}/cron/{pid}.
type cronPage struct {
	PageInfo struct {
		HasNextPage bool `json:"hasNextPage"`
	} `json:"pageInfo"`
	Edges []struct {
		Cursor string   `json:"cursor"`
		Node   cuResult `json:"node"`
	} `json:"edges"`
}

// fetchCron is GET {CU}/cron/{pid}?from={cursor}&limit=50, or without a
// query before the first cursor (the reference MU's fetchCron).
func (s *Server) fetchCron(ctx context.Context, pid, cursor string) (*cronPage, error) {
	u := s.cfg.CUURL + "/cron/" + url.PathEscape(pid)
	if cursor != "" {
		u += "?from=" + url.QueryEscape(cursor) + "&limit=50"
	}
	b, err := s.do(ctx, "cron", http.MethodGet, u, "", nil, maxResultBody)
	if err != nil {
		return nil, err
	}
	var p cronPage
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("cron %s: answer %q: %w", pid, truncate(b), err)
	}
	return &p, nil
}

// latestCursor is the cursor of a process's latest evaluation, where the
// reference MU starts monitoring ("" if none).
func (s *Server) latestCursor(ctx context.Context, pid string) (string, error) {
	u := s.cfg.CUURL + "/results/" + url.PathEscape(pid) + "?sort=DESC&limit=1"
	b, err := s.do(ctx, "results", http.MethodGet, u, "", nil, maxResultBody)
	if err != nil {
		return "", err
	}
	var p cronPage
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("results %s: answer %q: %w", pid, truncate(b), err)
	}
	if len(p.Edges) == 0 {
		return "", nil
	}
	return p.Edges[0].Cursor, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
