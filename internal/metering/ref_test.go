package metering

// Helpers that run the reference implementation (node + tools/refloader) for the tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type refTool struct {
	node   string
	script string // tools/refloader/meter.cjs
	nm     string // tools/refloader/node_modules
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// needRef returns the reference tool, or skips the test (with the reason) if node or the npm packages are
// missing. Run ./scripts/fixtures.sh to install them.
func needRef(t testing.TB) *refTool {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("reference check skipped: node is not installed")
	}
	root := repoRoot(t)
	rt := &refTool{
		node:   node,
		script: filepath.Join(root, "tools/refloader/meter.cjs"),
		nm:     filepath.Join(root, "tools/refloader/node_modules"),
	}
	for _, p := range []string{
		rt.script,
		filepath.Join(rt.nm, "@permaweb/wasm-metering/index.js"),
		filepath.Join(rt.nm, "@permaweb/wasm-json-toolkit/index.js"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("reference check skipped: %s is missing (run ./scripts/fixtures.sh)", p)
		}
	}
	return rt
}

type refResult struct {
	out []byte
	err string // "" on success, else "<Error.name>: <message>"
}

type meterJob struct {
	In        string `json:"in"`
	MeterType string `json:"meterType"`
	Out       string `json:"out"`
}

// meterBatch runs the reference meterWASM on every input in one node process.
func (rt *refTool) meterBatch(t testing.TB, inputs [][]byte, types []string) []refResult {
	t.Helper()
	dir := t.TempDir()
	jobs := make([]meterJob, len(inputs))
	for i, in := range inputs {
		jobs[i] = meterJob{
			In:        filepath.Join(dir, fmt.Sprintf("in%d.wasm", i)),
			MeterType: types[i],
			Out:       filepath.Join(dir, fmt.Sprintf("out%d.wasm", i)),
		}
		if err := os.WriteFile(jobs[i].In, in, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jb, _ := json.Marshal(jobs)
	jobsFile := filepath.Join(dir, "jobs.json")
	if err := os.WriteFile(jobsFile, jb, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rt.node, rt.script, "--batch", jobsFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node meter.cjs --batch: %v\n%s", err, stderr.String())
	}
	var res []struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(stdout, &res); err != nil || len(res) != len(inputs) {
		t.Fatalf("node meter.cjs --batch: bad output (%v): %.300s", err, stdout)
	}
	out := make([]refResult, len(inputs))
	for i, r := range res {
		if !r.OK {
			out[i].err = r.Error
			continue
		}
		b, err := os.ReadFile(jobs[i].Out)
		if err != nil {
			t.Fatal(err)
		}
		out[i].out = b
	}
	return out
}

// meterOne runs the documented single-module form of meter.cjs.
func (rt *refTool) meterOne(t testing.TB, in []byte, meterType string) refResult {
	t.Helper()
	dir := t.TempDir()
	inFile, outFile := filepath.Join(dir, "in.wasm"), filepath.Join(dir, "out.wasm")
	if err := os.WriteFile(inFile, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rt.node, rt.script, inFile, meterType, outFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		b, err := os.ReadFile(outFile)
		if err != nil {
			t.Fatal(err)
		}
		return refResult{out: b}
	case errors.As(err, &ee) && ee.ExitCode() == 2:
		line, _, _ := strings.Cut(stderr.String(), "\n")
		return refResult{err: strings.TrimPrefix(line, "meterWASM threw: ")}
	default:
		t.Fatalf("node meter.cjs: %v\n%s", err, stderr.String())
		return refResult{}
	}
}

// checkAgainstRef compares Meter's result with the reference's. A KindLimit refusal (where the reference
// would not finish) is only logged.
func checkAgainstRef(t testing.TB, name string, got []byte, gotErr error, ref refResult) {
	t.Helper()
	var me *Error
	if gotErr != nil && !errors.As(gotErr, &me) {
		t.Errorf("%s: Meter returned a non-*Error: %v", name, gotErr)
		return
	}
	switch {
	case gotErr == nil && ref.err == "":
		if !bytes.Equal(got, ref.out) {
			i := 0
			for i < len(got) && i < len(ref.out) && got[i] == ref.out[i] {
				i++
			}
			t.Errorf("%s: output differs from the reference at byte %d (len %d vs %d)\n go: %x\nref: %x",
				name, i, len(got), len(ref.out), window(got, i), window(ref.out, i))
		}
	case gotErr != nil && me.Kind == KindLimit:
		t.Logf("%s: Meter refuses (%v); reference result not compared", name, gotErr)
	case gotErr != nil && ref.err != "":
		if me.RefError != ref.err {
			t.Errorf("%s: both refuse, but Meter predicts %q and the reference threw %q", name, me.RefError, ref.err)
		}
	case gotErr != nil:
		t.Errorf("%s: Meter refuses (%v) but the reference meters it (%d bytes)", name, gotErr, len(ref.out))
	default:
		t.Errorf("%s: the reference throws %q but Meter returns %d bytes", name, ref.err, len(got))
	}
}

func window(b []byte, i int) []byte {
	lo, hi := max(i-16, 0), min(i+16, len(b))
	return b[lo:hi]
}
