package engine

import (
	"fmt"
	"testing"
)

// The totals the memory bounds are checked against (kept as processes
// change places, not scanned) equal what a scan of every process finds,
// through messages, dry-runs on live and idle processes, parks and drains;
// and the bounds hold.
func TestMemoryAccountMatchesTheProcesses(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) { o.InstanceCacheMaxSize = 2 })
	mod := cu.w.PublishModule(nil)
	var pids []string
	for i := range 6 {
		pids = append(pids, cu.w.Spawn(mod, fmt.Sprint("P", i)))
	}
	check := func(when string) {
		t.Helper()
		st := cu.e.Stats()
		n, _ := cu.e.acct.liveLRU()
		if n != st.InMemory || cu.e.acct.liveBytes.Load() != st.MemorySize || cu.e.acct.cachedBytes.Load() != st.CachedSize {
			t.Fatalf("%s: account live %d (%d bytes), cached %d bytes; the processes: %+v", when, n, cu.e.acct.liveBytes.Load(), cu.e.acct.cachedBytes.Load(), st)
		}
		if st.InMemory > 2 {
			t.Fatalf("%s: %d live processes, bound 2", when, st.InMemory)
		}
		if st.MemorySize+st.CachedSize+st.BaseSize > cu.e.opts.MemoryCacheMaxSize {
			t.Fatalf("%s: %d bytes held, bound %d", when, st.MemorySize+st.CachedSize+st.BaseSize, cu.e.opts.MemoryCacheMaxSize)
		}
	}
	for round := range 3 {
		for i, pid := range pids {
			cu.result(pid, cu.w.Send(pid, fmt.Sprint("m", round, i)))
			check(fmt.Sprint("message ", round, " to ", i))
			other := pids[(i+3)%len(pids)] // idle: a dry-run on its image
			if _, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: other, Body: []byte(`{"Owner":"someone","Target":"` + other + `","Tags":[{"name":"Action","value":"Count"}]}`)}, 0); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprint("dry-run on ", (i+3)%len(pids)))
		}
		if round == 1 { // a smaller cache: images go to file
			st := cu.e.Stats()
			cu.e.opts.MemoryCacheMaxSize = st.MemorySize + st.BaseSize + st.CachedSize/2
			cu.e.evict(true)
			check("cache halved")
			if cu.e.Stats().OnFile == 0 {
				t.Fatal("no image went to file when the cache shrank")
			}
		}
	}
}
