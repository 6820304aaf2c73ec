package evalcmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoPath(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

func fixtureArgs(t *testing.T) []string {
	t.Helper()
	mod := repoPath(".fixtures", "modules", "aos2_0_4_32.wasm")
	if _, err := os.Stat(mod); err != nil {
		t.Skip("fixtures missing: run ./scripts/fixtures.sh")
	}
	return []string{"--module", mod, "--format", "wasm32-unknown-emscripten4",
		"--env", repoPath("tools", "refloader", "scenarios", "probe", "env-wasm32.json"),
		"--cache-dir", filepath.Join(os.TempDir(), "aocu-evalcmd-test-cache")}
}

func probeLines(t *testing.T, n int) []string {
	t.Helper()
	b, err := os.ReadFile(repoPath("tools", "refloader", "scenarios", "probe", "messages.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")[:n]
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), nil, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "required") {
		t.Errorf("no flags: code %d, %q", code, errb.String())
	}
	errb.Reset()
	args := append(fixtureArgs(t)[:2], "--format", "wasm99-bogus", "--env", fixtureArgs(t)[5])
	if code := Run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "unknown module format") {
		t.Errorf("bad format: code %d, %q", code, errb.String())
	}
	errb.Reset()
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	os.WriteFile(notWasm, []byte("hello"), 0o644)
	args = append([]string{"--module", notWasm}, fixtureArgs(t)[2:]...)
	if code := Run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "not a WebAssembly binary") {
		t.Errorf("not wasm: code %d, %q", code, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout must stay empty on usage errors, got %q", out.String())
	}
}

// TestBadLinesAndMemoryOut: invalid lines produce an Error line (the run goes
// on, the memory is unchanged, the exit code reports it); --memory-out holds
// the final memory whose hash the last line reports.
func TestBadLinesAndMemoryOut(t *testing.T) {
	msgs := probeLines(t, 4)
	input := strings.Join([]string{msgs[0], msgs[1], "{not json", "", "  [1,2,3]  ", msgs[2], msgs[3]}, "\n")
	memOut := filepath.Join(t.TempDir(), "mem.bin")
	var out, errb bytes.Buffer
	code := Run(context.Background(), append(fixtureArgs(t), "--memory-out", memOut), strings.NewReader(input), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "2 input line(s) were not valid JSON messages") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d output lines: %q", len(lines), out.String())
	}
	type res struct {
		Error        string
		Output       json.RawMessage
		Messages     []struct{ Data string }
		MemorySize   int
		MemorySha256 string
	}
	var r []res
	for _, l := range lines {
		var x res
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		r = append(r, x)
	}
	if !strings.Contains(r[2].Error, "invalid message JSON on line 3") || !strings.Contains(r[3].Error, "must be a JSON object") {
		t.Errorf("error lines: %+v %+v", r[2], r[3])
	}
	if r[2].MemorySha256 != r[1].MemorySha256 || r[3].MemorySha256 != r[1].MemorySha256 {
		t.Error("an invalid line changed the memory")
	}
	if r[5].Output == nil || r[5].Error != "" {
		t.Errorf("the run did not go on: %+v", r[5])
	}
	img, err := os.ReadFile(memOut)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(img)
	if hex.EncodeToString(sum[:]) != r[5].MemorySha256 || len(img) != r[5].MemorySize {
		t.Errorf("--memory-out does not match the last line")
	}
	// Restoring that image gives the same answer to the same Get (the wasm32
	// aos also warns about the repeated nonce in Output, so compare the reply).
	out.Reset()
	if code := Run(context.Background(), append(fixtureArgs(t), "--memory-in", memOut), strings.NewReader(msgs[3]), &out, &errb); code != 0 {
		t.Fatalf("memory-in: %d %s", code, errb.String())
	}
	var again res
	json.Unmarshal(out.Bytes(), &again)
	if len(again.Messages) != 1 || again.Messages[0].Data != "bar" || len(r[5].Messages) != 1 || r[5].Messages[0].Data != "bar" {
		t.Errorf("after restore: %+v vs %+v", again.Messages, r[5].Messages)
	}
}

// TestLoaderProfileFlags: --loader-version and --this-program select what the
// module sees (0.0.44: the environment strings with _=thisProgram, no
// Patches; 0.0.49: none, Patches), AO_LOADER_VERSION sets the default, and a
// version that is not supported is a usage error.
func TestLoaderProfileFlags(t *testing.T) {
	msgs := probeLines(t, 2)
	var m map[string]any
	if err := json.Unmarshal([]byte(msgs[1]), &m); err != nil {
		t.Fatal(err)
	}
	m["Data"] = `return (os.getenv("_") or "nil") .. "|" .. (os.getenv("USER") or "nil")`
	getenv, _ := json.Marshal(m)
	input := msgs[0] + "\n" + string(getenv)
	run := func(args ...string) []map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Run(context.Background(), append(fixtureArgs(t), args...), strings.NewReader(input), &out, &errb); code != 0 {
			t.Fatalf("%v: code %d: %s", args, code, errb.String())
		}
		var res []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var r map[string]any
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			res = append(res, r)
		}
		return res
	}
	data := func(r map[string]any) string {
		s, _ := r["Output"].(map[string]any)["data"].(string)
		return s
	}
	def := run()
	if _, ok := def[0]["Patches"]; ok || !strings.HasSuffix(data(def[1]), "/usr/app/src/effects/worker/evaluator/index.js|web_user") {
		t.Errorf("default (0.0.44): %v / %q", def[0]["Patches"], data(def[1]))
	}
	if r := run("--this-program", "/srv/cu/src/app.js"); !strings.HasSuffix(data(r[1]), "/srv/cu/src/app.js|web_user") || r[0]["MemorySha256"] == def[0]["MemorySha256"] {
		t.Errorf("--this-program: %q", data(r[1]))
	}
	v49 := run("--loader-version", "0.0.49")
	if _, ok := v49[0]["Patches"]; !ok || !strings.HasSuffix(data(v49[1]), "nil|nil") {
		t.Errorf("0.0.49: %v / %q", v49[0]["Patches"], data(v49[1]))
	}
	t.Setenv("AO_LOADER_VERSION", "0.0.47")
	if r := run(); r[0]["MemorySha256"] != v49[0]["MemorySha256"] || r[0]["Patches"] != nil {
		t.Errorf("AO_LOADER_VERSION=0.0.47: memory %v (0.0.49: %v), Patches %v", r[0]["MemorySha256"], v49[0]["MemorySha256"], r[0]["Patches"])
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), append(fixtureArgs(t), "--loader-version", "0.0.45"), strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "0.0.44, 0.0.47, 0.0.48, 0.0.49") {
		t.Errorf("unsupported version: code %d, %q", code, errb.String())
	}
}
