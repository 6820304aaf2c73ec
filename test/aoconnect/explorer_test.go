package aoconnect

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// explorerBrowser opens the explorer of `aocu dev` in Debian's headless
// Chromium (playwright-core; both installed by scripts/browser.sh), spawns a
// process and messages it with aoconnect, and checks the page shows them as
// they happen (testdata/explorer.mjs). AOCU_SCREENSHOT=path keeps the
// screenshot (docs/explorer.png comes from there).
func explorerBrowser(t *testing.T, d *dev) {
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "browser.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("scripts/browser.sh: %v\n%s", err, stderr.String())
		}
		t.Skipf("skipped: no headless browser: %v\n%s", err, stderr.String())
	}
	playwright := strings.TrimSpace(string(out))
	shot := os.Getenv("AOCU_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "explorer.png")
	}

	env := append(os.Environ(), "EXPLORER_URL="+d.ExplorerURL, "PLAYWRIGHT_DIR="+playwright, "AOCONNECT_DIR="+e2eDir,
		"SCREENSHOT="+shot, "NODE_NO_WARNINGS=1")
	var r result
	lastJSON(t, nodeRun(t, root, env, 4*time.Minute, filepath.Join(root, "test", "aoconnect", "testdata", "explorer.mjs")), &r)
	t.Logf("explorer: %v", r)
	if !isID(r.str("pid")) || !isID(r.str("mid")) {
		t.Fatalf("ids: %v", r)
	}
	r.eq(t, "result", "explorer-42")
	r.eq(t, "linkStatus", 200)
	r.eq(t, "errors", []string{})
	r.eq(t, "foreign", []string{})
	if !strings.Contains(r.str("outbox"), "Ping delivered") {
		t.Errorf("outbox cell %q: want the Ping delivered", r.str("outbox"))
	}
	for _, want := range []string{"explorer-test", "aos2_0_6", d.MUAddress + " this MU", "MB"} {
		if !strings.Contains(r.str("facts"), want) {
			t.Errorf("process facts %q lack %q", r.str("facts"), want)
		}
	}
	// The cron process: its cron results counted, and growing live.
	if first, later := r.num("cronsFirst"), r.num("cronsLater"); first < 1 || later <= first {
		t.Errorf("cron results: %v then %v", first, later)
	}
	if !strings.Contains(r.str("cronFacts"), "Cron-Interval = 1-second") {
		t.Errorf("cron process facts %q", r.str("cronFacts"))
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}
