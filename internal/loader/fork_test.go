//go:build linux

package loader

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aocu/aocu/internal/ao"
)

// A fork answers what the instance's own DryRun answers, byte for byte, many
// forks run at once, the instance's memory is never touched, a fork is the
// image again after every dry-run (also after a runaway one), and the image
// reads back as the committed memory.
func TestForkDryRunsEqualInstanceDryRuns(t *testing.T) {
	pr := newProbeRuntime(t)
	p, inst, aoEnv := pr.p, pr.inst, pr.env
	ctx := context.Background()
	msg := func(action, data string) *ao.Message {
		am := pr.msg(action, data)
		am.ReadOnly = true
		return am
	}
	if r, err := inst.Handle(ctx, 1, msg("Eval", `Handlers.add('inc', 'Inc', function(m) Count = (Count or 0) + 1; m.reply({Data = tostring(Count) .. ':' .. m.Data}) end)`), aoEnv, 0); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	committed := bytes.Clone(p.Memory())
	before := memHash(p)

	img, err := inst.Image()
	if err != nil {
		t.Fatal(err)
	}
	defer img.Release()
	if img.Size() != int64(len(committed)) {
		t.Fatalf("image size %d, memory %d", img.Size(), len(committed))
	}
	read, err := io.ReadAll(io.NewSectionReader(img, 0, img.Size()))
	if err != nil || !bytes.Equal(read, committed) {
		t.Fatalf("image reads back %d bytes (equal: %v), err %v", len(read), bytes.Equal(read, committed), err)
	}

	// The instance's own dry-runs are the expected answers.
	want := map[string]string{}
	for _, d := range []string{"a", "b", "c", "d"} {
		r, err := inst.DryRun(ctx, msg("Inc", d), aoEnv, 5*time.Second)
		if err != nil || r.Failed() {
			t.Fatalf("dry-run %v %+v", err, r)
		}
		want[d] = string(r.Messages) + "|" + string(r.Output) + "|" + string(r.Error)
	}
	if !strings.Contains(want["a"], `1:a`) {
		t.Fatalf("instance dry-run answered %s", want["a"])
	}
	// Failures answer the same on a fork: a Lua error and a trap (exit).
	for _, code := range []string{`error("boom")`, `os.exit(3)`} {
		ref, refErr := inst.DryRun(ctx, msg("Eval", code), aoEnv, 5*time.Second)
		f, err := img.Fork(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, gotErr := f.DryRun(ctx, msg("Eval", code), aoEnv, 5*time.Second)
		f.Close()
		if (refErr == nil) != (gotErr == nil) || (ref == nil) != (got == nil) {
			t.Fatalf("%s: instance %v %+v, fork %v %+v", code, refErr, ref, gotErr, got)
		}
		if ref != nil && (string(ref.Error) != string(got.Error) || string(ref.Output) != string(got.Output) || ref.Rejected != got.Rejected) {
			t.Fatalf("%s: instance Error %s Output %s, fork Error %s Output %s", code, ref.Error, ref.Output, got.Error, got.Output)
		}
		if ref == nil || ref.Error == nil {
			t.Fatalf("%s: no Error %+v", code, ref)
		}
	}

	// What a dry-run does to the glue's file system is gone for the next one,
	// on a fork as on the instance (each starts on a fresh file system):
	// os.remove('/tmp') succeeds every time.
	{
		remove := `R = {os.remove('/tmp')} return tostring(R[1]) .. ' ' .. tostring(R[3])`
		twice := func(dry func(*ao.Message) (*ao.Result, error)) string {
			var outs []string
			for range 2 {
				r, err := dry(msg("Eval", remove))
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, string(r.Output)+"|"+string(r.Error))
			}
			return strings.Join(outs, " / ")
		}
		ref := twice(func(m *ao.Message) (*ao.Result, error) { return inst.DryRun(ctx, m, aoEnv, 5*time.Second) })
		f, err := img.Fork(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := twice(func(m *ao.Message) (*ao.Result, error) { return f.DryRun(ctx, m, aoEnv, 5*time.Second) })
		f.Close()
		if got != ref || strings.Count(got, `"data":"true nil"`) != 2 {
			t.Fatalf("os.remove('/tmp') in two dry-runs: fork %s, instance %s", got, ref)
		}
	}

	const forks = 3
	var wg sync.WaitGroup
	errs := make(chan error, forks)
	for i := range forks {
		wg.Go(func() {
			f, err := img.Fork(ctx, nil)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for round := range 3 {
				for _, d := range []string{"a", "b", "c", "d"} {
					r, err := f.DryRun(ctx, msg("Inc", d), aoEnv, 5*time.Second)
					if err != nil {
						errs <- err
						return
					}
					if got := string(r.Messages) + "|" + string(r.Output) + "|" + string(r.Error); got != want[d] {
						errs <- errors.New("fork " + string(rune('0'+i)) + " round " + string(rune('0'+round)) + ": " + got + " != " + want[d])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if memHash(p) != before {
		t.Fatal("forked dry-runs changed the instance's memory")
	}

	// Without /proc/self/pagemap a fork drops its written pages instead.
	{
		af, err := img.Fork(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := af.(*fork)
		unix.Close(f.pagemap)
		f.pagemap = -1
		for range 2 {
			r, err := f.DryRun(ctx, msg("Inc", "a"), aoEnv, 5*time.Second)
			if err != nil || string(r.Messages)+"|"+string(r.Output)+"|"+string(r.Error) != want["a"] {
				t.Fatalf("fork without pagemap: %v %+v", err, r)
			}
		}
		f.Close()
	}

	// A runaway dry-run stops at its limit; the re-pointed fork answers as before.
	f, err := img.Fork(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := f.DryRun(ctx, msg("Eval", "while true do end"), aoEnv, 100*time.Millisecond); !errors.Is(err, ao.ErrEvalTimeout) {
		t.Fatalf("runaway dry-run = %v", err)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("runaway dry-run stopped after %v, before its limit of 100ms", took)
	}
	f, err = img.Fork(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := f.DryRun(ctx, msg("Inc", "a"), aoEnv, 5*time.Second)
	if err != nil || string(r.Messages)+"|"+string(r.Output)+"|"+string(r.Error) != want["a"] {
		t.Fatalf("after a runaway: %v %+v", err, r)
	}

	// The process moves on: a fork of the new image sees the new state.
	if r, err := inst.Handle(ctx, 2, msg("Eval", `Count = 41`), aoEnv, 0); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	img2, err := inst.Image()
	if err != nil {
		t.Fatal(err)
	}
	defer img2.Release()
	f, err = img2.Fork(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	r, err = f.DryRun(ctx, msg("Inc", "x"), aoEnv, 5*time.Second)
	if err != nil || !strings.Contains(string(r.Messages), `42:x`) {
		t.Fatalf("fork of the new image: %v %s", err, r.Messages)
	}
	ref, err := inst.DryRun(ctx, msg("Inc", "x"), aoEnv, 5*time.Second)
	if err != nil || string(ref.Messages) != string(r.Messages) || string(ref.Output) != string(r.Output) {
		t.Fatalf("instance %s, fork %s", ref.Messages, r.Messages)
	}
}
