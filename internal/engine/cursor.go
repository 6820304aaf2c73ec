package engine

import (
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
}

// ParseCursor is the reference's maybeParseCursor: base64 of a JSON object is
// a cursor, anything else a timestamp.
func ParseCursor(s string) *Cursor {
	if s == "" {
		return nil
	}
	if raw, err := base64.StdEncoding.DecodeString(padBase64(s)); err == nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil && obj != nil {
			c := &Cursor{}
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

// resultsPage builds the /results and /cron response from the rows read
// with limit+1: errored evaluations are dropped after the limit, as the
// reference does.
func resultsPage(rows []*ao.Evaluation, limit int, sort string) []byte {
	kept := rows[:0:0]
	for _, r := range rows {
		if v, ok, _ := jsjson.Member(r.Output, "Error"); ok && jsjson.Truthy(v) {
			continue
		}
		kept = append(kept, r)
	}
	var edges jsjson.Array
	for i, r := range kept {
		if i >= limit {
			break
		}
		var node jsjson.Object
		for _, k := range []string{"Messages", "Assignments", "Spawns"} {
			if v, ok, _ := jsjson.Member(r.Output, k); ok && string(v) != "null" {
				node.Raw(k, v)
			} else {
				node.Raw(k, []byte("[]"))
			}
		}
		for _, k := range []string{"Output", "Error"} {
			if v, ok, _ := jsjson.Member(r.Output, k); ok {
				node.Raw(k, v)
			}
		}
		var edge jsjson.Object
		edge.String("cursor", encodeCursor(r, sort))
		edge.Raw("node", node.Bytes())
		edges.Raw(edge.Bytes())
	}
	var info jsjson.Object
	info.Bool("hasNextPage", len(kept) > limit)
	var o jsjson.Object
	o.Raw("pageInfo", info.Bytes())
	o.Raw("edges", edges.Bytes())
	return o.Bytes()
}
