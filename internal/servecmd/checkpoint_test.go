package servecmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"github.com/aocu/aocu/internal/loader"
	"github.com/aocu/aocu/internal/memimage"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/gwclient"
	"github.com/aocu/aocu/internal/localnet/localnettest"
)

// TestServeRestartFromFileCheckpoint: a graceful shutdown checkpoints every
// process in memory to file; after a restart the next message is evaluated
// from that checkpoint, not from the first message.
func TestServeRestartFromFileCheckpoint(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	var last string
	for i := 1; i <= 5; i++ {
		last = n.eval(t, pid, "N = (N or 0) + 1; return N")
	}
	r := n.result(t, pid, last)
	must(t, outputData(t, r) == "5", "before restart: %s", r["Output"])
	before := sha(n.state(t, pid))

	n.stopCU(t)
	files, _ := filepath.Glob(filepath.Join(n.dir, "cu", "checkpoints", "state-*.dat"))
	must(t, len(files) == 1, "file checkpoints after shutdown: %v", files)
	b, err := os.ReadFile(files[0])
	if err == nil {
		b, err = memimage.Decode(b, 0) // a compact image of the memory
	}
	if err != nil || sha(b) != before {
		t.Fatalf("the file checkpoint is not the state: %v", err)
	}

	n.startCU(t)
	r = n.result(t, pid, n.eval(t, pid, "N = (N or 0) + 1; return N"))
	must(t, outputData(t, r) == "6", "after restart: %s", r["Output"])
	st := n.cu.Engine.Stats()
	must(t, st.Evaluated == 1, "messages evaluated after the restart: %d (want 1: only the new one)", st.Evaluated)
	must(t, sha(n.state(t, pid)) == sha(n.replay(t, pid)), "state after a restart from a checkpoint")

	// A corrupt checkpoint is refused (sha256 mismatch): the process starts cold
	// and still computes the same state.
	n.stopCU(t)
	// The shutdown wrote a new checkpoint (at the new message) and removed the
	// old one: corrupt the one recorded now.
	files, _ = filepath.Glob(filepath.Join(n.dir, "cu", "checkpoints", "state-*.dat"))
	must(t, len(files) == 1, "file checkpoints after the second shutdown: %v", files)
	if err := os.WriteFile(files[0], []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.startCU(t)
	r = n.result(t, pid, n.eval(t, pid, "N = (N or 0) + 1; return N"))
	must(t, outputData(t, r) == "7", "after a corrupt checkpoint: %s", r["Output"])
	st = n.cu.Engine.Stats()
	must(t, st.Evaluated > 1, "the corrupt checkpoint was used (%d evaluated)", st.Evaluated)
	must(t, sha(n.state(t, pid)) == sha(n.replay(t, pid)), "state after refusing a corrupt checkpoint")
	_ = strconv.Itoa
}

// TestServeArweaveCheckpoint: eager Arweave checkpoints carry the reference's
// tags and gzip encoding, their memory restores in @permaweb/ao-loader (node)
// with the same results as aocu, and a restart that ignores local checkpoints
// resumes from the Arweave one.
func TestServeArweaveCheckpoint(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{env: map[string]string{
		"DISABLE_PROCESS_CHECKPOINT_CREATION":  "false",
		"EAGER_CHECKPOINT_EVAL_TIME_THRESHOLD": "1",
		"PROCESS_CHECKPOINT_CREATION_THROTTLE": "1",
	}})
	pid := n.spawn(t, "")
	var last string
	for i := 1; i <= 3; i++ {
		last = n.eval(t, pid, "N = (N or 0) + 1; return N")
		n.result(t, pid, last)
		time.Sleep(5 * time.Millisecond) // past the throttle
	}
	state := n.state(t, pid)

	gw, err := gwclient.New(gwclient.Options{ArweaveURL: n.gwURL})
	if err != nil {
		t.Fatal(err)
	}
	txs, err := gw.FindCheckpoints(context.Background(), pid, []string{n.cuWallet.Address()}, 50)
	if err != nil || len(txs) == 0 {
		t.Fatalf("checkpoints on the gateway: %v %v", txs, err)
	}
	var latest ao.CheckpointTx
	for _, tx := range txs {
		if v, _ := ao.TagValue(tx.Tags, "Nonce"); v == "3" {
			latest = tx
		}
	}
	must(t, latest.ID != "", "no checkpoint at nonce 3 among %d", len(txs))
	var names []string
	for _, tg := range latest.Tags {
		names = append(names, tg.Name)
	}
	must(t, strings.Join(names, ",") == "Data-Protocol,Variant,Type,Module,Process,Nonce,Timestamp,Block-Height,Content-Type,SHA-256,Content-Encoding,Unit-Identifier,Ordinate,Assignment,Hash-Chain",
		"checkpoint tags %v", names)
	tag := func(k string) string { v, _ := ao.TagValue(latest.Tags, k); return v }
	must(t, tag("Type") == "Checkpoint" && tag("Module") == n.mod && tag("Process") == pid && tag("Content-Encoding") == "gzip" &&
		tag("SHA-256") == sha(state) && tag("Ordinate") == "3" && latest.Owner == n.cuWallet.Address(), "checkpoint tags %v", latest.Tags)
	raw, err := gw.Raw(context.Background(), latest.ID)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := io.ReadAll(zr)
	if err != nil || sha(mem) != sha(state) {
		t.Fatalf("checkpoint data is not the gzipped state: %v", err)
	}

	// The next message, from the checkpoint, in aocu and in the reference loader.
	next := n.eval(t, pid, "N = (N or 0) + 1; return 'n=' .. N")
	r := n.result(t, pid, next)
	must(t, outputData(t, r) == "n=4", "next: %s", r["Output"])
	after := sha(n.state(t, pid))
	env, msgs := n.replayMessages(t, pid)
	ref := runReferenceLoader(t, n, mem, env, msgs[len(msgs)-1])
	var refLine struct {
		Output       json.RawMessage
		MemorySha256 string
	}
	if err := json.Unmarshal([]byte(ref), &refLine); err != nil {
		t.Fatalf("reference output %s", ref)
	}
	var refOut, cuOut any
	json.Unmarshal(refLine.Output, &refOut)
	json.Unmarshal(r["Output"], &cuOut)
	a, _ := json.Marshal(refOut)
	b, _ := json.Marshal(cuOut)
	must(t, string(a) == string(b), "Output from the checkpoint: reference %s, aocu %s", a, b)
	must(t, refLine.MemorySha256 == after, "memory after the next message: reference %s, aocu %s", refLine.MemorySha256, after)

	// A restart that ignores local checkpoints finds the Arweave one.
	n.stopCU(t)
	n.env["IGNORE_LOCAL_CHECKPOINTS"] = "true"
	n.env["DISABLE_PROCESS_CHECKPOINT_CREATION"] = "true"
	n.startCU(t)
	r = n.result(t, pid, n.eval(t, pid, "N = (N or 0) + 1; return 'n=' .. N"))
	must(t, outputData(t, r) == "n=5", "after restart: %s", r["Output"])
	st := n.cu.Engine.Stats()
	must(t, st.Evaluated <= 2, "evaluated after a restart from an Arweave checkpoint: %d", st.Evaluated)
	must(t, sha(n.state(t, pid)) == sha(n.replay(t, pid)), "state after a restart from an Arweave checkpoint")
}

