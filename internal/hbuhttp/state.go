package hbuhttp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/aocu/aocu/internal/cuhttp"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/jsjson"
	"github.com/aocu/aocu/internal/memimage"
	"github.com/klauspost/compress/gzip"
)

// snapshot is POST /snapshot/<pid>: a file checkpoint of the process now,
// answered with where it stands (the branch's forceSnapshot), or 404 when
// the unit holds no memory of the process.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	for _, err := range []error{cuhttp.CheckID("processId", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.opts.Checkpoints == nil {
		s.fail(w, r, ao.Errorf(http.StatusNotImplemented, "file checkpoints are not configured"))
		return
	}
	// A process the engine does not hold keeps its last file checkpoint,
	// if any (else 404 below).
	if err := s.opts.Engine.CheckpointProcess(r.Context(), pid); err != nil && !errors.Is(err, ao.ErrNotFound) {
		s.log.Warn("snapshot: checkpoint", "process", pid, "err", err)
	}
	fc, err := s.opts.Checkpoints.FindFileCheckpoint(r.Context(), pid)
	if errors.Is(err, ao.ErrNotFound) {
		var o jsjson.Object
		o.Bool("success", false)
		o.String("message", "No cached memory found for process "+pid)
		cuhttp.WriteJSON(w, http.StatusNotFound, o.Bytes())
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("snapshot of %s: %w", pid, err))
		return
	}
	ev := fc.Evaluation
	var snap jsjson.Object
	snap.String("processId", ev.ProcessID)
	snap.String("moduleId", ev.ModuleID)
	// The branch's snapshot has no messageId: its memory cache's evaluation
	// does not carry one (checked side by side).
	if ev.AssignmentID != "" {
		snap.String("assignmentId", ev.AssignmentID)
	}
	if ev.HashChain != "" {
		snap.String("hashChain", ev.HashChain)
	}
	snap.Number("timestamp", float64(ev.Timestamp))
	snap.Number("epoch", float64(ev.Epoch))
	snap.Number("nonce", float64(ev.Nonce))
	snap.Number("blockHeight", float64(ev.BlockHeight))
	snap.String("ordinate", ev.Ordinate)
	if ev.Encoding != "" {
		snap.String("encoding", ev.Encoding)
	}
	if ev.Cron != "" {
		snap.String("cron", ev.Cron)
	}
	var o jsjson.Object
	o.Bool("success", true)
	o.String("message", "File snapshot forced for process "+pid)
	o.String("processId", pid)
	o.String("file", fc.File)
	o.Number("timestamp", float64(ev.Timestamp))
	o.String("ordinate", ev.Ordinate)
	o.Raw("snapshot", snap.Bytes())
	h := w.Header()
	h.Set("snapshot-timestamp", strconv.FormatInt(ev.Timestamp, 10))
	h.Set("snapshot-ordinate", ev.Ordinate)
	h.Set("snapshot-block-height", strconv.FormatInt(ev.BlockHeight, 10))
	h.Set("snapshot-module-id", ev.ModuleID)
	if ev.Nonce != 0 {
		h.Set("snapshot-nonce", strconv.FormatInt(ev.Nonce, 10))
	}
	if ev.Epoch != 0 {
		h.Set("snapshot-epoch", strconv.FormatInt(ev.Epoch, 10))
	}
	if ev.HashChain != "" {
		h.Set("snapshot-hash-chain", ev.HashChain)
	}
	cuhttp.WriteJSON(w, http.StatusOK, o.Bytes())
}

// restore is POST /state: the body is a process memory, gzipped; the
// headers say where it stands (process, module, assignment, hash-chain,
// timestamp, nonce, block-height). It becomes the process's file
// checkpoint, which the engine starts from when the process is not in
// memory.
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	h := r.Header
	pid := h.Get("process")
	for _, err := range []error{cuhttp.CheckID("process", pid), s.restricted(pid)} {
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.opts.Checkpoints == nil || s.opts.CheckpointDir == "" {
		s.fail(w, r, ao.Errorf(http.StatusNotImplemented, "file checkpoints are not configured"))
		return
	}
	module := h.Get("module")
	if err := cuhttp.CheckID("module", module); err != nil {
		s.fail(w, r, err)
		return
	}
	num := func(name string, required bool) (int64, error) {
		v := strings.TrimSpace(h.Get(name))
		if v == "" && !required {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, ao.Errorf(400, "header %s: %q is not a non-negative integer", name, v)
		}
		return n, nil
	}
	ts, err := num("timestamp", true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nonce, err := num("nonce", true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	height, err := num("block-height", true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.readBody(r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		s.fail(w, r, ao.Errorf(400, "the body is not gzip: %v", err))
		return
	}
	mem, err := io.ReadAll(io.LimitReader(zr, s.opts.MaxMemoryBytes+1))
	if err != nil {
		s.fail(w, r, ao.Errorf(400, "the body is not gzip: %v", err))
		return
	}
	if int64(len(mem)) > s.opts.MaxMemoryBytes {
		s.fail(w, r, ao.Errorf(413, "the memory is larger than %d bytes", s.opts.MaxMemoryBytes))
		return
	}
	if len(mem) == 0 {
		s.fail(w, r, ao.Errorf(400, "the memory is empty"))
		return
	}
	sum := sha256.Sum256(mem)
	// The engine's name and image format for a file checkpoint.
	name := "state-" + pid + "-" + strconv.FormatInt(nonce, 10) + "-" + hex.EncodeToString(sum[:8]) + ".dat"
	img, err := memimage.Encode(mem)
	if err != nil {
		s.fail(w, r, fmt.Errorf("restore %s: %w", pid, err))
		return
	}
	if err := os.MkdirAll(s.opts.CheckpointDir, 0o755); err != nil {
		s.fail(w, r, fmt.Errorf("restore %s: %w", pid, err))
		return
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(s.opts.CheckpointDir, name), img); err != nil {
		s.fail(w, r, fmt.Errorf("restore %s: %w", pid, err))
		return
	}
	ev := ao.CheckpointEvaluation{
		ProcessID: pid, ModuleID: module, AssignmentID: h.Get("assignment"), HashChain: h.Get("hash-chain"),
		Timestamp: ts, Nonce: nonce, BlockHeight: height, Ordinate: strconv.FormatInt(nonce, 10),
		SHA256: hex.EncodeToString(sum[:]),
	}
	if err := s.opts.Checkpoints.SaveFileCheckpoint(r.Context(), &ao.FileCheckpoint{File: name, Evaluation: ev, CachedAt: s.opts.Now().UnixMilli()}); err != nil {
		s.fail(w, r, fmt.Errorf("restore %s: %w", pid, err))
		return
	}
	s.opts.Schedule.Remember(pid, nonce, ts)
	s.log.Info("process memory restored", "process", pid, "nonce", nonce, "timestamp", ts, "bytes", len(mem))
	writeText(w, http.StatusOK, "Successfully cached process memory for process "+pid)
}
