// Package aotest is the engine's test world: an in-memory Scheduler Unit, an
// Arweave gateway and a scripted wasm Runtime behind the ports of package ao,
// with faults on demand. It speaks the shapes the real adapters return
// (suclient on the local SU, gwclient on the local gateway, the wasmtime
// loader), and the contract suites in schedulertest, gatewaytest and
// runtimetest hold the fakes and the real adapters to one behaviour.
//
// It does no I/O and imports neither HTTP nor database packages, so a test on
// it runs in milliseconds.
package aotest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// SUURL is the URL the fake gateway locates every process at.
const SUURL = "http://su.test"

// Fault is called before every Scheduler call with the call's name
// ("Process", "Message", "Latest", "Timestamp", "Messages") and the process
// id; a non-nil error is returned instead of the answer.
type Fault func(call, processID string) error

// PageHook may rewrite a page before the Scheduler returns it (gaps,
// reorders, duplicates).
type PageHook func(processID string, page *ao.SUPage)

// Scheduler is an in-memory Scheduler Unit (ao.Scheduler). Its answers have
// the shapes suclient gives for the Rust SU: a process's first edge is the
// process message at nonce 0 (AOP-6), cursors are timestamps, from is
// exclusive and to inclusive.
type Scheduler struct {
	mu     sync.Mutex
	clock  *Clock
	height int64
	procs  map[string]*schedProc
	fault  Fault
	hook   PageHook
	calls  map[string]int
}

type schedProc struct {
	proc  ao.SUProcess
	edges []ao.SUEdge
	data  []byte
}

// NewScheduler makes an empty Scheduler on clock.
func NewScheduler(clock *Clock) *Scheduler {
	return &Scheduler{clock: clock, height: 1, procs: map[string]*schedProc{}, calls: map[string]int{}}
}

var _ ao.Scheduler = (*Scheduler)(nil)

