// Package suclient reads from ao Scheduler Units over HTTP: it implements
// ao.Scheduler with the calls and the response shapes of the reference CU
// (permaweb/ao servers/cu/src/effects/ao-su.js).
//
// Every call retries network failures, 5xx and 429 answers with a doubling
// backoff (Options.Retries, Options.Delay; the reference's 5 × 500 ms), and
// never retries other 4xx answers. Errors carry the reference's texts, e.g.
// "Error Encountered when loading message from Scheduler Unit: 400:
// {"error":"Message or Process not found"}", and a status for the CU's
// answer (ao.StatusOf): 404 when the SU says the process or message is
// unknown, 502 for every other failure of the SU (504 when the context's
// deadline passed). A page the SU says is not found is a 404 only when the
// SU does not know the process either (asked with GET /processes/{pid});
// for a process it holds, it is a 502 naming the SU and the process.
//
// Every answer may be as large as MaxBodySize (256 MiB by default): a
// single message holds as much data as a page of them can, and the SU
// accepts items of up to 10 MiB.
package suclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/httpretry"
)

// Defaults of Options.
const (
	DefaultRetries     = httpretry.DefaultRetries
	DefaultDelay       = httpretry.DefaultDelay
	DefaultMaxBodySize = 256 << 20 // any answer: a page, a process, a message, latest, timestamp
	DefaultTimeout     = 5 * time.Minute
)

// Options configures a Client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests (a client with DefaultTimeout if nil).
	HTTPClient *http.Client
	// Retries is the number of retries after the first attempt: 0 means
	// DefaultRetries, a negative value none.
	Retries int
	// Delay is the wait before the first retry, doubled before each next one
	// (DefaultDelay if 0).
	Delay time.Duration
	// Logger receives the retries (slog.Default() if nil).
	Logger *slog.Logger
	// MaxBodySize bounds every answer (DefaultMaxBodySize if 0): a page of
	// messages and a single message alike.
	MaxBodySize int64
}

// Client is an ao.Scheduler over HTTP. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	retry   httpretry.Policy
	maxBody int64
}

var _ ao.Scheduler = (*Client)(nil)

// New makes a Client.
func New(opts Options) *Client {
	c := &Client{http: opts.HTTPClient, maxBody: opts.MaxBodySize,
		retry: httpretry.Policy{Retries: opts.Retries, Delay: opts.Delay, Logger: opts.Logger, Name: "suclient", Key: "url"}.WithDefaults()}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodySize
	}
	return c
}

// Error prefixes of the reference (servers/cu/src/effects/ao-su.js).
const (
	prefixProcess   = "Error Encountered when loading process from Scheduler Unit"
	prefixTimestamp = "Error Encountered when loading timestamp for process from Scheduler Unit"
	prefixMessage   = "Error Encountered when loading message from Scheduler Unit"
	prefixLatest    = "Error Encountered when loading latest message from Scheduler Unit"
	prefixMessages  = "Encountered Error fetching scheduled messages from Scheduler Unit"
)

// HTTPError is an answer of the SU with a status other than 2xx. The
// errors of Client wrap it (errors.As) when the SU answered.
type HTTPError = httpretry.HTTPError

// notFound tells whether the SU's answer means an unknown process or
// message: a 404, or the Rust SU's 400 {"error": "... not found"}.
func notFound(e *HTTPError) bool {
	return e.Status == http.StatusNotFound ||
		e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Body), "not found")
}

// get fetches u and returns its 2xx body, retrying as the package comment
// says. Every error is prefixed with prefix and carries its status.
func (c *Client) get(ctx context.Context, prefix, u string, limit int64) ([]byte, error) {
	body, err := c.fetch(ctx, u, limit)
	if err != nil {
		return nil, failure(prefix, err)
	}
	return body, nil
}

