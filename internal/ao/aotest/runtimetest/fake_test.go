package runtimetest_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/ao/aotest/runtimetest"
)

// scriptActions are aotest.Script's actions for the intents: every accepted
// message adds a line to its memory, Count answers the number of lines.
var scriptActions = map[runtimetest.Intent]string{
	runtimetest.Init: "Init", runtimetest.Bump: "Bump", runtimetest.Read: "Count",
	runtimetest.Fail: "Error", runtimetest.Loop: "Loop",
}

func TestFakeRuntime(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		Runtime: aotest.NewRuntime(nil),
		Wasm:    []byte("\x00asm\x01\x00\x00\x00"),
		Format:  "wasm64-unknown-emscripten-draft_2024_02_15",
		Env:     &ao.Env{Process: ao.EnvEntity{ID: "process"}, Module: ao.EnvEntity{ID: "module"}},
		Message: func(i runtimetest.Intent, nonce int) *ao.Message {
			return &ao.Message{ID: []byte(fmt.Sprintf(`"msg-%d"`, nonce)), Nonce: []byte(strconv.Itoa(nonce)),
				Tags: []ao.Tag{aotest.Action(scriptActions[i])}, Data: []byte(`""`)}
		},
		Counter: func(r *ao.Result) (int, error) {
			var o struct{ Data string }
			if err := json.Unmarshal(r.Output, &o); err != nil {
				return 0, fmt.Errorf("output %s: %w", r.Output, err)
			}
			return strconv.Atoi(o.Data)
		},
		Limit:     time.Second,
		LoopLimit: 10 * time.Millisecond,
	})
}
