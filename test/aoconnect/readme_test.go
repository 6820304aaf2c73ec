package aoconnect

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/devcmd"
)

// readmeBlock returns the body of the README's fenced block with this
// language whose first line starts with prefix.
func readmeBlock(t *testing.T, lang, prefix string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```\n")
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		if strings.HasPrefix(m[1], prefix) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no ```%s block starting with %q", lang, prefix)
	return ""
}

// TestDeveloperTools runs, on one `aocu dev` whose ports are laid out as
// WAO expects them (MU, SU, CU at the gateway's port + 2, + 3, + 4), the
// README's aoconnect script and WAO recipe verbatim, and the explorer in a
// headless browser, side by side.
func TestDeveloperTools(t *testing.T) {
	if testing.Short() {
		t.Skip("runs aocu dev")
	}
	t.Parallel()
	prerequisites(t)
	base := consecutiveFreePorts(t, 5)
	d := startDev(t, filepath.Join(t.TempDir(), "net"), [4]int{base, base + 2, base + 3, base + 4})
	t.Run("README aoconnect script", func(t *testing.T) { t.Parallel(); readmeSnippet(t, d) })
	t.Run("README WAO recipe", func(t *testing.T) { t.Parallel(); waoRecipe(t, d) })
	t.Run("explorer in Chromium", func(t *testing.T) { t.Parallel(); explorerBrowser(t, d) })
}

// readmeSnippet runs the README's aoconnect quick start verbatim (as
// hello.js in a folder whose packages are the versions its install line
// names), and checks the banner prints the same script.
func readmeSnippet(t *testing.T, d *dev) {
	install := strings.TrimSpace(readmeBlock(t, "sh", "npm init -y"))
	if install != devcmd.SnippetInstall {
		t.Fatalf("README install line %q, the banner's %q", install, devcmd.SnippetInstall)
	}
	// The install line's versions are those the examples are tested with.
	var pkg struct{ Dependencies map[string]string }
	b, err := os.ReadFile(filepath.Join(e2eDir, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		t.Fatalf("tools/aoconnect-e2e/package.json: %v", err)
	}
	for name, v := range pkg.Dependencies {
		if !strings.Contains(install, name+"@"+v) {
			t.Fatalf("the install line %q does not pin %s@%s", install, name, v)
		}
	}
	script := readmeBlock(t, "js", "import { connect, createDataItemSigner }")
	if want := devcmd.Snippet("http://127.0.0.1:4005"); script != want {
		t.Fatalf("README's script differs from the banner's (devcmd.Snippet):\n%s\nwant:\n%s", script, want)
	}

	banner, _ := os.ReadFile(d.log)
	for _, line := range strings.Split(strings.TrimSpace(devcmd.Snippet(d.ExplorerURL)), "\n") {
		if line != "" && !strings.Contains(string(banner), line) {
			t.Fatalf("the banner lacks the script's line %q", line)
		}
	}

	dir := filepath.Join(t.TempDir(), "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// What `npm init -y && npm pkg set type=module && npm i ...` leaves.
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name": "hello", "type": "module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e2eDir, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	// The only thing set is where this aocu dev is (it is not on :4005).
	out := nodeRun(t, dir, append(os.Environ(), "AOCU_URL="+d.ExplorerURL, "NODE_NO_WARNINGS=1"), 3*time.Minute, "hello.js")
	if !regexp.MustCompile(`(?m)^process [A-Za-z0-9_-]{43} says 2$`).MatchString(out) {
		t.Fatalf("hello.js printed %q", out)
	}
}

// waoRecipe runs the README's WAO recipe verbatim (WAO 0.35.7, installed
// under ~/.cache/aocu by scripts/wao.sh).
func waoRecipe(t *testing.T, d *dev) {
	recipe := readmeBlock(t, "js", "import { AO } from 'wao'")
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "wao.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("scripts/wao.sh: %v\n%s", err, stderr.String())
		}
		t.Skipf("skipped: scripts/wao.sh: %v\n%s", err, stderr.String())
	}
	waoDir := strings.TrimSpace(string(out))
	// The banner gives WAO's options for this network.
	banner, _ := os.ReadFile(d.log)
	if want := "new AO({ port: " + strconv.Itoa(d.ports[0]) + ", wao: false, module: '" + d.DefaultModule + "', scheduler: '" +
		d.SUAddress + "', authority: '" + d.MUAddress + "' })"; !strings.Contains(string(banner), want) {
		t.Errorf("the banner lacks %q", want)
	}

	dir := filepath.Join(t.TempDir(), "wao")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name": "hello-wao", "type": "module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(waoDir, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "recipe.js"), []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	got := nodeRun(t, dir, append(os.Environ(), "AOCU_URL="+d.ExplorerURL, "NODE_NO_WARNINGS=1"), 3*time.Minute, "recipe.js")
	for _, re := range []string{`(?m)^process [A-Za-z0-9_-]{43} says Hello, WAO!$`, `(?m)^dryrun says Hello, dryrun!$`} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Fatalf("recipe.js printed %q, want %s", got, re)
		}
	}
}

// consecutiveFreePorts finds n free consecutive ports and returns the first.
func consecutiveFreePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(40000)
		var lns []net.Listener
		ok := true
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free consecutive ports")
	return 0
}
