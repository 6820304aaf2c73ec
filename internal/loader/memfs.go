package loader

import (
	"math"
	"strconv"
	"strings"
)

// The emscripten glue's in-memory file system (library_fs.js with MEMFS, as
// bundled in @permaweb/ao-loader 0.0.44 and 0.0.49: the wasm64, emscripten4
// and emscripten3 glues share it), reimplemented so that everything a module
// can observe through the syscalls is the same: return values and errno,
// fd numbers, inode numbers, stat fields, file contents, and the glue's
// Date.now counter, which every node creation, write, unlink, rename, chmod
// and truncate advances (the wasm reads the same counter).
//
// The structures follow the glue's: a node tree whose directories hold their
// children (MEMFS "contents"), plus the FS name table through which lookups
// go. The two differ in the glue's corner cases (a file replaced by rename
// stays in the name table and reappears when the name is unlinked again; the
// /proc/self/fd mount root shadows its mount point), which is why both are
// kept.
//
// Timestamps: the glue stamps nodes with Date.now(), which is the
// deterministic counter for everything done after the glue is built, but the
// nodes FS.staticInit makes (/, /tmp, /home, /dev and its devices, /proc)
// are stamped with the real wall clock of the reference machine before the
// counter is installed. aocu stamps those with 0 (the Unix epoch).

// emscripten errno values used by the file system (not Linux's).
const (
	errnoACCES    = 2
	errnoBUSY     = 10
	errnoEXIST    = 20
	errnoIO       = 29
	errnoISDIR    = 31
	errnoLOOP     = 32
	errnoMFILE    = 33
	errnoNODEV    = 43
	errnoNOTDIR   = 54
	errnoNOTEMPTY = 55
	errnoPERM     = 63
	errnoXDEV     = 75
)

// Mode bits and open flags as the glue reads them.
const (
	modeFmt    = 61440
	modeDir    = 16384
	modeFile   = 32768
	modeLink   = 40960
	modeChr    = 8192
	modeBlk    = 24576
	modeFIFO   = 4096
	oAccMode   = 2097155 // O_ACCMODE | O_PATH
	oCreat     = 64
	oExcl      = 128
	oTrunc     = 512
	oAppend    = 1024
	oDirectory = 65536
	oNoFollow  = 131072
	maxOpenFDs = 4096
)

// Device numbers of the glue's devices.
const (
	devNull   = 1<<8 | 3 // makedev(1, 3)
	devTTY    = 5 << 8   // stdout's TTY (console.log)
	devTTY1   = 6 << 8   // stderr's TTY (console.error)
	devRandom = 64 << 8  // FS.createDevice's first major
	devURand  = 65 << 8
)

// fsErrno is an FS.ErrnoError: the syscall returns -errno (fd_* return errno).
type fsErrno int32

func (e fsErrno) Error() string { return "errno " + strconv.Itoa(int(e)) }

// fsTypeError is a JavaScript exception that is not an ErrnoError: the glue
// rethrows it, so handle() rejects with its message.
type fsTypeError struct{ msg string }

func (e *fsTypeError) Error() string { return e.msg }

type nodeKind int

const (
	nodeMemfs  nodeKind = iota
	nodeProcFD          // the /proc/self/fd mount root: lookup only
	nodeFakeFD          // /proc/self/fd/<n>: readlink only, no mode
)

// fsNode is an FSNode.
type fsNode struct {
	id       int64
	name     string
	parent   *fsNode // the node itself for a root
	mount    int     // 0: the MEMFS root mount; 1: /proc/self/fd
	mounted  *fsNode // the root of the file system mounted here
	mode     uint32
	rdev     uint32
	ts       float64 // node.timestamp, ms
	kind     nodeKind
	children map[string]*fsNode // MEMFS directories: node.contents
	data     []byte             // MEMFS files: contents[:usedBytes]
	link     string             // symlinks
	fdStream *fsStream          // nodeFakeFD: the stream it names
}

func (n *fsNode) isDir() bool   { return n.kind != nodeFakeFD && n.mode&modeFmt == modeDir }
func (n *fsNode) isFile() bool  { return n.kind != nodeFakeFD && n.mode&modeFmt == modeFile }
func (n *fsNode) isLink() bool  { return n.kind != nodeFakeFD && n.mode&modeFmt == modeLink }
func (n *fsNode) isChr() bool   { return n.kind != nodeFakeFD && n.mode&modeFmt == modeChr }
func (n *fsNode) isRoot() bool  { return n.parent == n }
func (n *fsNode) hasAttr() bool { return n.kind == nodeMemfs } // node_ops.getattr/setattr
func (n *fsNode) hasLookup() bool {
	return n.kind == nodeProcFD || n.kind == nodeMemfs && n.isDir()
}
func (n *fsNode) hasDirOps() bool { return n.kind == nodeMemfs && n.isDir() } // mknod, rename, unlink, rmdir