// fetch is get without the prefix and the status of the final error.
func (c *Client) fetch(ctx context.Context, u string, limit int64) ([]byte, error) {
	var body []byte
	err := c.retry.Do(ctx, u, func(int) (retry bool, err error) {
		body, retry, err = c.try(ctx, u, limit)
		return retry, err
	})
	return body, err
}

// try makes one attempt; retry tells whether a failure may be retried.
func (c *Client) try(ctx context.Context, u string, limit int64) (body []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	return httpretry.Read(resp, limit)
}

// failure gives the final error of a call its status: 404 when the SU says
// the process or message is unknown, else httpretry.Fail's (504 for the
// context's deadline, 502 for a failure of the SU).
func failure(prefix string, err error) error {
	err = fmt.Errorf("%s: %w", prefix, err)
	var he *HTTPError
	if errors.As(err, &he) && notFound(he) {
		return ao.WithStatus(http.StatusNotFound, err)
	}
	return httpretry.Fail(err)
}

// decode unmarshals an SU answer; malformed JSON is a 502.
func decode(prefix, u string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return ao.WithStatus(http.StatusBadGateway, fmt.Errorf("%s: malformed JSON from %s: %w", prefix, u, err))
	}
	return nil
}

// malformed is a well-formed answer that lacks what the CU needs.
func malformed(prefix, u, format string, args ...any) error {
	return ao.WithStatus(http.StatusBadGateway, fmt.Errorf("%s: unexpected answer from %s: %s", prefix, u, fmt.Sprintf(format, args...)))
}

