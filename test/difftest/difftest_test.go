// Package difftest runs the same modules and messages through `aocu eval` and
// through both published reference loaders in node, driven by
// tools/refloader/run.cjs: @permaweb/ao-loader 0.0.49 (tools/refloader) and
// 0.0.44 (tools/refloader044, what the reference CU's lockfile pins), each
// against aocu's matching --loader-version, with the same thisProgram
// (process.argv[1] of the node side). It requires identical output: every
// result field and the sha256 of the process memory after every message.
//
// Scenarios live in tools/refloader/scenarios/<name>/scenario.json. Each also
// has expected-<module>.jsonl (0.0.49) and expected044-<module>.jsonl (0.0.44)
// files recorded from the reference; they are checked too, so a difference is
// caught even where node is unavailable.
//
// Environment: AOCU_DIFF_LIVE=0 skips the live node runs (golden files only);
// AOCU_DIFF_RECORD=1 writes the live reference output to the golden files.
package difftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/aot"
	"github.com/aocu/aocu/internal/testbin"
)

var (
	root string
)

func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// setup builds aocu once and checks the fixtures.
func setup(t *testing.T) {
	t.Helper()
	root = repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".fixtures", "modules", "aos2_0_6.wasm")); err != nil {
		t.Skip("npm fixtures missing: run ./scripts/fixtures.sh (the test command does)")
	}
	testbin.Aocu(t) // built once, before anything runs it
}

// thisProgram is the glue's thisProgram on both sides: run.cjs sets
// process.argv[1] to it, aocu gets it as --this-program. It is the reference
// CU's in its Docker image, aocu's default.
const thisProgram = "/usr/app/src/app.js" // any path: both sides get it (the goldens were recorded with it)

// loaderVersion is one published reference loader and where it is installed.
type loaderVersion struct {
	version string
	dir     string // tools/<dir>/node_modules/@permaweb/ao-loader
	golden  string // prefix of the golden files: expected / expected044
}

var loaderVersions = []loaderVersion{
	{"0.0.49", "refloader", "expected"},
	{"0.0.44", "refloader044", "expected044"},
}

// goldenName is the golden file of a loader version for a run's expected file.
func (v loaderVersion) goldenName(expected string) string {
	if expected == "" {
		return ""
	}
	return v.golden + strings.TrimPrefix(expected, "expected")
}

func liveNode(t *testing.T, v loaderVersion) bool {
	if os.Getenv("AOCU_DIFF_LIVE") == "0" {
		return false
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("node not found: comparing against the recorded reference outputs only")
		return false
	}
	if _, err := os.Stat(filepath.Join(root, "tools", v.dir, "node_modules", "@permaweb", "ao-loader")); err != nil {
		t.Logf("tools/%s/node_modules missing: comparing against the recorded reference outputs only", v.dir)
		return false
	}
	return true
}

// profileArgs are the loader-profile arguments of both aocu eval and run.cjs.
func profileArgs(v loaderVersion) []string {
	return []string{"--loader-version", v.version, "--this-program", thisProgram}
}

type scenario struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
	Runs   []struct {
		Module   string `json:"module"`
		Format   string `json:"format"`
		Env      string `json:"env"`
		Expected string `json:"expected"`
	} `json:"runs"`
}

// runAocu runs aocu eval and returns its stdout lines.
func runAocu(t *testing.T, input []byte, args ...string) []string {
	t.Helper()
	cmd := exec.Command(testbin.Aocu(t), append([]string{"eval", "--cache-dir", filepath.Join(os.TempDir(), "aocu-difftest-cache")}, args...)...)
	cmd.Env = append(os.Environ(), tierEnv(t)...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aocu eval %v: %v\n%s", args, err, stderr.String())
	}
	return lines(out)
}

// tierEnv is the environment of aocu eval for the tier of this run:
// AOCU_TEST_TIER=aot runs aocu on the ahead-of-time tier (scripts/test.sh runs
// the suite both ways), with wasm2c from scripts/fixtures.sh.
func tierEnv(t *testing.T) []string {
	t.Helper()
	tier := os.Getenv("AOCU_TEST_TIER")
	if tier == "" {
		return nil
	}
	env := []string{"AOCU_WASM_TIER=" + tier}
	if tier == "aot" {
		w2c, err := aot.FindWasm2c(root)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "AOCU_WASM2C="+strings.Join(w2c, " "))
	}
	return env
}

