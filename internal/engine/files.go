package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
)

// The engine's files, by name. Only names of these shapes are ever removed
// from a directory: the memory-cache directory defaults to the OS temp
// directory, which others share.
//
//	state-<pid>.dat                    a drained memory (PROCESS_MEMORY_CACHE_FILE_DIR),
//	                                   or a file checkpoint of an older aocu or the reference
//	state-<pid>-<nonce>-<sha16>.dat    a file checkpoint (PROCESS_MEMORY_FILE_CHECKPOINTS_DIR)
//	base-<id>.dat                      a base image that file checkpoints are deltas against
//	                                   (its id in hex, see memimage.Base; checkpoint directory)
//	.<one of those>.tmp-<digits>       fsutil.WriteFileAtomic's temporary file
var (
	drainedName    = regexp.MustCompile(`^state-([A-Za-z0-9_-]{43})\.dat$`)
	checkpointName = regexp.MustCompile(`^state-([A-Za-z0-9_-]{43})-([0-9]+)-([0-9a-f]{16})\.dat$`)
	baseName       = regexp.MustCompile(`^base-([0-9a-f]{64})\.dat$`)
	tempName       = regexp.MustCompile(`^\.(state-[A-Za-z0-9_-]{43}(-[0-9]+-[0-9a-f]{16})?|base-[0-9a-f]{64})\.dat\.tmp-[0-9]+$`)
)

// baseFileName is the file of the base image with id.
func baseFileName(id [32]byte) string { return "base-" + hex.EncodeToString(id[:]) + ".dat" }

// drainedFileName is the file drain writes p's memory to.
func drainedFileName(pid string) string { return "state-" + pid + ".dat" }

// checkpointFileName names a file checkpoint by its process, nonce and
// memory hash (hex): a new checkpoint never overwrites the recorded one
// (the same name means the same bytes).
func checkpointFileName(pid string, nonce int64, sha string) string {
	if len(sha) > 16 {
		sha = sha[:16]
	}
	return "state-" + pid + "-" + strconv.FormatInt(nonce, 10) + "-" + sha + ".dat"
}

// syncDir makes a rename or a removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// removeDrainFile removes the file p's memory was drained to, if any, and
// forgets it: once the process is loaded again (or the engine closes) the
// file is stale. Caller holds p.lock.
func (e *Engine) removeDrainFile(p *proc) {
	if p.drainFile == "" {
		return
	}
	if err := os.Remove(p.drainFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		e.log.Warn("could not remove drained memory file", "process", p.id, "file", p.drainFile, "err", err)
	}
	p.drainFile, p.drainBase = "", nil
	p.drainedTo.Store(nil)
}

// sweepFiles removes, at start, what an earlier run left behind: temporary
// files of interrupted writes in the memory-cache and checkpoint
// directories, every drained memory file (the memory records that pointed
// to them died with that run), and file checkpoints that no checkpoint
// record names (a run that stopped between writing a new checkpoint and
// recording it, or between recording it and removing the old one). A file
// is removed only when its name is of the engine's shapes; a checkpoint file
// is kept when its record cannot be read.
func (e *Engine) sweepFiles(ctx context.Context) {
	memDir := filepath.Clean(e.opts.MemoryCacheFileDir)
	cp := e.cp()
	cpDir := ""
	if cp.Store != nil && cp.FileDir != "" {
		cpDir = filepath.Clean(cp.FileDir)
	}
	removed, bytes := 0, int64(0)
	remove := func(dir, name, why string) {
		path := filepath.Join(dir, name)
		var size int64
		if info, err := os.Lstat(path); err == nil {
			size = info.Size()
		}
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				e.log.Warn("could not remove a stale file", "file", path, "err", err)
			}
			return
		}
		removed++
		bytes += size
		e.log.Debug("removed a stale file", "file", path, "why", why)
	}
	// referenced reports whether pid's checkpoint record names the file
	// (true when it cannot tell).
	referenced := func(pid, name string) bool {
		fc, err := cp.Store.FindFileCheckpoint(ctx, pid)
		if errors.Is(err, ao.ErrNotFound) {
			return false
		}
		if err != nil {
			e.log.Warn("checkpoint record unreadable; its files are kept", "process", pid, "err", err)
			return true
		}
		return filepath.Base(fc.File) == name
	}
	dirs := []string{memDir}
	if cpDir != "" && cpDir != memDir {
		dirs = append(dirs, cpDir)
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				e.log.Warn("could not list a directory to clean", "dir", dir, "err", err)
			}
			continue
		}
		for _, ent := range entries {
			name := ent.Name()
			if !ent.Type().IsRegular() {
				continue
			}
			switch {
			case tempName.MatchString(name):
				remove(dir, name, "temporary file of an interrupted write")
			case dir == cpDir && checkpointName.MatchString(name):
				if pid := checkpointName.FindStringSubmatch(name)[1]; !referenced(pid, name) {
					remove(dir, name, "file checkpoint without a record")
				}
			case drainedName.MatchString(name):
				pid := drainedName.FindStringSubmatch(name)[1]
				if dir == cpDir && referenced(pid, name) {
					continue // an older checkpoint file of the same name, still recorded
				}
				why := "drained memory of an earlier run"
				if dir != memDir {
					why = "file checkpoint without a record"
				}
				remove(dir, name, why)
			}
		}
	}
	if cpDir != "" {
		e.sweepBases(cpDir, remove)
	}
	if removed > 0 {
		e.log.Info("removed stale files left by an earlier run", "files", removed, "bytes", bytes)
	}
}

