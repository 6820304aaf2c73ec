// Package gwclient reads from an Arweave gateway over HTTP: it implements
// ao.Gateway with the calls of the reference CU (permaweb/ao
// servers/cu/src/effects/arweave.js and ao-block.js) and the scheduler
// location of @permaweb/ao-scheduler-utils (without its hard-coded
// su-router probe).
//
// Every call retries network failures, 5xx and 429 answers with a doubling
// backoff (Options.Retries, Options.Delay; the reference's 5 × 500 ms), and
// never retries other 4xx answers. Errors carry a status for the CU's answer
// (ao.StatusOf): 404 for what the gateway says does not exist, 502 for every
// other failure of the gateway (504 when the context's deadline passed).
package gwclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/httpretry"
)

// Defaults of Options.
const (
	DefaultRetries = httpretry.DefaultRetries
	DefaultDelay   = httpretry.DefaultDelay
	// DefaultLocateCacheSize is 100,000 locations (~30 MB at most), not
	// ao-scheduler-utils' 100: a location is valid for its record's
	// Time-To-Live either way, and a CU serving more processes than its
	// cache holds would otherwise locate again (a GET of the SU, perhaps a
	// GraphQL query) for nearly every /result.
	DefaultLocateCacheSize = 100_000
	DefaultMaxRawSize      = 2 << 30
	DefaultTimeout         = 5 * time.Minute
	// BlocksPageSize is the reference's GetBlocks page size.
	BlocksPageSize = 90
)

const maxGraphQLBody = 16 << 20

// Options configures a Client.
type Options struct {
	// ArweaveURL is the gateway's base URL, for /raw/{id} (required).
	ArweaveURL string
	// GraphQLURL is the GraphQL endpoint of TransactionMeta and Locate
	// (ArweaveURL + "/graphql" if empty).
	GraphQLURL string
	// CheckpointGraphQLURL is the fallback endpoint of FindCheckpoints.
	CheckpointGraphQLURL string
	// UploaderURL receives Upload's items at /tx/arweave.
	UploaderURL string
	// GraphQLURLs are the endpoints of Blocks, tried in turn on retries
	// ([GraphQLURL] if empty).
	GraphQLURLs []string
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
	// LocateCacheSize bounds the scheduler locations cached by Locate
	// (DefaultLocateCacheSize if 0; a negative value disables the cache).
	LocateCacheSize int
	// MaxRawSize bounds the data Raw reads (DefaultMaxRawSize if 0).
	MaxRawSize int64
}

// Client is an ao.Gateway over HTTP. It is safe for concurrent use.
type Client struct {
	arweaveURL    string
	graphqlURL    string
	graphqlURLs   []string
	checkpointURL string
	uploaderURL   string
	http          *http.Client
	noRedirect    *http.Client
	retries       int
	delay         time.Duration
	log           *slog.Logger
	maxRaw        int64
	cache         *locations
}

var _ ao.Gateway = (*Client)(nil)

func checkURL(name, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("gwclient: %s %q is not an http(s) URL", name, s)
	}
	return nil
}

