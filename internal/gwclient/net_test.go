package gwclient

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/gateway"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
	"github.com/aocu/aocu/internal/localnet/su"
)

var quiet = slog.New(slog.DiscardHandler)

// testNet is a local gateway (mining on every write) and a local SU over
// real HTTP, with counters of the GraphQL queries and of the SU's redirect
// checks (GET /?process-id=).
type testNet struct {
	gw           *gateway.Server
	gwURL, suURL string
	su           *su.Server
	user         arweave.ED25519Signer
	gqlHits      atomic.Int32
	suRootHits   atomic.Int32
}

func startNet(t *testing.T) *testNet {
	t.Helper()
	n := &testNet{user: localnettest.EDSigner("gwclient user")}
	net := gwsu.Start(t, gwsu.Hooks{
		Gateway: func(r *http.Request) {
			if r.URL.Path == "/graphql" {
				n.gqlHits.Add(1)
			}
		},
		SU: func(r *http.Request) {
			if r.URL.Path == "/" && r.URL.Query().Has("process-id") {
				n.suRootHits.Add(1)
			}
		},
	})
	n.gw, n.gwURL, n.suURL, n.su = net.Gateway, net.GatewayURL, net.SUURL, net.SU
	return n
}

func post(t *testing.T, url string, raw []byte) string {
	t.Helper()
	resp, b := localnettest.Do(t, "POST", url, "application/octet-stream", raw)
	var pr struct{ ID string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &pr) != nil || pr.ID == "" {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return pr.ID
}

func processTags(scheduler string) []arweave.Tag {
	return localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", "mod", "Scheduler", scheduler, "Content-Type", "text/plain")
}

// spawn schedules a process on the SU (which uploads it to the gateway).
func (n *testNet) spawn(t *testing.T, data string) *arweave.DataItem {
	t.Helper()
	d, raw := localnettest.Signed(t, n.user, data, "", "", processTags(n.su.Address()))
	if id := post(t, n.suURL+"/", raw); id != d.ID() {
		t.Fatalf("spawn id %s, want %s", id, d.ID())
	}
	return d
}

// upload posts an item to the gateway directly.
func (n *testNet) upload(t *testing.T, s arweave.Signer, data, target, anchor string, tags []arweave.Tag) *arweave.DataItem {
	t.Helper()
	d, raw := localnettest.Signed(t, s, data, target, anchor, tags)
	post(t, n.gwURL+"/tx", raw)
	return d
}

// publishLocation uploads a Scheduler-Location record signed by s.
func (n *testNet) publishLocation(t *testing.T, s arweave.Signer, url, ttl string) {
	t.Helper()
	kv := []string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Scheduler-Location", "Url", url}
	if ttl != "" {
		kv = append(kv, "Time-To-Live", ttl)
	}
	n.upload(t, s, time.Now().String(), "", "", localnettest.Tags(kv...))
}

func (n *testNet) client(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.ArweaveURL == "" {
		opts.ArweaveURL = n.gwURL
	}
	if opts.Delay == 0 {
		opts.Delay = time.Millisecond
	}
	opts.Logger = quiet
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