// streamKind says which stream_ops a stream has.
type streamKind int

const (
	streamFile   streamKind = iota // MEMFS file: llseek, read, write
	streamDir                      // MEMFS directory: llseek only
	streamTTY                      // /dev/tty, /dev/tty1
	streamNull                     // /dev/null: read 0, write all, no llseek
	streamRandom                   // /dev/random, /dev/urandom
	streamNone                     // no stream_ops (a /proc/self/fd entry)
)

// fsShared is the part of a stream that dup() shares: flags and position.
type fsShared struct {
	flags    int32
	position float64
}

// fsStream is an FSStream.
type fsStream struct {
	fd       int32
	node     *fsNode
	path     string
	kind     streamKind
	seekable bool
	shared   *fsShared
}

func (s *fsStream) tty() bool { return s.kind == streamTTY }

// fsNameKey is what the name table hashes: the parent's id and the name.
type fsNameKey struct {
	parent int64
	name   string
}

// memFS is the glue's FS object for one instance.
type memFS struct {
	root      *fsNode
	nextInode int64
	names     map[fsNameKey][]*fsNode // the name table; the last node of a chain is found first
	streams   map[int32]*fsStream
	// now is the glue's Date.now(): it returns the counter and advances it.
	now func() float64
	// random fills /dev/random and /dev/urandom reads (deterministic).
}

// newMemFS builds the file system as the glue leaves it when the module is
// loaded: FS.staticInit (at timestamp 0, see above), then FS.init's three
// standard-stream symlinks and, for the modern formats, the loader's /data,
// stamped with the counter values before first (the first value the wasm
// reads), and the three standard streams on fds 0, 1, 2.
func newMemFS(now func() float64, first float64, dataDir bool) *memFS {
	fs := &memFS{nextInode: 1, names: map[fsNameKey][]*fsNode{}, streams: map[int32]*fsStream{}}
	stamp := 0.0
	fs.now = func() float64 { return stamp }
	root := fs.newNode(nil, "/", modeDir|0o777, 0)
	root.mount = 0
	fs.root = root
	must := func(n *fsNode, err error) *fsNode {
		if err != nil {
			panic("loader: building the glue's file system: " + err.Error())
		}
		return n
	}
	mkdir := func(p string) *fsNode { return must(fs.mkdir(p, 0o777)) }
	mkdev := func(p string, mode, dev uint32) { must(fs.mknod(p, mode|modeChr, dev)) }
	mkdir("/tmp")
	mkdir("/home")
	mkdir("/home/web_user")
	mkdir("/dev")
	mkdev("/dev/null", 0o666, devNull)
	mkdev("/dev/tty", 0o666, devTTY)
	mkdev("/dev/tty1", 0o666, devTTY1)
	mkdev("/dev/random", 0o555, devRandom) // FS_getMode(canRead, !canWrite)
	mkdev("/dev/urandom", 0o555, devURand)
	mkdir("/dev/shm")
	mkdir("/dev/shm/tmp")
	mkdir("/proc")
	self := mkdir("/proc/self")
	fdDir := mkdir("/proc/self/fd")
	// FS.mount of the fd file system: its root is a node named "fd" under
	// /proc/self that only the name table knows, in front of the MEMFS one.
	fdRoot := &fsNode{id: fs.nextInode, name: "fd", parent: self, mount: 1, mode: modeDir | 0o777, rdev: 73, kind: nodeProcFD}
	fs.nextInode++
	fs.hashAdd(fdRoot)
	fdDir.mounted = fdRoot
	// createStandardStreams, with the counter.
	stamp = first - 3
	if dataDir {
		stamp--
	}
	fs.now = func() float64 { v := stamp; stamp++; return v }
	must(fs.symlink("/dev/tty", "/dev/stdin"))
	must(fs.symlink("/dev/tty", "/dev/stdout"))
	must(fs.symlink("/dev/tty1", "/dev/stderr"))
	for _, s := range []struct {
		path  string
		flags int32
	}{{"/dev/stdin", 0}, {"/dev/stdout", 1}, {"/dev/stderr", 1}} {
		if _, err := fs.open(s.path, s.flags, 0, nil); err != nil {
			panic("loader: opening the glue's standard streams: " + err.Error())
		}
	}
	if dataDir {
		mkdir("/data") // the loader's FS_createPath('/', 'data')
	}
	fs.now = now
	return fs
}