// New makes a Client.
func New(opts Options) (*Client, error) {
	c := &Client{
		arweaveURL:    strings.TrimRight(opts.ArweaveURL, "/"),
		graphqlURL:    opts.GraphQLURL,
		graphqlURLs:   append([]string(nil), opts.GraphQLURLs...),
		checkpointURL: opts.CheckpointGraphQLURL,
		uploaderURL:   strings.TrimRight(opts.UploaderURL, "/"),
		http:          opts.HTTPClient,
		maxRaw:        opts.MaxRawSize,
	}
	retry := httpretry.Policy{Retries: opts.Retries, Delay: opts.Delay, Logger: opts.Logger}.WithDefaults()
	c.retries, c.delay, c.log = retry.Retries, retry.Delay, retry.Logger
	if err := checkURL("ArweaveURL", c.arweaveURL); err != nil {
		return nil, err
	}
	if c.graphqlURL == "" {
		c.graphqlURL = c.arweaveURL + "/graphql"
	}
	if err := checkURL("GraphQLURL", c.graphqlURL); err != nil {
		return nil, err
	}
	if len(c.graphqlURLs) == 0 {
		c.graphqlURLs = []string{c.graphqlURL}
	}
	for _, u := range c.graphqlURLs {
		if err := checkURL("GraphQLURLs", u); err != nil {
			return nil, err
		}
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	nr := *c.http
	nr.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.noRedirect = &nr
	if c.maxRaw <= 0 {
		c.maxRaw = DefaultMaxRawSize
	}
	size := opts.LocateCacheSize
	if size == 0 {
		size = DefaultLocateCacheSize
	}
	if size > 0 {
		c.cache = newLRU(size)
	}
	return c, nil
}

// HTTPError is an answer of the gateway (or of an SU, for Locate) with a
// status other than 2xx. The errors of Client wrap it (errors.As) when the
// server answered.
type HTTPError = httpretry.HTTPError

// fetch makes one request and returns its 2xx body, read up to limit
// bytes; retry tells whether a failure may be retried.
func (c *Client) fetch(ctx context.Context, hc *http.Client, method, u string, body []byte, limit int64) (data []byte, retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	return httpretry.Read(resp, limit)
}

// withRetries calls f (try = 0, 1, ...) until it succeeds, fails for good
// or the retries run out, sleeping the backoff between tries.
func (c *Client) withRetries(ctx context.Context, what string, f func(try int) (retry bool, err error)) error {
	p := httpretry.Policy{Retries: c.retries, Delay: c.delay, Logger: c.log, Name: "gwclient"}
	return p.Do(ctx, what, f)
}

// fail prefixes err and gives it its status: 504 for a deadline, none
// (500) for a cancelled context, else 502.
func fail(err error, format string, args ...any) error {
	return httpretry.Fail(fmt.Errorf(format+": %w", append(args, err)...))
}

// Raw is GET {ArweaveURL}/raw/{id}: the data of a transaction.
func (c *Client) Raw(ctx context.Context, id string) ([]byte, error) {
	u := c.arweaveURL + "/raw/" + url.PathEscape(id)
	var data []byte
	err := c.withRetries(ctx, "raw "+id, func(int) (bool, error) {
		var (
			retry bool
			err   error
		)
		data, retry, err = c.fetch(ctx, c.http, http.MethodGet, u, nil, c.maxRaw)
		var he *HTTPError
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			return false, err
		}
		return retry, err
	})
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			return nil, ao.Errorf(http.StatusNotFound, "Transaction '%s' not found on gateway", id)
		}
		return nil, fail(err, "Error encountered when fetching transaction '%s' from arweave", id)
	}
	return data, nil
}

// gqlResponse is a GraphQL answer.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// errGraphQL is an answer with errors and no data.
type errGraphQL struct{ msgs []string }

func (e *errGraphQL) Error() string { return "GraphQL errors: " + strings.Join(e.msgs, "; ") }

// checker is the data of a query, which tells whether it has the queried
// field.
type checker interface{ check() error }

// query POSTs a GraphQL query, try i going to urls[i % len(urls)], and
// decodes its data into out.
func (c *Client) query(ctx context.Context, what string, urls []string, query string, vars map[string]any, out checker) error {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	return c.withRetries(ctx, what, func(try int) (bool, error) {
		u := urls[try%len(urls)]
		body, retry, err := c.fetch(ctx, c.http, http.MethodPost, u, payload, maxGraphQLBody)
		if err != nil {
			return retry, err
		}
		var r gqlResponse
		if err := json.Unmarshal(body, &r); err != nil {
			return false, fmt.Errorf("malformed JSON from %s: %w", u, err)
		}
		if len(r.Data) == 0 || string(r.Data) == "null" {
			if len(r.Errors) > 0 {
				ge := &errGraphQL{}
				for _, e := range r.Errors {
					ge.msgs = append(ge.msgs, e.Message)
				}
				return false, ge
			}
			return false, fmt.Errorf("no data in the answer of %s", u)
		}
		if err := json.Unmarshal(r.Data, out); err != nil {
			return false, fmt.Errorf("unexpected data from %s: %w", u, err)
		}
		return false, out.check()
	})
}

// getProcessesQuery is the reference's GetProcesses, verbatim
// (servers/cu/src/effects/arweave.js, loadTransactionMetaWith).
const getProcessesQuery = `
    query GetProcesses (
      $processIds: [ID!]!
      $skipTags: Boolean!
      $skipSignature: Boolean!
      $skipAnchor: Boolean!
    ) {
      transactions(ids: $processIds) {
        edges {
          node {
            id
            signature @skip (if: $skipSignature)
            anchor @skip (if: $skipAnchor)
            owner {
              address
              key
            }
            tags @skip (if: $skipTags) {
              name
              value
            }
            recipient
          }
        }
      }
    }`

// gqlTx is a transaction node.
type gqlTx struct {
	ID        string    `json:"id"`
	Signature *string   `json:"signature"`
	Anchor    *string   `json:"anchor"`
	Owner     *ao.Owner `json:"owner"`
	Tags      []ao.Tag  `json:"tags"`
	Recipient *string   `json:"recipient"`
}

