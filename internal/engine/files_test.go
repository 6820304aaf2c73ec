package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/memimage"
)

// newCheckpointCU is a test CU with file checkpoints in their own directory.
func newCheckpointCU(t *testing.T, tune func(*Options)) *testCU {
	t.Helper()
	cu := newTestCU(t, nil, func(o *Options) {
		o.Checkpoints.FileDir = filepath.Join(t.TempDir(), "checkpoints")
		if tune != nil {
			tune(o)
		}
	})
	cu.opts.Checkpoints.Store = cu.store.(ao.CheckpointStore)
	cu.restart()
	return cu
}

// names lists the file names of dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (cu *testCU) fileRecord(pid string) *ao.FileCheckpoint {
	cu.t.Helper()
	fc, err := cu.opts.Checkpoints.Store.FindFileCheckpoint(ctxT(cu.t), pid)
	if err != nil {
		cu.t.Fatalf("FindFileCheckpoint(%s): %v", pid, err)
	}
	return fc
}

// sendAll sends the messages and reads the last one's result.
func (cu *testCU) sendAll(pid string, data ...string) string {
	cu.t.Helper()
	var last string
	for _, d := range data {
		last = cu.w.Send(pid, d)
	}
	cu.result(pid, last)
	return last
}

// spawnAndCheckpoint spawns a process, sends it data and checkpoints it
// with CheckpointAll.
func (cu *testCU) spawnAndCheckpoint(data ...string) (string, *ao.FileCheckpoint) {
	cu.t.Helper()
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.sendAll(pid, data...)
	if err := cu.e.CheckpointAll(ctxT(cu.t)); err != nil {
		cu.t.Fatal(err)
	}
	return pid, cu.fileRecord(pid)
}

// A new file checkpoint goes to a new file; the old one is removed once the
// record names the new one; the file holds exactly the recorded bytes.
func TestFileCheckpointNewNameThenOldRemoved(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	dir := cu.opts.Checkpoints.FileDir
	pid, first := cu.spawnAndCheckpoint("a", "b")
	if got := names(t, dir); !slices.Equal(got, []string{first.File}) {
		t.Fatalf("files after the first checkpoint %v, record %s", got, first.File)
	}
	if !strings.HasPrefix(first.File, "state-"+pid+"-2-") || !checkpointName.MatchString(first.File) {
		t.Fatalf("file name %s, want state-<pid>-<nonce 2>-<sha>.dat", first.File)
	}
	cu.sendAll(pid, "c")
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	second := cu.fileRecord(pid)
	if second.File == first.File || second.Evaluation.Nonce != 3 {
		t.Fatalf("second record %+v (first %s)", second, first.File)
	}
	if got := names(t, dir); !slices.Equal(got, []string{second.File}) {
		t.Fatalf("files after the second checkpoint %v, want only %s", got, second.File)
	}
	file, err := os.ReadFile(filepath.Join(dir, second.File))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := memimage.Decode(file, 0); err != nil || !memimage.IsCompact(file) {
		t.Fatalf("not a compact image of the memory: %v", err)
	}
	sum := sha256.Sum256(file)
	if hex.EncodeToString(sum[:]) != second.Evaluation.FileSHA256 || !strings.Contains(second.File, second.Evaluation.FileSHA256[:16]) {
		t.Fatalf("file bytes do not match the record's file SHA-256 %s", second.Evaluation.FileSHA256)
	}
}

// crashTest checkpoints a process at nonce 3, evaluates two more messages,
// and stops the next checkpoint after step as a crash would; then restarts.
func crashTest(t *testing.T, step string) (cu *testCU, pid string, before, after *ao.FileCheckpoint) {
	cu = newCheckpointCU(t, nil)
	pid = cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.sendAll(pid, "m1", "m2", "m3")
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	before = cu.fileRecord(pid)
	cu.sendAll(pid, "m4", "m5")
	cu.e.opts.Checkpoints.crashAt = func(s string) bool { return s == step }
	if err := cu.e.CheckpointAll(ctxT(t)); !errors.Is(err, errCrashed) {
		t.Fatalf("CheckpointAll = %v, want the crash", err)
	}
	after = cu.fileRecord(pid)
	if n := len(names(t, cu.opts.Checkpoints.FileDir)); n != 2 {
		t.Fatalf("files at the crash: %d, want the old and the new", n)
	}
	cu.restart()
	return cu, pid, before, after
}