// runReference runs the reference loader through run.cjs.
func runReference(t *testing.T, input []byte, args ...string) []string {
	t.Helper()
	if !slices.Contains(args, "--loader-version") {
		t.Fatal("runReference needs --loader-version")
	}
	cmd := exec.Command("node", append([]string{filepath.Join(root, "tools", "refloader", "run.cjs"), "--quiet", "--unsafe-memory"}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference run.cjs %v: %v\n%s", args, err, stderr.String())
	}
	return lines(out)
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// compare requires the two outputs to be identical line by line, and explains
// the first difference (as JSON when the bytes differ but the values agree).
func compare(t *testing.T, what string, labels []string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d result lines, reference has %d", what, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] == want[i] {
			continue
		}
		label := fmt.Sprintf("message %d", i+1)
		if i < len(labels) {
			label += " (" + labels[i] + ")"
		}
		var g, w any
		_ = json.Unmarshal([]byte(got[i]), &g)
		_ = json.Unmarshal([]byte(want[i]), &w)
		kind := "bytes differ, values differ"
		if reflect.DeepEqual(g, w) {
			kind = "bytes differ but values are equal"
		}
		t.Errorf("%s: %s: %s\n aocu:      %s\n reference: %s", what, label, kind, clip(got[i]), clip(want[i]))
		return
	}
}

func clip(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

func loadScenarios(t *testing.T) map[string]scenario {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "tools", "refloader", "scenarios", "*", "scenario.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	out := map[string]scenario{}
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var s scenario
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(filepath.Dir(p))] = s
	}
	return out
}

// benchOnly scenarios are for the benchmarks: too long for a differential run.
var benchOnly = map[string]bool{"bench": true, "grow": true}

// long scenarios are skipped with -short.
var long = map[string]bool{"full": true, "heavy": true, "metering": true}

// TestDifferential runs every scenario on every listed module through aocu and
// both reference loaders and requires identical results and memory hashes.
func TestDifferential(t *testing.T) {
	setup(t)
	record := os.Getenv("AOCU_DIFF_RECORD") == "1"
	for name, sc := range loadScenarios(t) {
		if benchOnly[name] {
			continue
		}
		if testing.Short() && long[name] {
			t.Logf("-short: skipping the long scenario %q", name)
			continue
		}
		for _, run := range sc.Runs {
			for _, v := range loaderVersions {
				name, sc, run, v := name, sc, run, v
				t.Run(name+"/"+strings.TrimSuffix(run.Module, ".wasm")+"/"+v.version, func(t *testing.T) {
					t.Parallel()
					live := liveNode(t, v)
					dir := filepath.Join(root, "tools", "refloader", "scenarios", name)
					input, err := os.ReadFile(filepath.Join(dir, "messages.jsonl"))
					if err != nil {
						t.Fatal(err)
					}
					args := []string{"--module", filepath.Join(root, ".fixtures", "modules", run.Module), "--format", run.Format, "--env", filepath.Join(dir, run.Env)}
					args = append(args, profileArgs(v)...)
					got := runAocu(t, input, args...)
					checked := false
					golden := v.goldenName(run.Expected)
					if golden != "" && !record {
						if b, err := os.ReadFile(filepath.Join(dir, golden)); err == nil {
							compare(t, "recorded reference "+golden, sc.Labels, got, lines(b))
							checked = true
						}
					}
					if live {
						want := runReference(t, input, args...)
						compare(t, "live reference "+v.version, sc.Labels, got, want)
						checked = true
						if record && golden != "" {
							if err := os.WriteFile(filepath.Join(dir, golden), []byte(strings.Join(want, "\n")+"\n"), 0o644); err != nil {
								t.Fatal(err)
							}
						}
					}
					if !checked {
						t.Skip("no recorded reference output and node is unavailable")
					}
				})
			}
		}
	}
}

