package servecmd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// largeData is n bytes of JSON-safe text that does not compress to nothing.
func largeData(n int, seed byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = alphabet[x>>26]
	}
	return string(b)
}

// TestServeLargeMessages: messages of 2 MiB and 9 MiB (the SU takes items up
// to 10 MiB) are evaluated and their results — an echo of the whole data —
// are readable through the real HTTP /result route and through the
// unmodified aoconnect's result().
func TestServeLargeMessages(t *testing.T) {
	m := e2eModules[0]
	n := startNet(t, m.file, m.format, netOptions{})
	pid := n.spawn(t, "")
	r := n.result(t, pid, n.eval(t, pid, `
Handlers.add("Echo", Handlers.utils.hasMatchingTag("Action", "Echo"), function (msg)
  msg.reply({ Action = "Echoed", Data = msg.Data })
end)
return "echo ready"`))
	must(t, outputData(t, r) == "echo ready", "Eval: %s", r["Output"])

	sizes := []int{2 << 20, 9 << 20}
	want := map[string]string{}
	var ids []string
	for i, size := range sizes {
		data := largeData(size, byte(i))
		start := time.Now()
		mid := n.send(t, pid, data, "Action", "Echo")
		posted := time.Since(start)
		start = time.Now()
		res := timedDo("GET", n.cuURL+"/result/"+mid+"?process-id="+pid, nil)
		must(t, res.code == 200, "/result of a %d-byte message: %d %.300s", size, res.code, res.body)
		var out struct {
			Messages []struct{ Data string }
			Error    json.RawMessage
		}
		must(t, json.Unmarshal(res.body, &out) == nil && len(out.Messages) == 1, "result of a %d-byte message: %.300s", size, res.body)
		must(t, out.Error == nil, "Error for a %d-byte message: %s", size, out.Error)
		must(t, out.Messages[0].Data == data, "the echo of a %d-byte message differs (%d bytes)", size, len(out.Messages[0].Data))
		t.Logf("%d MiB message: posted to the SU in %v, /result (evaluated, %d bytes) in %v", size>>20, posted.Round(time.Millisecond), len(res.body), time.Since(start).Round(time.Millisecond))
		want[mid] = sha([]byte(data))
		ids = append(ids, mid)
	}

	// The same results through aoconnect.
	node, err := exec.LookPath("node")
	dir := filepath.Join(repoRoot(t), "tools", "aoconnect-e2e")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "@permaweb", "aoconnect", "package.json")); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("in CI: node or tools/aoconnect-e2e/node_modules missing (%v, %v)", err, serr)
		}
		t.Skipf("node or tools/aoconnect-e2e/node_modules missing (run scripts/fixtures.sh): %v %v", err, serr)
	}
	cmd := exec.Command(node, "--import", "./guard.mjs", "results.mjs")
	cmd.Args = append(cmd.Args, ids...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CU_URL="+n.cuURL, "PROCESS="+pid)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	must(t, err == nil, "node results.mjs: %v\n%s", err, stderr.String())
	var got map[string]struct {
		SHA256 string
		Length int
		Error  any
		MS     int
	}
	must(t, json.Unmarshal(bytes.TrimSpace(stdout), &got) == nil, "results.mjs printed %q", stdout)
	for i, mid := range ids {
		g := got[mid]
		must(t, g.SHA256 == want[mid] && g.Length == sizes[i] && g.Error == nil, "aoconnect result() of the %d-byte message: %+v", sizes[i], g)
		t.Logf("aoconnect result() of the %d MiB message: %d ms", sizes[i]>>20, g.MS)
	}
	must(t, !strings.Contains(stderr.String(), "BLOCKED"), "results.mjs left loopback: %s", stderr.String())
}
