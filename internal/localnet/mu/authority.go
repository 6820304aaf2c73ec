package mu

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// checkAuthority is called after the MU delivered a message from process
// from to process target. aos (2.x) acts on a message a process sends to
// another only if the MU that signs it, or the sender, is among the target's
// Authority tags; otherwise the target only prints "Message is not trusted!"
// in its own Output and the sender hears nothing. That is a silent drop from
// the developer's side: this says so once per target in the log, and on
// every such delivery in the delivery's record (the task's last_error).
func (s *Server) checkAuthority(ctx context.Context, taskID int64, from, target string) {
	tags, err := s.processTags(ctx, target)
	if err != nil {
		return // best effort: the delivery itself succeeded
	}
	var authorities []string
	for _, t := range tags {
		if t.Name != "Authority" {
			continue
		}
		for _, a := range strings.Split(t.Value, ",") {
			if a = strings.TrimSpace(a); a != "" {
				authorities = append(authorities, a)
			}
		}
	}
	for _, a := range authorities {
		if a == s.addr || a == from {
			return
		}
	}
	have := "no Authority tag"
	if len(authorities) > 0 {
		have = "Authority " + strings.Join(authorities, ", ")
	}
	reason := fmt.Sprintf("untrusted: delivered, but process %s (%s) does not trust this MU %s: aos ignores the message "+
		"(\"Message is not trusted!\"); spawn the process with the tag Authority = %s", target, have, s.addr, s.addr)
	if _, seen := s.untrusted.LoadOrStore(target, true); !seen {
		s.log.Warn("mu: a process does not trust this MU: aos ignores the messages other processes send it",
			"process", target, "from", from, "authorities", strings.Join(authorities, ","),
			"fix", "spawn it with the tag Authority = "+s.addr)
	}
	if err := s.store.note(ctx, taskID, s.now().UnixMilli(), reason); err != nil {
		s.log.Error("mu: record an untrusted delivery", "process", target, "err", err)
	}
}

// note records a remark on a finished task (in last_error, which finish
// clears).
func (s *store) note(ctx context.Context, id, now int64, remark string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET last_error = ?, updated_at = ? WHERE id = ?`, remark, now, id); err != nil {
			return fmt.Errorf("mu: note on task %d: %w", id, err)
		}
		return nil
	})
}