// clone copies the whole file system (for snapshots); now is the clone's clock.
func (fs *memFS) clone(now func() float64) *memFS {
	nodes := map[*fsNode]*fsNode{}
	var cp func(n *fsNode) *fsNode
	cp = func(n *fsNode) *fsNode {
		if n == nil {
			return nil
		}
		if c, ok := nodes[n]; ok {
			return c
		}
		c := &fsNode{}
		nodes[n] = c
		*c = *n
		c.parent = cp(n.parent)
		c.mounted = cp(n.mounted)
		if n.children != nil {
			c.children = make(map[string]*fsNode, len(n.children))
			for k, v := range n.children {
				c.children[k] = cp(v)
			}
		}
		if n.data != nil {
			c.data = append([]byte(nil), n.data...)
		}
		return c
	}
	out := &memFS{root: cp(fs.root), nextInode: fs.nextInode, names: make(map[fsNameKey][]*fsNode, len(fs.names)),
		streams: make(map[int32]*fsStream, len(fs.streams)), now: now}
	for k, chain := range fs.names {
		c := make([]*fsNode, len(chain))
		for i, n := range chain {
			c[i] = cp(n)
		}
		out.names[k] = c
	}
	shared := map[*fsShared]*fsShared{}
	for fd, s := range fs.streams {
		c := *s
		c.node = cp(s.node)
		if sh, ok := shared[s.shared]; ok {
			c.shared = sh
		} else {
			v := *s.shared
			c.shared = &v
			shared[s.shared] = c.shared
		}
		out.streams[fd] = &c
	}
	// Fake /proc/self/fd nodes point at streams; they live only while a
	// lookup runs, so none is kept in the tree.
	return out
}

// newNode is FS.createNode (through MEMFS.createNode for MEMFS nodes): a new
// inode, stamped now, added to its parent and to the name table.
func (fs *memFS) newNode(parent *fsNode, name string, mode, rdev uint32) *fsNode {
	n := &fsNode{id: fs.nextInode, name: name, mode: mode, rdev: rdev}
	fs.nextInode++
	if parent == nil {
		n.parent = n
	} else {
		n.parent = parent
		n.mount = parent.mount
	}
	fs.hashAdd(n)
	switch {
	case n.isDir():
		n.children = map[string]*fsNode{}
	}
	n.ts = fs.now()
	if parent != nil {
		parent.children[name] = n
		parent.ts = n.ts
	}
	return n
}

func (fs *memFS) hashAdd(n *fsNode) {
	k := fsNameKey{n.parent.id, n.name}
	fs.names[k] = append(fs.names[k], n)
}

func (fs *memFS) hashRemove(n *fsNode) {
	k := fsNameKey{n.parent.id, n.name}
	chain := fs.names[k]
	// The glue unlinks the first match from the front of the chain.
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i] == n {
			chain = append(chain[:i:i], chain[i+1:]...)
			break
		}
	}
	if len(chain) == 0 {
		delete(fs.names, k)
	} else {
		fs.names[k] = chain
	}
}

// lookupNode is FS.lookupNode.
func (fs *memFS) lookupNode(parent *fsNode, name string) (*fsNode, error) {
	if parent.kind == nodeFakeFD || !parent.isDir() {
		return nil, fsErrno(errnoNOTDIR)
	}
	if !parent.hasLookup() {
		return nil, fsErrno(errnoACCES)
	}
	chain := fs.names[fsNameKey{parent.id, name}]
	for i := len(chain) - 1; i >= 0; i-- {
		if n := chain[i]; n.parent.id == parent.id && n.name == name {
			return n, nil
		}
	}
	if parent.kind == nodeProcFD {
		s := fs.streams[jsIndex(name)]
		if s == nil {
			return nil, fsErrno(errnoBADF)
		}
		fake := &fsNode{kind: nodeFakeFD, fdStream: s, mount: -1}
		fake.parent = fake
		return fake, nil
	}
	return nil, fsErrno(errnoNOENT)
}

