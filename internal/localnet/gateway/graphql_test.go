package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// fixture posts a small ao world: a module, a process, a scheduler location
// and two checkpoints, mined in separate blocks.
type fixture struct {
	n                         *testNet
	module, process, location *arweave.DataItem
	cp1, cp2, other           *arweave.DataItem
	su                        arweave.ED25519Signer
	cu                        arweave.ED25519Signer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{n: startServer(t, Config{DataDir: t.TempDir()}), su: localnettest.EDSigner("su"), cu: localnettest.EDSigner("cu")}
	w := localnettest.Wallet(t)
	var raw []byte
	f.location, raw = signItem(t, f.su, "", "", "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.LN.1",
		"Type", "Scheduler-Location", "Url", "http://localhost:4003", "Time-To-Live", "1"))
	f.n.post(t, raw)
	f.module, raw = signItem(t, w, "\x00asm", "", "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1",
		"Type", "Module", "Module-Format", "wasm64-unknown-emscripten-draft_2024_02_15",
		"Input-Encoding", "JSON-1", "Output-Encoding", "JSON-1", "Content-Type", "application/wasm"))
	f.n.post(t, raw)
	f.n.mine(t) // block 1
	f.process, raw = signItem(t, w, "print('hi')", "", anchor32, localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.TN.1",
		"Type", "Process", "Module", f.module.ID(), "Scheduler", f.su.Address(), "Content-Type", "text/plain"))
	f.n.post(t, raw)
	f.n.mine(t) // block 2
	f.cp1, raw = signItem(t, f.cu, "memory1", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Checkpoint",
		"Process", f.process.ID(), "Nonce", "1", "Timestamp", "1000"))
	f.n.post(t, raw)
	f.n.mine(t) // block 3
	f.cp2, raw = signItem(t, f.cu, "memory2", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Checkpoint",
		"Process", f.process.ID(), "Nonce", "2", "Timestamp", "2000"))
	f.n.post(t, raw)
	f.other, raw = signItem(t, localnettest.EDSigner("someone"), "x", "", "", localnettest.Tags("Data-Protocol", "ao", "Type", "Checkpoint",
		"Process", f.process.ID()))
	f.n.post(t, raw) // pending
	return f
}

// GetProcesses, verbatim from the CU: permaweb/ao servers/cu/src/effects/arweave.js
// (loadTransactionMetaWith), quoted in /work/shared/research/anchors.md §1d and ref-cu.md.
const cuGetProcesses = `
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

// GetTransactions, verbatim from aoconnect's module check:
// permaweb/ao connect/src/client/gateway.js (anchors.md §1c/§1d).
const aoconnectGetTransactions = `
    query GetTransactions ($transactionIds: [ID!]!) {
      transactions(ids: $transactionIds) {
        edges {
          node {
            owner {
              address
            }
            tags {
              name
              value
            }
            block {
              id
              height
              timestamp
            }
          }
        }
      }
    }`

// GetTransactions, verbatim from permaweb/ao scheduler-utils/src/client/gateway.js
// (anchors.md §1c, first Scheduler-Location query).
const schedulerUtilsGetTransactions = `
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

// GetSchedulerLocation, verbatim from permaweb/ao scheduler-utils/src/client/gateway.js
// (anchors.md §1c, second Scheduler-Location query), comment included.
const schedulerUtilsGetSchedulerLocation = `
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

// GetAoProcessCheckpoints, verbatim from permaweb/ao servers/cu/src/effects/ao-process.js
// L826-L852 (anchors.md §1d, ref-cu.md).
const cuGetCheckpoints = `
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

