package mu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/arweave"
)

// Task keys. A result is keyed by (process, message); an outbox entry by its
// result's key and its index; an assignment by (process, message).

func resultKey(pid, msg string) string { return "result/" + pid + "/" + msg }

func assignKey(pid, msg string) string { return "assign/" + pid + "/" + msg }

func resultTask(pid, msg, pushedFor, root string, depth int) newTask {
	return newTask{Key: resultKey(pid, msg), Kind: kindResult,
		Payload: payload{Process: pid, Message: msg, PushedFor: pushedFor}, Root: root, Depth: depth}
}

func assignTask(pid, msg string, exclude []string, baseLayer bool, pushedFor, root string, depth int) newTask {
	return newTask{Key: assignKey(pid, msg), Kind: kindAssign, Lane: pid,
		Payload: payload{Process: pid, Message: msg, Exclude: exclude, BaseLayer: baseLayer, PushedFor: pushedFor},
		Root:    root, Depth: depth}
}

// source is where an outbox comes from: a result or a cron evaluation.
type source struct {
	prefix    string // key prefix of its entries
	process   string // whose outbox it is
	pushedFor string
	root      string
	depth     int // of the evaluation; its entries are one hop deeper
}

// messageTask is the task pushing outbox message i (raw); an error says why
// the message cannot be pushed.
func (s *Server) messageTask(src source, i int, raw json.RawMessage) (newTask, error) {
	t := newTask{Key: src.prefix + "/m" + strconv.Itoa(i), Kind: kindMessage,
		Payload: payload{Process: src.process, PushedFor: src.pushedFor, Out: raw}, Root: src.root, Depth: src.depth + 1}
	m, err := parseOutMessage(raw)
	if err != nil {
		return t, err
	}
	t.Lane = *m.Target
	t.Payload.Assignments = assignmentsTag(m.Tags)
	return t, nil
}

// outboxTasks are the tasks pushing an outbox: its messages, its spawns and
// its assignments. Entries that cannot be pushed are logged and counted.
func (s *Server) outboxTasks(src source, res *cuResult) []newTask {
	var out []newTask
	for i, raw := range res.Messages {
		t, err := s.messageTask(src, i, raw)
		if err != nil {
			s.log.Warn("mu: outbox message skipped", "from", src.process, "key", t.Key, "err", err)
			s.metrics.dropped.WithLabelValues("invalid").Inc()
			continue
		}
		out = append(out, t)
	}
	for i, raw := range res.Spawns {
		out = append(out, newTask{Key: src.prefix + "/s" + strconv.Itoa(i), Kind: kindSpawn,
			Payload: payload{Process: src.process, PushedFor: src.pushedFor, Out: raw}, Root: src.root, Depth: src.depth + 1})
	}
	for i, raw := range res.Assignments {
		var a outAssignment
		if err := json.Unmarshal(raw, &a); err != nil || a.Message == "" {
			s.log.Warn("mu: outbox assignment skipped", "from", src.process, "index", i, "assignment", truncate(raw), "err", err)
			s.metrics.dropped.WithLabelValues("invalid").Inc()
			continue
		}
		// The reference cranks outbox assignments without Pushed-For.
		for _, pid := range a.Processes {
			out = append(out, assignTask(pid, a.Message, a.Exclude, a.BaseLayer, "", src.root, src.depth+1))
		}
	}
	return out
}

// queue adds tasks and wakes the workers.
func (s *Server) queue(ctx context.Context, ts []newTask) error {
	_, drops, err := s.store.add(ctx, s.now().UnixMilli(), s.lim, ts)
	if err != nil {
		return err
	}
	s.logDrops(drops)
	s.notify(len(ts))
	return nil
}