// TestReferenceProbeHashes pins the memory hashes of the first four probe
// steps: for 0.0.49 those research/loader-probe recorded from the reference
// loader, for 0.0.44 those of tools/refloader/run.cjs --loader-version 0.0.44
// --this-program /usr/app/src/app.js.
func TestReferenceProbeHashes(t *testing.T) {
	setup(t)
	byVersion := map[string]map[string][]string{
		"0.0.49": {
			"aos2_0_6": {"ce380b154db23236bc217eeafdd715d5931ce7b98fb274a3ed831c104a3b394b", "d77f26b6071b62d9a9a07d018e028424be15c77d248c00adb670ac7b8cf711b1",
				"40efe50f342f4b75215c2ebfbf711a467e29252c1e42eff102d5dc00a9e46c8a", "d7c8bdf15202581dac0a81ac9186c7954fe8e7ba200ebf2da2ac97842c1e1025"},
			"aos2_0_4_32": {"ce0b24e175be925693d83e2e8c23b8e6217d99de724f2ad2b0880f2087a8ecf3", "e97eeb469bc1960d16ab1956495fcbf85d618e1ecddbf2a946eb1246aa33f283",
				"ae3341825f1803dd9886ddad196db4e0e2c1c49cc6ef06b834721179e0c71a87", "b534c46113318ef81d2aef1f8f2a37e595bf2d20809e5591067e4ba835b2c31b"},
		},
		"0.0.44": {
			"aos2_0_6": {"b9ae7c8d19a14e5d55d69365bbd254d17a0ce609e67b4fcc41ee764b448595db", "7d62f53812c35adbeb7663843a937def01a9c02fcbcd34d88e3515d707054025",
				"fc5c4ded7e28bb411777cab21d8168b2d787dd13510db6e93ef15e288551c939", "f9a8297554eabcf752486d5be01bf266fe3008a94bb0191757694a6e5b19cb82"},
			"aos2_0_4_32": {"0f1f84878f867b290857cfc8b90d2723f81fa51d3e8665d45ae85489c6b00e76", "3fc066a3da5b6231125c6deb4fd301cc7384b17858803f7ddc2cce74b61ac26e",
				"e6c92f6c7151907fabc0f452bf7c357be6c33e7874c7b328bb2343011548f84a", "0d02c0e753cbeff45c54425099bbc551b52d72d281ebb9ae4acb91359f089160"},
		},
	}
	sizes := map[string]float64{"aos2_0_6": 110034944, "aos2_0_4_32": 109969408}
	formats := map[string]string{"aos2_0_6": "wasm64-unknown-emscripten-draft_2024_02_15", "aos2_0_4_32": "wasm32-unknown-emscripten4"}
	envs := map[string]string{"aos2_0_6": "env-wasm64.json", "aos2_0_4_32": "env-wasm32.json"}
	dir := filepath.Join(root, "tools", "refloader", "scenarios", "probe")
	all, err := os.ReadFile(filepath.Join(dir, "messages.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first4 := []byte(strings.Join(lines(all)[:4], "\n"))
	for _, v := range loaderVersions {
		for mod, hashes := range byVersion[v.version] {
			checkProbeHashes(t, v, mod, hashes, first4, sizes[mod], formats[mod], filepath.Join(dir, envs[mod]))
		}
	}
}

func checkProbeHashes(t *testing.T, v loaderVersion, mod string, hashes []string, first4 []byte, size float64, format, env string) {
	t.Helper()
	got := runAocu(t, first4, append([]string{"--module", filepath.Join(root, ".fixtures", "modules", mod+".wasm"), "--format", format, "--env", env}, profileArgs(v)...)...)
	if len(got) != 4 {
		t.Fatalf("%s: %d lines", mod, len(got))
	}
	for i, line := range got {
		var r struct {
			MemorySize   float64
			MemorySha256 string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.MemorySha256 != hashes[i] || r.MemorySize != size {
			t.Errorf("%s %s step %d: memory %v/%s, reference %v/%s", v.version, mod, i+1, r.MemorySize, r.MemorySha256, size, hashes[i])
		}
	}
}

// TestRestoreAcrossImplementations hands memory images between aocu and the
// reference: an image written by one and restored in the other must give the
// same results and memory as the reference continuing on its own image.
func TestRestoreAcrossImplementations(t *testing.T) {
	setup(t)
	dir := filepath.Join(root, "tools", "refloader", "scenarios", "probe")
	all := lines(must(os.ReadFile(filepath.Join(dir, "messages.jsonl"))))
	head := []byte(strings.Join(all[:4], "\n"))
	tail := []byte(strings.Join(all[4:], "\n"))
	for _, c := range []struct{ mod, format, env string }{
		{"aos2_0_6", "wasm64-unknown-emscripten-draft_2024_02_15", "env-wasm64.json"},
		{"aos2_0_4_32", "wasm32-unknown-emscripten4", "env-wasm32.json"},
	} {
		for _, v := range loaderVersions {
			c, v := c, v
			t.Run(c.mod+"/"+v.version, func(t *testing.T) {
				if !liveNode(t, v) {
					t.Skip("needs node and the reference loader (run ./scripts/fixtures.sh)")
				}
				restoreAcross(t, v, c.mod, c.format, filepath.Join(dir, c.env), head, tail)
			})
		}
	}
}

// restoreAcross hands the image after the probe's first four messages from
// one implementation to the other, under one loader version.
func restoreAcross(t *testing.T, v loaderVersion, mod, format, env string, head, tail []byte) {
	t.Helper()
	tmp := t.TempDir()
	refImg, goImg := filepath.Join(tmp, "ref.bin"), filepath.Join(tmp, "aocu.bin")
	args := append([]string{"--module", filepath.Join(root, ".fixtures", "modules", mod+".wasm"), "--format", format, "--env", env}, profileArgs(v)...)
	runReference(t, head, append(args, "--memory-out", refImg)...)
	runAocu(t, head, append(args, "--memory-out", goImg)...)
	if !bytes.Equal(must(os.ReadFile(refImg)), must(os.ReadFile(goImg))) {
		t.Fatal("memory images after the same 4 messages differ")
	}
	want := runReference(t, tail, append(args, "--memory-in", refImg)...)
	compare(t, "aocu restoring the reference's image", nil, runAocu(t, tail, append(args, "--memory-in", refImg)...), want)
	compare(t, "reference restoring aocu's image", nil, runReference(t, tail, append(args, "--memory-in", goImg)...), want)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