// A crash after the new file is written and before it is recorded: the
// record still names the old file, which is intact; the restart resumes
// from it (evaluating only the messages after it) and removes the
// unrecorded file.
func TestCrashBeforeRecordingResumesFromOldCheckpoint(t *testing.T) {
	cu, pid, before, after := crashTest(t, stepWritten)
	if after.File != before.File {
		t.Fatalf("record moved to %s before the crash point", after.File)
	}
	if got := names(t, cu.opts.Checkpoints.FileDir); !slices.Equal(got, []string{before.File}) {
		t.Fatalf("files after the restart %v, want only the recorded %s", got, before.File)
	}
	handled := cu.w.Runtime.Counts().Handled
	next := cu.w.Send(pid, "m6")
	if got := cu.result(pid, next).Output.Data; got != "7:m6" {
		t.Fatalf("after the restart = %q, want 7:m6", got)
	}
	// m4 and m5 again (after the checkpoint at m3), then m6; not from nonce 0.
	if n := cu.w.Runtime.Counts().Handled - handled; n != 3 {
		t.Fatalf("the restart evaluated %d messages, want 3", n)
	}
}

// A crash after the new file is recorded and before the old is removed: the
// restart resumes from the new one (evaluating only the new message) and
// removes the old file.
func TestCrashAfterRecordingResumesFromNewCheckpoint(t *testing.T) {
	cu, pid, before, after := crashTest(t, stepRecorded)
	if after.File == before.File || after.Evaluation.Nonce != 5 {
		t.Fatalf("record after the crash %+v", after)
	}
	if got := names(t, cu.opts.Checkpoints.FileDir); !slices.Equal(got, []string{after.File}) {
		t.Fatalf("files after the restart %v, want only the recorded %s", got, after.File)
	}
	handled := cu.w.Runtime.Counts().Handled
	next := cu.w.Send(pid, "m6")
	if got := cu.result(pid, next).Output.Data; got != "7:m6" {
		t.Fatalf("after the restart = %q, want 7:m6", got)
	}
	if n := cu.w.Runtime.Counts().Handled - handled; n != 1 {
		t.Fatalf("the restart evaluated %d messages, want 1 (no replay)", n)
	}
}

// At start the engine removes the temporary files of interrupted writes,
// drained memories of the earlier run and unrecorded checkpoint files, and
// nothing else: recorded checkpoints (new and old names) and files not of
// its naming stay.
func TestStartRemovesStrayFiles(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	memDir, cpDir := cu.opts.MemoryCacheFileDir, cu.opts.Checkpoints.FileDir
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.sendAll(pid, "a")
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	recorded := cu.fileRecord(pid).File
	legacyPID, orphanPID := aotest.NewID("legacy"), aotest.NewID("orphan")
	legacy := "state-" + legacyPID + ".dat"
	if err := cu.opts.Checkpoints.Store.SaveFileCheckpoint(ctxT(t), &ao.FileCheckpoint{File: legacy,
		Evaluation: ao.CheckpointEvaluation{ProcessID: legacyPID, Timestamp: 1, Ordinate: "1", Nonce: 1}}); err != nil {
		t.Fatal(err)
	}
	write := func(dir, name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stale := map[string][]string{
		memDir: {
			"state-" + pid + ".dat",                              // drained by the earlier run
			".state-" + pid + ".dat.tmp-123456",                  // an interrupted drain
			".state-" + pid + "-9-0123456789abcdef.dat.tmp-4242", // in the wrong directory, still a temp
		},
		cpDir: {
			"state-" + orphanPID + "-4-0123456789abcdef.dat",    // written, never recorded
			"state-" + pid + "-1-fedcba9876543210.dat",          // an older checkpoint of pid
			".state-" + pid + "-7-0123456789abcdef.dat.tmp-777", // an interrupted checkpoint
			"state-" + orphanPID + ".dat",                       // an old-style name without a record
		},
	}
	kept := map[string][]string{
		memDir: {"notes.txt", "state-short.dat", ".state-x.tmp", "state-" + pid + ".dat.bak"},
		cpDir:  {recorded, legacy, "README", "state-" + pid + "-1-XYZ.dat"},
	}
	for dir, ns := range stale {
		for _, n := range ns {
			write(dir, n)
		}
	}
	for dir, ns := range kept {
		for _, n := range ns {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				write(dir, n)
			}
		}
	}
	cu.restart()
	for dir, want := range kept {
		slices.Sort(want)
		if got := names(t, dir); !slices.Equal(got, want) {
			t.Errorf("%s after the start:\n got %q\nwant %q", dir, got, want)
		}
	}
	// The recorded checkpoint is still the starting point.
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(pid, cu.w.Send(pid, "b")).Output.Data; got != "3:b" {
		t.Fatalf("after the start = %q", got)
	}
	if n := cu.w.Runtime.Counts().Handled - handled; n != 1 {
		t.Fatalf("evaluated %d messages after the start, want 1", n)
	}
}