func (s *Server) logDrops(drops []dropped) {
	for _, d := range drops {
		s.metrics.dropped.WithLabelValues(d.Reason).Inc()
		s.log.Warn("mu: crank bound reached, not pushing", "reason", d.Reason, "key", d.Task.Key, "root", d.Task.Root,
			"depth", d.Task.Depth, "max_depth", s.lim.maxDepth, "max_items_per_root", s.lim.maxItemsPerRoot)
	}
}

// notify wakes up to n idle workers: one for each step that may have become
// claimable (waking every worker for each made them all query the queue: 5%
// of aocu dev's CPU under load).
func (s *Server) notify(n int) {
	for i := 0; i < min(n, cap(s.wake)); i++ {
		select {
		case s.wake <- struct{}{}:
		default:
			return
		}
	}
}

// worker runs queued steps until ctx ends.
func (s *Server) worker(ctx context.Context) {
	for ctx.Err() == nil {
		t, wait, err := s.claim(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("mu: read the queue", "err", err)
			}
			wait = time.Second
		}
		if t == nil {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-timer.C:
			}
			timer.Stop()
			continue
		}
		s.run(ctx, t)
		s.claimMu.Lock()
		delete(s.claimed, t.ID)
		s.claimMu.Unlock()
		s.notify(1) // the next step of its lane may run now (this worker claims one too)
	}
}

// claim takes a step no other worker runs; without one, it says how long to
// wait.
func (s *Server) claim(ctx context.Context) (*task, time.Duration, error) {
	now := s.now().UnixMilli()
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	ts, next, err := s.store.claimable(ctx, now, len(s.claimed)+1)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range ts {
		if !s.claimed[t.ID] {
			s.claimed[t.ID] = true
			return t, 0, nil
		}
	}
	wait := time.Second
	if next > 0 {
		wait = min(wait, time.Duration(next-now)*time.Millisecond)
	}
	return nil, max(wait, time.Millisecond), nil
}

// run runs one step and records its outcome.
func (s *Server) run(ctx context.Context, t *task) {
	var err error
	switch t.Kind {
	case kindResult:
		err = s.crankResult(ctx, t)
	case kindMessage:
		err = s.pushMessage(ctx, t)
	case kindSpawn:
		err = s.pushSpawn(ctx, t)
	case kindSpawned:
		err = s.pushSpawned(ctx, t)
	case kindAssign:
		err = s.pushAssign(ctx, t)
	default:
		err = permanent(fmt.Errorf("unknown task kind %q", t.Kind))
	}
	if err == nil {
		s.metrics.pushed.WithLabelValues(t.Kind).Inc()
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the step stays pending for the next run
	}
	now := s.now()
	attempts := t.Attempts + 1
	if isPermanent(err) || (s.cfg.MaxAttempts > 0 && attempts >= s.cfg.MaxAttempts) {
		s.metrics.failures.WithLabelValues(t.Kind).Inc()
		s.log.Error("mu: crank step failed, giving up", "key", t.Key, "attempts", attempts, "err", err)
		if ferr := s.store.fail(ctx, t.ID, attempts, now.UnixMilli(), err.Error()); ferr != nil {
			s.log.Error("mu: record failure", "key", t.Key, "err", ferr)
		}
		return
	}
	delay := s.cfg.RetryDelay
	for i := 1; i < attempts && delay < s.cfg.MaxRetryDelay; i++ {
		delay *= 2
	}
	delay = min(delay, s.cfg.MaxRetryDelay)
	s.metrics.retries.WithLabelValues(t.Kind).Inc()
	s.log.Warn("mu: crank step failed, will retry", "key", t.Key, "attempt", attempts, "delay", delay, "err", err)
	if rerr := s.store.retry(ctx, t.ID, attempts, now.Add(delay).UnixMilli(), now.UnixMilli(), err.Error()); rerr != nil {
		s.log.Error("mu: reschedule", "key", t.Key, "err", rerr)
	}
}

// finish completes a step and queues what follows it.
func (s *Server) finish(ctx context.Context, t *task, itemID string, next []newTask) error {
	drops, err := s.store.finish(ctx, t.ID, itemID, s.now().UnixMilli(), s.lim, next)
	if err != nil {
		return err
	}
	s.logDrops(drops)
	s.notify(len(next))
	return nil
}