type gqlTransactions struct {
	Transactions *struct {
		Edges []struct {
			Node *gqlTx `json:"node"`
		} `json:"edges"`
	} `json:"transactions"`
}

// errNoField is an answer without the queried field.
type errNoField struct{ field string }

func (e *errNoField) Error() string { return "unexpected data: no " + e.field + " in the answer" }

// check is the decoding check of c.query.
func (t *gqlTransactions) check() error {
	if t.Transactions == nil {
		return &errNoField{"transactions"}
	}
	return nil
}

func (t *gqlTransactions) first() *gqlTx {
	if len(t.Transactions.Edges) == 0 {
		return nil
	}
	return t.Transactions.Edges[0].Node
}

// TransactionMeta queries one transaction's metadata with GetProcesses;
// the skip flags leave out the tags, the signature and the anchor (nil).
func (c *Client) TransactionMeta(ctx context.Context, id string, skipTags, skipSignature, skipAnchor bool) (*ao.TxMeta, error) {
	var r gqlTransactions
	err := c.query(ctx, "transaction meta "+id, []string{c.graphqlURL}, getProcessesQuery, map[string]any{
		"processIds": []string{id}, "skipTags": skipTags, "skipSignature": skipSignature, "skipAnchor": skipAnchor,
	}, &r)
	if err != nil {
		return nil, fail(err, "Error Encountered when fetching transaction '%s' from gateway", id)
	}
	n := r.first()
	if n == nil {
		return nil, ao.Errorf(http.StatusNotFound, "Gateway returned no transaction for '%s'", id)
	}
	m := &ao.TxMeta{ID: n.ID, Signature: n.Signature, Anchor: n.Anchor, Tags: n.Tags}
	if n.Owner != nil {
		m.Owner = *n.Owner
	}
	if n.Recipient != nil {
		m.Recipient = *n.Recipient
	}
	return m, nil
}

// getBlocksQuery is the reference's GetBlocks, verbatim
// (servers/cu/src/effects/ao-block.js, loadBlocksMetaWith).
const getBlocksQuery = `
      query GetBlocks($min: Int!, $limit: Int!) {
        blocks(
          height: { min: $min },
          first: $limit,
          sort: HEIGHT_ASC
        ) {
          pageInfo {
            hasNextPage
          }
          edges {
            node {
              timestamp
              height
            }
          }
        }
      }
    `

type gqlBlocks struct {
	Blocks *struct {
		PageInfo struct {
			HasNextPage bool `json:"hasNextPage"`
		} `json:"pageInfo"`
		Edges []struct {
			Node struct {
				Timestamp int64 `json:"timestamp"`
				Height    int64 `json:"height"`
			} `json:"node"`
		} `json:"edges"`
	} `json:"blocks"`
}

// Blocks returns the blocks from minHeight on, ascending, up to (without)
// the first whose timestamp in seconds is past maxTimestamp/1000 (ms), as
// the reference's loadBlocksMeta: GetBlocks pages of BlocksPageSize over
// GraphQLURLs, the next page starting after the last height. Timestamps are
// in ms.
func (c *Client) Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]ao.Block, error) {
	maxSec := floorDiv(maxTimestamp, 1000)
	var out []ao.Block
	min := minHeight
	for {
		var r gqlBlocks
		err := c.query(ctx, fmt.Sprintf("blocks from %d", min), c.graphqlURLs, getBlocksQuery,
			map[string]any{"min": min, "limit": BlocksPageSize}, &r)
		if err != nil {
			return nil, fail(err, "Can not communicate with gateway to retrieve block metadata")
		}
		last := min - 1
		for _, e := range r.Blocks.Edges {
			if e.Node.Timestamp > maxSec {
				return out, nil
			}
			if e.Node.Height <= last {
				return nil, ao.Errorf(http.StatusBadGateway,
					"Can not communicate with gateway to retrieve block metadata: block %d after block %d: heights are not ascending from %d", e.Node.Height, last, min)
			}
			last = e.Node.Height
			out = append(out, ao.Block{Height: e.Node.Height, Timestamp: e.Node.Timestamp * 1000})
		}
		if !r.Blocks.PageInfo.HasNextPage || len(r.Blocks.Edges) == 0 {
			return out, nil
		}
		min = last + 1
	}
}

func (b *gqlBlocks) check() error {
	if b.Blocks == nil {
		return &errNoField{"blocks"}
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
