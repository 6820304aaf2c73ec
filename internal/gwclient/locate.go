package gwclient

import (
	"context"
	"fmt"
	"github.com/aocu/aocu/internal/lru"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// getTransactionsQuery is ao-scheduler-utils' GetTransactions, verbatim
// (scheduler-utils/src/client/gateway.js, loadProcessSchedulerWith).
const getTransactionsQuery = `
    query GetTransactions ($transactionIds: [ID!]!) {
      transactions(
        ids: $transactionIds
        tags: [
          { name: "Data-Protocol", values: ["ao"] }
        ]
      ) {
        edges {
          node {
            tags {
              name
              value
            }
          }
        }
      }
    }
  `

// getSchedulerLocationQuery is ao-scheduler-utils' GetSchedulerLocation,
// verbatim (scheduler-utils/src/client/gateway.js, loadSchedulerWith).
const getSchedulerLocationQuery = `
    query GetSchedulerLocation ($owner: String!) {
      transactions (
        owners: [$owner]
        tags: [
          { name: "Data-Protocol", values: ["ao"] },
          { name: "Type", values: ["Scheduler-Location"] }
        ]
        # Only need the most recent Scheduler-Location
        sort: HEIGHT_DESC
        first: 1
      ) {
        edges {
          node {
            tags {
              name
              value
            }
          }
        }
      }
    }
  `

// location is a scheduler's location: its URL, its wallet address and the
// Time-To-Live (ms) of its Scheduler-Location record.
type location struct {
	url     string
	address string
	ttl     time.Duration
}

// findTag is scheduler-utils' findTagValue: the first tag whose name
// matches case-insensitively.
func findTag(tags []ao.Tag, name string) string {
	for _, t := range tags {
		if strings.EqualFold(t.Name, name) {
			return t.Value
		}
	}
	return ""
}

// trimSlash trims white space and trailing slashes, as scheduler-utils.
func trimSlash(s string) string {
	return strings.TrimRight(strings.TrimSpace(s), "/")
}

// Locate returns the URL of the Scheduler Unit of a process, as
// ao-scheduler-utils' locate does (followRedirects on, no su-router probe):
//
//   - with schedulerHint (the process's Scheduler tag, an SU wallet
//     address), the SU's latest Scheduler-Location record
//     (GetSchedulerLocation: tags Url and Time-To-Live);
//   - without, the process's Scheduler tag from GetTransactions first;
//   - then GET {url}?process-id={pid} without following redirects: a 301,
//     302, 307 or 308 answer moves to the origin of its Location.
//
// The URL has no trailing slash. It is cached per process (and the record
// per SU wallet) for the record's Time-To-Live in a bounded LRU.
// Errors: an unknown process (or one without a Scheduler tag) is a 404; a
// missing or incomplete Scheduler-Location record and gateway failures are
// 502s.
func (c *Client) Locate(ctx context.Context, processID, schedulerHint string) (string, error) {
	if loc, ok := c.cache.Get("process\x00" + processID); ok {
		return loc.url, nil
	}
	owner := schedulerHint
	if owner == "" {
		var err error
		if owner, err = c.processScheduler(ctx, processID); err != nil {
			return "", err
		}
	}
	// The SU's record is cached by its wallet whichever way it was found: a
	// process without a hint (its first locate, before the CU stores its
	// record) asks the gateway only for its Scheduler tag.
	loc, ok := c.cache.Get("owner\x00" + owner)
	if !ok {
		var err error
		if loc, err = c.loadScheduler(ctx, owner); err != nil {
			return "", err
		}
		remember(c.cache, "owner\x00"+owner, loc)
	}
	final, err := c.checkForRedirect(ctx, loc.url, processID)
	if err != nil {
		return "", err
	}
	loc.url = trimSlash(final)
	remember(c.cache, "process\x00"+processID, loc)
	return loc.url, nil
}

// processScheduler returns the process's Scheduler tag: the wallet of its
// SU.
func (c *Client) processScheduler(ctx context.Context, processID string) (string, error) {
	var r gqlTransactions
	err := c.query(ctx, "process "+processID, []string{c.graphqlURL}, getTransactionsQuery,
		map[string]any{"transactionIds": []string{processID}}, &r)
	if err != nil {
		return "", fail(err, "Error Encountered when locating the Scheduler Unit of process '%s'", processID)
	}
	n := r.first()
	if n == nil {
		return "", ao.Errorf(http.StatusNotFound, "Process %s was not found on gateway", processID)
	}
	addr := findTag(n.Tags, "Scheduler")
	if addr == "" {
		return "", ao.Errorf(http.StatusNotFound, `No "Scheduler" tag found on process %s`, processID)
	}
	return addr, nil
}

// loadScheduler reads the latest Scheduler-Location record of a wallet.
func (c *Client) loadScheduler(ctx context.Context, address string) (location, error) {
	var r gqlTransactions
	err := c.query(ctx, "scheduler location "+address, []string{c.graphqlURL}, getSchedulerLocationQuery,
		map[string]any{"owner": address}, &r)
	if err != nil {
		return location{}, fail(err, "Error Encountered when loading the Scheduler-Location of wallet %s", address)
	}
	n := r.first()
	if n == nil {
		return location{}, ao.Errorf(http.StatusBadGateway, "Could not find 'Scheduler-Location' owned by wallet %s", address)
	}
	u, ttl := findTag(n.Tags, "Url"), findTag(n.Tags, "Time-To-Live")
	if u == "" {
		return location{}, ao.Errorf(http.StatusBadGateway, `No "Url" tag found on the Scheduler-Location of wallet %s`, address)
	}
	if ttl == "" {
		return location{}, ao.Errorf(http.StatusBadGateway, `No "Time-To-Live" tag found on the Scheduler-Location of wallet %s`, address)
	}
	loc := location{url: u, address: address}
	// An unreadable or non-positive TTL is not cached.
	if ms, err := strconv.ParseInt(strings.TrimSpace(ttl), 10, 64); err == nil && ms > 0 {
		loc.ttl = time.Duration(min(ms, int64(time.Duration(1<<62)/time.Millisecond))) * time.Millisecond
	}
	return loc, nil
}

// checkForRedirect is GET {u}?process-id={pid} without following
// redirects: a 301, 302, 307 or 308 gives the origin of its Location, any
// other answer u itself. Only network failures are retried.
func (c *Client) checkForRedirect(ctx context.Context, u, processID string) (string, error) {
	target := u + "?process-id=" + url.QueryEscape(processID)
	var result string
	err := c.withRetries(ctx, "redirect check "+u, func(int) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return false, err
		}
		resp, err := c.noRedirect.Do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, err := resp.Location()
			if err != nil {
				return false, fmt.Errorf("redirect %d without a usable Location: %w", resp.StatusCode, err)
			}
			if loc.Scheme == "" || loc.Host == "" {
				return false, fmt.Errorf("redirect %d to %q, which has no origin", resp.StatusCode, loc)
			}
			result = loc.Scheme + "://" + loc.Host
		default:
			result = u
		}
		return false, nil
	})
	if err != nil {
		return "", fail(err, "Error Encountered when checking for a redirect from Scheduler Unit '%s'", u)
	}
	return result, nil
}

// locations caches locations for their Time-To-Live, at most size entries;
// a nil *locations caches nothing.
type locations = lru.Cache[string, location]

func newLRU(size int) *locations { return lru.New[string, location](int64(size), nil) }

// remember caches loc for its TTL (not at all when the TTL is not positive).
func remember(c *locations, key string, loc location) {
	if loc.ttl > 0 {
		c.Put(key, loc, 1, loc.ttl)
	}
}