// crankResult reads a result from the CU and queues its outbox.
func (s *Server) crankResult(ctx context.Context, t *task) error {
	p := t.Payload
	res, err := s.fetchResult(ctx, p.Process, p.Message)
	if err != nil {
		return err
	}
	src := source{prefix: t.Key, process: p.Process, pushedFor: p.PushedFor, root: t.Root, depth: t.Depth}
	next := s.outboxTasks(src, res)
	if len(next) > 0 {
		s.log.Debug("mu: cranking a result", "message", p.Message, "process", p.Process,
			"messages", len(res.Messages), "spawns", len(res.Spawns), "assignments", len(res.Assignments))
	}
	return s.finish(ctx, t, "", next)
}

var errNotProcess = errors.New("not a process")

// locate returns the SU URL of a process: through the Scheduler-Location
// records of the gateway, with the scheduler recorded at spawn as hint. An
// id the gateway knows no process of is errNotProcess (a 404).
func (s *Server) locate(ctx context.Context, pid string) (string, error) {
	hint, err := s.store.processScheduler(ctx, pid)
	if err != nil {
		return "", err
	}
	u, err := s.locateHint(ctx, pid, hint)
	if err != nil {
		if ao.StatusOf(err) == http.StatusNotFound {
			return "", ao.WithStatus(http.StatusNotFound, fmt.Errorf("%w: %s: %v", errNotProcess, pid, err))
		}
		return "", fmt.Errorf("locate the SU of %s: %w", pid, err)
	}
	return u, nil
}

// locateHint is the gateway client's Locate within RequestTimeout.
func (s *Server) locateHint(ctx context.Context, pid, schedulerHint string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	return s.gw.Locate(ctx, pid, schedulerHint)
}

// destination returns the SU URL of a target, or wallet=true for an id that
// is no process (the reference MU's isWallet; remembered).
func (s *Server) destination(ctx context.Context, target string) (suURL string, wallet bool, err error) {
	s.cacheMu.Lock()
	w := s.wallets[target]
	s.cacheMu.Unlock()
	if w {
		return "", true, nil
	}
	u, err := s.locate(ctx, target)
	if errors.Is(err, errNotProcess) {
		s.cacheMu.Lock()
		if len(s.wallets) > 100000 {
			clear(s.wallets)
		}
		s.wallets[target] = true
		s.cacheMu.Unlock()
		return "", true, nil
	}
	return u, false, err
}

// processTags reads a process's tags from its SU (cached: they never
// change).
func (s *Server) processTags(ctx context.Context, pid string) ([]arweave.Tag, error) {
	s.cacheMu.Lock()
	tags, ok := s.procs[pid]
	s.cacheMu.Unlock()
	if ok {
		return tags, nil
	}
	u, err := s.locate(ctx, pid)
	if err != nil {
		return nil, err
	}
	tags, err = s.suProcess(ctx, u, pid)
	if err != nil {
		return nil, fmt.Errorf("read process %s: %w", pid, err)
	}
	s.cacheMu.Lock()
	if len(s.procs) > 10000 {
		clear(s.procs)
	}
	s.procs[pid] = tags
	s.cacheMu.Unlock()
	return tags, nil
}

// sign builds and signs an item with the MU's wallet.
func (s *Server) sign(data []byte, target, anchor string, tags []arweave.Tag) ([]byte, string, error) {
	d, err := arweave.NewDataItem(data, target, anchor, tags)
	if err != nil {
		return nil, "", permanent(err)
	}
	if err := d.Sign(s.cfg.Wallet); err != nil {
		return nil, "", permanent(err)
	}
	raw, err := d.Bytes()
	if err != nil {
		return nil, "", permanent(err)
	}
	return raw, d.ID(), nil
}

