package engine

import (
	"testing"
	"time"
)

// A dry-run on an idle process whose SU has nothing after its image runs on
// a fork loaded with the image: no restore, the process stays idle (in the
// memory cache or on file) and the live set is left alone. When the SU has a
// message after the image, the process is restored and brought to it first.
// Within min(x-max-age, DRY_RUN_PROCESS_CACHE_TTL) of the last look the SU
// is not asked again.
func TestDryRunOnIdleProcessFromItsImage(t *testing.T) {
	cu, a, b := parkedAndLive(t)
	count := func(pid string, maxAge time.Duration) string {
		t.Helper()
		body := []byte(`{"Owner":"someone","Target":"` + pid + `","Data":"` + time.Now().String() + `","Tags":[{"name":"Action","value":"Count"}]}`)
		out, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: pid, Body: body, MaxAge: maxAge}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return decodeOutput(t, out).Output.Data
	}
	state := func(pid string) string {
		cu.e.mu.Lock()
		defer cu.e.mu.Unlock()
		p := cu.e.procs[pid]
		switch {
		case p.live.Load():
			return "live"
		case p.cached.Load() > 0:
			return "cached"
		case p.drainedTo.Load() != nil:
			return "file"
		}
		return "?"
	}

	before := cu.w.Runtime.Counts()
	suCalls := cu.w.Scheduler.Calls("Messages")
	if got := count(a, 0); got != "2" {
		t.Fatalf("dry-run on idle A = %q, want 2 (the process message and a1)", got)
	}
	after := cu.w.Runtime.Counts()
	if after.Instances != before.Instances || after.ImageForks != before.ImageForks+1 {
		t.Fatalf("runtime counts %+v then %+v: want one image fork and no new instance", before, after)
	}
	if state(a) != "cached" || state(b) != "live" {
		t.Fatalf("after the dry-run A is %s, B %s; want A cached, B live", state(a), state(b))
	}
	if n := cu.w.Scheduler.Calls("Messages") - suCalls; n != 1 {
		t.Fatalf("the dry-run read %d SU pages, want 1 (what follows the image)", n)
	}
	// Fresh enough for x-max-age: the SU is not asked again.
	if got := count(a, time.Minute); got != "2" || cu.w.Scheduler.Calls("Messages")-suCalls != 1 {
		t.Fatalf("second dry-run = %q after %d SU pages, want 2 after 1", got, cu.w.Scheduler.Calls("Messages")-suCalls)
	}
	// The TTL bounds x-max-age.
	cu.w.Clock.Advance(cu.e.opts.DryRunProcessCacheTTL + time.Millisecond)
	if count(a, time.Hour); cu.w.Scheduler.Calls("Messages")-suCalls != 2 {
		t.Fatal("past DRY_RUN_PROCESS_CACHE_TTL the SU was not asked")
	}

	// A message on the SU after the image: A is restored and evaluates it.
	cu.w.Send(a, "a2")
	if got := count(a, 0); got != "3" {
		t.Fatalf("dry-run on A with a new message on its SU = %q, want 3", got)
	}
	if state(a) != "live" || state(b) != "cached" {
		t.Fatalf("after the restore A is %s, B %s; want A live, B cached", state(a), state(b))
	}
	if n := cu.w.Runtime.Counts().Instances - after.Instances; n != 1 {
		t.Fatalf("%d instances made, want 1 (A restored)", n)
	}

	// From file: a memory cache with room for the live instance only.
	cu.e.opts.MemoryCacheMaxSize = cu.e.Stats().MemorySize
	cu.e.evict(false)
	if state(b) != "file" {
		t.Fatalf("B is %s, want file", state(b))
	}
	forks := cu.w.Runtime.Counts().ImageForks
	if got := count(b, 0); got != "2" || state(b) != "file" || cu.w.Runtime.Counts().ImageForks != forks+1 {
		t.Fatalf("dry-run on B from file = %q, B now %s; want 2 from an image fork, B still on file", got, state(b))
	}
	if got := cu.result(b, cu.w.Send(b, "b2")).Output.Data; got != "3:b2" {
		t.Fatalf("B after the dry-runs = %q, want 3:b2", got)
	}
}