// drainCU has one warm instance: the second process drains the first.
func drainCU(t *testing.T) (cu *testCU, a, b string) {
	cu = newTestCU(t, nil, func(o *Options) { o.InstanceCacheMaxSize, o.MemoryCacheMaxSize = 1, 1 }) // no room for idle images: drained to files
	mod := cu.w.PublishModule(nil)
	a, b = cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.result(a, cu.w.Send(a, "a1"))
	cu.result(b, cu.w.Send(b, "b1"))
	if got := names(t, cu.opts.MemoryCacheFileDir); !slices.Equal(got, []string{drainedFileName(a)}) {
		t.Fatalf("memory-cache files %v, want A's drained memory", got)
	}
	return cu, a, b
}

// A clean shutdown removes the drained memories.
func TestDrainedFilesRemovedAtClose(t *testing.T) {
	cu, _, _ := drainCU(t)
	if err := cu.e.Close(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, cu.opts.MemoryCacheFileDir); len(got) != 0 {
		t.Fatalf("files after Close: %v", got)
	}
}

// An engine that stopped without closing (a crash) leaves drained memories;
// the next start removes them, and the process resumes from its stored
// state instead.
func TestDrainedFilesOfACrashRemovedAtStart(t *testing.T) {
	cu, a, _ := drainCU(t)
	crashed := cu.e // not closed before the new engine starts
	e, err := New(cu.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cu.e = e
	if got := names(t, cu.opts.MemoryCacheFileDir); len(got) != 0 {
		t.Fatalf("files after the start: %v", got)
	}
	crashed.Stop(ctxT(t))
	if got := cu.result(a, cu.w.Send(a, "a2")).Output.Data; got != "3:a2" {
		t.Fatalf("A after the start = %q, want 3:a2", got)
	}
}

// A process drained twice keeps one file, with its latest memory; the file
// is removed once the process is loaded from it again.
func TestDrainedFileSupersededAndRemovedWhenLoaded(t *testing.T) {
	cu, a, b := drainCU(t)
	file := filepath.Join(cu.opts.MemoryCacheFileDir, drainedFileName(a))
	cu.result(a, cu.w.Send(a, "a2")) // A back in memory, B drained
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("A's drained file after loading it: %v", err)
	}
	cu.result(b, cu.w.Send(b, "b2")) // A drained again
	if got := names(t, cu.opts.MemoryCacheFileDir); !slices.Equal(got, []string{drainedFileName(a)}) {
		t.Fatalf("files after the second drain %v, want A's only", got)
	}
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(a, cu.w.Send(a, "a3")).Output.Data; got != "4:a3" {
		t.Fatalf("A after the second drain = %q, want 4:a3", got)
	}
	if n := cu.w.Runtime.Counts().Handled - handled; n != 1 {
		t.Fatalf("loading A evaluated %d messages, want 1", n)
	}
}

