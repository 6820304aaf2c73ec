package engine

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
)

// Dry-runs of one process run at once, each on a fork of the committed
// state, outside the process lock: three dry-runs are inside the module
// together while a scheduled message is evaluated beside them; they answer
// what the state they started from says, never change it, and a dry-run
// after the process moved on sees the new state (a new image, the forks
// re-pointed, not more of them).
func TestDryRunsRunInParallelOnForks(t *testing.T) {
	arrived := make(chan string, 10)
	release := make(chan struct{})
	h := func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		if a, _ := ao.TagValue(msg.Tags, "Action"); a == "Wait" && msg.ReadOnly {
			arrived <- string(msg.Data)
			select {
			case <-release:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		return aotest.Script(ctx, mem, msg, env)
	}
	cu := newTestCU(t, aotest.NewWorld(h), func(o *Options) { o.DryRunWorkers = 3 })
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.result(pid, cu.w.Send(pid, "one"))
	body := func(action, data string) []byte {
		return []byte(`{"Owner":"someone","Target":"` + pid + `","Data":"` + data + `","Tags":[{"name":"Action","value":"` + action + `"}]}`)
	}

	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			out, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: pid, Body: body("Wait", fmt.Sprint("d", i))}, 0)
			outs[i], errs[i] = string(out), err
		})
	}
	for range 3 {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			close(release)
			t.Fatal("the dry-runs did not run at once: fewer than 3 reached the module")
		}
	}
	// The process lock is free: a scheduled message is evaluated meanwhile.
	if got := cu.result(pid, cu.w.Send(pid, "two")).Output.Data; got != "3:two" {
		t.Fatalf("scheduled message beside the dry-runs = %q", got)
	}
	close(release)
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil || decodeOutput(t, []byte(outs[i])).Output.Data != fmt.Sprint("2:d", i) {
			t.Fatalf("dry-run %d = %s %v, want the state it started from (2 lines)", i, outs[i], errs[i])
		}
	}
	before := cu.w.Runtime.Counts()
	if before.Forks != 3 || before.Images != 1 {
		t.Fatalf("counts %+v, want 3 forks of 1 image", before)
	}

	// The process moved on: the next dry-runs see it, on the same forks.
	for i := range 4 {
		out, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: pid, Body: body("Count", fmt.Sprint("c", i))}, 0)
		if err != nil || decodeOutput(t, out).Output.Data != "3" {
			t.Fatalf("dry-run after the process moved on = %s %v", out, err)
		}
	}
	after := cu.w.Runtime.Counts()
	if after.Images != 2 || after.Forks != 3 {
		t.Fatalf("counts %+v, want one more image and no more forks", after)
	}
	if got := cu.result(pid, cu.w.Send(pid, "three")).Output.Data; got != "4:three" {
		t.Fatalf("after the dry-runs = %q: a dry-run changed the state", got)
	}
}

// /state serves the committed memory from the image the dry-runs share:
// captured once per state, released when the process moves on and no
// answer reads it.
func TestStateReadsTheImage(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot")
	cu.result(pid, cu.w.Send(pid, "one"))
	read := func() string {
		st, err := cu.e.ReadState(ctxT(t), pid, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if st.Image == nil || st.Memory != nil {
			t.Fatalf("state %+v: want an image", st)
		}
		b, err := io.ReadAll(io.NewSectionReader(st.Image, 0, st.Size))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(); got != ":boot\n:one\n" {
		t.Fatalf("state = %q", got)
	}
	if got := read(); got != ":boot\n:one\n" {
		t.Fatalf("state again = %q", got)
	}
	if n := cu.w.Runtime.Counts().Images; n != 1 {
		t.Fatalf("%d images for one state, want 1", n)
	}
	// An answer still reading keeps its image after the process moved on.
	st, err := cu.e.ReadState(ctxT(t), pid, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cu.result(pid, cu.w.Send(pid, "two"))
	if got := read(); got != ":boot\n:one\n:two\n" {
		t.Fatalf("state after two = %q", got)
	}
	b, err := io.ReadAll(io.NewSectionReader(st.Image, 0, st.Size))
	if err != nil || string(b) != ":boot\n:one\n" {
		t.Fatalf("the older answer reads %q %v", b, err)
	}
	img := st.Image
	st.Close()
	if _, err := img.ReadAt(make([]byte, 1), 0); err == nil {
		t.Fatal("the older image is still readable after its last answer closed: it was not released")
	}
}