// tooLargeForSU refuses, for good, an item an SU would refuse with 413: it
// is neither recorded nor posted, and the step fails with the reason.
func tooLargeForSU(raw []byte, id string) error {
	if len(raw) <= MaxBodySize {
		return nil
	}
	return permanent(fmt.Errorf("item %s is %d bytes, more than the %d bytes an SU accepts (413 %q)", id, len(raw), MaxBodySize, "A payload reached size limit."))
}

// record signs an item once: a step that has one recorded reuses it, so a
// retry posts the same bytes.
func (s *Server) record(ctx context.Context, t *task, build func() ([]byte, string, error)) ([]byte, string, error) {
	if t.Item != nil {
		return t.Item, t.ItemID, nil
	}
	raw, id, err := build()
	if err != nil {
		return nil, "", err
	}
	raw, id, err = s.store.setItem(ctx, t.ID, raw, id, s.now().UnixMilli())
	if err != nil {
		return nil, "", err
	}
	t.Item, t.ItemID = raw, id
	return raw, id, nil
}

// post posts a recorded item to an SU. It reports whether the SU holds it
// (now or from an earlier attempt); false with a nil error is a message whose
// content the SU holds under another id.
func (s *Server) post(ctx context.Context, t *task, suURL string, item []byte) (bool, error) {
	_, err := s.suPost(ctx, suURL, item)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errDuplicate):
		s.log.Info("mu: the SU holds the item already", "key", t.Key, "id", t.ItemID)
		return true, nil
	case errors.Is(err, errDuplicateContent):
		s.log.Warn("mu: the SU holds a message with the same content; not pushed", "key", t.Key, "id", t.ItemID)
		return false, nil
	}
	return false, err
}

// pushMessage signs an outbox message, posts it to its target's SU (or the
// gateway, for a wallet) and queues its result.
func (s *Server) pushMessage(ctx context.Context, t *task) error {
	p := t.Payload
	m, err := parseOutMessage(p.Out)
	if err != nil {
		return permanent(err)
	}
	target := *m.Target
	suURL, wallet, err := s.destination(ctx, target)
	if err != nil {
		return err
	}
	item, id, err := s.record(ctx, t, func() ([]byte, string, error) {
		ptags, err := s.processTags(ctx, p.Process)
		if err != nil {
			return nil, "", err
		}
		module, _ := firstTag(ptags, "Module")
		anchor := ""
		if m.Anchor != nil {
			anchor = *m.Anchor
		}
		raw, id, err := s.sign(itemData(m.Data), target, anchor, messageTags(m.Tags, p.Process, module, p.PushedFor))
		if err == nil && !wallet {
			err = tooLargeForSU(raw, id)
		}
		return raw, id, err
	})
	if err != nil {
		return err
	}
	if wallet {
		if err := s.gatewayUpload(ctx, item); err != nil {
			return err
		}
		s.log.Info("mu: message to a wallet uploaded", "id", id, "from", p.Process, "to", target)
		return s.finish(ctx, t, id, nil)
	}
	ok, err := s.post(ctx, t, suURL, item)
	if err != nil {
		return err
	}
	var next []newTask
	if ok {
		next = append(next, resultTask(target, id, p.PushedFor, t.Root, t.Depth))
		for _, pid := range p.Assignments {
			next = append(next, assignTask(pid, id, nil, false, p.PushedFor, t.Root, t.Depth))
		}
		s.log.Info("mu: message pushed", "id", id, "from", p.Process, "to", target, "depth", t.Depth)
	}
	if err := s.finish(ctx, t, id, next); err != nil {
		return err
	}
	if ok {
		s.checkAuthority(ctx, t.ID, p.Process, target)
	}
	return nil
}