// Process is GET {su}/processes/{pid}.
func (c *Client) Process(ctx context.Context, suURL, processID string) (*ao.SUProcess, error) {
	u := suURL + "/processes/" + url.PathEscape(processID)
	body, err := c.get(ctx, prefixProcess, u, c.maxBody)
	if err != nil {
		return nil, err
	}
	var p struct {
		Block     jsInt           `json:"block"`
		Owner     ao.Owner        `json:"owner"`
		Tags      []ao.Tag        `json:"tags"`
		Timestamp jsInt           `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
		Anchor    *string         `json:"anchor"`
		Signature *string         `json:"signature"`
	}
	if err := decode(prefixProcess, u, body, &p); err != nil {
		return nil, err
	}
	if !p.Block.ok {
		return nil, malformed(prefixProcess, u, "block %s is not an integer", p.Block.text())
	}
	if !p.Timestamp.ok {
		return nil, malformed(prefixProcess, u, "timestamp %s is not an integer", p.Timestamp.text())
	}
	out := &ao.SUProcess{
		Process: ao.Process{
			ID:    processID,
			Owner: p.Owner,
			Tags:  p.Tags,
			Block: ao.Block{Height: p.Block.v, Timestamp: p.Timestamp.v},
		},
		Data: p.Data,
	}
	if p.Signature != nil {
		out.Signature = *p.Signature
	}
	if p.Anchor != nil {
		out.Anchor = *p.Anchor
	}
	return out, nil
}

// metaJSON is the answer of GET /{message} and GET /{pid}/latest: the
// edge-node shape {message, assignment}, or the legacy {process_id,
// timestamp, nonce}.
type metaJSON struct {
	Assignment *struct {
		Tags []ao.Tag `json:"tags"`
	} `json:"assignment"`
	ProcessID string `json:"process_id"`
	Timestamp jsInt  `json:"timestamp"`
	Nonce     jsInt  `json:"nonce"`
}

// meta reads a metaJSON answer as the reference's loadMessageMeta does.
func meta(prefix, u string, body []byte) (*ao.MessageMeta, error) {
	var raw map[string]json.RawMessage
	if err := decode(prefix, u, body, &raw); err != nil {
		return nil, err
	}
	var m metaJSON
	if err := decode(prefix, u, body, &m); err != nil {
		return nil, err
	}
	if _, ok := raw["assignment"]; !ok {
		// The legacy shape.
		if !m.Timestamp.ok || !m.Nonce.ok {
			return nil, malformed(prefix, u, "timestamp %s or nonce %s is not an integer", m.Timestamp.text(), m.Nonce.text())
		}
		return &ao.MessageMeta{ProcessID: m.ProcessID, Timestamp: m.Timestamp.v, Nonce: m.Nonce.v}, nil
	}
	var tags []ao.Tag
	if m.Assignment != nil {
		tags = m.Assignment.Tags
	}
	pid, _ := ao.TagValue(tags, "Process")
	tsText, _ := ao.TagValue(tags, "Timestamp")
	nonceText, _ := ao.TagValue(tags, "Nonce")
	ts, err := parseInt(tsText)
	if err != nil {
		return nil, malformed(prefix, u, "assignment Timestamp tag %q is not an integer", tsText)
	}
	nonce, err := parseInt(nonceText)
	if err != nil {
		return nil, malformed(prefix, u, "assignment Nonce tag %q is not an integer", nonceText)
	}
	return &ao.MessageMeta{ProcessID: pid, Timestamp: ts, Nonce: nonce}, nil
}

// Message is GET {su}/{messageID}?process-id={pid}: the process, timestamp
// and nonce the message was scheduled with. For the process itself
// (messageID == processID, AOP-6) it is GET {su}/processes/{pid}, nonce 0,
// as the reference's loadMessageMeta does: the SU would answer a page.
func (c *Client) Message(ctx context.Context, suURL, messageID, processID string) (*ao.MessageMeta, error) {
	if messageID == processID {
		p, err := c.Process(ctx, suURL, processID)
		if err != nil {
			return nil, err
		}
		return &ao.MessageMeta{ProcessID: processID, Timestamp: p.Block.Timestamp, Nonce: 0}, nil
	}
	u := suURL + "/" + url.PathEscape(messageID) + "?process-id=" + url.QueryEscape(processID)
	body, err := c.get(ctx, prefixMessage, u, c.maxBody)
	if err != nil {
		return nil, err
	}
	return meta(prefixMessage, u, body)
}

// Latest is GET {su}/{pid}/latest: the timestamp and nonce of the process's
// last scheduled message.
func (c *Client) Latest(ctx context.Context, suURL, processID string) (*ao.MessageMeta, error) {
	u := suURL + "/" + url.PathEscape(processID) + "/latest"
	body, err := c.get(ctx, prefixLatest, u, c.maxBody)
	if err != nil {
		return nil, err
	}
	return meta(prefixLatest, u, body)
}

// Timestamp is GET {su}/timestamp?process-id={pid}: the SU's clock (ms) and
// the current block height.
func (c *Client) Timestamp(ctx context.Context, suURL, processID string) (ts, height int64, err error) {
	u := suURL + "/timestamp?process-id=" + url.QueryEscape(processID)
	body, err := c.get(ctx, prefixTimestamp, u, c.maxBody)
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Timestamp   jsInt `json:"timestamp"`
		BlockHeight jsInt `json:"block_height"`
	}
	if err := decode(prefixTimestamp, u, body, &r); err != nil {
		return 0, 0, err
	}
	if !r.Timestamp.ok || !r.BlockHeight.ok {
		return 0, 0, malformed(prefixTimestamp, u, "timestamp %s or block_height %s is not an integer", r.Timestamp.text(), r.BlockHeight.text())
	}
	return r.Timestamp.v, r.BlockHeight.v, nil
}

// pageJSON is the SU's page of scheduled messages.
type pageJSON struct {
	PageInfo struct {
		HasNextPage bool `json:"has_next_page"`
	} `json:"page_info"`
	Edges []struct {
		Cursor json.RawMessage `json:"cursor"`
		Node   struct {
			Message *struct {
				ID        string          `json:"id"`
				Owner     ao.Owner        `json:"owner"`
				Tags      []ao.Tag        `json:"tags"`
				Signature json.RawMessage `json:"signature"`
				Data      json.RawMessage `json:"data"`
				Anchor    json.RawMessage `json:"anchor"`
				Target    json.RawMessage `json:"target"`
			} `json:"message"`
			Assignment *struct {
				ID    string   `json:"id"`
				Owner ao.Owner `json:"owner"`
				Tags  []ao.Tag `json:"tags"`
			} `json:"assignment"`
		} `json:"node"`
	} `json:"edges"`
}

// MessagesURL is the URL of a page of scheduled messages:
// {su}/{pid}?process-id=&from=&to=&limit=, in that order, without the empty
// parameters (limit <= 0 is empty).
func MessagesURL(suURL, processID, from, to string, limit int) string {
	var b strings.Builder
	b.WriteString(suURL)
	b.WriteByte('/')
	b.WriteString(url.PathEscape(processID))
	sep := byte('?')
	add := func(name, value string) {
		if value == "" {
			return
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(value))
	}
	add("process-id", processID)
	add("from", from)
	add("to", to)
	if limit > 0 {
		add("limit", strconv.Itoa(limit))
	}
	return b.String()
}

// Messages is GET {su}/{pid}?process-id&from&to&limit: one page of the
// process's scheduled messages, from (exclusive) and to (inclusive) being
// timestamps ("" to omit). The next page starts from the last edge's
// cursor.
func (c *Client) Messages(ctx context.Context, suURL, processID, from, to string, limit int) (*ao.SUPage, error) {
	u := MessagesURL(suURL, processID, from, to, limit)
	body, err := c.fetch(ctx, u, c.maxBody)
	if err != nil {
		return nil, c.pageFailure(ctx, suURL, processID, err)
	}
	var p pageJSON
	if err := decode(prefixMessages, u, body, &p); err != nil {
		return nil, err
	}
	out := &ao.SUPage{HasNextPage: p.PageInfo.HasNextPage, Edges: make([]ao.SUEdge, 0, len(p.Edges))}
	for i, e := range p.Edges {
		if e.Node.Assignment == nil {
			return nil, malformed(prefixMessages, u, "edge %d has no assignment", i)
		}
		cursor, ok := cursorText(e.Cursor)
		if !ok {
			return nil, malformed(prefixMessages, u, "edge %d: cursor %s is not a string", i, e.Cursor)
		}
		edge := ao.SUEdge{Cursor: cursor, Assignment: ao.SUAssignment{
			ID: e.Node.Assignment.ID, Owner: e.Node.Assignment.Owner, Tags: e.Node.Assignment.Tags,
		}}
		if m := e.Node.Message; m != nil {
			edge.Message = &ao.SUMessage{ID: m.ID, Owner: m.Owner, Tags: m.Tags,
				Signature: m.Signature, Data: m.Data, Anchor: m.Anchor, Target: m.Target}
		}
		out.Edges = append(out.Edges, edge)
	}
	return out, nil
}

// pageFailure is the final error of a page read. A not-found answer means
// an unknown process only if the SU does not know the process either; for a
// process it holds (the CU read it before asking for its pages), the SU
// failed: a 502 that names the SU and the process, never a 404 the CU's
// client would take for "no such process".
func (c *Client) pageFailure(ctx context.Context, suURL, processID string, err error) error {
	var he *HTTPError
	if !errors.As(err, &he) || !notFound(he) {
		return failure(prefixMessages, err)
	}
	_, perr := c.Process(ctx, suURL, processID)
	if perr != nil && ao.StatusOf(perr) == http.StatusNotFound {
		return failure(prefixMessages, err)
	}
	why := "which it holds"
	if perr != nil {
		why = "and reading the process failed: " + perr.Error()
	}
	return ao.WithStatus(http.StatusBadGateway, fmt.Errorf("%s: the Scheduler Unit %s answered not found for a page of process %s, %s: %w",
		prefixMessages, suURL, processID, why, err))
}

// cursorText reads a cursor: a string, or a number kept as its text.
func cursorText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true
	}
	return "", false
}
