package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aocu/aocu/internal/ao"
)

// On a warm process, /result of a new message takes the message's position
// from the page read at the same time as the SU's message lookup: with that
// lookup failing, the result still comes; on a cold process the lookup is
// needed and its failure answers. The page is cut at the message: the
// message after it is not evaluated until asked for.
func TestResultOfANewMessageReadsItsPageAtOnce(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	if got := cu.result(pid, cu.w.Send(pid, "one")).Output.Data; got != "2:one" {
		t.Fatalf("one = %q", got)
	}
	cold := cu.w.Spawn(cu.w.PublishModule(nil), "")
	coldMsg := cu.w.Send(cold, "c1")

	lookupDown := func(call, pid string) error {
		if call == "Message" {
			return ao.Errorf(502, "the SU's message lookup is down")
		}
		return nil
	}
	cu.w.Scheduler.SetFault(lookupDown)
	m2 := cu.w.Send(pid, "two")
	m3 := cu.w.Send(pid, "three")
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(pid, m2).Output.Data; got != "3:two" {
		t.Fatalf("two = %q", got)
	}
	if n := cu.w.Runtime.Counts().Handled - handled; n != 1 {
		t.Fatalf("%d messages evaluated for /result of two, want 1 (the page is cut at it)", n)
	}
	if _, err := cu.e.ReadResult(context.Background(), cold, coldMsg, 0); ao.StatusOf(err) != 502 {
		t.Fatalf("cold process with the lookup down = %v, want its 502", err)
	}
	cu.w.Scheduler.SetFault(nil)
	if got := cu.result(pid, m3).Output.Data; got != "4:three" {
		t.Fatalf("three = %q", got)
	}
	if got := cu.result(cold, coldMsg).Output.Data; got != "2:c1" {
		t.Fatalf("cold process = %q", got)
	}
}

// countingStore counts FindProcess reads.
type countingStore struct {
	ao.Store
	mu    sync.Mutex
	finds int
}

func (s *countingStore) FindProcess(ctx context.Context, id string) (*ao.Process, error) {
	s.mu.Lock()
	s.finds++
	s.mu.Unlock()
	return s.Store.FindProcess(ctx, id)
}

// The process record is read from the store once, not per /result.
func TestProcessRecordReadOnce(t *testing.T) {
	var cs *countingStore
	cu := newTestCU(t, nil, func(o *Options) {
		cs = &countingStore{Store: o.Store}
		o.Store = cs
	})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	for i, data := range []string{"one", "two", "three"} {
		if got := cu.result(pid, cu.w.Send(pid, data)).Output.Data; got != fmt.Sprintf("%d:%s", i+2, data) {
			t.Fatalf("%s = %q", data, got)
		}
	}
	cu.restart() // a new engine reads it again, once
	cu.result(pid, cu.w.Send(pid, "four"))
	cu.result(pid, cu.w.Send(pid, "five"))
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.finds > 2 {
		t.Fatalf("FindProcess read %d times for 5 results over 2 engines, want at most 2", cs.finds)
	}
}

// A page read ahead that comes back reordered (a message after the target
// first) is not cut at the first later message: that would end the stream
// before the target and answer something else. The answer is the right one
// or the SU's error, never another message's result.
func TestReorderedPageReadAheadIsNotCut(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	if got := cu.result(pid, cu.w.Send(pid, "one")).Output.Data; got != "2:one" {
		t.Fatalf("one = %q", got)
	}
	m2 := cu.w.Send(pid, "two")
	cu.w.Send(pid, "three")
	cu.w.Scheduler.SetPageHook(func(_ string, p *ao.SUPage) {
		if len(p.Edges) >= 2 {
			p.Edges = append([]ao.SUEdge(nil), p.Edges...)
			p.Edges[0], p.Edges[1] = p.Edges[1], p.Edges[0]
		}
	})
	handled := cu.w.Runtime.Counts().Handled
	out, err := cu.e.ReadResult(ctxT(t), pid, m2, 0)
	evaluated := cu.w.Runtime.Counts().Handled - handled
	if err == nil {
		if r := decodeOutput(t, out); r.Output.Data != "3:two" {
			t.Fatalf("two from a reordered page = %s, want its own result or the SU's error", out)
		}
		if evaluated != 1 {
			t.Fatalf("%d messages evaluated for two, want 1", evaluated)
		}
	} else if ao.StatusOf(err) != 502 || evaluated != 0 {
		t.Fatalf("two from a reordered page: %v after %d evaluated, want 502 and none", err, evaluated)
	}
	cu.w.Scheduler.SetPageHook(nil)
	if got := cu.result(pid, m2).Output.Data; got != "3:two" {
		t.Fatalf("two after the SU healed = %q", got)
	}
}
