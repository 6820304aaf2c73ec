package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// goldenFile holds the exact answers of the gateway to the clients' queries,
// with run-dependent values (ids, keys, signatures, block ids, timestamps)
// replaced by names. It was written from the hand-written executor this
// package had before graphql-go, so the test proves the answers are
// byte-identical to it. Rewrite it with AOCU_UPDATE_GOLDEN=1 (then review the
// diff).
const goldenFile = "testdata/client_answers.golden"

// goldenWorld is the fixture plus a few items the other clients look for.
type goldenWorld struct {
	*fixture
	named, aosModule, cronCP, bundle, inA, inB *arweave.DataItem
	names                                      map[string]string // value → name
}

func newGoldenWorld(t *testing.T) *goldenWorld {
	t.Helper()
	g := &goldenWorld{fixture: newFixture(t)}
	n, w := g.n, localnettest.Wallet(t)
	var raw []byte
	g.named, raw = signItem(t, w, "p", "", anchor32, localnettest.Tags("Data-Protocol", "ao", "Type", "Process", "Name", "bob", "Module", g.module.ID()))
	n.post(t, raw)
	g.aosModule, raw = signItem(t, w, "\x00asm", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Module", "Name", "aos-x", "Content-Type", "application/wasm"))
	n.post(t, raw)
	n.mine(t)
	g.cronCP, raw = signItem(t, g.cu, "memory3", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Checkpoint",
		"Process", g.process.ID(), "Nonce", "3", "Timestamp", "3000", "Cron-Interval", "5-minutes"))
	n.post(t, raw)
	g.inA, _ = signItem(t, localnettest.EDSigner("a"), "first", "", "", localnettest.Tags("Content-Type", "text/plain", "N", "1"))
	g.inB, _ = signItem(t, w, "second", localnettest.EDSigner("t").Address(), "", localnettest.Tags("N", "2"))
	bundle, err := arweave.BuildBundle([]*arweave.DataItem{g.inA, g.inB})
	if err != nil {
		t.Fatal(err)
	}
	g.bundle, raw = signItem(t, localnettest.EDSigner("bundler"), string(bundle), "", "", localnettest.Tags("Bundle-Format", "binary", "Bundle-Version", "2.0.0"))
	n.post(t, raw)

	g.names = map[string]string{arweave.B64Encode(g.inB.Target): "<t.addr>"}
	for _, x := range []struct {
		name, signer string
		d            *arweave.DataItem
	}{{"module", "wallet", g.module}, {"process", "wallet", g.process}, {"location", "su", g.location}, {"cp1", "cu", g.cp1},
		{"cp2", "cu", g.cp2}, {"other", "someone", g.other}, {"named", "wallet", g.named}, {"aosModule", "wallet", g.aosModule},
		{"cronCP", "cu", g.cronCP}, {"bundle", "bundler", g.bundle}, {"inA", "a", g.inA}, {"inB", "wallet", g.inB}} {
		g.names[x.d.ID()] = "<" + x.name + ">"
		g.names[arweave.B64Encode(x.d.Signature)] = "<" + x.name + ".sig>"
		g.names[x.d.OwnerAddress()] = "<" + x.signer + ".addr>"
		g.names[arweave.B64Encode(x.d.Owner)] = "<" + x.signer + ".key>"
	}
	tip, err := n.srv.Height(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for h := range tip + 1 {
		b, ok, err := n.srv.store.blockBy(context.Background(), h, "")
		if err != nil || !ok {
			t.Fatalf("block %d: %v", h, err)
		}
		g.names[b.ID] = fmt.Sprintf("<block%d>", h)
	}
	return g
}

var timestampRE = regexp.MustCompile(`"(timestamp|ingested_at)":\d+`)

// normalize names the run-dependent values of an answer.
func (g *goldenWorld) normalize(b []byte) string {
	pairs := make([]string, 0, 2*len(g.names))
	for v, name := range g.names {
		pairs = append(pairs, v, name)
	}
	s := strings.NewReplacer(pairs...).Replace(string(b))
	return timestampRE.ReplaceAllString(s, `"$1":"<seconds>"`)
}

type namedQuery struct {
	name  string
	query string
	vars  map[string]any
}

// clientQueries are the queries the ao units and tools send, verbatim, with
// the variables they pass, plus a few covering every field.
func (g *goldenWorld) clientQueries(t *testing.T) []namedQuery {
	w := localnettest.Wallet(t)
	all := []string{g.process.ID(), g.other.ID(), g.module.ID(), g.bundle.ID(), g.inA.ID(), g.inB.ID()}
	return []namedQuery{
		{"CU GetProcesses", cuGetProcesses, map[string]any{"processIds": []string{g.process.ID()}, "skipTags": false, "skipSignature": false, "skipAnchor": false}},
		{"CU GetProcesses, skips", cuGetProcesses, map[string]any{"processIds": []string{g.process.ID()}, "skipTags": true, "skipSignature": true, "skipAnchor": true}},
		{"CU GetProcesses, unknown", cuGetProcesses, map[string]any{"processIds": []string{"missing"}, "skipTags": false, "skipSignature": false, "skipAnchor": false}},
		{"CU GetAoProcessCheckpoints", cuGetCheckpoints, map[string]any{"owners": []string{g.cu.Address()}, "processId": g.process.ID(), "limit": 50}},
		{"CU GetAoProcessCheckpoints, limit 1", cuGetCheckpoints, map[string]any{"owners": []string{g.cu.Address()}, "processId": g.process.ID(), "limit": 1}},
		{"CU GetAoProcessCheckpoint", cuOneCheckpoint(false), map[string]any{"owner": g.cu.Address(), "processId": g.process.ID(), "nonce": "2", "timestamp": "2000"}},
		{"CU GetAoProcessCheckpoint, cron", cuOneCheckpoint(true), map[string]any{"owner": g.cu.Address(), "processId": g.process.ID(), "nonce": "3", "timestamp": "3000", "cron": "5-minutes"}},
		{"CU GetBlocks", cuGetBlocks, map[string]any{"min": 1, "limit": 2}},
		{"CU GetBlocks, last page", cuGetBlocks, map[string]any{"min": 2, "limit": 90}},
		{"aoconnect GetTransactions", aoconnectGetTransactions, map[string]any{"transactionIds": []string{g.module.ID()}}},
		{"scheduler-utils GetTransactions", schedulerUtilsGetTransactions, map[string]any{"transactionIds": []string{g.process.ID()}}},
		{"scheduler-utils GetSchedulerLocation", schedulerUtilsGetSchedulerLocation, map[string]any{"owner": g.su.Address()}},
		{"scheduler-utils GetSchedulerLocation, nobody", schedulerUtilsGetSchedulerLocation, map[string]any{"owner": "nobody"}},
		{"SU gql_tx", suGqlTx(g.process.ID()), nil},
		{"loadProcess wide selection", loadProcessQuery, map[string]any{"ids": all}},
		{"aos list", aosList, map[string]any{"owners": []string{w.Address()}}},
		{"aos process by name", aosByName("bob"), map[string]any{"owners": []string{w.Address()}}},
		{"aos module by name", aosModule, map[string]any{"name": "aos-x"}},
		{"every field, own order", `{ transactions(sort: HEIGHT_ASC, first: 100) { pageInfo { hasNextPage } edges { cursor node { __typename id anchor signature recipient owner { address key } fee { winston ar } quantity { ar winston } data { type size } tags { value name } block { previous height timestamp id } parent { id } bundledIn { id } ingested_at } } } }`, nil},
		{"two roots, aliases, typenames", `{ b: blocks(first: 2) { __typename pageInfo { hasNextPage } edges { cursor node { height id previous timestamp __typename } } } __typename a: transactions(first: 3) { edges { cursor node { id } } pageInfo { hasNextPage } } }`, nil},
		{"fragments and directives", `query Q($id: ID!, $withTags: Boolean = true, $noOwner: Boolean!) {
  first: transaction(id: $id) { ...Fields owner @skip(if: $noOwner) { address } }
  second: transaction(id: $id) @include(if: false) { id }
  third: transaction(id: $id) { theId: id ... on Transaction { __typename } ... @include(if: $withTags) { tags { value } } }
  missing: transaction(id: "nope") { id }
}
fragment Fields on Transaction { id tags @include(if: $withTags) { name } }`, map[string]any{"id": g.inB.ID(), "noOwner": true}},
		{"bundledIn and recipients", `query($r: [String!]) { x: transactions(recipients: $r) { edges { node { id recipient bundledIn { id } } } } y: transactions(bundledIn: ["` + g.bundle.ID() + `"], sort: HEIGHT_ASC) { edges { node { id parent { id } } } } }`, map[string]any{"r": localnettest.EDSigner("t").Address()}},
	}
}

// answers runs every client query against base and renders the answers.
func (g *goldenWorld) answers(t *testing.T, base string) string {
	t.Helper()
	var out strings.Builder
	for _, q := range g.clientQueries(t) {
		body, err := json.Marshal(map[string]any{"query": q.query, "variables": q.vars})
		if err != nil {
			t.Fatal(err)
		}
		resp, b := do(t, "POST", base+"/graphql", "application/json", body)
		fmt.Fprintf(&out, "== %s\n%d %s\n", q.name, resp.StatusCode, g.normalize(b))
	}
	return out.String()
}

func TestGraphQLClientAnswersGolden(t *testing.T) {
	g := newGoldenWorld(t)
	got := g.answers(t, g.n.url)
	if os.Getenv("AOCU_UPDATE_GOLDEN") == "1" {
		writeGolden(t, got)
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	gotSec, wantSec := strings.Split(got, "\n== "), strings.Split(string(want), "\n== ")
	for i := range max(len(gotSec), len(wantSec)) {
		var a, b string
		if i < len(gotSec) {
			a = gotSec[i]
		}
		if i < len(wantSec) {
			b = wantSec[i]
		}
		if a != b {
			t.Errorf("answer differs from %s:\ngot:\n%s\nwant:\n%s", goldenFile, a, b)
		}
	}
}

func writeGolden(t *testing.T, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenFile, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