// Stats reports the disk use of the engine's files in each directory.
func TestStatsDiskUse(t *testing.T) {
	cu := newCheckpointCU(t, func(o *Options) { o.InstanceCacheMaxSize, o.MemoryCacheMaxSize = 1, 1 }) // no room for idle images: drained to files
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.result(a, cu.w.Send(a, "a1"))
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cu.result(b, cu.w.Send(b, "b1")) // drains A
	if err := os.WriteFile(filepath.Join(cu.opts.MemoryCacheFileDir, "unrelated.bin"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	size := func(dir, name string) int64 {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}
	cpFile := cu.fileRecord(a).File
	st := cu.e.Stats()
	want := DirUsage{Dir: cu.opts.MemoryCacheFileDir, Files: 1, Bytes: size(cu.opts.MemoryCacheFileDir, drainedFileName(a))}
	if st.MemoryDir != want {
		t.Errorf("MemoryDir = %+v, want %+v", st.MemoryDir, want)
	}
	want = DirUsage{Dir: cu.opts.Checkpoints.FileDir, Files: 1, Bytes: size(cu.opts.Checkpoints.FileDir, cpFile)}
	if st.CheckpointDir != want || want.Bytes == 0 {
		t.Errorf("CheckpointDir = %+v, want %+v", st.CheckpointDir, want)
	}
	if st.ModuleDir.Files != 1 || st.ModuleDir.Bytes == 0 {
		t.Errorf("ModuleDir = %+v, want the module's binary", st.ModuleDir)
	}
}

// CheckpointAll writes a drained process's checkpoint from its drained file,
// without an instance: a shutdown does not bring every drained process back
// into memory. A restart resumes from that checkpoint.
func TestCheckpointAllOfADrainedProcess(t *testing.T) {
	cu := newCheckpointCU(t, func(o *Options) { o.InstanceCacheMaxSize, o.MemoryCacheMaxSize = 1, 1 }) // no room for idle images: drained to files
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.sendAll(a, "a1", "a2")
	cu.sendAll(b, "b1") // drains A
	drained, err := os.ReadFile(filepath.Join(cu.opts.MemoryCacheFileDir, drainedFileName(a)))
	if err == nil {
		cu.e.mu.Lock()
		base := cu.e.procs[a].drainBase
		cu.e.mu.Unlock()
		drained, err = memimage.DecodeWith(drained, base, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	cu.checkpointWithoutInstanceThenRestart(a, drained, "drained")
}

// parkedAndLive starts an engine with one warm instance, and two processes
// of one module: A parked by a message to B, B live.
func parkedAndLive(t *testing.T) (cu *testCU, a, b string) {
	t.Helper()
	cu = newTestCU(t, nil, func(o *Options) { o.InstanceCacheMaxSize = 1 })
	mod := cu.w.PublishModule(nil)
	a, b = cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.result(a, cu.w.Send(a, "a1"))
	cu.result(b, cu.w.Send(b, "b1")) // parks A
	return cu, a, b
}

// An idle process is kept as its compact image in the memory cache, counted
// at its compressed size: no file; it comes back with its state, without
// replaying, and goes to file once the cache is full.
func TestIdleProcessCachedAsCompactImage(t *testing.T) {
	cu, a, b := parkedAndLive(t)
	if got := names(t, cu.opts.MemoryCacheFileDir); len(got) != 0 {
		t.Fatalf("files with room in the memory cache: %v", got)
	}
	st := cu.e.Stats()
	if st.InMemory != 1 || st.Cached != 1 || st.OnFile != 0 || st.CachedSize <= 0 {
		t.Fatalf("stats %+v, want 1 live and 1 cached", st)
	}
	cu.e.mu.Lock()
	pa := cu.e.procs[a]
	cu.e.mu.Unlock()
	if compact := memimage.IsCompact(pa.img) || memimage.IsDelta(pa.img); !compact || st.CachedSize != int64(len(pa.img)) {
		t.Fatalf("A's cached image: %d bytes, compact %v; counted %d", len(pa.img), compact, st.CachedSize)
	}
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(a, cu.w.Send(a, "a2")).Output.Data; got != "3:a2" {
		t.Fatalf("A from the memory cache = %q, want 3:a2", got)
	}
	if n := cu.w.Runtime.Counts().Handled - handled; n != 1 {
		t.Fatalf("loading A evaluated %d messages, want 1 (no replay)", n)
	}
	// A memory cache with room for nothing but the live instance: B's image
	// goes to file when A comes back.
	cu.e.opts.MemoryCacheMaxSize = st.MemorySize
	cu.result(b, cu.w.Send(b, "b2"))
	cu.result(a, cu.w.Send(a, "a3"))
	if got := names(t, cu.opts.MemoryCacheFileDir); !slices.Equal(got, []string{drainedFileName(b)}) {
		t.Fatalf("files once the cache is full: %v, want B's", got)
	}
	if got := cu.result(b, cu.w.Send(b, "b3")).Output.Data; got != "4:b3" {
		t.Fatalf("B from file = %q, want 4:b3", got)
	}
}

// Switching between processes recycles instances: a parked process's
// instance goes to the scratch pool, and the next restore is built on it
// (or a dry-run on an idle process loads it), with every result as before.
func TestRestoreBuiltOnAParkedProcesssInstance(t *testing.T) {
	cu, a, b := parkedAndLive(t)
	for i := 2; i <= 4; i++ {
		if got, want := cu.result(a, cu.w.Send(a, fmt.Sprintf("a%d", i))).Output.Data, fmt.Sprintf("%d:a%d", i+1, i); got != want {
			t.Fatalf("A = %q, want %q", got, want)
		}
		if got, want := cu.result(b, cu.w.Send(b, fmt.Sprintf("b%d", i))).Output.Data, fmt.Sprintf("%d:b%d", i+1, i); got != want {
			t.Fatalf("B = %q, want %q", got, want)
		}
	}
	c := cu.w.Runtime.Counts()
	// 8 instances (2 cold starts, 6 restores); 7 parks, every one recycling
	// (the fake runtime recycles cold-started instances too, the loader does
	// not), and every restore takes what the park before it left.
	if c.Recycled < 6 || c.Reused < 5 {
		t.Fatalf("counts %+v: instances not recycled into restores", c)
	}
	if st := cu.e.Stats(); st.InMemory != 1 || st.Cached != 1 {
		t.Fatalf("stats %+v, want 1 live and 1 cached", st)
	}
}

// A process parked after dry-runs only keeps the image it was restored from
// (its memory is unchanged); one that evaluated a message is encoded again.
func TestParkReusesTheImageOfAnUnchangedMemory(t *testing.T) {
	cu, a, b := parkedAndLive(t)
	proc := func(id string) *proc {
		cu.e.mu.Lock()
		defer cu.e.mu.Unlock()
		return cu.e.procs[id]
	}
	first := proc(a).img
	body := []byte(`{"Owner":"someone","Target":"` + a + `","Data":"q","Tags":[{"name":"Action","value":"Count"}]}`)
	if _, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: a, Body: body}, 0); err != nil {
		t.Fatal(err)
	}
	cu.result(b, cu.w.Send(b, "b2")) // parks A again
	if again := proc(a).img; len(again) == 0 || &again[0] != &first[0] {
		t.Fatal("parking A after a dry-run encoded its memory again")
	}
	cu.result(a, cu.w.Send(a, "a2"))
	cu.result(b, cu.w.Send(b, "b3"))
	if changed := proc(a).img; len(changed) == 0 || &changed[0] == &first[0] {
		t.Fatal("parking A after a message kept the old image")
	}
}

// An image idle in the memory cache beyond PROCESS_MEMORY_CACHE_TTL goes to
// file, and the process still comes back from it.
func TestCachedImageIdleBeyondTTLGoesToFile(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) { o.InstanceCacheMaxSize, o.MemoryCacheTTL = 1, time.Hour })
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.result(a, cu.w.Send(a, "a1"))
	cu.result(b, cu.w.Send(b, "b1")) // parks A in the memory cache
	if st := cu.e.Stats(); st.Cached != 1 || st.OnFile != 0 {
		t.Fatalf("stats %+v, want A cached", st)
	}
	cu.w.Clock.Advance(2 * time.Hour)
	cu.e.evict(true) // the janitor's round
	if st := cu.e.Stats(); st.Cached != 0 || st.OnFile != 2 {
		t.Fatalf("stats %+v after the TTL, want both on file", st)
	}
	if got := cu.result(a, cu.w.Send(a, "a2")).Output.Data; got != "3:a2" {
		t.Fatalf("A from file after the TTL = %q, want 3:a2", got)
	}
}

