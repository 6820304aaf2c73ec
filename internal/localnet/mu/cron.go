package mu

import (
	"context"
	"time"
)

// maxCronPages bounds the pages of /cron read for one process in one poll.
const maxCronPages = 20

// cronLoop polls the crons of the monitored processes every PollInterval
// (and at once when a process is added), as the reference MU's
// startMonitoredProcess.
func (s *Server) cronLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.cronKick:
		}
		ms, err := s.store.monitors(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("mu: read monitors", "err", err)
			}
			continue
		}
		for _, m := range ms {
			if ctx.Err() != nil {
				return
			}
			if err := s.pollCron(ctx, m); err != nil {
				s.metrics.cronPolls.WithLabelValues("error").Inc()
				if ctx.Err() == nil {
					s.log.Warn("mu: poll crons", "process", m.ProcessID, "err", err)
				}
			} else {
				s.metrics.cronPolls.WithLabelValues("ok").Inc()
			}
		}
	}
}

// pollCron queues the outboxes of a process's cron results after its
// cursor, and moves the cursor past them in the same transaction. Before the
// first cursor, it starts after the process's latest evaluation.
func (s *Server) pollCron(ctx context.Context, m monitor) error {
	pid, cursor := m.ProcessID, m.Cursor
	if !m.HasCursor {
		c, err := s.latestCursor(ctx, pid)
		if err != nil {
			return err
		}
		if c != "" {
			if _, err := s.store.advanceMonitor(ctx, pid, c, s.now().UnixMilli(), s.lim, nil); err != nil {
				return err
			}
			cursor = c
		}
	}
	for range maxCronPages {
		page, err := s.fetchCron(ctx, pid, cursor)
		if err != nil {
			return err
		}
		if len(page.Edges) == 0 {
			return nil
		}
		var ts []newTask
		for _, e := range page.Edges {
			key := "cron/" + pid + "/" + e.Cursor
			ts = append(ts, s.outboxTasks(source{prefix: key, process: pid, root: key}, &e.Node)...)
		}
		cursor = page.Edges[len(page.Edges)-1].Cursor
		drops, err := s.store.advanceMonitor(ctx, pid, cursor, s.now().UnixMilli(), s.lim, ts)
		if err != nil {
			return err
		}
		s.logDrops(drops)
		if len(ts) > 0 {
			s.log.Info("mu: cron results queued", "process", pid, "results", len(page.Edges), "steps", len(ts))
			s.notify(len(ts))
		}
		if !page.PageInfo.HasNextPage {
			return nil
		}
	}
	return nil
}
