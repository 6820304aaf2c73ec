package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/localnet/localnettest"

	"github.com/aocu/aocu/internal/arweave"
)

func signItem(t *testing.T, s arweave.Signer, data string, target, anchor string, tg []arweave.Tag) (*arweave.DataItem, []byte) {
	t.Helper()
	d, err := arweave.NewDataItem([]byte(data), target, anchor, tg)
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

type testNet struct {
	srv *Server
	hs  *httptest.Server
	url string
}

func startServer(t *testing.T, cfg Config) *testNet {
	t.Helper()
	if cfg.BlockInterval == 0 {
		cfg.BlockInterval = -1 // tests mine by hand unless they ask otherwise
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	n := &testNet{srv: s, hs: hs, url: hs.URL}
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *testNet) stop(t *testing.T) {
	if n.hs != nil {
		n.hs.Close()
		n.hs = nil
		if err := n.srv.Close(); err != nil {
			t.Error(err)
		}
	}
}

func do(t *testing.T, method, url, ctype string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return localnettest.Do(t, method, url, ctype, body)
}

func (n *testNet) post(t *testing.T, raw []byte) PostResponse {
	t.Helper()
	resp, b := do(t, "POST", n.url+"/tx", "application/octet-stream", raw)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /tx: %d %s", resp.StatusCode, b)
	}
	var pr PostResponse
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	return pr
}

func (n *testNet) mine(t *testing.T) Block {
	t.Helper()
	resp, b := do(t, "POST", n.url+"/mine", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /mine: %d %s", resp.StatusCode, b)
	}
	var blk Block
	if err := json.Unmarshal(b, &blk); err != nil {
		t.Fatal(err)
	}
	return blk
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, b := do(t, "GET", url, "", nil)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

// gql posts a GraphQL request and decodes the answer into a generic value.
func (n *testNet) gql(t *testing.T, query string, vars map[string]any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, "POST", n.url+"/graphql", "application/json", body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("graphql answer is not JSON: %v: %s", err, b)
	}
	return resp.StatusCode, out
}

// gqlOK runs a query that must succeed and returns data.
func (n *testNet) gqlOK(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	status, out := n.gql(t, query, vars)
	if status != 200 || out["errors"] != nil {
		t.Fatalf("graphql: %d %v", status, out)
	}
	return out["data"].(map[string]any)
}

// gqlError runs a query that must fail and returns the first message.
func (n *testNet) gqlError(t *testing.T, query string, vars map[string]any) (int, string) {
	t.Helper()
	status, out := n.gql(t, query, vars)
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		t.Fatalf("graphql: expected errors, got %d %v", status, out)
	}
	return status, errs[0].(map[string]any)["message"].(string)
}

// path walks a decoded JSON value: keys for objects, ints for arrays.
func path(t *testing.T, v any, steps ...any) any {
	t.Helper()
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("path %v: %v is not an object", steps, v)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("path %v: %v has no element %d", steps, v, k)
			}
			v = a[k]
		}
	}
	return v
}

func edges(t *testing.T, data map[string]any, field string) []any {
	t.Helper()
	e, _ := path(t, data, field, "edges").([]any)
	return e
}

// edgeIDs lists node.id of a connection's edges.
func edgeIDs(t *testing.T, data map[string]any, field string) []string {
	var ids []string
	for _, e := range edges(t, data, field) {
		ids = append(ids, path(t, e, "node", "id").(string))
	}
	return ids
}

func tagMap(t *testing.T, node any) map[string]string {
	m := map[string]string{}
	for _, tg := range path(t, node, "tags").([]any) {
		m[tg.(map[string]any)["name"].(string)] = tg.(map[string]any)["value"].(string)
	}
	return m
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
