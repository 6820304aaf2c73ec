package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
)

// CHECKPONT_VALIDATION_*: with more checkpoints than Steps+Retries, a window
// is replayed and its newest checkpoint used only when enough of its links
// replay to the same memory. A forged chain (each memory with a matching
// SHA-256 tag, so the hash check alone passes) is not used.
func TestCheckpointValidationByReplay(t *testing.T) {
	for _, tc := range []struct {
		name       string
		steps      int
		forge      bool
		wantResult string
		wantEvals  int // evaluations to answer the new message, replays included
	}{
		{"honest chain validated", 3, false, "8:m7", 3},                   // replays 4→5, 5→6, then m7
		{"forged chain refused", 3, true, "8:m7", 2 + 8},                  // 4→5, 5→6 (the one window of Retries=1), then a cold start
		{"without validation the forged one is used", 0, true, "4:m7", 1}, // three forged lines + m7: a wrong state
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := aotest.NewWorld(nil)
			pid := w.Spawn(w.PublishModule(nil), "boot")
			mem := ":boot\n"
			for k := 1; k <= 6; k++ {
				id := w.Send(pid, fmt.Sprint("m", k))
				mem += fmt.Sprint(":m", k, "\n")
				data := mem
				if tc.forge && k >= 5 {
					data = strings.Repeat("forged\n", 3)
				}
				meta, err := w.Scheduler.Message(t.Context(), aotest.SUURL, id, pid)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256([]byte(data))
				w.Gateway.Put(aotest.Item{ID: aotest.NewID("checkpoint", k), Owner: aotest.Owner, Data: []byte(data), Tags: []ao.Tag{
					aotest.Tag("Data-Protocol", "ao"), aotest.Tag("Type", "Checkpoint"), aotest.Tag("Process", pid),
					aotest.Tag("Module", moduleOf(t, w, pid)), aotest.Tag("Nonce", strconv.Itoa(k)), aotest.Tag("Epoch", "0"),
					aotest.Tag("Timestamp", strconv.FormatInt(meta.Timestamp, 10)), aotest.Tag("Block-Height", "1"),
					aotest.Tag("SHA-256", hex.EncodeToString(sum[:])),
				}})
			}
			cu := newTestCU(t, w, func(o *Options) {
				o.Checkpoints.Gateway = w.Gateway
				o.Checkpoints.TrustedOwners = []string{aotest.Owner.Address}
				o.Checkpoints.ValidationSteps, o.Checkpoints.ValidationThresh, o.Checkpoints.ValidationRetries = tc.steps, 0.6, 1
			})
			next := w.Send(pid, "m7")
			before := w.Runtime.Counts().Handled
			if got := cu.result(pid, next).Output.Data; got != tc.wantResult {
				t.Fatalf("result = %q, want %q", got, tc.wantResult)
			}
			if n := w.Runtime.Counts().Handled - before; n != tc.wantEvals {
				t.Fatalf("%d evaluations, want %d", n, tc.wantEvals)
			}
		})
	}
}

func moduleOf(t *testing.T, w *aotest.World, pid string) string {
	p, err := w.Scheduler.Process(t.Context(), aotest.SUURL, pid)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ao.TagValue(p.Tags, "Module")
	return m
}
