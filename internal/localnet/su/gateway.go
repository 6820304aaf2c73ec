package su

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aocu/aocu/internal/arweave"
)

// gatewayClient talks to the Arweave-like gateway over HTTP, as the Rust SU
// talks to Arweave and its bundler.
type gatewayClient struct {
	base string
	http *http.Client
}

func (g *gatewayClient) url(path string) string {
	return strings.TrimRight(g.base, "/") + path
}

func (g *gatewayClient) do(ctx context.Context, method, path, ctype string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.url(path), rd)
	if err != nil {
		return nil, fmt.Errorf("gateway %s %s: %w", method, path, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway %s %s: %w", method, path, err)
	}
	return resp, nil
}

// height is the gateway's current block height (GET /info).
func (g *gatewayClient) height(ctx context.Context) (int64, error) {
	resp, err := g.do(ctx, http.MethodGet, "/info", "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("gateway GET /info: status %d", resp.StatusCode)
	}
	var info struct {
		Height int64 `json:"height"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return 0, fmt.Errorf("gateway GET /info: decode: %w", err)
	}
	return info.Height, nil
}

// post uploads a signed data item (POST /tx).
func (g *gatewayClient) post(ctx context.Context, item []byte) error {
	resp, err := g.do(ctx, http.MethodPost, "/tx", "application/octet-stream", item)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("gateway POST /tx: status %d: %s", resp.StatusCode, msg)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// exists reports whether the gateway has the tx (HEAD /:id).
func (g *gatewayClient) exists(ctx context.Context, id string) (bool, error) {
	resp, err := g.do(ctx, http.MethodHead, "/"+id, "", nil)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest:
		return false, nil
	}
	return false, fmt.Errorf("gateway HEAD /%s: status %d", id, resp.StatusCode)
}

// gatewayTx is what the SU needs of a tx it assigns.
type gatewayTx struct {
	ID        string
	Recipient string
	Anchor    string
	Tags      []arweave.Tag
}

// tx looks a tx up by GraphQL; nil if the gateway does not know it.
func (g *gatewayClient) tx(ctx context.Context, id string) (*gatewayTx, error) {
	q := map[string]any{
		"query":     `query ($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id anchor recipient tags { name value } } } } }`,
		"variables": map[string]any{"ids": []string{id}},
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("gateway graphql: %w", err)
	}
	resp, err := g.do(ctx, http.MethodPost, "/graphql", "application/json", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gateway graphql: status %d", resp.StatusCode)
	}
	var out struct {
		Data struct {
			Transactions struct {
				Edges []struct {
					Node struct {
						ID        string        `json:"id"`
						Anchor    string        `json:"anchor"`
						Recipient string        `json:"recipient"`
						Tags      []arweave.Tag `json:"tags"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"transactions"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("gateway graphql: decode: %w", err)
	}
	if len(out.Data.Transactions.Edges) == 0 {
		return nil, nil
	}
	n := out.Data.Transactions.Edges[0].Node
	return &gatewayTx{ID: n.ID, Recipient: n.Recipient, Anchor: n.Anchor, Tags: n.Tags}, nil
}

// raw is the tx's data (GET /raw/:id).
func (g *gatewayClient) raw(ctx context.Context, id string) ([]byte, error) {
	resp, err := g.do(ctx, http.MethodGet, "/raw/"+id, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gateway GET /raw/%s: status %d", id, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("gateway GET /raw/%s: %w", id, err)
	}
	return b, nil
}