// jsIndex is the stream index FS.streams[+name] reads: -1 when +name is not
// an integer (no stream).
func jsIndex(name string) int32 {
	s := strings.TrimSpace(name)
	var v float64
	switch {
	case s == "":
		v = 0
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"), strings.HasPrefix(s, "0o") || strings.HasPrefix(s, "0O"),
		strings.HasPrefix(s, "0b") || strings.HasPrefix(s, "0B"):
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[1]]
		u, err := strconv.ParseUint(s[2:], base, 64)
		if err != nil {
			return -1
		}
		v = float64(u)
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.ContainsAny(s, "_xXpPiInN") {
			return -1
		}
		v = f
	}
	if v != math.Trunc(v) || v < 0 || v > maxOpenFDs {
		return -1
	}
	return int32(v)
}

// lookupOpts are FS.lookupPath's options.
type lookupOpts struct {
	parent    bool
	follow    bool
	noMount   bool // follow_mount: false
	recursion int
}

// lookupPath is FS.lookupPath: the resolved path and its node (nil for "").
func (fs *memFS) lookupPath(path string, o lookupOpts) (string, *fsNode, error) {
	path = pathResolve(path)
	if path == "" {
		return "", nil, nil
	}
	if o.recursion > 8 {
		return "", nil, fsErrno(errnoLOOP)
	}
	parts := splitNonEmpty(path)
	cur := fs.root
	curPath := "/"
	for i, part := range parts {
		last := i == len(parts)-1
		if last && o.parent {
			break
		}
		n, err := fs.lookupNode(cur, part)
		if err != nil {
			return "", nil, err
		}
		cur = n
		curPath = pathJoin2(curPath, part)
		if cur.mounted != nil && (!last || !o.noMount) {
			cur = cur.mounted
		}
		if !last || o.follow {
			for count := 0; cur.isLink(); count++ {
				link, err := fs.readlink(curPath)
				if err != nil {
					return "", nil, err
				}
				curPath = pathResolve(pathDirname(curPath), link)
				_, n, err := fs.lookupPath(curPath, lookupOpts{recursion: o.recursion + 1})
				if err != nil {
					return "", nil, err
				}
				if n == nil {
					return "", nil, &fsTypeError{"Cannot read properties of null (reading 'mode')"}
				}
				cur = n
				if count+1 > 41 {
					return "", nil, fsErrno(errnoLOOP)
				}
			}
		}
	}
	return curPath, cur, nil
}

// getPath is FS.getPath.
func (fs *memFS) getPath(n *fsNode) string {
	path := ""
	for {
		if n.isRoot() {
			mp := "/"
			switch {
			case n.kind == nodeFakeFD:
				mp = "fake"
			case n.mount == 1:
				mp = "/proc/self/fd"
			}
			if path == "" {
				return mp
			}
			if mp[len(mp)-1] != '/' {
				return mp + "/" + path
			}
			return mp + path
		}
		if path == "" {
			path = n.name
		} else {
			path = n.name + "/" + path
		}
		n = n.parent
	}
}

// readlink is FS.readlink.
func (fs *memFS) readlink(path string) (string, error) {
	_, n, err := fs.lookupPath(path, lookupOpts{})
	if err != nil {
		return "", err
	}
	if n == nil {
		return "", fsErrno(errnoNOENT)
	}
	switch {
	case n.kind == nodeFakeFD:
		return pathResolve(fs.getPath(n.parent), n.fdStream.path), nil
	case n.kind != nodeMemfs || !n.isLink():
		return "", fsErrno(errnoINVAL)
	}
	return pathResolve(fs.getPath(n.parent), n.link), nil
}

// mayCreate is FS.mayCreate (permissions are ignored).
func (fs *memFS) mayCreate(dir *fsNode, name string) int32 {
	if dir == nil {
		return 0
	}
	if _, err := fs.lookupNode(dir, name); err == nil {
		return errnoEXIST
	}
	return 0
}

// mayDelete is FS.mayDelete.
func (fs *memFS) mayDelete(dir *fsNode, name string, isDir bool) int32 {
	n, err := fs.lookupNode(dir, name)
	if err != nil {
		if e, ok := err.(fsErrno); ok {
			return int32(e)
		}
		return errnoINVAL
	}
	if isDir {
		if !n.isDir() {
			return errnoNOTDIR
		}
		if n.isRoot() || fs.getPath(n) == "/" {
			return errnoBUSY
		}
	} else if n.isDir() {
		return errnoISDIR
	}
	return 0
}

