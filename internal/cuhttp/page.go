package cuhttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// Cursor is a /results cursor, or a plain timestamp given as from/to. Fields
// are the JavaScript values' string forms; Has* says whether they were set.
type Cursor struct {
	Timestamp   string
	Ordinate    string
	HasOrdinate bool
	Cron        string
	HasCron     bool
	Sort        string
	// Encoded is true for a cursor (base64 of an object), false for a plain
	// timestamp.
	Encoded bool
}

// ParseCursor is the reference's maybeParseCursor: base64 of a JSON object is
// a cursor, anything else a timestamp. Unlike the reference, what is neither
// a cursor nor a timestamp (digits) is refused with 400 rather than matching
// nothing.
func ParseCursor(name, s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	c := parseCursor(s)
	if !isDigits(c.Timestamp) {
		return nil, ao.Errorf(400, "'%s': %q is neither a cursor nor a timestamp", name, s)
	}
	return c, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseCursor(s string) *Cursor {
	if raw, err := base64.StdEncoding.DecodeString(padBase64(s)); err == nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil && obj != nil {
			c := &Cursor{Encoded: true}
			c.Timestamp, _ = jsString(obj["timestamp"])
			c.Ordinate, c.HasOrdinate = jsString(obj["ordinate"])
			c.Cron, c.HasCron = jsString(obj["cron"])
			c.Sort, _ = jsString(obj["sort"])
			return c
		}
	}
	return &Cursor{Timestamp: s}
}

func padBase64(s string) string {
	if n := len(s) % 4; n != 0 {
		s += strings.Repeat("=", 4-n)
	}
	return s
}

// jsString is `${v}` for a JSON scalar; ok is false for null or absent.
func jsString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || string(v) == "null" {
		return "", false
	}
	if v[0] == '"' {
		s, err := jsjson.Unquote(v)
		return s, err == nil
	}
	if f, err := strconv.ParseFloat(string(v), 64); err == nil {
		return string(jsjson.AppendNumber(nil, f)), true
	}
	return string(v), true
}

// encodeCursor is btoa(JSON.stringify({timestamp, ordinate, cron, sort})).
func encodeCursor(ev *ao.Evaluation, sort string) string {
	var o jsjson.Object
	o.Number("timestamp", float64(ev.Timestamp))
	o.String("ordinate", ev.Ordinate)
	if ev.Cron == "" {
		o.Null("cron")
	} else {
		o.String("cron", ev.Cron)
	}
	o.String("sort", sort)
	return base64.StdEncoding.EncodeToString(o.Bytes())
}

const maxCodePoint = "\U0010FFFF"

func lowerBound(pid string, from *Cursor) string {
	if from == nil {
		return pid + ","
	}
	parts := []string{pid, from.Timestamp}
	if from.HasOrdinate {
		parts = append(parts, from.Ordinate)
	}
	if from.HasCron {
		parts = append(parts, from.Cron)
	}
	return strings.Join(parts, ",")
}

func upperBound(pid string, to *Cursor) string {
	if to == nil {
		return pid + "," + maxCodePoint
	}
	ord := maxCodePoint
	if to.HasOrdinate && to.Ordinate != "" {
		ord = to.Ordinate
	}
	parts := []string{pid, to.Timestamp, ord}
	if to.HasCron {
		parts = append(parts, to.Cron)
	}
	return strings.Join(parts, ",")
}

// resultsPage builds the /results and /cron body: the reference's shape and
// key order ({pageInfo:{hasNextPage}, edges:[{node, cursor}]}), errored
// evaluations left out as the reference does. rows are the evaluations of
// the page (at most limit), more says whether more follow.
func resultsPage(rows []*ao.Evaluation, more bool, sort string) []byte {
	var edges jsjson.Array
	for _, r := range rows {
		var node jsjson.Object
		for _, k := range []string{"Messages", "Assignments", "Spawns"} {
			if v, ok, _ := jsjson.Member(r.Output, k); ok && string(v) != "null" {
				node.Raw(k, v)
			} else {
				node.Raw(k, []byte("[]"))
			}
		}
		// (Patches: in UNIT_MODE=hbu every stored result has them, and the
		// feat/hb-unit branch pages them after Output)
		for _, k := range []string{"Output", "Patches", "Error"} {
			if v, ok, _ := jsjson.Member(r.Output, k); ok {
				node.Raw(k, v)
			}
		}
		var edge jsjson.Object
		edge.Raw("node", node.Bytes())
		edge.String("cursor", encodeCursor(r, sort))
		edges.Raw(edge.Bytes())
	}
	var info jsjson.Object
	info.Bool("hasNextPage", more)
	var o jsjson.Object
	o.Raw("pageInfo", info.Bytes())
	o.Raw("edges", edges.Bytes())
	return o.Bytes()
}

func errored(ev *ao.Evaluation) bool {
	v, ok, _ := jsjson.Member(ev.Output, "Error")
	return ok && jsjson.Truthy(v)
}

// readPage reads up to limit non-errored evaluations of q and whether more
// follow. The reference reads limit+1 rows and drops the errored ones, so its
// hasNextPage turns false at a page holding an errored result and a client
// following it misses the rest; here the page is filled past errored rows,
// and hasNextPage says whether a non-errored result follows: following the
// cursors returns every served result exactly once.
//
// skip is an id to leave out: the row of a `to` cursor, which names a result
// the client already has (the reference includes it, so a client paging
// DESC by `to` gets it twice, and with limit=1 never moves on).
func readPage(ctx context.Context, read func(context.Context, ao.RangeQuery) ([]*ao.Evaluation, error), q ao.RangeQuery, limit int, skip string) ([]*ao.Evaluation, bool, error) {
	var kept []*ao.Evaluation
	batch := max(limit+1, 2)
	for {
		q.Limit = batch
		rows, err := read(ctx, q)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rows {
			if errored(r) || (skip != "" && r.ID() == skip) {
				continue
			}
			if len(kept) == limit {
				return kept, true, nil
			}
			kept = append(kept, r)
		}
		if len(rows) < batch {
			return kept, false, nil
		}
		last := rows[len(rows)-1].ID()
		if q.Desc {
			q.Through, skip = last, last
		} else {
			q.After = last
		}
	}
}
