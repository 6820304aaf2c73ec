package gatewaytest_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest/gatewaytest"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/gwclient"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
)

// clock is the local gateway's manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// real is the suite's harness on gwclient and the local gateway (with the
// local SU) over real HTTP.
type real struct {
	net    *gwsu.Net
	clock  *clock
	client *gwclient.Client
	user   arweave.ED25519Signer
}

func (r *real) Gateway() ao.Gateway      { return r.client }
func (r *real) SUURL() string            { return r.net.SUURL }
func (r *real) SchedulerAddress() string { return r.net.SU.Address() }

func post(t *testing.T, url string, raw []byte) {
	t.Helper()
	resp, b := localnettest.Do(t, "POST", url, "application/octet-stream", raw)
	var pr struct{ ID string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &pr) != nil || pr.ID == "" {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

func (r *real) write(t *testing.T, to string, data []byte, target, anchor string, tags []arweave.Tag) gatewaytest.Item {
	t.Helper()
	d, raw := localnettest.Signed(t, r.user, string(data), target, anchor, tags)
	post(t, to, raw)
	return gatewaytest.Item{ID: d.ID(), Owner: ao.Owner{Address: d.OwnerAddress(), Key: arweave.B64Encode(d.Owner)},
		Tags: d.Tags, Target: target, Anchor: anchor}
}

func (r *real) Upload(t *testing.T, data []byte, target, anchor string, tags []ao.Tag) gatewaytest.Item {
	return r.write(t, r.net.GatewayURL+"/tx", data, target, anchor, tags)
}

func (r *real) Spawn(t *testing.T) gatewaytest.Item {
	return r.write(t, r.net.SUURL+"/", []byte("process"), "", "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1",
		"Type", "Process", "Module", strings.Repeat("m", 43), "Scheduler", r.net.SU.Address(), "Content-Type", "text/plain"))
}

func (r *real) Mine(t *testing.T, d time.Duration) {
	t.Helper()
	r.clock.advance(max(d, time.Second))
	if _, err := r.net.Gateway.Mine(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestLocalGateway(t *testing.T) {
	gatewaytest.Run(t, func(t *testing.T) gatewaytest.Harness {
		c := &clock{now: time.Unix(1_700_000_000, 0)}
		net := gwsu.StartWith(t, gwsu.Options{Now: c.Now})
		client, err := gwclient.New(gwclient.Options{ArweaveURL: net.GatewayURL, Retries: -1, Delay: time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return &real{net: net, clock: c, client: client, user: localnettest.EDSigner("gatewaytest user")}
	})
}