// GetBlocks, verbatim from permaweb/ao servers/cu/src/effects/ao-block.js
// L129-L145 (anchors.md §1d, ref-cu.md).
const cuGetBlocks = `
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

// suGqlTx is the SU's gql_tx query, from permaweb/ao
// servers/su/src/domain/clients/gateway.rs L266-L291 (anchors.md §1d), with the
// Rust format! braces unescaped and the id substituted.
func suGqlTx(id string) string {
	return `query {
                    transactions(ids: ["` + id + `"]) {
                        edges {
                            node {
                                id
                                signature
                                anchor
                                owner {
                                  address
                                  key
                                }  
                                tags {
                                  name
                                  value
                                }
                                recipient
                            }
                        }
                    }
                }`
}

// loadProcessQuery is the wide selection of scheduler-utils/the CU's
// loadProcessWith, as listed in anchors.md §1d.
const loadProcessQuery = `query ($ids: [ID!]!) { transactions(ids: $ids) { pageInfo { hasNextPage } edges { cursor node {
  id anchor signature recipient owner { address key } fee { winston ar } quantity { winston ar }
  data { size type } tags { name value } block { id timestamp height previous } parent { id } } } } }`

// aosList, verbatim from the aos CLI: permaweb/aos src/services/list.js
// (queryForAOSs; /work/shared/oracles/aos-cli/src).
const aosList = `query ($owners: [String!]!) {
    transactions(
      first: 100,
      owners: $owners,
      tags: [
        { name: "Data-Protocol", values: ["ao"] },
        { name: "Type", values: ["Process"]}
      ]
    ) {
      edges {
        node {
          id
          owner { address }
          tags {
            name
            value
          }
        }
      }
    }
  }`

// aosByName is the aos CLI's queryForAOS (src/register.js), the process name
// substituted as the CLI does.
func aosByName(name string) string {
	return `query ($owners: [String!]!) {
    transactions(
      first: 10,
      owners: $owners,
      tags: [
        { name: "Data-Protocol", values: ["ao"] },
        { name: "Type", values: ["Process"]},
        { name: "Name", values: ["` + name + `"]}
      ]
    ) {
      edges {
        node {
          id
          tags {
            name
            value
          }
        }
      }
    }
  }`
}

// aosModule is the aos CLI's findAoModuleByName (src/register.js).
const aosModule = `query FindAoModuleByName($name: String!) {
    transactions(
      tags: [
        { name: "Type", values: ["Module"] },
        { name: "Data-Protocol", values: ["ao"] },
        { name: "Name", values: [$name] }
      ],
      sort: HEIGHT_DESC,
      first: 100
    ) {
      edges {
        node {
          id
          tags {
            name
            value
          }
          block {
            timestamp
          }
        }
      }
    }
  }`

// cuOneCheckpoint is the CU's GetAoProcessCheckpoint, verbatim from permaweb/ao
// servers/cu/src/effects/ao-process.js L1643-L1677, with and without the
// Cron-Interval parts its template adds.
func cuOneCheckpoint(withCron bool) string {
	c1, c2 := "", ""
	if withCron {
		c1, c2 = "$cron: String!", `{ name: "Cron-Interval", values: [$cron] }`
	}
	return `
    query GetAoProcessCheckpoint(
      $owner: String!
      $processId: String!
      $timestamp: String!
      $nonce: String!
      ` + c1 + `
    ) {
      transactions(
        tags: [
          { name: "Process", values: [$processId] }
          { name: "Nonce", values: [$nonce] }
          { name: "Timestamp", values: [$timestamp] }
          ` + c2 + `
          { name: "Type", values: ["Checkpoint"] }
          { name: "Data-Protocol", values: ["ao"] }
        ],
        owners: [$owner]
        first: 1
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
}

func TestGraphQLReferenceQueries(t *testing.T) {
	f := newFixture(t)
	n := f.n
	w := localnettest.Wallet(t)

	t.Run("CU GetProcesses", func(t *testing.T) {
		vars := map[string]any{"processIds": []string{f.process.ID()}, "skipTags": false, "skipSignature": false, "skipAnchor": false}
		node := path(t, n.gqlOK(t, cuGetProcesses, vars), "transactions", "edges", 0, "node").(map[string]any)
		if node["id"] != f.process.ID() || node["signature"] != arweave.B64Encode(f.process.Signature) ||
			node["anchor"] != anchor32 || node["recipient"] != "" ||
			path(t, node, "owner", "address") != w.Address() || path(t, node, "owner", "key") != arweave.B64Encode(w.Owner()) ||
			tagMap(t, node)["Module"] != f.module.ID() {
			t.Fatalf("node: %v", node)
		}
		vars = map[string]any{"processIds": []string{f.process.ID()}, "skipTags": true, "skipSignature": true, "skipAnchor": true}
		node = path(t, n.gqlOK(t, cuGetProcesses, vars), "transactions", "edges", 0, "node").(map[string]any)
		for _, k := range []string{"tags", "signature", "anchor"} {
			if _, ok := node[k]; ok {
				t.Fatalf("%s not skipped: %v", k, node)
			}
		}
		if node["id"] != f.process.ID() || len(node) != 3 {
			t.Fatalf("node with skips: %v", node)
		}
		data := n.gqlOK(t, cuGetProcesses, map[string]any{"processIds": []string{"missing"}, "skipTags": false, "skipSignature": false, "skipAnchor": false})
		if len(edges(t, data, "transactions")) != 0 {
			t.Fatalf("unknown id: %v", data)
		}
	})

	t.Run("aoconnect module check", func(t *testing.T) {
		node := path(t, n.gqlOK(t, aoconnectGetTransactions, map[string]any{"transactionIds": []string{f.module.ID()}}),
			"transactions", "edges", 0, "node")
		tm := tagMap(t, node)
		if path(t, node, "owner", "address") != w.Address() || tm["Type"] != "Module" || tm["Module-Format"] == "" ||
			path(t, node, "block", "height") != float64(1) || path(t, node, "block", "id") == "" || path(t, node, "block", "timestamp") == nil {
			t.Fatalf("module node: %v", node)
		}
	})

	t.Run("scheduler-utils GetTransactions", func(t *testing.T) {
		node := path(t, n.gqlOK(t, schedulerUtilsGetTransactions, map[string]any{"transactionIds": []string{f.process.ID()}}),
			"transactions", "edges", 0, "node")
		if tagMap(t, node)["Scheduler"] != f.su.Address() {
			t.Fatalf("node: %v", node)
		}
	})

	t.Run("scheduler-utils GetSchedulerLocation", func(t *testing.T) {
		// A newer location wins (HEIGHT_DESC, first: 1).
		_, raw := signItem(t, f.su, "", "", "", localnettest.Tags("Data-Protocol", "ao", "Variant", "ao.LN.1",
			"Type", "Scheduler-Location", "Url", "http://localhost:9999", "Time-To-Live", "1000"))
		n.post(t, raw)
		data := n.gqlOK(t, schedulerUtilsGetSchedulerLocation, map[string]any{"owner": f.su.Address()})
		es := edges(t, data, "transactions")
		if len(es) != 1 || tagMap(t, path(t, es[0], "node"))["Url"] != "http://localhost:9999" {
			t.Fatalf("location: %v", data)
		}
		data = n.gqlOK(t, schedulerUtilsGetSchedulerLocation, map[string]any{"owner": "nobody"})
		if len(edges(t, data, "transactions")) != 0 {
			t.Fatalf("location of nobody: %v", data)
		}
	})

	t.Run("CU GetAoProcessCheckpoints", func(t *testing.T) {
		data := n.gqlOK(t, cuGetCheckpoints, map[string]any{"owners": []string{f.cu.Address()}, "processId": f.process.ID(), "limit": 50})
		if got := joinIDs(edgeIDs(t, data, "transactions")); got != f.cp2.ID()+","+f.cp1.ID() {
			t.Fatalf("checkpoints: %s, want cp2,cp1", got)
		}
		node := path(t, edges(t, data, "transactions")[0], "node")
		if path(t, node, "owner", "address") != f.cu.Address() || tagMap(t, node)["Nonce"] != "2" {
			t.Fatalf("checkpoint node: %v", node)
		}
		data = n.gqlOK(t, cuGetCheckpoints, map[string]any{"owners": []string{f.cu.Address()}, "processId": f.process.ID(), "limit": 1})
		if got := joinIDs(edgeIDs(t, data, "transactions")); got != f.cp2.ID() {
			t.Fatalf("limit 1: %s", got)
		}
	})

	t.Run("CU GetBlocks", func(t *testing.T) {
		data := n.gqlOK(t, cuGetBlocks, map[string]any{"min": 1, "limit": 2})
		es := edges(t, data, "blocks")
		if len(es) != 2 || path(t, es[0], "node", "height") != float64(1) || path(t, es[1], "node", "height") != float64(2) ||
			path(t, data, "blocks", "pageInfo", "hasNextPage") != true {
			t.Fatalf("blocks: %v", data)
		}
		if ts, ok := path(t, es[0], "node", "timestamp").(float64); !ok || ts < 1.6e9 || ts > 1e11 {
			t.Fatalf("block timestamps are seconds: %v", es[0])
		}
		data = n.gqlOK(t, cuGetBlocks, map[string]any{"min": 2, "limit": 90})
		if len(edges(t, data, "blocks")) != 2 || path(t, data, "blocks", "pageInfo", "hasNextPage") != false {
			t.Fatalf("blocks from 2: %v", data)
		}
	})

	t.Run("SU gql_tx", func(t *testing.T) {
		node := path(t, n.gqlOK(t, suGqlTx(f.process.ID()), nil), "transactions", "edges", 0, "node")
		if path(t, node, "id") != f.process.ID() || path(t, node, "owner", "key") != arweave.B64Encode(w.Owner()) {
			t.Fatalf("node: %v", node)
		}
	})

	t.Run("loadProcess wide selection", func(t *testing.T) {
		data := n.gqlOK(t, loadProcessQuery, map[string]any{"ids": []string{f.process.ID(), f.other.ID()}})
		es := edges(t, data, "transactions")
		if len(es) != 2 || path(t, data, "transactions", "pageInfo", "hasNextPage") != false {
			t.Fatalf("edges: %v", data)
		}
		// HEIGHT_DESC (default): the pending item comes first, block null.
		if path(t, es[0], "node", "id") != f.other.ID() || path(t, es[0], "node", "block") != nil {
			t.Fatalf("pending first: %v", es[0])
		}
		p := path(t, es[1], "node")
		if path(t, p, "fee", "winston") != "0" || path(t, p, "quantity", "ar") != "0.000000000000" ||
			path(t, p, "data", "size") != "11" || path(t, p, "data", "type") != "text/plain" ||
			path(t, p, "block", "height") != float64(2) || path(t, p, "block", "previous") == "" ||
			path(t, p, "parent") != nil || path(t, es[1], "cursor") == "" {
			t.Fatalf("process node: %v", es[1])
		}
	})
}

func TestGraphQLFiltersSortPagination(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	alice, bob := localnettest.EDSigner("alice"), localnettest.EDSigner("bob")
	var ids []string // in posting order
	for i := range 7 {
		s, target := alice, ""
		if i%2 == 1 {
			s, target = bob, alice.Address()
		}
		d, raw := signItem(t, s, "item", target, "", localnettest.Tags("Type", []string{"Message", "Process", "Checkpoint"}[i%3], "Index", string(rune('0'+i))))
		n.post(t, raw)
		ids = append(ids, d.ID())
		if i == 2 || i == 4 {
			n.mine(t) // items 0-2 in block 1, 3-4 in block 2, 5-6 pending
		}
	}
	run := func(q string, vars map[string]any) []string {
		t.Helper()
		return edgeIDs(t, n.gqlOK(t, q, vars), "transactions")
	}
	want := func(idx ...int) string {
		var out []string
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return joinIDs(out)
	}
	check := func(name string, got []string, exp string) {
		t.Helper()
		if joinIDs(got) != exp {
			t.Errorf("%s: got %v, want %v", name, got, strings.Split(exp, ","))
		}
	}
	check("default sort is HEIGHT_DESC", run(`{ transactions { edges { node { id } } } }`, nil), want(6, 5, 4, 3, 2, 1, 0))
	check("variables declared and not given mean the defaults", run(`query($f: Int, $s: SortOrder) { transactions(first: $f, sort: $s) { edges { node { id } } } }`, nil),
		want(6, 5, 4, 3, 2, 1, 0))
	check("null means the defaults", run(`{ transactions(first: null, sort: null) { edges { node { id } } } }`, nil), want(6, 5, 4, 3, 2, 1, 0))
	check("HEIGHT_ASC", run(`{ transactions(sort: HEIGHT_ASC) { edges { node { id } } } }`, nil), want(0, 1, 2, 3, 4, 5, 6))
	check("tag with several values", run(`{ transactions(tags: [{name: "Type", values: ["Process", "Checkpoint"]}], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(1, 2, 4, 5))
	check("two tag filters (AND)", run(`{ transactions(tags: [{name: "Type", values: ["Message", "Process"]}, {name: "Index", values: ["0", "1", "2"]}], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(0, 1))
	check("NEQ: a Type tag that is not Message", run(`{ transactions(tags: [{name: "Type", values: ["Message"], op: NEQ}], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(1, 2, 4, 5))
	check("op and match null or from variables not given", run(`query($op: TagOperator, $m: TagMatch) { transactions(tags: [{name: "Type", values: ["Message"], op: $op, match: $m}, {name: "Index", op: null, match: null}], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(0, 3, 6))
	check("a value under any name", run(`{ transactions(tags: [{values: ["Process"]}], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(1, 4))
	check("a name with any value", run(`{ transactions(tags: [{name: "Index"}], sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(0, 1, 2, 3, 4, 5, 6))
	check("ingested_at from 0", run(`{ transactions(ingested_at: {min: 0}, sort: HEIGHT_ASC) { edges { node { id } } } }`, nil),
		want(0, 1, 2, 3, 4, 5, 6))
	check("ingested_at up to 0", run(`{ transactions(ingested_at: {max: 0}) { edges { node { id } } } }`, nil), "")
	check("owners", run(`query($o: [String!]) { transactions(owners: $o, sort: HEIGHT_ASC) { edges { node { id } } } }`, map[string]any{"o": []string{bob.Address()}}),
		want(1, 3, 5))
	check("recipients", run(`query($r: [String!]) { transactions(recipients: $r, sort: HEIGHT_DESC) { edges { node { id } } } }`, map[string]any{"r": alice.Address()}),
		want(5, 3, 1))
	check("block range", run(`{ transactions(block: {min: 2, max: 2}, sort: HEIGHT_ASC) { edges { node { id } } } }`, nil), want(3, 4))
	check("block min excludes pending", run(`{ transactions(block: {min: 1}, sort: HEIGHT_ASC) { edges { node { id } } } }`, nil), want(0, 1, 2, 3, 4))
	check("sort from a variable", run(`query($s: SortOrder) { transactions(sort: $s, first: 2) { edges { node { id } } } }`, map[string]any{"s": "HEIGHT_ASC"}),
		want(0, 1))

	// Pagination with after cursors, both directions.
	for _, dir := range []struct {
		sort  string
		order []int
	}{{"HEIGHT_ASC", []int{0, 1, 2, 3, 4, 5, 6}}, {"HEIGHT_DESC", []int{6, 5, 4, 3, 2, 1, 0}}} {
		q := `query($after: String) { transactions(sort: ` + dir.sort + `, first: 3, after: $after) { pageInfo { hasNextPage } edges { cursor node { id } } } }`
		var got []string
		var after any
		pages := 0
		for {
			data := n.gqlOK(t, q, map[string]any{"after": after})
			es := edges(t, data, "transactions")
			for _, e := range es {
				got = append(got, path(t, e, "node", "id").(string))
			}
			pages++
			more := path(t, data, "transactions", "pageInfo", "hasNextPage").(bool)
			if (pages < 3) != more {
				t.Fatalf("%s page %d: hasNextPage %v", dir.sort, pages, more)
			}
			if !more {
				break
			}
			after = path(t, es[len(es)-1], "cursor")
		}
		check(dir.sort+" pages", got, want(dir.order...))
	}
	// first: 0 and an exact last page.
	data := n.gqlOK(t, `{ transactions(first: 7) { pageInfo { hasNextPage } edges { node { id } } } }`, nil)
	if len(edges(t, data, "transactions")) != 7 || path(t, data, "transactions", "pageInfo", "hasNextPage") != false {
		t.Fatalf("first 7: %v", data)
	}
	data = n.gqlOK(t, `{ transactions(first: 0) { pageInfo { hasNextPage } edges { node { id } } } }`, nil)
	if len(edges(t, data, "transactions")) != 0 || path(t, data, "transactions", "pageInfo", "hasNextPage") != true {
		t.Fatalf("first 0: %v", data)
	}

	// Blocks: pagination and DESC default.
	data = n.gqlOK(t, `{ blocks(first: 2) { pageInfo { hasNextPage } edges { cursor node { height } } } }`, nil)
	es := edges(t, data, "blocks")
	if len(es) != 2 || path(t, es[0], "node", "height") != float64(2) || path(t, data, "blocks", "pageInfo", "hasNextPage") != true {
		t.Fatalf("blocks desc: %v", data)
	}
	data = n.gqlOK(t, `query($a: String) { blocks(first: 2, after: $a) { pageInfo { hasNextPage } edges { node { height } } } }`,
		map[string]any{"a": path(t, es[1], "cursor")})
	if es := edges(t, data, "blocks"); len(es) != 1 || path(t, es[0], "node", "height") != float64(0) ||
		path(t, data, "blocks", "pageInfo", "hasNextPage") != false {
		t.Fatalf("blocks page 2: %v", data)
	}
	data = n.gqlOK(t, `{ blocks(height: {min: 1, max: 1}) { edges { node { height } } } }`, nil)
	if es := edges(t, data, "blocks"); len(es) != 1 || path(t, es[0], "node", "height") != float64(1) {
		t.Fatalf("block range: %v", data)
	}
}

func TestGraphQLDirectivesFragmentsAliases(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	d, raw := signItem(t, localnettest.EDSigner("a"), "x", "", "", localnettest.Tags("K", "V"))
	n.post(t, raw)
	q := `
query Q($id: ID!, $withTags: Boolean = true, $noOwner: Boolean!) {
  first: transaction(id: $id) { ...Fields owner @skip(if: $noOwner) { address } }
  second: transaction(id: $id) @include(if: false) { id }
  third: transaction(id: $id) { theId: id ... on Transaction { __typename } ... @include(if: $withTags) { tags { value } } }
  missing: transaction(id: "nope") { id }
}
fragment Fields on Transaction { id tags @include(if: $withTags) { name } }
`
	data := n.gqlOK(t, q, map[string]any{"id": d.ID(), "noOwner": true})
	first := data["first"].(map[string]any)
	if first["id"] != d.ID() || path(t, first, "tags", 0, "name") != "K" || first["owner"] != nil {
		t.Fatalf("first: %v", first)
	}
	if _, ok := first["owner"]; ok {
		t.Fatalf("owner not skipped: %v", first)
	}
	if _, ok := data["second"]; ok {
		t.Fatalf("@include(if: false) field present: %v", data)
	}
	third := data["third"].(map[string]any)
	if third["theId"] != d.ID() || third["__typename"] != "Transaction" || path(t, third, "tags", 0, "value") != "V" {
		t.Fatalf("third: %v", third)
	}
	if v, ok := data["missing"]; !ok || v != nil {
		t.Fatalf("missing: %v", data)
	}
	// Field order follows the query.
	resp, body := do(t, "POST", n.url+"/graphql", "application/json", []byte(`{"query":"{ b: blocks(first: 1) { edges { node { height id } } } a: transactions(first: 1) { edges { node { id } } } }"}`))
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `{"data":{"b":{"edges":[{"node":{"height":`) {
		t.Fatalf("order: %s", body)
	}
	// Variables off: with the defaults.
	data = n.gqlOK(t, q, map[string]any{"id": d.ID(), "noOwner": false, "withTags": false})
	first = data["first"].(map[string]any)
	if _, ok := first["tags"]; ok || path(t, first, "owner", "address") != localnettest.EDSigner("a").Address() {
		t.Fatalf("withTags false: %v", first)
	}
	// GET /graphql and application/graphql bodies work too.
	resp, body = do(t, "GET", n.url+"/graphql?query="+strings.ReplaceAll("{ blocks(first: 1) { edges { node { height } } } }", " ", "%20"), "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"height":0`) {
		t.Fatalf("GET /graphql: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", n.url+"/graphql", "application/graphql", []byte("{ blocks { edges { node { height } } } }"))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"height":0`) {
		t.Fatalf("application/graphql: %d %s", resp.StatusCode, body)
	}
	// Multiple operations: operationName picks one.
	resp, body = do(t, "POST", n.url+"/graphql", "application/json",
		[]byte(`{"query":"query A { blocks { edges { node { height } } } } query B { block(id: \"x\") { height } }","operationName":"B"}`))
	if resp.StatusCode != 200 || string(body) != `{"data":{"block":null}}` {
		t.Fatalf("operationName: %d %s", resp.StatusCode, body)
	}
}

func TestGraphQLErrors(t *testing.T) {
	n := startServer(t, Config{DataDir: t.TempDir()})
	cases := []struct {
		name, query string
		vars        map[string]any
		status      int
		want        string
	}{
		{"syntax: unclosed brace", `{ transactions { edges { node { id } }`, nil, 400, "syntax error"},
		{"syntax: bad character", `{ transactions ^ }`, nil, 400, "syntax error"},
		{"syntax: unterminated string", `{ transaction(id: "abc) { id } }`, nil, 400, "literal not terminated"},
		{"empty", ``, nil, 400, "Must provide query string"},
		{"unknown field", `{ transactions { edges { node { id nope } } } }`, nil, 400, `Cannot query field "nope" on type "Transaction"`},
		{"unknown root field", `{ wallets { id } }`, nil, 400, `Cannot query field "wallets" on type "Query"`},
		{"unknown argument", `{ transactions(limit: 3) { edges { node { id } } } }`, nil, 400, `Unknown argument "limit"`},
		{"missing subselection", `{ transactions { edges } }`, nil, 400, "must have a selection of subfields"},
		{"subselection on scalar", `{ transactions { edges { cursor { x } } } }`, nil, 400, "must not have a selection"},
		{"unknown fragment", `{ transactions { ...F } }`, nil, 400, `Unknown fragment "F"`},
		{"fragment on wrong type", `{ transactions { ...F } } fragment F on Block { id }`, nil, 400, "can never be of type"},
		{"recursive fragment", `{ transactions { edges { node { ...F } } } } fragment F on Transaction { id ...F }`, nil, 400, "within itself"},
		{"unknown directive", `{ transactions @defer { edges { cursor } } }`, nil, 400, `Unknown directive "@defer"`},
		{"undefined variable", `{ transactions(first: $n) { edges { cursor } } }`, nil, 400, `Variable "$n" is not defined`},
		{"missing required variable", `query($n: Int!) { transactions(first: $n) { edges { cursor } } }`, nil, 400, `Variable "n" has invalid value null`},
		{"variable of the wrong type", `query($n: Int!) { transactions(first: $n) { edges { cursor } } }`, map[string]any{"n": "ten"}, 400, `Int cannot represent "ten"`},
		{"mutation", `mutation { transactions { edges { cursor } } }`, nil, 400, "no mutations"},
		{"bad enum", `{ transactions(sort: SIDEWAYS) { edges { cursor } } }`, nil, 400, `Value "SIDEWAYS" does not exist in "SortOrder" enum`},
		{"bad enum in a variable", `query($s: SortOrder) { transactions(sort: $s) { edges { cursor } } }`, map[string]any{"s": "SIDEWAYS"}, 400, `Variable "s" has invalid value SIDEWAYS`},
		{"unknown input field", `{ transactions(block: {least: 3}) { edges { cursor } } }`, nil, 400, `"least"`},
		{"string for an Int", `{ transactions(first: "3") { edges { cursor } } }`, nil, 400, `Int cannot represent non-integer value: "3"`},
		{"negative first (execution error)", `{ transactions(first: -1) { edges { cursor } } }`, nil, 200, "must not be negative"},
		{"unsupported tag match (execution error)", `{ transactions(tags: [{name: "a", values: ["b*"], match: WILDCARD}]) { edges { cursor } } }`, nil, 200, "WILDCARD is not supported"},
		{"bad cursor (execution error)", `{ transactions(after: "garbage") { edges { cursor } } }`, nil, 200, "invalid cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, msg := n.gqlError(t, c.query, c.vars)
			if status != c.status || !strings.Contains(msg, c.want) {
				t.Fatalf("%d %q, want %d containing %q", status, msg, c.status, c.want)
			}
		})
	}
	// Request errors answer no data at all; execution errors answer data and
	// carry the path of the field. transactions and blocks are non-null
	// (TransactionConnection!, as on arweave.net), so an error there nulls
	// data.
	for _, q := range []string{`{ transactions ^ }`, `{ nope }`} {
		if status, out := n.gql(t, q, nil); status != 400 || out["errors"] == nil {
			t.Fatalf("%s: %d %v", q, status, out)
		} else if _, ok := out["data"]; ok {
			t.Fatalf("request error with a data entry: %v", out)
		}
	}
	status, out := n.gql(t, `{ ok: blocks(first: 1) { edges { cursor } } bad: transactions(after: "garbage") { edges { cursor } } }`, nil)
	if d, ok := out["data"]; status != 200 || !ok || d != nil || path(t, out, "errors", 0, "path", 0) != "bad" {
		t.Fatalf("error in a non-null root field: %d %v", status, out)
	}
	// Malformed GraphQL-over-HTTP requests: 4xx with an errors body.
	for _, c := range []struct {
		method, url, ctype string
		body               []byte
		status             int
		want               string
	}{
		{"POST", "/graphql", "application/json", []byte(`{"query":"query A { blocks { edges { cursor } } }","operationName":"B"}`), 400, `no operation with name \"B\"`},
		{"POST", "/graphql", "application/json", []byte(`{"query":"query A { blocks { edges { cursor } } } query B { blocks { edges { cursor } } }"}`), 400, "more than one operation"},
		{"POST", "/graphql", "application/json", []byte(`{"query":"{ blocks { edges { cursor } } }","variables":[1]}`), 400, "not a GraphQL JSON request"},
		{"POST", "/graphql", "application/json", []byte(`{"query":5}`), 400, "not a GraphQL JSON request"},
		{"POST", "/graphql", "application/json", []byte(`{"query":"{ blocks { edges { cursor } } }"` + strings.Repeat(" ", 1<<20) + `}`), 413, "body exceeds"},
		{"GET", "/graphql?query=%7B%20blocks%20%7B%20edges%20%7B%20cursor%20%7D%20%7D%20%7D&variables=%7Bnope", "", nil, 400, "variables is not a JSON object"},
		{"GET", "/graphql", "", nil, 400, "Must provide query string"},
	} {
		resp, body := do(t, c.method, n.url+c.url, c.ctype, c.body)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) || !strings.HasPrefix(string(body), `{"errors":[{"message":`) {
			t.Errorf("%s %.60s: %d %s, want %d with %q", c.method, c.body, resp.StatusCode, body, c.status, c.want)
		}
	}
	// The GraphQL-over-HTTP media type, when the client asks for it.
	req, err := http.NewRequest("POST", n.url+"/graphql", strings.NewReader(`{"query":"{ nope }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json;q=0.9")
	resp, body := localnettest.DoRequest(t, req)
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/graphql-response+json") {
		t.Fatalf("graphql-response+json: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// Not JSON at all.
	resp, body = do(t, "POST", n.url+"/graphql", "application/json", []byte("{nope"))
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"errors"`) {
		t.Fatalf("bad JSON: %d %s", resp.StatusCode, body)
	}
}