// mknod is FS.mknod with MEMFS.createNode.
func (fs *memFS) mknod(path string, mode, dev uint32) (*fsNode, error) {
	_, parent, err := fs.lookupPath(path, lookupOpts{parent: true})
	if err != nil {
		return nil, err
	}
	name := pathBasename(path)
	if name == "" || name == "." || name == ".." {
		return nil, fsErrno(errnoINVAL)
	}
	if e := fs.mayCreate(parent, name); e != 0 {
		return nil, fsErrno(e)
	}
	if parent == nil {
		return nil, &fsTypeError{"Cannot read properties of null (reading 'node_ops')"}
	}
	if !parent.hasDirOps() {
		return nil, fsErrno(errnoPERM)
	}
	if f := mode & modeFmt; f == modeBlk || f == modeFIFO {
		return nil, fsErrno(errnoPERM)
	}
	return fs.newNode(parent, name, mode, dev), nil
}

// mkdir is FS.mkdir.
func (fs *memFS) mkdir(path string, mode uint32) (*fsNode, error) {
	return fs.mknod(path, mode&(0o777|0o1000)|modeDir, 0)
}

// symlink is FS.symlink (the glue only makes the standard-stream links).
func (fs *memFS) symlink(target, path string) (*fsNode, error) {
	_, parent, err := fs.lookupPath(path, lookupOpts{parent: true})
	if err != nil {
		return nil, err
	}
	name := pathBasename(path)
	if e := fs.mayCreate(parent, name); e != 0 {
		return nil, fsErrno(e)
	}
	n := fs.newNode(parent, name, modeLink|0o777, 0)
	n.link = target
	return n, nil
}

// nextfd is FS.nextfd: the lowest free fd from 0; taken reports the fds
// WeaveDrive files hold.
func (fs *memFS) nextfd(taken func(int32) bool) (int32, error) {
	for fd := int32(0); fd <= maxOpenFDs; fd++ {
		if fs.streams[fd] == nil && (taken == nil || !taken(fd)) {
			return fd, nil
		}
	}
	return 0, fsErrno(errnoMFILE)
}

// open is FS.open for a path (mode is the O_CREAT mode).
func (fs *memFS) open(path string, flags int32, mode uint32, taken func(int32) bool) (*fsStream, error) {
	if path == "" {
		return nil, fsErrno(errnoNOENT)
	}
	if flags&oCreat != 0 {
		mode = mode&0o7777 | modeFile
	} else {
		mode = 0
	}
	path = pathNormalize(path)
	_, node, err := fs.lookupPath(path, lookupOpts{follow: flags&oNoFollow == 0})
	if err != nil {
		node = nil
	}
	created := false
	if flags&oCreat != 0 {
		if node != nil {
			if flags&oExcl != 0 {
				return nil, fsErrno(errnoEXIST)
			}
		} else {
			if node, err = fs.mknod(path, mode, 0); err != nil {
				return nil, err
			}
			created = true
		}
	}
	if node == nil {
		return nil, fsErrno(errnoNOENT)
	}
	if node.isChr() {
		flags &^= oTrunc
	}
	if flags&oDirectory != 0 && !node.isDir() {
		return nil, fsErrno(errnoNOTDIR)
	}
	if !created {
		if e := mayOpen(node, flags); e != 0 {
			return nil, fsErrno(e)
		}
	}
	if flags&oTrunc != 0 && !created {
		if err := fs.truncate(node, 0); err != nil {
			return nil, err
		}
	}
	flags &^= oExcl | oTrunc | oNoFollow
	fd, err := fs.nextfd(taken)
	if err != nil {
		return nil, err
	}
	s := &fsStream{fd: fd, node: node, path: fs.getPath(node), seekable: true, shared: &fsShared{flags: flags}}
	fs.streams[fd] = s
	switch {
	case node.kind != nodeMemfs:
		s.kind = streamNone
		return nil, &fsTypeError{"Cannot read properties of undefined (reading 'open')"}
	case node.isDir():
		s.kind = streamDir
	case node.isChr():
		switch node.rdev {
		case devTTY, devTTY1:
			s.kind, s.seekable = streamTTY, false
		case devNull:
			s.kind = streamNull
		case devRandom, devURand:
			s.kind, s.seekable = streamRandom, false
		default:
			return nil, &fsTypeError{"Cannot read properties of undefined (reading 'stream_ops')"}
		}
	case node.isLink():
		s.kind = streamNone
	default:
		s.kind = streamFile
	}
	return s, nil
}

// mayOpen is FS.mayOpen (permissions ignored).
func mayOpen(n *fsNode, flags int32) int32 {
	if n.isLink() {
		return errnoLOOP
	}
	if n.isDir() && (flags&3 != 0 || flags&oTrunc != 0) {
		return errnoISDIR
	}
	return 0
}

