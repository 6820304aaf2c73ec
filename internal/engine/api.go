package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// acquirePrimary takes a primary worker slot and the process lock.
func (e *Engine) acquirePrimary(ctx context.Context, p *proc) (func(), error) {
	select {
	case e.primary <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := p.acquire(ctx); err != nil {
		<-e.primary
		return nil, err
	}
	return func() {
		e.touched(p)
		p.release()
		<-e.primary
	}, nil
}

// checkHydration refuses a request that would chain far ahead of a running
// stream (HYDRATION_MODE_NONCE_LIMIT).
func (e *Engine) checkHydration(p *proc, nonce int64) error {
	limit := e.opts.HydrationNonceLimit
	if limit <= 0 || !p.running.Load() || nonce < 0 {
		return nil
	}
	cur := p.currentNonce.Load()
	if cur != 0 && nonce-cur > limit {
		return ao.Errorf(503, "Nonce limit exceeded: process %s is currently hydrating with >%d nonces remaining (%d remaining). Please try again later.", p.id, limit, nonce-cur)
	}
	return nil
}

func (e *Engine) closed() error {
	if e.ctx.Err() != nil {
		return ao.Errorf(503, "the compute unit is shutting down")
	}
	return nil
}

// messageMeta locates a message: the process itself (AOP-6: nonce 0 at the
// process's timestamp) or a scheduled message.
func (e *Engine) messageMeta(ctx context.Context, pid, messageID string) (*ao.MessageMeta, error) {
	proc, su, err := e.loadProcessRecord(ctx, pid)
	if err != nil {
		return nil, err
	}
	if messageID == pid {
		return &ao.MessageMeta{ProcessID: pid, Timestamp: proc.Block.Timestamp, Nonce: 0}, nil
	}
	return e.suMessage(ctx, su, pid, messageID)
}

func (e *Engine) suMessage(ctx context.Context, su, pid, messageID string) (*ao.MessageMeta, error) {
	meta, err := e.opts.Scheduler.Message(ctx, su, messageID, pid)
	if err != nil {
		return nil, err
	}
	if meta.ProcessID != "" && meta.ProcessID != pid {
		return nil, ao.Errorf(404, "message %s does not belong to process %s", messageID, pid)
	}
	return meta, nil
}

// locateMessage is messageMeta for /result: on a warm process the next page
// is read at the same time as the message is looked up (speculate.go). The
// caller stops the returned page read (nil: none).
func (e *Engine) locateMessage(ctx context.Context, pid, messageID string) (*ao.MessageMeta, *specPage, error) {
	proc, su, err := e.loadProcessRecord(ctx, pid)
	if err != nil {
		return nil, nil, err
	}
	if messageID == pid {
		return &ao.MessageMeta{ProcessID: pid, Timestamp: proc.Block.Timestamp, Nonce: 0}, nil, nil
	}
	spec := e.speculate(ctx, su, pid)
	if spec == nil {
		meta, err := e.suMessage(ctx, su, pid, messageID)
		return meta, nil, err
	}
	type lookup struct {
		meta *ao.MessageMeta
		err  error
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan lookup, 1)
	go func() {
		meta, err := e.suMessage(lctx, su, pid, messageID)
		ch <- lookup{meta, err}
	}()
	if meta, ok := spec.find(ctx, pid, messageID); ok {
		cancel()
		<-ch
		return meta, spec, nil
	}
	r := <-ch
	if r.err != nil {
		spec.stop()
		return nil, nil, r.err
	}
	return r.meta, spec, nil
}

// ReadResult returns the result of a message (the reference's /result):
// stored, or evaluated up to it. busy > 0 gives up waiting with ErrBusy
// after that long; the evaluation goes on.
func (e *Engine) ReadResult(ctx context.Context, pid, messageID string, busy time.Duration) ([]byte, error) {
	if err := e.closed(); err != nil {
		return nil, err
	}
	cacheKey := pid + "," + messageID
	if out, ok := e.resultCache.Get(cacheKey); ok {
		return out, nil
	}
	out, err := e.readResult(ctx, pid, messageID, busy)
	if err == nil {
		cacheResult(e.resultCache, cacheKey, out)
	}
	return out, err
}

func (e *Engine) readResult(ctx context.Context, pid, messageID string, busy time.Duration) ([]byte, error) {
	meta, spec, err := e.locateMessage(ctx, pid, messageID)
	if err != nil {
		return nil, err
	}
	defer spec.stop()
	ord := strconv.FormatInt(meta.Nonce, 10)
	id := ao.EvaluationID(pid, strconv.FormatInt(meta.Timestamp, 10), ord)
	if ev, err := e.opts.Store.FindEvaluation(ctx, id); err == nil {
		return ev.Output, nil
	} else if !errors.Is(err, ao.ErrNotFound) {
		return nil, fmt.Errorf("read evaluation %s: %w", id, err)
	}
	p := e.process(pid)
	if err := p.checkFailed(meta.Nonce); err != nil {
		return nil, err
	}
	if err := e.checkHydration(p, meta.Nonce); err != nil {
		return nil, err
	}
	v, err := e.share(ctx, "result,"+id, busy, func(ctx context.Context) (any, error) {
		release, err := e.acquirePrimary(ctx, p)
		if err != nil {
			return nil, err
		}
		defer release()
		if ev, err := e.opts.Store.FindEvaluation(ctx, id); err == nil {
			return []byte(ev.Output), nil
		}
		st, err := e.runStreamFrom(ctx, p, target{Timestamp: meta.Timestamp, Ordinate: ord}, id, spec)
		if err != nil {
			return nil, err
		}
		if st.wanted != nil {
			return st.wanted, nil
		}
		if ev, err := e.opts.Store.FindEvaluation(ctx, id); err == nil {
			return []byte(ev.Output), nil
		}
		if st.lastOutput != nil {
			return st.lastOutput, nil
		}
		return []byte("{}"), nil // the reference's answer when the state sits exactly there without a stored row
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// State is a process's memory and where it stands: Memory, or (when the
// runtime captures memory images) Image of Size bytes, read while the State
// is open. Close it when done.
type State struct {
	Memory      []byte
	Image       io.ReaderAt
	Size        int64
	Timestamp   int64
	Ordinate    string
	BlockHeight int64

	img *sharedImage
}

// Close releases the State's image.
func (s *State) Close() {
	if s.img != nil {
		s.img.release()
		s.img = nil
	}
}

// ReadState evaluates the process to `to` (a timestamp; nil: latest) and
// returns its memory (the reference's /state): the committed memory's image,
// shared with dry-run forks and captured once per state, or else a copy.
func (e *Engine) ReadState(ctx context.Context, pid string, to *int64, busy time.Duration) (*State, error) {
	for range 3 {
		st, err := e.readState(ctx, pid, to, busy)
		if err != nil || st.img == nil {
			return st, err
		}
		// The image stays alive while it is the process's current one;
		// take this answer's own reference, or read again if it moved on.
		if st.img.acquire() {
			out := *st
			out.Image, out.Size = st.img, st.img.Size()
			return &out, nil
		}
	}
	return nil, ao.Errorf(503, "the state of process %s moved on while it was read; try again", pid)
}

func (e *Engine) readState(ctx context.Context, pid string, to *int64, busy time.Duration) (*State, error) {
	if err := e.closed(); err != nil {
		return nil, err
	}
	t := target{latest: to == nil}
	key := "state," + pid + ","
	if to != nil {
		t.Timestamp = *to
		key += strconv.FormatInt(*to, 10)
	}
	p := e.process(pid)
	if err := p.checkFailed(-1); err != nil {
		return nil, err
	}
	v, err := e.share(ctx, key, busy, func(ctx context.Context) (any, error) {
		release, err := e.acquirePrimary(ctx, p)
		if err != nil {
			return nil, err
		}
		defer release()
		if _, err := e.runStream(ctx, p, t, ""); err != nil {
			return nil, err
		}
		s := &State{Timestamp: p.pos.Timestamp, Ordinate: p.pos.Ordinate, BlockHeight: p.pos.BlockHeight}
		if p.inst == nil {
			return s, nil
		}
		if _, img := e.currentImage(p); img != nil {
			img.release() // the pool's reference keeps it while it is current
			s.img = img
		} else {
			s.Memory = append([]byte(nil), p.inst.Memory()...)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*State), nil
}

// Results reads stored evaluations (the reference's /results and /cron lists:
// no evaluation).
func (e *Engine) Results(ctx context.Context, q ao.RangeQuery) ([]*ao.Evaluation, error) {
	rows, err := e.opts.Store.Evaluations(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read results of process %s: %w", q.ProcessID, err)
	}
	return rows, nil
}

// CronTarget is where /cron evaluates to: a position in the schedule.
type CronTarget struct {
	Timestamp int64
	Ordinate  string
	Cron      string
}

// EvaluateCron evaluates the process to `to` (nil: latest, with crons up to
// the SU's clock), as the reference's /cron does before it lists.
func (e *Engine) EvaluateCron(ctx context.Context, pid string, to *CronTarget) error {
	if err := e.closed(); err != nil {
		return err
	}
	t := target{latest: to == nil}
	key := "cron," + pid + ","
	if to != nil {
		t.Timestamp, t.Ordinate, t.Cron = to.Timestamp, to.Ordinate, to.Cron
		key += fmt.Sprint(to.Timestamp, ",", to.Ordinate, ",", to.Cron)
	}
	p := e.process(pid)
	if err := p.checkFailed(-1); err != nil {
		return err
	}
	_, err := e.share(ctx, key, 0, func(ctx context.Context) (any, error) {
		release, err := e.acquirePrimary(ctx, p)
		if err != nil {
			return nil, err
		}
		defer release()
		_, err = e.runStream(ctx, p, t, "")
		return nil, err
	})
	return err
}
