package oracle

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// checkpointEnv makes a CU upload an Arweave checkpoint after every
// evaluation stream: the evaluation time threshold of 1 ms is always met (aos
// is not metered: GasUsed is 0, the gas threshold never is), no throttle.
var checkpointEnv = []string{"DISABLE_PROCESS_CHECKPOINT_CREATION=false", "EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD=1",
	"EAGER_CHECKPOINT_ACCUMULATED_GAS_THRESHOLD=1", "PROCESS_CHECKPOINT_CREATION_THROTTLE=0"}

// checkpointsBothWays: a fresh reference CU and a fresh aocu each evaluate pid
// up to its message k and upload an Arweave checkpoint there to the local
// gateway; then a fresh aocu trusting only the reference's wallet and a
// fresh reference trusting only aocu's start from the other's checkpoint
// (their logs say so) and evaluate the messages after k: every /result after
// k, /state and a dry-run are byte-identical to each other.
//
// k is the last message before the end whose result (in the main
// comparison) has no Error: a CU checkpoints the memory after a message, and
// an Error rolls the memory back.
func checkpointsBothWays(t *testing.T, in install, n *localNet, thisProgram string, pid string, sched []scheduled, main *comparer) {
	ctx := context.Background()
	base := t.TempDir()
	k := -1
	for i := len(sched) - 2; i >= 1 && k < 0; i-- {
		for _, o := range main.outcomes {
			if o.req.path == fmt.Sprintf("/result/%s?process-id=%s", sched[i].id, pid) && o.ref.status == http.StatusOK &&
				!strings.Contains(string(o.ref.body), `"Error"`) {
				k = i
				break
			}
		}
	}
	if k < 0 {
		t.Fatalf("process %s has no message without an Error before its last one: nothing to checkpoint", pid)
	}
	wallets := map[string]*arweave.Wallet{}
	for _, name := range []string{"ref", "aocu"} {
		w, err := arweave.GenerateWallet()
		if err != nil {
			t.Fatal(err)
		}
		wallets[name] = w
	}
	start := func(name, dir string, w *arweave.Wallet, extra ...string) *cu {
		port := freePort(t)
		env, err := cuEnv(n, port, dir, w, extra...)
		if err != nil {
			t.Fatal(err)
		}
		if name == "ref" {
			return startRef(t, in, env, port)
		}
		return startAocu(t, append(env, "AO_LOADER_THIS_PROGRAM="+thisProgram), port, dir)
	}

	// 1. Both evaluate up to message k and upload a checkpoint there.
	refA := start("ref", filepath.Join(base, "refA"), wallets["ref"], checkpointEnv...)
	aocuA := start("aocu", filepath.Join(base, "aocuA"), wallets["aocu"], checkpointEnv...)
	first := &comparer{ref: refA, aocu: aocuA}
	first.do(ctx, resultReq("checkpoint source", pid, sched[k], ""))
	ids := map[string]string{}
	for name, w := range wallets {
		ids[name] = waitCheckpoint(t, n.gatewayURL, pid, w.Address(), sched[k].nonce)
	}
	t.Logf("checkpoints at nonce %s: reference %s, aocu %s", sched[k].nonce, ids["ref"], ids["aocu"])
	refA.stop()
	aocuA.stop()

	// 2. Each starts from the other's checkpoint.
	aocuB := start("aocu", filepath.Join(base, "aocuB"), wallets["aocu"], "PROCESS_CHECKPOINT_TRUSTED_OWNERS="+wallets["ref"].Address())
	refB := start("ref", filepath.Join(base, "refB"), wallets["ref"], "PROCESS_CHECKPOINT_TRUSTED_OWNERS="+wallets["aocu"].Address())
	second := &comparer{ref: refB, aocu: aocuB}
	for _, s := range sched[k+1:] {
		second.do(ctx, resultReq("after the crossed checkpoint:", pid, s, ""))
	}
	second.do(ctx, request{label: "after the crossed checkpoint: /state", kind: "state", method: "GET", path: "/state/" + pid})
	for _, r := range dryRuns("token1", pid) {
		r.label = "after the crossed checkpoint: " + r.label
		second.do(ctx, r)
	}
	refFrom := regexp.MustCompile(`ARWEAVE CHECKPOINT: Found Checkpoint for process "` + pid + `"`)
	if b, _ := os.ReadFile(refB.logPath); !refFrom.Match(b) {
		t.Errorf("the reference did not start from aocu's checkpoint %s (no %q in %s)", ids["aocu"], refFrom, refB.logPath)
	}
	if b, _ := os.ReadFile(aocuB.logPath); !aocuStartedFrom(string(b), pid, "arweave") {
		t.Errorf("aocu did not start from the reference's checkpoint %s (see %s)", ids["ref"], aocuB.logPath)
	}
	bodies, bodiesSame, memories, memoriesSame, _, failures := second.report(t)
	_, _, _, _, _, failures0 := first.report(t)
	t.Logf("CHECKPOINTS: %d/%d bodies identical, %d/%d memories equal after crossing", bodiesSame, bodies, memoriesSame, memories)
	if failures+failures0 > 0 && os.Getenv("AOCU_ORACLE_REPORT_ONLY") == "1" {
		t.Logf("AOCU_ORACLE_REPORT_ONLY=1: %d differences around the crossed checkpoints reported, not failed", failures+failures0)
	} else if failures+failures0 > 0 {
		t.Errorf("%d answers differ around the crossed checkpoints", failures+failures0)
	}
}

// aocuStartedFrom reports whether aocu's log has the starting point src for pid.
func aocuStartedFrom(log, pid, src string) bool {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "process starting point") && strings.Contains(l, pid) && strings.Contains(l, src) {
			return true
		}
	}
	return false
}

// waitCheckpoint waits for owner's checkpoint of pid at nonce on the gateway
// and returns its id.
func waitCheckpoint(t *testing.T, gatewayURL, pid, owner, nonce string) string {
	t.Helper()
	q := fmt.Sprintf(`{ transactions(owners: [%q], tags: [{ name: "Type", values: ["Checkpoint"] }, { name: "Process", values: [%q] }], first: 100) { edges { node { id tags { name value } } } } }`, owner, pid)
	body, _ := json.Marshal(map[string]string{"query": q})
	deadline := time.Now().Add(3 * time.Minute)
	var seen []string
	for {
		resp, b := localnettest.Do(t, http.MethodPost, gatewayURL+"/graphql", "application/json", body)
		var r struct {
			Data struct {
				Transactions struct {
					Edges []struct {
						Node struct {
							ID   string
							Tags []struct{ Name, Value string }
						}
					}
				}
			}
		}
		if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &r) == nil {
			seen = seen[:0]
			for _, e := range r.Data.Transactions.Edges {
				for _, tg := range e.Node.Tags {
					if tg.Name == "Nonce" {
						seen = append(seen, tg.Value)
						if tg.Value == nonce {
							return e.Node.ID
						}
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %s by %s at nonce %s on the gateway after 3 minutes (nonces seen: %v)", pid, owner, nonce, seen)
		}
		time.Sleep(time.Second)
	}
}