// truncate is FS.truncate on a node.
func (fs *memFS) truncate(n *fsNode, size float64) error {
	if size < 0 {
		return fsErrno(errnoINVAL)
	}
	if !n.hasAttr() {
		return fsErrno(errnoPERM)
	}
	if n.isDir() {
		return fsErrno(errnoISDIR)
	}
	if !n.isFile() {
		return fsErrno(errnoINVAL)
	}
	n.ts = fs.now()
	n.resize(int64(size))
	return nil
}

// resize is MEMFS.resizeFileStorage.
func (n *fsNode) resize(size int64) {
	if int64(len(n.data)) == size {
		return
	}
	if size == 0 {
		n.data = nil
		return
	}
	if size < int64(len(n.data)) {
		n.data = append([]byte(nil), n.data[:size]...)
		return
	}
	n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
}

// setMode is FS.chmod on a node.
func (fs *memFS) setMode(n *fsNode, mode uint32) error {
	if !n.hasAttr() {
		return fsErrno(errnoPERM)
	}
	ts := fs.now()
	n.mode = mode&0o7777 | n.mode&^0o7777
	n.ts = ts
	return nil
}

// touch is FS.chown on a node: only the timestamp changes.
func (fs *memFS) touch(n *fsNode) error {
	if !n.hasAttr() {
		return fsErrno(errnoPERM)
	}
	n.ts = fs.now()
	return nil
}

// unlink is FS.unlink.
func (fs *memFS) unlink(path string) error { return fs.remove(path, false) }

// rmdir is FS.rmdir.
func (fs *memFS) rmdir(path string) error { return fs.remove(path, true) }

// remove is FS.unlink (dir false) or FS.rmdir (dir true): the same checks
// but for a directory's, and the error of a path without a parent.
func (fs *memFS) remove(path string, dir bool) error {
	_, parent, err := fs.lookupPath(path, lookupOpts{parent: true})
	if err != nil {
		return err
	}
	if parent == nil {
		if dir {
			return &fsTypeError{"Cannot read properties of null (reading 'mode')"}
		}
		return fsErrno(errnoNOENT)
	}
	name := pathBasename(path)
	node, err := fs.lookupNode(parent, name)
	if err != nil {
		return err
	}
	if e := fs.mayDelete(parent, name, dir); e != 0 {
		return fsErrno(e)
	}
	if !parent.hasDirOps() {
		return fsErrno(errnoPERM)
	}
	if node.mounted != nil {
		return fsErrno(errnoBUSY)
	}
	if dir && len(node.children) > 0 {
		return fsErrno(errnoNOTEMPTY)
	}
	delete(parent.children, name)
	parent.ts = fs.now()
	fs.hashRemove(node)
	return nil
}

// rename is FS.rename with MEMFS's node rename.
func (fs *memFS) rename(oldPath, newPath string) error {
	oldDirname, newDirname := pathDirname(oldPath), pathDirname(newPath)
	oldName, newName := pathBasename(oldPath), pathBasename(newPath)
	_, oldDir, err := fs.lookupPath(oldPath, lookupOpts{parent: true})
	if err != nil {
		return err
	}
	_, newDir, err := fs.lookupPath(newPath, lookupOpts{parent: true})
	if err != nil {
		return err
	}
	if oldDir == nil || newDir == nil {
		return fsErrno(errnoNOENT)
	}
	if oldDir.mount != newDir.mount {
		return fsErrno(errnoXDEV)
	}
	oldNode, err := fs.lookupNode(oldDir, oldName)
	if err != nil {
		return err
	}
	if rel := pathRelative(oldPath, newDirname); !strings.HasPrefix(rel, ".") {
		return fsErrno(errnoINVAL)
	}
	if rel := pathRelative(newPath, oldDirname); !strings.HasPrefix(rel, ".") {
		return fsErrno(errnoNOTEMPTY)
	}
	newNode, _ := fs.lookupNode(newDir, newName)
	if oldNode == newNode {
		return nil
	}
	isDir := oldNode.isDir()
	if e := fs.mayDelete(oldDir, oldName, isDir); e != 0 {
		return fsErrno(e)
	}
	var e int32
	if newNode != nil {
		e = fs.mayDelete(newDir, newName, isDir)
	} else {
		e = fs.mayCreate(newDir, newName)
	}
	if e != 0 {
		return fsErrno(e)
	}
	if !oldDir.hasDirOps() {
		return fsErrno(errnoPERM)
	}
	if oldNode.mounted != nil || newNode != nil && newNode.mounted != nil {
		return fsErrno(errnoBUSY)
	}
	fs.hashRemove(oldNode)
	defer fs.hashAdd(oldNode)
	if isDir && newNode != nil && len(newNode.children) > 0 {
		return fsErrno(errnoNOTEMPTY)
	}
	if newDir.children == nil {
		return &fsTypeError{"Cannot set properties of undefined (setting '" + newName + "')"}
	}
	delete(oldNode.parent.children, oldNode.name)
	ts := fs.now()
	oldNode.parent.ts = ts
	oldNode.name = newName
	newDir.children[newName] = oldNode
	newDir.ts = ts
	oldNode.parent = newDir
	return nil
}

