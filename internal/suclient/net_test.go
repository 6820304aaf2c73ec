package suclient

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
	"github.com/aocu/aocu/internal/localnet/localnettest/gwsu"
	"github.com/aocu/aocu/internal/localnet/su"
)

// testNet is a local gateway (mining on every write) and a local SU, both
// over real HTTP.
type testNet struct {
	gwURL, suURL string
	su           *su.Server
	user         arweave.ED25519Signer
	seq          int
}

func startNet(t *testing.T) *testNet {
	t.Helper()
	n := gwsu.Start(t, gwsu.Hooks{})
	return &testNet{gwURL: n.GatewayURL, suURL: n.SUURL, su: n.SU, user: localnettest.EDSigner("suclient user")}
}

type postReply struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
}

func (n *testNet) postSU(t *testing.T, query string, raw []byte) postReply {
	t.Helper()
	resp, b := localnettest.Do(t, "POST", n.suURL+"/"+query, "application/octet-stream", raw)
	var pr postReply
	if resp.StatusCode != 200 || json.Unmarshal(b, &pr) != nil || pr.ID == "" {
		t.Fatalf("POST /%s: %d %s", query, resp.StatusCode, b)
	}
	return pr
}

func (n *testNet) item(t *testing.T, data, target string, tags []arweave.Tag) (*arweave.DataItem, []byte) {
	t.Helper()
	return localnettest.Signed(t, n.user, data, target, "", tags)
}

// spawn schedules a process on the SU.
func (n *testNet) spawn(t *testing.T, data string) (*arweave.DataItem, postReply) {
	t.Helper()
	d, raw := n.item(t, data, "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", "mod", "Scheduler", n.su.Address(), "Content-Type", "text/plain"))
	pr := n.postSU(t, "", raw)
	if pr.ID != d.ID() {
		t.Fatalf("spawn id %s, want %s", pr.ID, d.ID())
	}
	return d, pr
}

// message schedules a message to pid.
func (n *testNet) message(t *testing.T, pid string) (string, postReply) {
	t.Helper()
	n.seq++
	data := fmt.Sprintf("msg %d", n.seq)
	d, raw := n.item(t, data, pid, localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Eval"))
	pr := n.postSU(t, "", raw)
	if pr.ID != d.ID() {
		t.Fatalf("message id %s, want %s", pr.ID, d.ID())
	}
	return data, pr
}

// assign assigns the existing item id to pid.
func (n *testNet) assign(t *testing.T, pid, id string) postReply {
	t.Helper()
	return n.postSU(t, "?process-id="+pid+"&assign="+id, nil)
}

// fastClient retries quickly.
func fastClient(retries int) *Client {
	return New(Options{Retries: retries, Delay: time.Millisecond, Logger: quiet})
}

var quiet = slog.New(slog.DiscardHandler)
