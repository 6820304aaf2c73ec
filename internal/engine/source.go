package engine

import (
	"context"
	"sync"

	"github.com/aocu/aocu/internal/ao"
)

// pageSource reads a process's scheduled messages from its SU page by page,
// fetching the next page while the current one is evaluated.
type pageSource struct {
	sched    ao.Scheduler
	su, pid  string
	to       string
	limit    int
	edges    []ao.SUEdge
	i        int
	pending  chan pageResult
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ctx      context.Context
	finished bool
	// check validates a whole page before any of its edges is evaluated.
	check func(*ao.SUPage) error
}

type pageResult struct {
	page *ao.SUPage
	err  error
}

// newPageSource reads from `from`; first, when set, is that page already
// read.
func newPageSource(ctx context.Context, sched ao.Scheduler, su, pid, from, to string, limit int, check func(*ao.SUPage) error, first *ao.SUPage) *pageSource {
	ctx, cancel := context.WithCancel(ctx)
	s := &pageSource{sched: sched, su: su, pid: pid, to: to, limit: limit, ctx: ctx, cancel: cancel, check: check}
	if first != nil {
		ch := make(chan pageResult, 1)
		ch <- pageResult{page: first}
		s.pending = ch
		return s
	}
	s.fetch(from)
	return s
}

func (s *pageSource) fetch(from string) {
	ch := make(chan pageResult, 1)
	s.pending = ch
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		page, err := s.sched.Messages(s.ctx, s.su, s.pid, from, s.to, s.limit)
		ch <- pageResult{page, err}
	}()
}

// next returns the next edge; ok is false at the end.
func (s *pageSource) next(ctx context.Context) (*ao.SUEdge, bool, error) {
	for s.i >= len(s.edges) {
		if s.finished {
			return nil, false, nil
		}
		var r pageResult
		select {
		case r = <-s.pending:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if r.err == nil && s.check != nil {
			r.err = s.check(r.page)
		}
		if r.err != nil {
			s.finished = true
			return nil, false, r.err
		}
		s.edges, s.i = r.page.Edges, 0
		if r.page.HasNextPage && len(r.page.Edges) > 0 {
			s.fetch(r.page.Edges[len(r.page.Edges)-1].Cursor) // read ahead
		} else {
			s.finished = true
		}
	}
	e := &s.edges[s.i]
	s.i++
	return e, true, nil
}

// close stops a read-ahead in flight and waits for it.
func (s *pageSource) close() {
	s.cancel()
	s.wg.Wait()
}