// stat is FS.stat / FS.lstat: the node whose attributes getattr reports.
func (fs *memFS) stat(path string, noFollow bool) (*fsNode, error) {
	_, n, err := fs.lookupPath(path, lookupOpts{follow: !noFollow})
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, fsErrno(errnoNOENT)
	}
	if !n.hasAttr() {
		return nil, fsErrno(errnoPERM)
	}
	return n, nil
}

// nodeStat is MEMFS getattr.
type nodeStat struct {
	dev, ino, mode, nlink, rdev uint32
	size                        float64
	blocks                      float64
	ts                          float64
}

func (n *fsNode) stat() nodeStat {
	st := nodeStat{dev: 1, ino: uint32(n.id), mode: n.mode, nlink: 1, rdev: n.rdev, ts: n.ts}
	if n.isChr() {
		st.dev = uint32(n.id)
	}
	switch {
	case n.isDir():
		st.size = 4096
	case n.isFile():
		st.size = float64(len(n.data))
	case n.isLink():
		st.size = float64(len(utf16Units(n.link)))
	}
	st.blocks = math.Ceil(st.size / 4096)
	return st
}

func utf16Units(s string) []struct{} {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return make([]struct{}, n)
}

// read is FS.read at the stream position (MEMFS and device stream_ops).
func (fs *memFS) read(s *fsStream, dst []byte) (int, error) {
	if s.shared.flags&oAccMode == 1 {
		return 0, fsErrno(errnoBADF)
	}
	if s.node.isDir() {
		return 0, fsErrno(errnoISDIR)
	}
	switch s.kind {
	case streamNone, streamDir:
		return 0, fsErrno(errnoINVAL)
	case streamTTY, streamNull:
		// stdin is empty (the reference would read its own process's stdin).
		return 0, nil
	case streamRandom:
		// crypto.randomFillSync in the reference; aocu gives zeros.
		clear(dst)
		if len(dst) > 0 {
			s.node.ts = fs.now()
		}
		return len(dst), nil
	}
	pos := s.shared.position
	used := float64(len(s.node.data))
	if pos >= used {
		return 0, nil
	}
	n := copy(dst, s.node.data[int64(pos):])
	s.shared.position += float64(n)
	return n, nil
}

// write is FS.write at the stream position; out receives TTY output.
func (fs *memFS) write(s *fsStream, src []byte, out func([]byte)) (int, error) {
	if s.shared.flags&oAccMode == 0 {
		return 0, fsErrno(errnoBADF)
	}
	if s.node.isDir() {
		return 0, fsErrno(errnoISDIR)
	}
	switch s.kind {
	case streamNone, streamDir:
		return 0, fsErrno(errnoINVAL)
	case streamTTY:
		out(src)
		if len(src) > 0 {
			s.node.ts = fs.now()
		}
		return len(src), nil
	case streamNull:
		return len(src), nil
	case streamRandom:
		if len(src) > 0 {
			return 0, fsErrno(errnoIO) // the device has no output function
		}
		return 0, nil
	}
	if s.seekable && s.shared.flags&oAppend != 0 {
		s.shared.position = float64(len(s.node.data))
	}
	if len(src) == 0 {
		return 0, nil
	}
	n := s.node
	n.ts = fs.now()
	pos := int64(s.shared.position)
	if end := pos + int64(len(src)); end > int64(len(n.data)) {
		n.data = append(n.data, make([]byte, end-int64(len(n.data)))...)
	}
	copy(n.data[pos:], src)
	s.shared.position += float64(len(src))
	return len(src), nil
}

