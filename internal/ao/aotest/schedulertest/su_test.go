package schedulertest_test

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest/schedulertest"
	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
	"github.com/aocu/aocu/internal/suclient"
)

// realSU is the suite's harness on suclient and the local SU (with its local
// gateway) over real HTTP.
type realSU struct {
	net      *gwsu.Net
	client   *suclient.Client
	user, mu arweave.ED25519Signer
}

func (r *realSU) Scheduler() ao.Scheduler { return r.client }
func (r *realSU) URL() string             { return r.net.SUURL }
func (r *realSU) SUAddress() string       { return r.net.SU.Address() }

// post sends raw to url and fails t unless it answers 200 with an id.
func post(t *testing.T, url string, raw []byte) {
	t.Helper()
	resp, b := localnettest.Do(t, "POST", url, "application/octet-stream", raw)
	var pr struct{ ID string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &pr) != nil || pr.ID == "" {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

func (r *realSU) write(t *testing.T, s arweave.Signer, to, data, target, anchor string, tags []arweave.Tag) schedulertest.Item {
	t.Helper()
	d, raw := localnettest.Signed(t, s, data, target, anchor, tags)
	post(t, to, raw)
	return schedulertest.Item{ID: d.ID(), Owner: ao.Owner{Address: d.OwnerAddress(), Key: arweave.B64Encode(d.Owner)}, Tags: d.Tags, Data: data}
}

func (r *realSU) Spawn(t *testing.T, data string) schedulertest.Item {
	return r.write(t, r.user, r.net.SUURL+"/", data, "", "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1",
		"Type", "Process", "Module", strings.Repeat("m", 43), "Scheduler", r.net.SU.Address(), "Content-Type", "text/plain"))
}

func messageTags(extra ...ao.Tag) []arweave.Tag {
	return append(localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message"), extra...)
}

func (r *realSU) Send(t *testing.T, pid, data string, tags ...ao.Tag) schedulertest.Item {
	return r.write(t, r.user, r.net.SUURL+"/", data, pid, "", messageTags(tags...))
}

func (r *realSU) Push(t *testing.T, pid, from, data, anchor string) schedulertest.Item {
	return r.write(t, r.mu, r.net.SUURL+"/", data, pid, anchor, messageTags(ao.Tag{Name: "From-Process", Value: from}))
}

func (r *realSU) Publish(t *testing.T, data string) schedulertest.Item {
	return r.write(t, r.user, r.net.GatewayURL+"/tx", data, "", strings.Repeat("a", 32), messageTags())
}

func (r *realSU) Assign(t *testing.T, pid, id string, exclude ...string) {
	t.Helper()
	q := "?process-id=" + url.QueryEscape(pid) + "&assign=" + url.QueryEscape(id)
	if len(exclude) > 0 {
		q += "&exclude=" + url.QueryEscape(strings.Join(exclude, ","))
	}
	post(t, r.net.SUURL+"/"+q, nil)
}

func TestSUScheduler(t *testing.T) {
	schedulertest.Run(t, func(t *testing.T) schedulertest.Harness {
		return &realSU{
			net:    gwsu.Start(t, gwsu.Hooks{}),
			client: suclient.New(suclient.Options{Retries: -1, Delay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)}),
			user:   localnettest.EDSigner("schedulertest user"),
			mu:     localnettest.EDSigner("schedulertest mu"),
		}
	})
}
