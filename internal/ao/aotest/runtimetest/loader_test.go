package runtimetest_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest/runtimetest"
	"github.com/aocu/aocu/internal/jsjson"
	"github.com/aocu/aocu/internal/loader"
)

func repoPath(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", "..", ".."}, parts...)...)
}

// aos ids, 43 characters like Arweave's.
var (
	processID = "PROCESS_ID_" + strings.Repeat("0", 32)
	ownerAddr = "OWNER_ADDRESS_" + strings.Repeat("0", 29)
	moduleID  = "MODULE_ID_" + strings.Repeat("0", 33)
)

func q(s string) ao.JSValue { return jsjson.AppendString(nil, s) }

func tags(kv ...string) []ao.Tag {
	var out []ao.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, ao.Tag{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var processTags = tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process", "Module", moduleID,
	"Scheduler", "SCHEDULER_"+strings.Repeat("0", 33), "Authority", "AUTHORITY_"+strings.Repeat("0", 33), "Content-Type", "text/plain")

// aosCode is the Lua that an Eval from the owner runs for each intent; the
// counter is a global.
var aosCode = map[runtimetest.Intent]string{
	runtimetest.Bump: "Counter = (Counter or 0) + 1",
	runtimetest.Read: `return "counter=" .. tostring(Counter or 0)`,
	runtimetest.Fail: `error("runtimetest failure")`,
	runtimetest.Loop: "while true do end",
}

// aosMessage is the message of an intent for aos: the process message for
// Init, else an Eval from the process's owner.
func aosMessage(i runtimetest.Intent, nonce int) *ao.Message {
	m := &ao.Message{
		Signature: q("SIG"), Owner: ownerAddr, Target: q(processID), Anchor: q(fmt.Sprintf("%032d", nonce)),
		From: ownerAddr, Epoch: json.RawMessage("0"), Nonce: json.RawMessage(strconv.Itoa(nonce)),
		Timestamp: float64(1_700_000_000_000 + nonce*1000), BlockHeight: 1_500_000, HashChain: q("HASHCHAIN"),
	}
	if i == runtimetest.Init {
		m.ID, m.Data, m.Tags = q(processID), q(""), processTags
		return m
	}
	m.ID = q(fmt.Sprintf("MSG_%039d", nonce))
	m.Data = q(aosCode[i])
	m.Tags = tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message", "Action", "Eval")
	return m
}

var counterRE = regexp.MustCompile(`counter=([0-9]+)`)

// aosCounter reads the counter from an Eval's Output ({"data": …}).
func aosCounter(r *ao.Result) (int, error) {
	var o struct{ Data json.RawMessage }
	if err := json.Unmarshal(r.Output, &o); err != nil {
		return 0, fmt.Errorf("output %s: %w", r.Output, err)
	}
	m := counterRE.FindSubmatch(o.Data)
	if m == nil {
		return 0, fmt.Errorf("no counter in the output %s", r.Output)
	}
	return strconv.Atoi(string(m[1]))
}

func TestLoaderRuntime(t *testing.T) {
	eng, err := loader.NewEngine(loader.EngineConfig{CacheDir: filepath.Join(os.TempDir(), "aocu-loader-test-cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	rt := loader.NewRuntime(eng, nil, slog.New(slog.DiscardHandler))
	for _, m := range []struct{ file, format string }{
		{"aos2_0_6.wasm", string(loader.FormatWasm64)},
		{"aos2_0_4_32.wasm", string(loader.FormatEmscripten4)},
	} {
		t.Run(m.file, func(t *testing.T) {
			wasm := runtimetest.Fixture(t, repoPath(".fixtures", "modules", m.file))
			runtimetest.Run(t, runtimetest.Harness{
				Runtime: rt,
				Wasm:    wasm,
				Format:  m.format,
				Env: &ao.Env{
					Process: ao.EnvEntity{ID: processID, Owner: ownerAddr, Tags: processTags},
					Module: ao.EnvEntity{ID: moduleID, Owner: "MODULE_OWNER_" + strings.Repeat("0", 30),
						Tags: tags("Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Module", "Module-Format", m.format,
							"Input-Encoding", "JSON-V1", "Output-Encoding", "JSON-V1", "Memory-Limit", "1-gb", "Compute-Limit", "9000000000000")},
				},
				Message: aosMessage,
				Counter: aosCounter,
				Limit:   time.Minute,
			})
		})
	}
}