// llseek is FS.llseek.
func (fs *memFS) llseek(s *fsStream, off float64, whence int32) (float64, error) {
	if !s.seekable || s.kind != streamFile && s.kind != streamDir {
		return 0, fsErrno(errnoSPIPE)
	}
	if whence != 0 && whence != 1 && whence != 2 {
		return 0, fsErrno(errnoINVAL)
	}
	pos := off
	switch whence {
	case 1:
		pos += s.shared.position
	case 2:
		if s.node.isFile() {
			pos += float64(len(s.node.data))
		}
	}
	if pos < 0 {
		return 0, fsErrno(errnoINVAL)
	}
	s.shared.position = pos
	return pos, nil
}

// close is FS.close.
func (fs *memFS) close(s *fsStream) {
	delete(fs.streams, s.fd)
}

// dup is FS.dupStream onto fd: the new stream shares flags and position.
func (fs *memFS) dup(s *fsStream, fd int32) *fsStream {
	c := *s
	c.fd = fd
	fs.streams[fd] = &c
	return &c
}

// The glue's PATH and PATH_FS helpers (cwd is always "/": no chdir import).

func splitNonEmpty(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func normalizeArray(parts []string, allowAboveRoot bool) []string {
	up := 0
	for i := len(parts) - 1; i >= 0; i-- {
		switch last := parts[i]; {
		case last == ".":
			parts = append(parts[:i:i], parts[i+1:]...)
		case last == "..":
			parts = append(parts[:i:i], parts[i+1:]...)
			up++
		case up > 0:
			parts = append(parts[:i:i], parts[i+1:]...)
			up--
		}
	}
	if allowAboveRoot {
		for ; up > 0; up-- {
			parts = append([]string{".."}, parts...)
		}
	}
	return parts
}

func pathNormalize(p string) string {
	abs := strings.HasPrefix(p, "/")
	trailing := strings.HasSuffix(p, "/")
	p = strings.Join(normalizeArray(splitNonEmpty(p), !abs), "/")
	if p == "" && !abs {
		p = "."
	}
	if p != "" && trailing {
		p += "/"
	}
	if abs {
		return "/" + p
	}
	return p
}

// pathSplit is PATH.splitPath's root and dir parts.
func pathDirname(p string) string {
	root := ""
	if strings.HasPrefix(p, "/") {
		root = "/"
	}
	rest := p[len(root):]
	dir := ""
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		dir = rest[:i+1]
	}
	// splitPath's regex: the base is the last component (trailing slashes
	// belong to it), the dir what precedes it.
	if m := strings.TrimRight(rest, "/"); m != rest {
		if i := strings.LastIndex(m, "/"); i >= 0 {
			dir = m[:i+1]
		} else {
			dir = ""
		}
	}
	if root == "" && dir == "" {
		return "."
	}
	if dir != "" {
		dir = dir[:len(dir)-1]
	}
	return root + dir
}

func pathBasename(p string) string {
	if p == "/" {
		return "/"
	}
	p = pathNormalize(p)
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func pathJoin2(l, r string) string { return pathNormalize(l + "/" + r) }

// pathResolve is PATH_FS.resolve with cwd "/".
func pathResolve(args ...string) string {
	resolved := ""
	abs := false
	for i := len(args) - 1; i >= -1 && !abs; i-- {
		p := "/"
		if i >= 0 {
			p = args[i]
		}
		if p == "" {
			return ""
		}
		resolved = p + "/" + resolved
		abs = strings.HasPrefix(p, "/")
	}
	resolved = strings.Join(normalizeArray(splitNonEmpty(resolved), !abs), "/")
	if abs {
		return "/" + resolved
	}
	if resolved == "" {
		return "."
	}
	return resolved
}

// pathRelative is PATH_FS.relative.
func pathRelative(from, to string) string {
	from = pathResolve(from)[1:]
	to = pathResolve(to)[1:]
	trim := func(arr []string) []string {
		start := 0
		for ; start < len(arr) && arr[start] == ""; start++ {
		}
		end := len(arr) - 1
		for ; end >= 0 && arr[end] == ""; end-- {
		}
		if start > end {
			return nil
		}
		// arr.slice(start, end - start + 1), as the glue writes it
		stop := end - start + 1
		if stop > len(arr) {
			stop = len(arr)
		}
		if start >= stop {
			return nil
		}
		return arr[start:stop]
	}
	fp, tp := trim(strings.Split(from, "/")), trim(strings.Split(to, "/"))
	same := min(len(fp), len(tp))
	for i := 0; i < min(len(fp), len(tp)); i++ {
		if fp[i] != tp[i] {
			same = i
			break
		}
	}
	var out []string
	for i := same; i < len(fp); i++ {
		out = append(out, "..")
	}
	out = append(out, tp[same:]...)
	return strings.Join(out, "/")
}
