package engine

import (
	"context"
	"math"
	"strconv"
	"sync"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/schedule"
)

// A /result of a new message on a warm process needs two SU round trips in
// turn: the message's position (GET /<message>?process-id=), then the page
// from the process's position to it. speculate reads that page at once,
// from where the process stood after its last stream and without the upper
// bound; when the page holds the message (once, as a message of its own),
// its position comes from the page and the message lookup is not waited for,
// and the stream starts with the page (cut at the target: what the SU
// answers with the bound).

// hotPositions remembers where warm processes stood after their last stream
// (the SU's `from` of their next page).
type hotPositions struct {
	mu sync.Mutex
	m  map[string]string
}

func (h *hotPositions) set(pid string, pos position, warm bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]string{}
	}
	if !warm || pos.cold {
		delete(h.m, pid)
		return
	}
	h.m[pid] = strconv.FormatInt(pos.Timestamp, 10)
}

func (h *hotPositions) get(pid string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	from, ok := h.m[pid]
	return from, ok
}

// specPage is a page read ahead of knowing its bound.
type specPage struct {
	from   string
	done   chan struct{}
	page   *ao.SUPage
	err    error
	cancel context.CancelFunc
}

// speculate starts reading the page of a warm process (nil: not warm, or
// UNIT_MODE=hbu).
func (e *Engine) speculate(ctx context.Context, su, pid string) *specPage {
	if e.opts.HyperBEAM {
		return nil // the page comes with the request; HyperBEAM's scheduler is asked only for what it lacks
	}
	from, ok := e.hot.get(pid)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &specPage{from: from, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		s.page, s.err = e.opts.Scheduler.Messages(ctx, su, pid, from, "", e.opts.PageSize)
	}()
	return s
}

// stop cancels the read if it is still running and waits for it.
func (s *specPage) stop() {
	if s != nil {
		s.cancel()
		<-s.done
	}
}

// find returns the position of messageID when the page holds it exactly
// once, as a message of its own.
func (s *specPage) find(ctx context.Context, pid, messageID string) (*ao.MessageMeta, bool) {
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, false
	}
	if s.err != nil {
		return nil, false
	}
	var found *ao.MessageMeta
	for i := range s.page.Edges {
		edge := &s.page.Edges[i]
		if edge.Message == nil || edge.Message.ID != messageID {
			continue
		}
		m, err := schedule.FromEdge(edge)
		if err != nil || found != nil || m.IsAssignment {
			return nil, false
		}
		found = &ao.MessageMeta{ProcessID: pid, Timestamp: m.Timestamp, Nonce: *m.Nonce}
	}
	return found, found != nil
}

// first returns the page as the stream's first one from `from` up to `to`
// (a timestamp), or nil when it was read from elsewhere or failed.
func (s *specPage) first(from, to string) *ao.SUPage {
	if s == nil || s.from != from {
		return nil
	}
	select {
	case <-s.done:
	default:
		return nil
	}
	if s.err != nil || s.page == nil {
		return nil
	}
	if to == "" {
		return s.page
	}
	limit, err := strconv.ParseInt(to, 10, 64)
	if err != nil {
		return nil
	}
	// The cut is where the SU's `to` would end the page only if the page is
	// in timestamp order: a page that is not (a faulty SU or proxy) is left to
	// the SU's own answer and its checks, or the stream could end before the
	// target and answer another message's result.
	cut, prev := -1, int64(math.MinInt64)
	for i := range s.page.Edges {
		ts, ok := edgeTimestamp(&s.page.Edges[i])
		if !ok || ts < prev {
			return nil
		}
		prev = ts
		if ts > limit && cut < 0 {
			cut = i
		}
	}
	if cut >= 0 {
		return &ao.SUPage{HasNextPage: false, Edges: s.page.Edges[:cut]}
	}
	return s.page
}

func edgeTimestamp(e *ao.SUEdge) (int64, bool) {
	v, ok := ao.TagValue(e.Assignment.Tags, "Timestamp")
	if !ok {
		return 0, false
	}
	return schedule.ParseIntJS(v)
}