// SetFault installs f (nil removes it).
func (s *Scheduler) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetPageHook installs h (nil removes it).
func (s *Scheduler) SetPageHook(h PageHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// SetHeight sets the block height of later assignments.
func (s *Scheduler) SetHeight(h int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.height = h
}

// Calls returns how many times call was made.
func (s *Scheduler) Calls(call string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[call]
}

func (s *Scheduler) enter(call, pid string) error {
	s.mu.Lock()
	f := s.fault
	s.calls[call]++
	s.mu.Unlock()
	if f != nil {
		return f(call, pid)
	}
	return nil
}

// Item is a signed data item as the SU stores it.
type Item struct {
	ID        string
	Owner     ao.Owner
	Tags      []ao.Tag
	Data      []byte
	Anchor    string
	Target    string
	Signature string
}

func (it Item) suMessage() *ao.SUMessage {
	m := &ao.SUMessage{ID: it.ID, Owner: it.Owner, Tags: it.Tags, Signature: jsjson.AppendString(nil, it.Signature),
		Data: jsjson.AppendString(nil, jsjson.DecodeUTF8(it.Data))}
	if it.Anchor != "" {
		m.Anchor = jsjson.AppendString(nil, it.Anchor)
	} else {
		m.Anchor = json.RawMessage("null")
	}
	if it.Target != "" {
		m.Target = jsjson.AppendString(nil, it.Target)
	} else {
		m.Target = json.RawMessage("null")
	}
	return m
}

// schedule appends an assignment for pid. Caller holds s.mu.
func (s *Scheduler) schedule(pid string, msg *Item, assigned string, exclude []string) (ao.SUEdge, error) {
	sp := s.procs[pid]
	if sp == nil {
		return ao.SUEdge{}, fmt.Errorf("aotest: no process %s", pid)
	}
	nonce := int64(len(sp.edges))
	ts := s.clock.Tick()
	var chain string
	if nonce == 0 {
		sum := sha256.Sum256(mustB64(pid))
		chain = b64(sum[:])
	} else {
		prev := sp.edges[nonce-1]
		pts, _ := ao.TagValue(prev.Assignment.Tags, "Timestamp")
		if p, _ := strconv.ParseInt(pts, 10, 64); ts <= p {
			ts = p + 1
			s.clock.Set(ts)
		}
		pc, _ := ao.TagValue(prev.Assignment.Tags, "Hash-Chain")
		sum := sha256.Sum256(append(mustB64(prev.Assignment.ID), mustB64(pc)...))
		chain = b64(sum[:])
	}
	tags := []ao.Tag{
		{Name: "Process", Value: pid},
		{Name: "Epoch", Value: "0"},
		{Name: "Nonce", Value: strconv.FormatInt(nonce, 10)},
		{Name: "Hash-Chain", Value: chain},
		{Name: "Block-Height", Value: fmt.Sprintf("%012d", s.height)},
		{Name: "Timestamp", Value: strconv.FormatInt(ts, 10)},
		{Name: "Data-Protocol", Value: "ao"},
		{Name: "Type", Value: "Assignment"},
		{Name: "Variant", Value: "ao.TN.1"},
	}
	if nonce > 0 {
		id := assigned
		if msg != nil {
			id = msg.ID
		}
		tags = append(tags, ao.Tag{Name: "Message", Value: id})
	}
	for _, e := range exclude {
		tags = append(tags, ao.Tag{Name: "Exclude", Value: e})
	}
	edge := ao.SUEdge{Cursor: strconv.FormatInt(ts, 10),
		Assignment: ao.SUAssignment{ID: NewID("assignment", pid, nonce), Owner: SUOwner, Tags: tags}}
	if msg != nil {
		edge.Message = msg.suMessage()
	}
	sp.edges = append(sp.edges, edge)
	return edge, nil
}

// addProcess schedules a process message. Caller holds s.mu.
func (s *Scheduler) addProcess(it Item) error {
	if _, ok := s.procs[it.ID]; ok {
		return fmt.Errorf("aotest: process %s exists", it.ID)
	}
	ts := s.clock.Now()
	sp := &schedProc{data: it.Data, proc: ao.SUProcess{
		Process: ao.Process{ID: it.ID, Signature: it.Signature, Anchor: it.Anchor, Owner: it.Owner, Tags: it.Tags,
			Block: ao.Block{Height: s.height, Timestamp: ts}},
		Data: jsjson.AppendString(nil, jsjson.DecodeUTF8(it.Data)),
	}}
	s.procs[it.ID] = sp
	e, err := s.schedule(it.ID, &it, "", nil)
	if err != nil {
		return err
	}
	// The SU's process timestamp is its nonce-0 assignment's.
	sp.proc.Block.Timestamp, _ = strconv.ParseInt(e.Cursor, 10, 64)
	return nil
}

// Process is GET /processes/{pid}.
func (s *Scheduler) Process(ctx context.Context, suURL, pid string) (*ao.SUProcess, error) {
	if err := s.enter("Process", pid); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.procs[pid]
	if sp == nil {
		return nil, ao.Errorf(404, "Process %s was not found on the scheduler", pid)
	}
	p := sp.proc
	return &p, nil
}

// Message is GET /{messageID}?process-id={pid}: the message, assigned item
// or assignment of that id in pid's schedule; the process itself is nonce 0
// (as suclient answers it).
func (s *Scheduler) Message(ctx context.Context, suURL, messageID, pid string) (*ao.MessageMeta, error) {
	if err := s.enter("Message", pid); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp := s.procs[pid]; sp != nil {
		for i, e := range sp.edges {
			assigned, _ := ao.TagValue(e.Assignment.Tags, "Message")
			if (e.Message != nil && e.Message.ID == messageID) || assigned == messageID || e.Assignment.ID == messageID {
				ts, _ := strconv.ParseInt(e.Cursor, 10, 64)
				return &ao.MessageMeta{ProcessID: pid, Timestamp: ts, Nonce: int64(i)}, nil
			}
		}
	}
	return nil, ao.Errorf(404, "Message or Process not found")
}

// Latest is GET /{pid}/latest.
func (s *Scheduler) Latest(ctx context.Context, suURL, pid string) (*ao.MessageMeta, error) {
	if err := s.enter("Latest", pid); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.procs[pid]
	if sp == nil {
		return nil, ao.Errorf(404, "Process %s was not found on the scheduler", pid)
	}
	e := sp.edges[len(sp.edges)-1]
	ts, _ := ao.TagValue(e.Assignment.Tags, "Timestamp")
	t, _ := strconv.ParseInt(ts, 10, 64)
	return &ao.MessageMeta{ProcessID: pid, Timestamp: t, Nonce: int64(len(sp.edges) - 1)}, nil
}

// Timestamp is GET /timestamp.
func (s *Scheduler) Timestamp(ctx context.Context, suURL, pid string) (int64, int64, error) {
	if err := s.enter("Timestamp", pid); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Now(), s.height, nil
}

// DefaultPageSize is the page size of Messages without a limit (the Rust
// SU's).
const DefaultPageSize = 100

// Messages is GET /{pid}?from&to&limit (timestamps; from exclusive, to
// inclusive; the process message leads the first page; limit <= 0 is
// DefaultPageSize).
func (s *Scheduler) Messages(ctx context.Context, suURL, pid, from, to string, limit int) (*ao.SUPage, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if err := s.enter("Messages", pid); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	sp := s.procs[pid]
	if sp == nil {
		s.mu.Unlock()
		return nil, ao.Errorf(404, "Process %s was not found on the scheduler", pid)
	}
	var lo, hi int64 = -1, 1<<63 - 1
	if from != "" {
		lo, _ = strconv.ParseInt(from, 10, 64)
	}
	if to != "" {
		hi, _ = strconv.ParseInt(to, 10, 64)
	}
	page := &ao.SUPage{}
	for _, e := range sp.edges {
		ts, _ := strconv.ParseInt(e.Cursor, 10, 64)
		if ts <= lo || ts > hi {
			continue
		}
		if len(page.Edges) == limit {
			page.HasNextPage = true
			break
		}
		page.Edges = append(page.Edges, e)
	}
	hook := s.hook
	s.mu.Unlock()
	page.Edges = slices.Clone(page.Edges)
	if hook != nil {
		hook(pid, page)
	}
	return page, nil
}

// SUOwner is the SU's signer in assignments.
var SUOwner = ao.Owner{Address: NewID("su-address"), Key: "su-key"}

// NewID is a deterministic 43-character id made of parts.
func NewID(parts ...any) string {
	sum := sha256.Sum256(fmt.Append(nil, parts...))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustB64(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic("aotest: not base64url: " + s)
	}
	return b
}