// sweepBases removes the base images of dir that no file checkpoint left in
// dir is a delta against (a checkpoint is kept when its header cannot be
// read: so are all bases then).
func (e *Engine) sweepBases(dir string, remove func(dir, name, why string)) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	used := map[string]bool{}
	var bases []string
	for _, ent := range entries {
		name := ent.Name()
		switch {
		case !ent.Type().IsRegular():
		case baseName.MatchString(name):
			bases = append(bases, name)
		case checkpointName.MatchString(name) || drainedName.MatchString(name):
			id, ok, err := deltaBaseOf(filepath.Join(dir, name))
			if errors.Is(err, os.ErrNotExist) {
				continue // (removed since: a drained file loaded again)
			}
			if err != nil {
				e.log.Warn("file checkpoint unreadable; base images are kept", "file", name, "err", err)
				return
			}
			if ok {
				used[baseFileName(id)] = true
			}
		}
	}
	for _, name := range bases {
		if !used[name] {
			remove(dir, name, "base image no file checkpoint needs")
		}
	}
}

// deltaBaseOf reads the header of the image in path: the id of the base it
// is a delta against (ok), or not a delta.
func deltaBaseOf(path string) (id [32]byte, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return id, false, err
	}
	defer f.Close()
	hdr := make([]byte, memimage.DeltaHeaderLen)
	n, err := io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return id, false, err
	}
	if !memimage.IsDelta(hdr[:n]) {
		return id, false, nil
	}
	id, err = memimage.DeltaBaseID(hdr[:n])
	return id, err == nil, err
}

// DirUsage is the disk use of the engine's files in one directory.
type DirUsage struct {
	Dir   string
	Files int
	Bytes int64
}

// dirUsage sums the files of dir whose names match (all when match is nil).
func dirUsage(dir string, match func(string) bool) (DirUsage, error) {
	u := DirUsage{Dir: dir}
	if dir == "" {
		return u, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return u, fmt.Errorf("disk use of %s: %w", dir, err)
	}
	for _, ent := range entries {
		if !ent.Type().IsRegular() || (match != nil && !match(ent.Name())) {
			continue
		}
		info, err := ent.Info()
		if err != nil {
			continue // removed meanwhile
		}
		u.Files++
		u.Bytes += info.Size()
	}
	return u, nil
}

func ourFile(name string) bool {
	return drainedName.MatchString(name) || checkpointName.MatchString(name) || baseName.MatchString(name) || tempName.MatchString(name)
}

// diskUsage measures the memory-cache, checkpoint and module directories
// (the engine's files only).
func (e *Engine) diskUsage() (mem, cps, mods DirUsage) {
	var err error
	if mem, err = dirUsage(e.opts.MemoryCacheFileDir, ourFile); err != nil {
		e.log.Warn("disk use", "err", err)
	}
	if dir := e.cp().FileDir; dir != "" && filepath.Clean(dir) != filepath.Clean(e.opts.MemoryCacheFileDir) {
		if cps, err = dirUsage(dir, ourFile); err != nil {
			e.log.Warn("disk use", "err", err)
		}
	} else {
		cps.Dir = dir
	}
	if mods, err = dirUsage(filepath.Join(e.opts.WasmBinaryDir, moduleBinaryDir), nil); err != nil {
		e.log.Warn("disk use", "err", err)
	}
	return mem, cps, mods
}