// CheckpointAll writes a cached process's checkpoint from its image in the
// memory cache, without an instance; a restart resumes from it.
func TestCheckpointAllOfACachedProcess(t *testing.T) {
	cu := newCheckpointCU(t, func(o *Options) { o.InstanceCacheMaxSize = 1 })
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.sendAll(a, "a1", "a2")
	cu.sendAll(b, "b1") // parks A in the memory cache
	cu.e.mu.Lock()
	img, base := cu.e.procs[a].img, cu.e.procs[a].imgBase
	cu.e.mu.Unlock()
	mem, err := memimage.DecodeWith(img, base, 0)
	if err != nil || img == nil {
		t.Fatalf("A's cached image: %v", err)
	}
	cu.checkpointWithoutInstanceThenRestart(a, mem, "cached")
}

// CheckpointAll stops at its context's end: what is left is reported, not
// written.
func TestCheckpointAllStopsAtItsDeadline(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	mod := cu.w.PublishModule(nil)
	a := cu.w.Spawn(mod, "A")
	cu.sendAll(a, "a1")
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	err := cu.e.CheckpointAll(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 processes not checkpointed") {
		t.Fatalf("CheckpointAll with an ended context = %v", err)
	}
	if got := names(t, cu.opts.Checkpoints.FileDir); len(got) != 0 {
		t.Fatalf("files written after the deadline: %v", got)
	}
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := names(t, cu.opts.Checkpoints.FileDir); len(got) != 1 {
		t.Fatalf("checkpoint files %v, want A's", got)
	}
}

