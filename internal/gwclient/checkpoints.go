package gwclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/httpretry"
)

var _ ao.CheckpointGateway = (*Client)(nil)

// getCheckpointsQuery is the reference's GetAoProcessCheckpoints, verbatim
// (servers/cu/src/effects/ao-process.js).
const getCheckpointsQuery = `
    query GetAoProcessCheckpoints(
      $owners: [String!]!
      $processId: String!
      $limit: Int!
    ) {
      transactions(
        tags: [
          { name: "Process", values: [$processId] }
          { name: "Type", values: ["Checkpoint"] }
          { name: "Data-Protocol", values: ["ao"] }
        ],
        owners: $owners,
        first: $limit,
        sort: HEIGHT_DESC
      ) {
        edges {
          node {
            id
            owner {
              address
            }
            tags {
              name
              value
            }
          }
        }
      }
    }
  `

// FindCheckpoints queries a process's checkpoints by the given owners: the
// gateway's GraphQL, then CheckpointGraphQLURL, as the reference does.
func (c *Client) FindCheckpoints(ctx context.Context, processID string, owners []string, limit int) ([]ao.CheckpointTx, error) {
	vars := map[string]any{"owners": owners, "processId": processID, "limit": limit}
	urls := []string{c.graphqlURL}
	if c.checkpointURL != "" && c.checkpointURL != c.graphqlURL {
		urls = append(urls, c.checkpointURL)
	}
	var lastErr error
	for _, u := range urls {
		var r gqlTransactions
		if err := c.query(ctx, "checkpoints of "+processID, []string{u}, getCheckpointsQuery, vars, &r); err != nil {
			lastErr = err
			continue
		}
		var out []ao.CheckpointTx
		for _, e := range r.Transactions.Edges {
			if e.Node == nil {
				continue
			}
			tx := ao.CheckpointTx{ID: e.Node.ID, Tags: e.Node.Tags}
			if e.Node.Owner != nil {
				tx.Owner = e.Node.Owner.Address
			}
			out = append(out, tx)
		}
		return out, nil
	}
	return nil, fail(lastErr, "Error Encountered when querying checkpoints of process '%s'", processID)
}

// Upload posts a signed data item to {UploaderURL}/tx/arweave and returns
// the id the uploader answers.
func (c *Client) Upload(ctx context.Context, item []byte) (string, error) {
	if c.uploaderURL == "" {
		return "", fmt.Errorf("gwclient: no uploader URL configured")
	}
	u := c.uploaderURL + "/tx/arweave"
	var id string
	err := c.withRetries(ctx, "upload", func(int) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(item))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Accept", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		if retry, err := httpretry.Check(resp); err != nil {
			return retry, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, httpretry.MaxErrorBody))
		var r struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
			return false, fmt.Errorf("uploader answered %q, not {\"id\":…}", body)
		}
		id = r.ID
		return false, nil
	})
	if err != nil {
		return "", fail(err, "upload to %s", u)
	}
	return id, nil
}
