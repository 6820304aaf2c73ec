package aoconnect

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The aos CLI (permaweb/aos 2.0.16, the oracle in ../shared/oracles/aos-cli,
// installed under ~/.cache/aocu/ by scripts/aos-cli.sh) driven in a
// pseudo-terminal (tmux) against `aocu dev`, with the command line that
// `aocu dev` prints in its banner and network.json, run as printed.

// aosCLI installs the aos CLI (a no-op when cached) and returns its folder.
// It skips without npm/tmux/the oracle, except in CI.
func aosCLI(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("in CI: "+format, args...)
		}
		t.Skipf("skipped: "+format, args...)
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		missing("tmux is not installed (scripts/aos-cli.sh installs it in CI)")
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "aos-cli.sh"))
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		missing("scripts/aos-cli.sh: %v\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "bin", "aos.js")); err != nil {
		t.Fatalf("scripts/aos-cli.sh printed %q: %v", dir, err)
	}
	return dir
}

// term is a tmux session running one command in an 200x50 terminal.
type term struct {
	t    *testing.T
	sock string
	name string
}

func newTerm(t *testing.T, dir string, env []string, shellCmd string) *term {
	t.Helper()
	tm := &term{t: t, sock: filepath.Join(dir, "tmux.sock"), name: "aos"}
	args := []string{"-S", tm.sock, "new-session", "-d", "-s", tm.name, "-x", "200", "-y", "50"}
	// The shell stays after aos exits, so that its last words stay readable.
	args = append(args, "sh", "-c", shellCmd+"; echo AOS-EXITED $?; sleep 600")
	cmd := exec.Command("tmux", args...)
	cmd.Env = append(os.Environ(), env...) // the new tmux server's, and so the shell's
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

// screen is the terminal's whole history, lines joined.
func (tm *term) screen() string {
	out, err := exec.Command("tmux", "-S", tm.sock, "capture-pane", "-p", "-J", "-S", "-5000", "-t", tm.name).Output()
	if err != nil {
		tm.t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

// send types a line and Enter.
func (tm *term) send(line string) {
	tm.t.Helper()
	if out, err := exec.Command("tmux", "-S", tm.sock, "send-keys", "-t", tm.name, "-l", line).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
	if out, err := exec.Command("tmux", "-S", tm.sock, "send-keys", "-t", tm.name, "Enter").CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// waitAfter waits until re matches the screen after the last occurrence
// of mark, and returns the submatches.
func (tm *term) waitAfter(mark string, re *regexp.Regexp, timeout time.Duration) []string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tm.screen()
		i := strings.LastIndex(s, mark)
		if mark == "" {
			i = 0
		}
		if i >= 0 {
			if m := re.FindStringSubmatch(s[i+len(mark):]); m != nil {
				return m
			}
		}
		if strings.Contains(s, "AOS-EXITED") || time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %q after %q: not on the terminal:\n%s", re, mark, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eval types a Lua line at the aos prompt and waits for re on the lines it
// prints.
func (tm *term) eval(line string, re *regexp.Regexp, timeout time.Duration) []string {
	tm.t.Helper()
	tm.send(line)
	return tm.waitAfter(line, re, timeout)
}

// poll evaluates line until its output matches re (for effects of messages
// the MU pushes in the background).
func (tm *term) poll(line string, re *regexp.Regexp, timeout time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		// A distinct line each time (a trailing comment), so that the output
		// read is this evaluation's.
		l := fmt.Sprintf("%s -- %d", line, i)
		tm.send(l)
		m := tm.waitAfter(l, regexp.MustCompile(`(?s)^(.*?)\n[^\n]*aos-[0-9.]+\[Inbox:\d+\]>`), 60*time.Second)
		if re.MatchString(m[1]) {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("%s: never matched %q; last output %q", line, re, m[1])
		}
		time.Sleep(time.Second)
	}
}

// aosCommand is the aos line of <data-dir>/network.json.
func aosCommand(t *testing.T, dataDir string) string {
	t.Helper()
	var desc struct {
		AOS struct {
			Command string            `json:"command"`
			Env     map[string]string `json:"env"`
			Args    []string          `json:"args"`
		} `json:"aos"`
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "network.json"))
	if err != nil || json.Unmarshal(b, &desc) != nil || desc.AOS.Command == "" {
		t.Fatalf("network.json has no aos command: %v %s", err, b)
	}
	return desc.AOS.Command
}

func TestAOSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the aos CLI against aocu dev")
	}
	t.Parallel()
	prerequisites(t)
	aosDir := aosCLI(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "net")
	d := startDev(t, dataDir, [4]int{})

	// The command line as the banner prints it, with the process name.
	line := aosCommand(t, dataDir)
	bannerLog, _ := os.ReadFile(d.log)
	if !strings.Contains(string(bannerLog), line) {
		t.Fatalf("the banner does not print network.json's aos command %q", line)
	}
	if !strings.Contains(line, " aos myprocess ") {
		t.Fatalf("aos command %q", line)
	}
	line = strings.Replace(line, " aos myprocess ", " aos cli-test ", 1)

	// `aos` on PATH runs the installed copy; HOME is a scratch folder (aos
	// keeps its wallet and process cache there). The guard refuses any
	// connection off this machine; UPDATE_URL points aos's update check at
	// a local 404 instead of https://get_ao.arweave.net.
	home := filepath.Join(work, "home")
	binDir := filepath.Join(work, "bin")
	for _, dir := range []string{home, binDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shim := fmt.Sprintf("#!/bin/sh\nexec %q %q \"$@\"\n", nodeBin, filepath.Join(aosDir, "bin", "aos.js"))
	if err := os.WriteFile(filepath.Join(binDir, "aos"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PATH=" + binDir + ":" + os.Getenv("PATH"), "NODE_OPTIONS=--import " + guard,
		"UPDATE_URL=" + d.GatewayURL + "/no-aos-update", "NO_COLOR=1", "TERM=xterm"}
	luaFile := filepath.Join(work, "double.lua")
	if err := os.WriteFile(luaFile, []byte("function double(x)\n  return 2 * x\nend\nreturn 'loaded'\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	tm := newTerm(t, work, env, "cd "+work+" && "+line)
	m := tm.waitAfter("", regexp.MustCompile(`Your AOS Process: ([A-Za-z0-9_-]{43})[\s\S]*cli-test@aos-[0-9.]+\[Inbox:\d+\]>`), 90*time.Second)
	pid := m[1]
	t.Logf("spawned %s in %v", pid, time.Since(start).Round(100*time.Millisecond))
	defer func() {
		if t.Failed() {
			t.Logf("terminal:\n%s", tm.screen())
		}
	}()

	// A value is printed on a line of its own, or after a prompt that aos
	// redrew when something arrived in the Inbox meanwhile.
	tm.eval("1 + 1", regexp.MustCompile(`(?m)(^|\]> )2\s*$`), time.Minute)
	tm.eval(`Handlers.add("greet", "Greet", function(msg) Greeted = msg.Data end)`, regexp.MustCompile(`(?m)(^|\]> )\d+\s*$`), time.Minute)
	tm.eval(`Send({Target = ao.id, Data = "hi"})`, regexp.MustCompile(`Message added to outbox`), time.Minute)
	tm.poll(`Inbox[#Inbox].Data`, regexp.MustCompile(`(?m)^hi\s*$`), time.Minute)
	tm.eval(`Send({Target = ao.id, Action = "Greet", Data = "hello"})`, regexp.MustCompile(`Message added to outbox`), time.Minute)
	tm.poll(`Greeted`, regexp.MustCompile(`(?m)^hello\s*$`), time.Minute)

	tm.eval(".load "+luaFile, regexp.MustCompile(`loaded`), time.Minute)
	tm.eval("double(21)", regexp.MustCompile(`(?m)(^|\]> )42\s*$`), time.Minute)

	tm.eval(".load-blueprint token", regexp.MustCompile(`Loading\.\.\.\s+token|\n`), time.Minute)
	tm.poll(`Balances[ao.id]`, regexp.MustCompile(`(?m)^10000000000000000\s*$`), time.Minute)
	const recipient = "vh-NTHVvlKZqRxc8LyyTNok65yQ55a_PJ1zWLb9G2JI"
	tm.eval(`Send({Target = ao.id, Action = "Transfer", Recipient = "`+recipient+`", Quantity = "7"})`, regexp.MustCompile(`Message added to outbox`), time.Minute)
	tm.poll(`Balances["`+recipient+`"]`, regexp.MustCompile(`(?m)^7\s*$`), time.Minute)
	tm.poll(`Balances[ao.id]`, regexp.MustCompile(`(?m)^9999999999999993\s*$`), time.Minute)

	// aos exits; the network restarts on the same data; the same command
	// line reconnects to the process by its name, state intact.
	t.Logf("terminal:\n%s", tm.screen())
	tm.send(".exit")
	tm.waitAfter(".exit", regexp.MustCompile(`AOS-EXITED`), 30*time.Second)
	exec.Command("tmux", "-S", tm.sock, "kill-server").Run()
	d.kill9()
	d = startDev(t, dataDir, d.ports)
	tm = newTerm(t, work, env, "cd "+work+" && "+line)
	m = tm.waitAfter("", regexp.MustCompile(`Your AOS Process: ([A-Za-z0-9_-]{43})[\s\S]*cli-test@aos-[0-9.]+\[Inbox:\d+\]>`), 90*time.Second)
	if m[1] != pid {
		t.Fatalf("reconnected to %s, want %s", m[1], pid)
	}
	tm.poll(`Greeted .. " " .. double(2) .. " " .. Balances["`+recipient+`"]`, regexp.MustCompile(`(?m)^hello 4 7\s*$`), time.Minute)
	s := tm.screen()
	if strings.Contains(s, "BLOCKED") {
		t.Fatalf("aos reached for a host off this machine:\n%s", s)
	}
	t.Logf("terminal after the restart:\n%s", s)
}
