package servecmd

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
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