// pushSpawn signs the Process item of an outbox spawn, posts it to its SU,
// and queues the new process's first result and the Spawned message to the
// parent.
func (s *Server) pushSpawn(ctx context.Context, t *task) error {
	p := t.Payload
	sp, err := parseOutSpawn(p.Out)
	if err != nil {
		return permanent(err)
	}
	item, child, err := s.record(ctx, t, func() ([]byte, string, error) {
		ptags, err := s.processTags(ctx, p.Process)
		if err != nil {
			return nil, "", err
		}
		module, _ := firstTag(ptags, "Module")
		sched, _ := firstTag(ptags, "Scheduler")
		tags, err := spawnTags(sp.Tags, p.Process, module, sched, p.PushedFor)
		if err != nil {
			return nil, "", permanent(err)
		}
		// The reference signs spawns without target or anchor.
		raw, id, err := s.sign(itemData(sp.Data), "", "", tags)
		if err == nil {
			err = tooLargeForSU(raw, id)
		}
		return raw, id, err
	})
	if err != nil {
		return err
	}
	d, err := arweave.ParseDataItem(item)
	if err != nil {
		return permanent(fmt.Errorf("recorded spawn %s: %w", child, err))
	}
	sched, _ := firstTag(d.Tags, "Scheduler")
	if err := s.store.rememberProcess(ctx, child, sched); err != nil {
		return err
	}
	suURL, err := s.locateHint(ctx, child, sched)
	if err != nil {
		if ao.StatusOf(err) == http.StatusNotFound {
			return permanent(fmt.Errorf("locate scheduler %s: %w", sched, err))
		}
		return fmt.Errorf("locate scheduler %s: %w", sched, err)
	}
	ok, err := s.post(ctx, t, suURL, item)
	if err != nil {
		return err
	}
	var next []newTask
	if ok {
		if !s.cfg.NoSpawnPush {
			next = append(next, resultTask(child, child, p.PushedFor, t.Root, t.Depth))
		}
		next = append(next, newTask{Key: t.Key + "/spawned", Kind: kindSpawned, Lane: p.Process,
			Payload: payload{Process: p.Process, Child: child, Out: p.Out, PushedFor: p.PushedFor}, Root: t.Root, Depth: t.Depth})
		s.log.Info("mu: process spawned", "id", child, "parent", p.Process, "depth", t.Depth)
	}
	return s.finish(ctx, t, child, next)
}

// pushSpawned sends the parent of a spawn its Spawned message.
func (s *Server) pushSpawned(ctx context.Context, t *task) error {
	p := t.Payload
	sp, err := parseOutSpawn(p.Out)
	if err != nil {
		return permanent(err)
	}
	suURL, err := s.locate(ctx, p.Process)
	if err != nil {
		return err
	}
	item, id, err := s.record(ctx, t, func() ([]byte, string, error) {
		return s.sign(itemData(nil), p.Process, "", spawnedTags(sp.Tags, p.Child))
	})
	if err != nil {
		return err
	}
	ok, err := s.post(ctx, t, suURL, item)
	if err != nil {
		return err
	}
	var next []newTask
	if ok {
		next = append(next, resultTask(p.Process, id, p.PushedFor, t.Root, t.Depth))
	}
	return s.finish(ctx, t, id, next)
}

// pushAssign posts an assignment to the process's SU and queues its result.
func (s *Server) pushAssign(ctx context.Context, t *task) error {
	p := t.Payload
	suURL, err := s.locate(ctx, p.Process)
	if err != nil {
		if errors.Is(err, errNotProcess) {
			return permanent(err)
		}
		return err
	}
	aid, err := s.suAssign(ctx, suURL, p.Process, p.Message, p.Exclude, p.BaseLayer)
	switch {
	case err == nil:
	case errors.Is(err, errDuplicate), errors.Is(err, errDuplicateContent):
		s.log.Info("mu: the SU holds the assignment already", "process", p.Process, "message", p.Message)
	default:
		return err
	}
	return s.finish(ctx, t, aid, []newTask{resultTask(p.Process, p.Message, p.PushedFor, t.Root, t.Depth)})
}
