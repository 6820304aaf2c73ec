package mu

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Delivery records: GET /?debug=true&process=<pid>[&message=<id>][&page=1]
// [&page-size=10] lists the crank steps of a process, or of one message,
// in the reference MU's trace shape (servers/mu/src/routes/root.js): a
// connection {"pageInfo":{"hasNextPage"},"edges":[{"node","cursor"}]} whose
// nodes keep the reference's trace fields (id, messageId, processId,
// parentId, type, timestamp) and add the step's outcome: status ("pending",
// "done" or "failed"), attempts, error (why it failed, or why its last
// attempt did) and updatedAt. This is where the sender of a message learns
// that something its message caused was not delivered, e.g. an ao.send too
// large for the SU.
//
// With message, the steps are those of the chain the message started (the
// steps whose root it is) and the steps that read or pushed it; without,
// the steps that read a result of the process, push its outbox or post to
// it. Newest first.

// DefaultTracePageSize is the reference MU's page size of traces.
const DefaultTracePageSize = 10

// traceNode is one crank step as GET /?debug=true shows it.
type traceNode struct {
	ID        string `json:"id"`
	MessageID string `json:"messageId"`
	ProcessID string `json:"processId"`
	ParentID  string `json:"parentId"`
	Type      string `json:"type"`
	Timestamp int64  `json:"timestamp"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	Error     string `json:"error,omitempty"`
	UpdatedAt int64  `json:"updatedAt"`
}

type traceEdge struct {
	Node   traceNode `json:"node"`
	Cursor string    `json:"cursor"`
}

type traceConnection struct {
	PageInfo struct {
		HasNextPage bool `json:"hasNextPage"`
	} `json:"pageInfo"`
	Edges []traceEdge `json:"edges"`
}

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("debug") || q.Get("debug") == "false" {
		// express's res.send of a string.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "ao messenger unit")
		return
	}
	pid := q.Get("process")
	if pid == "" {
		writeError(w, http.StatusBadRequest, "Process ID is required")
		return
	}
	var msgs []string
	for _, k := range []string{"message", "assign", "spawn"} {
		if v := q.Get(k); v != "" {
			msgs = append(msgs, v)
		}
	}
	if len(msgs) > 1 {
		writeError(w, http.StatusUnprocessableEntity, "Only one of message, assign, or spawn query parameters can be provided")
		return
	}
	page, size := 1, DefaultTracePageSize
	for name, v := range map[string]*int{"page": &page, "page-size": &size} {
		if t := q.Get(name); t != "" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 1 || n > 1000 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be an integer from 1 to 1000, not %q", name, t))
				return
			}
			*v = n
		}
	}
	msg := ""
	if len(msgs) == 1 {
		msg = msgs[0]
	}
	nodes, err := s.store.traces(r.Context(), pid, msg, size+1, size*(page-1))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := traceConnection{Edges: []traceEdge{}}
	out.PageInfo.HasNextPage = len(nodes) > size
	for i, n := range nodes {
		if i == size {
			break
		}
		out.Edges = append(out.Edges, traceEdge{Node: n, Cursor: n.ID})
	}
	writeJSON(w, http.StatusOK, out)
}

// traces reads the crank steps of a process (msg "") or of a message, newest
// first.
func (s *store) traces(ctx context.Context, pid, msg string, limit, offset int) ([]traceNode, error) {
	like := func(p string) string {
		return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p) + "%"
	}
	where := `(key LIKE ? ESCAPE '\' OR key LIKE ? ESCAPE '\' OR lane = ?)`
	args := []any{like(resultKey(pid, "")), like(assignKey(pid, "")), pid}
	if msg != "" {
		where = `(root = ? OR item_id = ? OR key = ? OR key = ?)`
		args = []any{msg, msg, resultKey(pid, msg), assignKey(pid, msg)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.db.QueryContext(ctx, `SELECT `+taskCols+`, done, last_error, created_at, updated_at FROM tasks WHERE `+where+
		` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("mu: read traces of %s: %w", pid, err)
	}
	defer rows.Close()
	var out []traceNode
	for rows.Next() {
		var (
			t                  task
			pl                 []byte
			state              int
			cause              string
			created, updatedAt int64
		)
		if err := rows.Scan(&t.ID, &t.Key, &t.Kind, &t.Lane, &pl, &t.Item, &t.ItemID, &t.Root, &t.Depth, &t.Attempts,
			&state, &cause, &created, &updatedAt); err != nil {
			return nil, fmt.Errorf("mu: read traces of %s: %w", pid, err)
		}
		if err := t.Payload.unmarshal(pl); err != nil {
			return nil, err
		}
		out = append(out, traceOf(&t, state, cause, created, updatedAt))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mu: read traces of %s: %w", pid, err)
	}
	return out, nil
}

// traceOf is a step as a trace node: messageId is the message read or
// pushed (the signed item's id once the MU signed it), processId the
// process it concerns (the target of a push, the new process of a spawn),
// parentId the message whose crank led to it.
func traceOf(t *task, state int, cause string, created, updated int64) traceNode {
	p := t.Payload
	n := traceNode{ID: t.Key, MessageID: t.ItemID, ProcessID: p.Process, ParentID: t.Root, Type: strings.ToUpper(t.Kind),
		Timestamp: created, Attempts: t.Attempts, Error: cause, UpdatedAt: updated}
	switch t.Kind {
	case kindResult, kindAssign:
		n.MessageID = p.Message
	case kindMessage:
		if t.Lane != "" {
			n.ProcessID = t.Lane
		}
	case kindSpawn:
		n.ProcessID = t.ItemID
	}
	if n.ParentID == n.MessageID {
		n.ParentID = ""
	}
	switch state {
	case stateDone:
		n.Status = "done"
	case stateFailed:
		n.Status = "failed"
	default:
		n.Status = "pending"
	}
	return n
}