// CheckpointProcess writes one process's file checkpoint and no other's; a
// process the engine does not hold is ErrNotFound.
func TestCheckpointProcessOnlyThatOne(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, ""), cu.w.Spawn(mod, "")
	cu.sendAll(a, "x", "y")
	cu.sendAll(b, "z")
	if err := cu.e.CheckpointProcess(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	if fc := cu.fileRecord(a); fc.Evaluation.Nonce != 2 {
		t.Fatalf("checkpoint of %s at nonce %d, want 2", a, fc.Evaluation.Nonce)
	}
	if _, err := cu.opts.Checkpoints.Store.FindFileCheckpoint(ctxT(t), b); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("the other process was checkpointed too: %v", err)
	}
	if err := cu.e.CheckpointProcess(ctxT(t), strings.Repeat("U", 43)); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("an unknown process: %v", err)
	}
}

// checkpointWithoutInstanceThenRestart: CheckpointAll writes process a's
// checkpoint (at nonce 2, of memory mem) without making an instance, and
// after a restart a's next message is the only one evaluated.
func (cu *testCU) checkpointWithoutInstanceThenRestart(a string, mem []byte, what string) {
	t := cu.t
	t.Helper()
	instances := cu.w.Runtime.Counts().Instances
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := cu.w.Runtime.Counts().Instances - instances; n != 0 {
		t.Fatalf("CheckpointAll made %d instances, want none", n)
	}
	rec := cu.fileRecord(a)
	file, err := os.ReadFile(filepath.Join(cu.opts.Checkpoints.FileDir, rec.File))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cu.e.parseCheckpointFile(cu.opts.Checkpoints.FileDir, file)
	if rec.Evaluation.Nonce != 2 || err != nil || !bytes.Equal(got.Bytes(), mem) {
		t.Fatalf("A's checkpoint %+v (%v), want nonce 2 and the %s memory", rec.Evaluation, err, what)
	}
	if n := cu.restartAndSend(a, "a3", "4:a3"); n != 1 {
		t.Fatalf("the restart evaluated %d messages of A, want 1", n)
	}
}

// restartAndSend restarts the engine, sends pid data and checks its answer;
// it returns how many messages the engine evaluated for it.
func (cu *testCU) restartAndSend(pid, data, want string) int {
	cu.t.Helper()
	cu.restart()
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(pid, cu.w.Send(pid, data)).Output.Data; got != want {
		cu.t.Fatalf("after the restart = %q, want %q", got, want)
	}
	return cu.w.Runtime.Counts().Handled - handled
}

// A file checkpoint is checked against the sha256 of its file before it is
// used: a damaged file is refused (the process starts from its next source,
// here a cold start, and answers the same). A record from before the file's
// hash was recorded is checked against its memory's sha256.
func TestFileCheckpointCheckedBeforeUse(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	dir := cu.opts.Checkpoints.FileDir
	pid, rec := cu.spawnAndCheckpoint("a", "b")
	path := filepath.Join(dir, rec.File)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memimage.Decode(good, 0)
	if err != nil {
		t.Fatal(err)
	}
	resume := func(data string) int { return cu.restartAndSend(pid, data, "4:"+data) }

	// One byte of the file flipped: refused by the file's sha256.
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0x55
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := resume("c"); n != 4 { // a cold start: the process message, a, b, c
		t.Fatalf("with a damaged file the restart evaluated %d messages, want 4 (from the start)", n)
	}

	// A record that names only the memory's sha256 (written before the
	// file's was recorded): used when the memory matches it.
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	old := *rec
	old.Evaluation.FileSHA256 = ""
	old.Evaluation.SHA256 = hex.EncodeToString(sha256Of(mem))
	if err := cu.opts.Checkpoints.Store.SaveFileCheckpoint(ctxT(t), &old); err != nil {
		t.Fatal(err)
	}
	if got, err := cu.e.readFileCheckpoint(path, &old.Evaluation); err != nil || !bytes.Equal(got, mem) {
		t.Fatalf("a record with the memory's sha256 refused: %v", err)
	}
	old.Evaluation.SHA256 = hex.EncodeToString(sha256Of(good)) // not the memory's
	if _, err := cu.e.readFileCheckpoint(path, &old.Evaluation); err == nil {
		t.Fatal("a record whose memory sha256 does not match was accepted")
	}
	old.Evaluation.SHA256 = ""
	if _, err := cu.e.readFileCheckpoint(path, &old.Evaluation); err == nil {
		t.Fatal("a record with no hash at all was accepted")
	}
}
