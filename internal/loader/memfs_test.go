package loader

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// newTestFS is the file system of a freshly loaded modern module, whose
// counter the wasm first reads at 10004; it returns the counter too.
func newTestFS() (*memFS, *float64) {
	clock := 10004.0
	now := func() float64 { v := clock; clock++; return v }
	return newMemFS(now, clock, true), &clock
}

func errnoOf(err error) int32 {
	var e fsErrno
	if errors.As(err, &e) {
		return int32(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestMemFSInitialTree: the nodes, inodes, modes and streams the glue has
// made when the wasm first runs (FS.staticInit, FS.init, the loader's /data).
func TestMemFSInitialTree(t *testing.T) {
	fs, clock := newTestFS()
	cases := []struct {
		path     string
		ino      uint32
		mode     uint32
		rdev     uint32
		size, ts float64
	}{
		{"/", 1, 0o40777, 0, 4096, 10003}, // the root's timestamp follows its last child (/data)
		{"/tmp", 2, 0o40777, 0, 4096, 0},
		{"/home/web_user", 4, 0o40777, 0, 4096, 0},
		{"/dev", 5, 0o40777, 0, 4096, 10002}, // stamped by the standard-stream symlinks
		{"/dev/null", 6, 0o20666, 259, 0, 0},
		{"/dev/tty", 7, 0o20666, 1280, 0, 0},
		{"/dev/tty1", 8, 0o20666, 1536, 0, 0},
		{"/dev/random", 9, 0o20555, 16384, 0, 0},
		{"/dev/urandom", 10, 0o20555, 16640, 0, 0},
		{"/dev/shm/tmp", 12, 0o40777, 0, 4096, 0},
		{"/proc/self", 14, 0o40777, 0, 4096, 0},
		{"/data", 20, 0o40777, 0, 4096, 10003},
	}
	for _, c := range cases {
		n, err := fs.stat(c.path, false)
		if err != nil {
			t.Fatalf("stat %s: %v", c.path, err)
		}
		st := n.stat()
		wantDev := uint32(1)
		if c.mode&modeFmt == modeChr {
			wantDev = c.ino
		}
		if st.ino != c.ino || st.mode != c.mode || st.rdev != c.rdev || st.size != c.size || st.ts != c.ts || st.dev != wantDev || st.nlink != 1 {
			t.Errorf("%s: %+v, want ino %d mode %o rdev %d size %v ts %v", c.path, st, c.ino, c.mode, c.rdev, c.size, c.ts)
		}
	}
	// The symlinks, lstat'ed: made with the counter before the wasm runs.
	for i, l := range []struct{ path, target string }{{"/dev/stdin", "/dev/tty"}, {"/dev/stdout", "/dev/tty"}, {"/dev/stderr", "/dev/tty1"}} {
		n, err := fs.stat(l.path, true)
		if err != nil {
			t.Fatal(err)
		}
		if st := n.stat(); st.ino != uint32(17+i) || st.mode != 0o120777 || st.size != float64(len(l.target)) || st.ts != float64(10000+i) {
			t.Errorf("%s: %+v", l.path, st)
		}
		if got, err := fs.readlink(l.path); got != l.target || err != nil {
			t.Errorf("readlink %s = %q, %v", l.path, got, err)
		}
	}
	// /proc/self/fd is the fd file system's root: no getattr.
	if _, err := fs.stat("/proc/self/fd", false); errnoOf(err) != errnoPERM {
		t.Errorf("stat /proc/self/fd: %v, want EPERM", err)
	}
	if got, err := fs.readlink("/proc/self/fd/2"); got != "/dev/tty1" || err != nil {
		t.Errorf("readlink /proc/self/fd/2 = %q, %v", got, err)
	}
	for fd, want := range []struct {
		path  string
		flags int32
	}{{"/dev/tty", 0}, {"/dev/tty", 1}, {"/dev/tty1", 1}} {
		s := fs.streams[int32(fd)]
		if s == nil || s.path != want.path || s.shared.flags != want.flags || !s.tty() || s.seekable {
			t.Errorf("fd %d: %+v", fd, s)
		}
	}
	if fs.nextInode != 21 || *clock != 10004 {
		t.Errorf("next inode %d, clock %v: the init consumed other values", fs.nextInode, *clock)
	}
}

// TestMemFSPathOperations: the glue's answers (errno) and Date.now ticks
// for a sequence of path operations, each depending on the ones before.
func TestMemFSPathOperations(t *testing.T) {
	fs, clock := newTestFS()
	steps := []struct {
		op    string
		a, b  string
		errno int32
		ticks float64
	}{
		{"unlink", "/tmp", "", errnoISDIR, 0},
		{"rmdir", "/tmp", "", 0, 1},
		{"rmdir", "/tmp", "", errnoNOENT, 0},
		{"rmdir", "/dev", "", errnoNOTEMPTY, 0},
		{"rmdir", "/", "", errnoBUSY, 0},
		{"unlink", "", "", errnoNOENT, 0},
		{"rename", "/home", "/home2", 0, 1},
		{"rename", "/home2/web_user", "/w", 0, 1},
		{"rename", "/w", "/w/sub", errnoINVAL, 0},
		{"rename", "/dev/shm/tmp", "/dev/shm", errnoNOTEMPTY, 0},
		{"rename", "/w", "/proc/self/fd/x", errnoXDEV, 0},
		{"rename", "/missing/a", "/b", errnoNOENT, 0},
		{"rename", "/w", "/home2", 0, 1}, // a directory over an empty one
		{"rename", "/home2", "/dev", errnoNOTEMPTY, 0},
		{"rename", "/dev/null", "/dev/shm", errnoISDIR, 0},
		{"rename", "/proc", "/dev/null", errnoNOTDIR, 0},
		{"rename", "/dev/tty1", "/dev/tty1", 0, 0},
		{"unlink", "/proc/self/fd/1", "", errnoPERM, 0},
		{"unlink", "/proc/self/fd/9", "", errnoBADF, 0},
		{"unlink", "/proc/self/fd/x", "", errnoBADF, 0},
		{"rmdir", "/proc/self/fd/", "", 0, 1}, // removes the mount point's MEMFS node
		{"mkdir", "/a/b", "", errnoNOENT, 0},
		{"mkdir", "/a", "", 0, 1},
		{"mkdir", "/a", "", errnoEXIST, 0},
		{"mkdir", "/dev/null/x", "", errnoPERM, 0}, // lookup errors are swallowed by mayCreate; a device has no mknod
		{"mkdir", "/a/..", "", errnoINVAL, 0},
	}
	for i, s := range steps {
		before := *clock
		var err error
		switch s.op {
		case "unlink":
			err = fs.unlink(s.a)
		case "rmdir":
			err = fs.rmdir(s.a)
		case "rename":
			err = fs.rename(s.a, s.b)
		case "mkdir":
			_, err = fs.mkdir(s.a, 0o777)
		}
		if got := errnoOf(err); got != s.errno {
			t.Fatalf("step %d %s %s %s: errno %d (%v), want %d", i, s.op, s.a, s.b, got, err, s.errno)
		}
		if *clock-before != s.ticks {
			t.Fatalf("step %d %s %s: %v Date.now calls, want %v", i, s.op, s.a, *clock-before, s.ticks)
		}
	}
	// /dev/null could not be renamed over a directory; over a file it can,
	// and the replaced node stays in the name table: it reappears when the
	// name is unlinked (the glue's FS.rename does not destroy it).
	if err := fs.rename("/dev/null", "/dev/tty"); err != nil {
		t.Fatal(err)
	}
	if n, _ := fs.stat("/dev/tty", false); n == nil || n.id != 6 {
		t.Fatalf("/dev/tty after the rename: %+v", n)
	}
	if err := fs.unlink("/dev/tty"); err != nil {
		t.Fatal(err)
	}
	if n, err := fs.stat("/dev/tty", false); err != nil || n.id != 7 {
		t.Fatalf("the replaced /dev/tty should reappear: %+v %v", n, err)
	}
	if _, ok := fs.root.children["dev"].children["tty"]; ok {
		t.Fatal("the reappeared node is not in its directory's contents")
	}
}

// TestMemFSFiles: open flags, fd numbering, read/write/seek/append,
// truncate and dup, as the glue's FS.open / FS.read / FS.write.
func TestMemFSFiles(t *testing.T) {
	fs, clock := newTestFS()
	open := func(path string, flags int32) (*fsStream, int32) {
		s, err := fs.open(path, flags, 0o644, nil)
		return s, errnoOf(err)
	}
	if _, e := open("/tmp/x", 0); e != errnoNOENT {
		t.Fatalf("open missing: errno %d", e)
	}
	before := *clock
	w, e := open("/tmp/x", oCreat|oExcl|1)
	if e != 0 || w.fd != 3 {
		t.Fatalf("create: fd %v errno %d", w, e)
	}
	if *clock-before != 1 || w.node.mode != 0o100644 || w.node.id != 21 {
		t.Fatalf("created node %+v after %v ticks", w.node, *clock-before)
	}
	if _, e := open("/tmp/x", oCreat|oExcl|1); e != errnoEXIST {
		t.Fatalf("O_EXCL on an existing file: errno %d", e)
	}
	if _, e := open("/tmp", 1); e != errnoISDIR {
		t.Fatalf("a directory for writing: errno %d", e)
	}
	if _, e := open("/tmp/x", oDirectory); e != errnoNOTDIR {
		t.Fatalf("O_DIRECTORY on a file: errno %d", e)
	}
	if _, e := open("/tmp/x/y", oCreat|1); e != errnoPERM { // the parent, a file, has no mknod
		t.Fatalf("create under a file: errno %d", e)
	}
	if _, e := open("/dev/stdin", oNoFollow); e != errnoLOOP {
		t.Fatalf("O_NOFOLLOW on a symlink: errno %d", e)
	}
	write := func(s *fsStream, b string) int32 {
		_, err := fs.write(s, []byte(b), func([]byte) {})
		return errnoOf(err)
	}
	read := func(s *fsStream, n int) (string, int32) {
		buf := make([]byte, n)
		got, err := fs.read(s, buf)
		return string(buf[:got]), errnoOf(err)
	}
	before = *clock
	if write(w, "hello") != 0 || write(w, "") != 0 || *clock-before != 1 {
		t.Fatalf("writes took %v ticks, want 1 (an empty write does not stamp)", *clock-before)
	}
	if _, e := read(w, 5); e != errnoBADF {
		t.Fatalf("read from O_WRONLY: errno %d", e)
	}
	r, _ := open("/tmp/x", 0)
	if r.fd != 4 {
		t.Fatalf("second open got fd %d", r.fd)
	}
	if got, _ := read(r, 3); got != "hel" {
		t.Fatalf("read %q", got)
	}
	if write(r, "x") != errnoBADF {
		t.Fatal("write to O_RDONLY must fail with EBADF")
	}
	if pos, err := fs.llseek(r, -1, 2); pos != 4 || err != nil {
		t.Fatalf("seek end-1: %v %v", pos, err)
	}
	if got, _ := read(r, 10); got != "o" {
		t.Fatalf("read after seek %q", got)
	}
	if _, err := fs.llseek(r, -10, 1); errnoOf(err) != errnoINVAL {
		t.Fatalf("seek before 0: %v", err)
	}
	if _, err := fs.llseek(r, 0, 3); errnoOf(err) != errnoINVAL {
		t.Fatalf("bad whence: %v", err)
	}
	if _, err := fs.llseek(fs.streams[1], 0, 0); errnoOf(err) != errnoSPIPE {
		t.Fatalf("seek on a TTY: %v", err)
	}
	// Writing past the end fills the gap with zeros.
	if _, err := fs.llseek(w, 8, 0); err != nil || write(w, "!") != 0 || string(w.node.data) != "hello\x00\x00\x00!" {
		t.Fatalf("sparse write: %q %v", w.node.data, err)
	}
	// O_APPEND writes at the end whatever the position.
	a, _ := open("/tmp/x", oAppend|2)
	if write(a, "+") != 0 || string(w.node.data) != "hello\x00\x00\x00!+" || a.shared.position != 10 {
		t.Fatalf("append: %q pos %v", w.node.data, a.shared.position)
	}
	// The lowest free fd is reused; dup shares the position.
	fs.close(r)
	r2, _ := open("/tmp/x", 0)
	if r2.fd != 4 {
		t.Fatalf("reopened fd %d, want the freed 4", r2.fd)
	}
	d := fs.dup(r2, 9)
	if got, _ := read(d, 2); got != "he" || r2.shared.position != 2 {
		t.Fatalf("dup: %q, original position %v", got, r2.shared.position)
	}
	// O_TRUNC and truncate.
	before = *clock
	if _, e := open("/tmp/x", oTrunc|1); e != 0 || len(w.node.data) != 0 || *clock-before != 1 {
		t.Fatalf("O_TRUNC: errno %d, size %d, %v ticks", e, len(w.node.data), *clock-before)
	}
	if err := fs.truncate(w.node, 3); err != nil || string(w.node.data) != "\x00\x00\x00" {
		t.Fatalf("truncate up: %q %v", w.node.data, err)
	}
	if err := fs.truncate(fs.root, 0); errnoOf(err) != errnoISDIR {
		t.Fatalf("truncate a directory: %v", err)
	}
	// An unlinked file stays readable through its open streams.
	if err := fs.unlink("/tmp/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.llseek(r2, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(r2, 9); got != "\x00\x00\x00" {
		t.Fatalf("read of the unlinked file %q", got)
	}
	// Devices.
	null, _ := open("/dev/null", 2)
	if got, e := read(null, 4); got != "" || e != 0 || write(null, "abc") != 0 {
		t.Fatalf("/dev/null: %q %d", got, e)
	}
	rnd, _ := open("/dev/urandom", 0)
	before = *clock
	if got, e := read(rnd, 4); got != "\x00\x00\x00\x00" || e != 0 || *clock-before != 1 {
		t.Fatalf("/dev/urandom: %q %d after %v ticks", got, e, *clock-before)
	}
}

// TestMemFSClone: a clone is independent of its original and keeps the
// sharing of dup'ed streams.
func TestMemFSClone(t *testing.T) {
	fs, _ := newTestFS()
	s, err := fs.open("/tmp/f", oCreat|2, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	fs.dup(s, 7)
	if _, err := fs.write(s, []byte("abc"), nil); err != nil {
		t.Fatal(err)
	}
	c := fs.clone(func() float64 { return 0 })
	if err := fs.rmdir("/dev/shm/tmp"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.write(s, []byte("def"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.stat("/dev/shm/tmp", false); err != nil {
		t.Fatal("the clone lost a directory removed from the original")
	}
	cs := c.streams[s.fd]
	if string(cs.node.data) != "abc" || cs.shared.position != 3 {
		t.Fatalf("clone's file %q at %v", cs.node.data, cs.shared.position)
	}
	if c.streams[7].shared != cs.shared {
		t.Fatal("the clone's dup'ed streams no longer share their position")
	}
	n, err := c.stat("/tmp/f", false)
	if err != nil || n != cs.node {
		t.Fatal("the clone's tree and streams point at different nodes")
	}
}

func TestPathHelpers(t *testing.T) {
	for _, c := range []struct{ in, norm, dir, base string }{
		{"/tmp/x", "/tmp/x", "/tmp", "x"},
		{"/tmp/x/", "/tmp/x/", "/tmp", "x"},
		{"/", "/", "/", "/"},
		{"/tmp/..", "/", "/tmp", ""},
		{"a/../../b", "../b", "a/../..", "b"},
		{"", ".", ".", "."},
		{"//a", "/a", "/", "a"},
	} {
		if got := pathNormalize(c.in); got != c.norm {
			t.Errorf("normalize(%q) = %q, want %q", c.in, got, c.norm)
		}
		if got := pathDirname(c.in); got != c.dir {
			t.Errorf("dirname(%q) = %q, want %q", c.in, got, c.dir)
		}
		if got := pathBasename(c.in); got != c.base {
			t.Errorf("basename(%q) = %q, want %q", c.in, got, c.base)
		}
	}
	if got := pathRelative("/tmp2", "/tmp2"); got != "" {
		t.Errorf("relative = %q", got)
	}
	if got := pathRelative("/a/b", "/c"); got != "../../c" {
		t.Errorf("relative = %q", got)
	}
	for name, want := range map[string]int32{"1": 1, "01": 1, " 2 ": 2, "0x3": 3, "1e0": 1, "x": -1, "1.5": -1, "-1": -1} {
		if got := jsIndex(name); got != want {
			t.Errorf("jsIndex(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestMemFSProcessState runs aos and checks the file system's place in the
// Process state semantics: it persists across messages, a snapshot carries
// it (a rollback that replays messages sees what they saw), and a new
// evaluation stream, a rollback and a restored memory image start from the
// file system a freshly loaded instance has, as the reference's new
// instances do.
func TestMemFSProcessState(t *testing.T) {
	m := module(t, aos64)
	env, msgs := scenario(t, "probe", aos64)
	ctx := context.Background()
	p := startProcess(t, m, ProcessOptions{SnapshotRatio: 1e6}, env, msgs[:1])
	n := 100
	eval := func(code string) (string, bool) {
		t.Helper()
		n++
		r, err := p.Handle(ctx, evalMsg(t, msgs[1], "FS"+strings.Repeat("_", n%7), n, code), env)
		if err != nil {
			t.Fatal(err)
		}
		if r.Failed() {
			return string(r.Error), false
		}
		return outputData(t, r), true
	}
	remove := "R = {os.remove('/tmp')} return tostring(R[1]) .. ' ' .. tostring(R[3])"
	if got, _ := eval(remove); !strings.HasPrefix(got, "true") {
		t.Fatalf("first os.remove('/tmp'): %q", got)
	}
	// Snapshot here; the next messages depend on the file system.
	p.takeSnapshot()
	if got, _ := eval(remove); !strings.HasPrefix(got, "nil 44") {
		t.Fatalf("second os.remove('/tmp'): %q, want ENOENT (44)", got)
	}
	if got, _ := eval("R2 = {os.rename('/home', '/tmp')} return tostring(R2[1])"); got != "true" {
		t.Fatalf("rename: %q", got)
	}
	if got, _ := eval("R3 = {os.remove('/tmp/web_user'), os.remove('/tmp')} return tostring(R3[1]) .. tostring(R3[2])"); got != "truetrue" {
		t.Fatalf("remove the moved tree: %q", got)
	}
	want := memHash(p)
	if _, ok := eval("os.remove('/dev/shm/tmp') error('boom')"); ok {
		t.Fatal("expected an Error")
	}
	if p.Stats().Replayed == 0 {
		t.Fatalf("the rollback replayed nothing (%+v): the test does not exercise the snapshot's file system", p.Stats())
	}
	if memHash(p) != want {
		t.Fatal("the rollback's replay did not reproduce the memory: the snapshot lost the file system state")
	}
	// After the rollback the instance is a new one: its file system is fresh.
	if got, _ := eval(remove); !strings.HasPrefix(got, "true") {
		t.Fatalf("os.remove('/tmp') after a rollback: %q, want a fresh /tmp", got)
	}
	p.BeginStream()
	if got, _ := eval(remove); !strings.HasPrefix(got, "true") {
		t.Fatalf("os.remove('/tmp') in a new stream: %q", got)
	}
	image := append([]byte(nil), p.Memory()...)
	q, err := m.NewProcess(ctx, ProcessOptions{Memory: image})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r, err := q.Handle(ctx, evalMsg(t, msgs[1], "FSQ", 900, remove), env)
	if err != nil || r.Failed() || !strings.HasPrefix(outputData(t, r), "true") {
		t.Fatalf("a process restored from memory must start with a fresh file system: %v %+v", err, r)
	}
}

// TestWriteStatLayout: struct stat as the glue's doStat writes it, wasm64
// (BigInt stores) and wasm32 (i32 pairs), for a node stamped 10012 ms:
// seconds 10, "nanoseconds" ms%1000*1000 = 12000.
func TestWriteStatLayout(t *testing.T) {
	st := nodeStat{dev: 1, ino: 21, mode: 0o100644, nlink: 1, rdev: 0, size: 5000, blocks: 2, ts: 10012}
	u32 := func(d []byte, off int) uint32 {
		return uint32(d[off]) | uint32(d[off+1])<<8 | uint32(d[off+2])<<16 | uint32(d[off+3])<<24
	}
	u64 := func(d []byte, off int) uint64 { return uint64(u32(d, off)) | uint64(u32(d, off+4))<<32 }
	d := make([]byte, 120)
	for i := range d {
		d[i] = 0xAA
	}
	h64 := &instance{is64: true}
	if tr := h64.writeStat(d, 8, st); tr != nil {
		t.Fatal(tr)
	}
	for _, c := range []struct {
		off  int
		got  uint64
		want uint64
	}{
		{0, uint64(u32(d, 8)), 1}, {4, uint64(u32(d, 12)), 0o100644}, {8, u64(d, 16), 1}, {16, uint64(u32(d, 24)), 0},
		{24, uint64(u32(d, 32)), 0}, {32, u64(d, 40), 5000}, {40, uint64(u32(d, 48)), 4096}, {44, uint64(u32(d, 52)), 2},
		{48, u64(d, 56), 10}, {56, u64(d, 64), 12000}, {64, u64(d, 72), 10}, {72, u64(d, 80), 12000},
		{80, u64(d, 88), 10}, {88, u64(d, 96), 12000}, {96, u64(d, 104), 21},
	} {
		if c.got != c.want {
			t.Errorf("wasm64 offset %d: %d, want %d", c.off, c.got, c.want)
		}
	}
	if d[7] != 0xAA || d[112] != 0xAA {
		t.Error("wasm64 stat wrote outside its 104 bytes")
	}
	for i := range d {
		d[i] = 0xAA
	}
	h32 := &instance{}
	if tr := h32.writeStat(d, 4, st); tr != nil {
		t.Fatal(tr)
	}
	for _, c := range []struct {
		off  int
		got  uint64
		want uint64
	}{
		{0, uint64(u32(d, 4)), 1}, {4, uint64(u32(d, 8)), 0o100644}, {8, uint64(u32(d, 12)), 1}, {12, uint64(u32(d, 16)), 0},
		{20, uint64(u32(d, 24)), 0}, {24, u64(d, 28), 5000}, {32, uint64(u32(d, 36)), 4096}, {36, uint64(u32(d, 40)), 2},
		{40, u64(d, 44), 10}, {48, uint64(u32(d, 52)), 12000}, {56, u64(d, 60), 10}, {64, uint64(u32(d, 68)), 12000},
		{72, u64(d, 76), 10}, {80, uint64(u32(d, 84)), 12000}, {88, u64(d, 92), 21},
	} {
		if c.got != c.want {
			t.Errorf("wasm32 offset %d: %d, want %d", c.off, c.got, c.want)
		}
	}
	// A fractional millisecond (utimensat with nanoseconds) cannot become a
	// BigInt: the wasm64 glue throws, the wasm32 one truncates.
	st.ts = 10012.0005
	if tr := h64.writeStat(d, 8, st); tr == nil {
		t.Error("wasm64: a fractional stamp must reject as the glue's BigInt() does")
	}
	if tr := h32.writeStat(d, 4, st); tr != nil || u32(d, 52) != 12000 {
		t.Errorf("wasm32 fractional nanoseconds: %d %v", u32(d, 52), tr)
	}
}