// runReferenceLoader evaluates one message on a memory image with
// @permaweb/ao-loader in node (tools/refloader/run.cjs) and returns its line.
func runReferenceLoader(t testing.TB, n *testNet, mem, env, msg []byte) string {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "tools", "refloader", "node_modules", "@permaweb", "ao-loader")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("reference loader missing in CI: %v", err)
		}
		t.Skipf("reference loader not installed (run scripts/fixtures.sh): %v", err)
	}
	dir := t.TempDir()
	memFile, envFile := filepath.Join(dir, "mem"), filepath.Join(dir, "env.json")
	if err := os.WriteFile(memFile, mem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envFile, env, 0o644); err != nil {
		t.Fatal(err)
	}
	file := map[string]string{"wasm64-unknown-emscripten-draft_2024_02_15": "aos2_0_6.wasm", "wasm32-unknown-emscripten-metering": "aos2_0_4_32.wasm"}[n.format]
	cmd := exec.Command("node", filepath.Join(root, "tools", "refloader", "run.cjs"), "--quiet",
		"--module", filepath.Join(root, ".fixtures", "modules", file), "--format", n.format, "--env", envFile, "--memory-in", memFile)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Stdin = bytes.NewReader(append(msg, '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run.cjs: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// TestServeReferenceCheckpoint: a checkpoint made the reference's way — the
// memory computed by @permaweb/ao-loader in node, gzipped, in an item with
// the reference CU's tags signed by a trusted owner — restores in aocu.
func TestServeReferenceCheckpoint(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	for i := 1; i <= 3; i++ {
		n.eval(t, pid, "N = (N or 0) + 1; return N")
	}
	// The reference loader evaluates the whole schedule.
	env, msgs := n.replayMessages(t, pid)
	mem := runReferenceStream(t, n, env, msgs)
	// The position of the last message, from the SU.
	var page struct {
		Edges []struct {
			Node struct {
				Assignment struct {
					ID   string      `json:"id"`
					Tags []replayTag `json:"tags"`
				} `json:"assignment"`
			} `json:"node"`
		} `json:"edges"`
	}
	code, body := doGet(t, n.suURL+"/"+pid+"?process-id="+pid)
	if code != 200 || json.Unmarshal(body, &page) != nil {
		t.Fatalf("SU: %d %s", code, body)
	}
	last := page.Edges[len(page.Edges)-1].Node.Assignment
	at := map[string]string{}
	for _, tg := range last.Tags {
		at[tg.Name] = tg.Value
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(mem)
	zw.Close()
	height, _ := strconv.ParseInt(at["Block-Height"], 10, 64)
	signer := n.user // a trusted owner other than the CU
	d, raw := sign(t, signer, gz.Bytes(), "",
		"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Checkpoint", "Module", n.mod, "Process", pid,
		"Nonce", at["Nonce"], "Timestamp", at["Timestamp"], "Block-Height", strconv.FormatInt(height, 10),
		"Content-Type", "application/octet-stream", "SHA-256", sha(mem), "Content-Encoding", "gzip",
		"Unit-Identifier", "7c1b2b9e-0000-4000-8000-000000000000", "Ordinate", at["Nonce"],
		"Assignment", last.ID, "Hash-Chain", at["Hash-Chain"])
	resp, b := localnettest.Do(t, "POST", n.gwURL+"/tx/arweave", "application/octet-stream", raw)
	must(t, resp.StatusCode == 200, "upload: %d %s", resp.StatusCode, b)

	// A fresh CU (new database) that trusts that owner starts from it.
	n.stopCU(t)
	n.env["DB_URL"] = testDB(t, filepath.Join(n.dir, "cu2"))
	n.env["PROCESS_MEMORY_FILE_CHECKPOINTS_DIR"] = filepath.Join(n.dir, "cu2", "checkpoints")
	n.env["PROCESS_CHECKPOINT_TRUSTED_OWNERS"] = signer.Address()
	n.startCU(t)
	r := n.result(t, pid, n.eval(t, pid, "N = (N or 0) + 1; return 'n=' .. N"))
	must(t, outputData(t, r) == "n=4", "from the reference's checkpoint: %s", r["Output"])
	st := n.cu.Engine.Stats()
	must(t, st.Evaluated == 1, "evaluated from checkpoint %s: %d (want 1)", d.ID(), st.Evaluated)
	must(t, sha(n.state(t, pid)) == sha(n.replay(t, pid)), "state after the reference's checkpoint")
}

// runReferenceStream runs messages on a fresh process in @permaweb/ao-loader
// and returns the memory after them.
func runReferenceStream(t testing.TB, n *testNet, env []byte, msgs [][]byte) []byte {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "tools", "refloader", "node_modules", "@permaweb", "ao-loader")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("reference loader missing in CI: %v", err)
		}
		t.Skipf("reference loader not installed (run scripts/fixtures.sh): %v", err)
	}
	dir := t.TempDir()
	envFile, memFile := filepath.Join(dir, "env.json"), filepath.Join(dir, "mem")
	if err := os.WriteFile(envFile, env, 0o644); err != nil {
		t.Fatal(err)
	}
	file := map[string]string{"wasm64-unknown-emscripten-draft_2024_02_15": "aos2_0_6.wasm", "wasm32-unknown-emscripten-metering": "aos2_0_4_32.wasm"}[n.format]
	// The published loader of aocu's default profile (0.0.44, what the
	// deployed reference CU computes with) and its thisProgram.
	cmd := exec.Command("node", filepath.Join(root, "tools", "refloader", "run.cjs"), "--quiet", "--unsafe-memory",
		"--module", filepath.Join(root, ".fixtures", "modules", file), "--format", n.format, "--env", envFile, "--memory-out", memFile,
		"--loader-version", loader.DefaultLoaderVersion, "--this-program", loader.DefaultThisProgram)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Stdin = bytes.NewReader(append(bytes.Join(msgs, []byte("\n")), '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		t.Fatalf("run.cjs: %v\n%s", err, stderr.String())
	}
	mem, err := os.ReadFile(memFile)
	if err != nil {
		t.Fatal(err)
	}
	return mem
}
