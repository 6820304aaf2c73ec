package gateway

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/arweave"
)

// Page sizes of transactions() and blocks(): arweave.net's default, and a
// generous maximum for local use (larger requests are clamped).
const (
	defaultPageSize = 10
	maxPageSize     = 1000
)

// gqlRoot resolves the Query type.
func (s *Server) gqlRoot() resolver {
	blocks := map[int64]block{} // per-request cache of blocks by height
	blockAt := func(ctx context.Context, h int64) (any, error) {
		b, ok := blocks[h]
		if !ok {
			var found bool
			var err error
			b, found, err = s.store.blockBy(ctx, h, "")
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, nil
			}
			blocks[h] = b
		}
		return blockObj(b), nil
	}
	return func(ctx context.Context, field string, args map[string]any) (any, error) {
		switch field {
		case "transactions":
			q, err := txQueryArgs(args)
			if err != nil {
				return nil, err
			}
			items, more, err := s.store.queryItems(ctx, q)
			if err != nil {
				return nil, err
			}
			edges := make([]objValue, len(items))
			for i, it := range items {
				edges[i] = objValue{typ: "TransactionEdge", resolve: func(_ context.Context, f string, _ map[string]any) (any, error) {
					if f == "cursor" {
						return encodeCursor("t", it.Seq), nil
					}
					return txObj(it, blockAt), nil
				}}
			}
			return connection("TransactionConnection", edges, more), nil
		case "transaction":
			id, err := argString(args, "id")
			if err != nil {
				return nil, err
			}
			it, ok, err := s.store.getItem(ctx, id, false)
			if err != nil || !ok {
				return nil, err
			}
			return txObj(it, blockAt), nil
		case "blocks":
			q, err := blockQueryArgs(args)
			if err != nil {
				return nil, err
			}
			bs, more, err := s.store.queryBlocks(ctx, q)
			if err != nil {
				return nil, err
			}
			edges := make([]objValue, len(bs))
			for i, b := range bs {
				edges[i] = objValue{typ: "BlockEdge", resolve: func(_ context.Context, f string, _ map[string]any) (any, error) {
					if f == "cursor" {
						return encodeCursor("b", b.Height), nil
					}
					return blockObj(b), nil
				}}
			}
			return connection("BlockConnection", edges, more), nil
		case "block":
			id, err := argString(args, "id")
			if err != nil {
				return nil, err
			}
			b, ok, err := s.store.blockBy(ctx, 0, id)
			if err != nil || !ok {
				return nil, err
			}
			return blockObj(b), nil
		}
		return nil, gqlErrorf("no resolver for Query.%s", field)
	}
}

func connection(typ string, edges []objValue, more bool) objValue {
	return objValue{typ: typ, resolve: func(_ context.Context, f string, _ map[string]any) (any, error) {
		if f == "edges" {
			return edges, nil
		}
		return objValue{typ: "PageInfo", resolve: func(context.Context, string, map[string]any) (any, error) {
			return more, nil
		}}, nil
	}}
}

func fields(typ string, m map[string]any) objValue {
	return objValue{typ: typ, resolve: func(_ context.Context, f string, _ map[string]any) (any, error) {
		return m[f], nil
	}}
}

func blockObj(b block) objValue {
	return fields("Block", map[string]any{"id": b.ID, "height": b.Height, "timestamp": b.Timestamp, "previous": b.Previous})
}

func txObj(it *item, blockAt func(context.Context, int64) (any, error)) objValue {
	zero := fields("Amount", map[string]any{"winston": "0", "ar": "0.000000000000"})
	return objValue{typ: "Transaction", resolve: func(ctx context.Context, f string, _ map[string]any) (any, error) {
		switch f {
		case "id":
			return it.ID, nil
		case "anchor":
			return it.Anchor, nil
		case "signature":
			return it.Signature, nil
		case "recipient":
			return it.Target, nil
		case "owner":
			return fields("Owner", map[string]any{"address": it.OwnerAddr, "key": it.Owner}), nil
		case "fee", "quantity":
			return zero, nil
		case "data":
			var typ any
			if it.ContentType.Valid {
				typ = it.ContentType.String
			}
			return fields("MetaData", map[string]any{"size": strconv.FormatInt(it.DataSize, 10), "type": typ}), nil
		case "tags":
			out := make([]objValue, len(it.Tags))
			for i, t := range it.Tags {
				out[i] = fields("Tag", map[string]any{"name": t.Name, "value": t.Value})
			}
			return out, nil
		case "block":
			if !it.Height.Valid {
				return nil, nil
			}
			return blockAt(ctx, it.Height.Int64)
		case "parent", "bundledIn":
			if !it.Parent.Valid {
				return nil, nil
			}
			typ := "Parent"
			if f == "bundledIn" {
				typ = "Bundle"
			}
			return fields(typ, map[string]any{"id": it.Parent.String}), nil
		case "ingested_at":
			return it.IngestedMS / 1000, nil
		}
		return nil, gqlErrorf("no resolver for Transaction.%s", f)
	}}
}

// Cursors are opaque: base64url("<kind>:<number>").
func encodeCursor(kind string, n int64) string {
	return arweave.B64Encode([]byte(kind + ":" + strconv.FormatInt(n, 10)))
}

func decodeCursor(kind, c string) (int64, error) {
	b, err := arweave.B64Decode(c)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), kind+":"); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil {
				return n, nil
			}
		}
	}
	return 0, gqlErrorf("invalid cursor %q", c)
}

// Argument coercion.

func argString(args map[string]any, name string) (string, error) {
	switch v := args[name].(type) {
	case string:
		return v, nil
	case nil:
		return "", gqlErrorf("argument %q is required", name)
	}
	return "", gqlErrorf("argument %q must be a string, got %s", name, jsonText(args[name]))
}

// argStrings reads a [String] argument; nil when absent or null. A single
// string counts as a one-element list.
func argStrings(v any, name string) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, gqlErrorf("argument %q must be a list of strings, got %s", name, jsonText(v))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, gqlErrorf("argument %q must be a list of strings, got %s", name, jsonText(v))
}

func argInt(v any, name string) (*int64, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return &x, nil
	case float64:
		if x == float64(int64(x)) {
			i := int64(x)
			return &i, nil
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return &i, nil
		}
	}
	return nil, gqlErrorf("argument %q must be an Int, got %s", name, jsonText(v))
}

func argFirst(v any) (int, error) {
	n, err := argInt(v, "first")
	if err != nil || n == nil {
		return defaultPageSize, err
	}
	if *n < 0 {
		return 0, gqlErrorf("argument \"first\" must not be negative")
	}
	return int(min(*n, maxPageSize)), nil
}

// argSort reads sort: HEIGHT_DESC or HEIGHT_ASC (enum literal or, from a
// variable, a string); it reports whether the order is descending.
func argSort(v any, def bool) (bool, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return def, nil
	case enumValue:
		s = string(x)
	case string:
		s = x
	default:
		return false, gqlErrorf("argument \"sort\" must be HEIGHT_ASC or HEIGHT_DESC, got %s", jsonText(v))
	}
	switch s {
	case "HEIGHT_DESC":
		return true, nil
	case "HEIGHT_ASC":
		return false, nil
	}
	return false, gqlErrorf("argument \"sort\": value %q does not exist in enum SortOrder (HEIGHT_ASC, HEIGHT_DESC)", s)
}

// argRange reads {min, max}.
func argRange(v any, name string) (lo, hi *int64, err error) {
	if v == nil {
		return nil, nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, gqlErrorf("argument %q must be an object {min, max}, got %s", name, jsonText(v))
	}
	for k := range m {
		if k != "min" && k != "max" {
			return nil, nil, gqlErrorf("argument %q: unknown field %q (only min and max)", name, k)
		}
	}
	if lo, err = argInt(m["min"], name+".min"); err != nil {
		return nil, nil, err
	}
	if hi, err = argInt(m["max"], name+".max"); err != nil {
		return nil, nil, err
	}
	return lo, hi, nil
}

func txQueryArgs(args map[string]any) (txQuery, error) {
	var q txQuery
	var err error
	if v, ok := args["ids"]; ok && v != nil {
		if q.IDs, err = argStrings(v, "ids"); err != nil {
			return q, err
		}
		if q.IDs == nil {
			q.IDs = []string{}
		}
	}
	if q.Owners, err = argStrings(args["owners"], "owners"); err != nil {
		return q, err
	}
	if q.Recipients, err = argStrings(args["recipients"], "recipients"); err != nil {
		return q, err
	}
	if q.BundledIn, err = argStrings(args["bundledIn"], "bundledIn"); err != nil {
		return q, err
	}
	if tv := args["tags"]; tv != nil {
		list, ok := tv.([]any)
		if !ok {
			list = []any{tv}
		}
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return q, gqlErrorf("argument \"tags\" must be a list of {name, values}, got %s", jsonText(tv))
			}
			var f tagFilter
			if f.Name, err = argString(m, "name"); err != nil {
				return q, gqlErrorf("argument \"tags\": %v", err)
			}
			if f.Values, err = argStrings(m["values"], "values"); err != nil {
				return q, err
			}
			for k, v := range m {
				switch {
				case k == "name" || k == "values":
				case k == "op" && (v == enumValue("EQ") || v == "EQ" || v == nil):
				case k == "match" && (v == enumValue("EXACT") || v == "EXACT" || v == nil):
				default:
					return q, gqlErrorf("argument \"tags\": %s: %s is not supported", k, jsonText(v))
				}
			}
			q.Tags = append(q.Tags, f)
		}
	}
	if q.MinHeight, q.MaxHeight, err = argRange(args["block"], "block"); err != nil {
		return q, err
	}
	if q.MinIngested, q.MaxIngested, err = argRange(args["ingested_at"], "ingested_at"); err != nil {
		return q, err
	}
	q.page, err = pageArgs(args, "t")
	return q, err
}

func blockQueryArgs(args map[string]any) (blockQuery, error) {
	var q blockQuery
	var err error
	if v, ok := args["ids"]; ok && v != nil {
		if q.IDs, err = argStrings(v, "ids"); err != nil {
			return q, err
		}
	}
	if q.MinHeight, q.MaxHeight, err = argRange(args["height"], "height"); err != nil {
		return q, err
	}
	q.page, err = pageArgs(args, "b")
	return q, err
}

// pageArgs reads first, sort and after (a cursor of the given kind).
func pageArgs(args map[string]any, cursorKind string) (page, error) {
	var p page
	var err error
	if p.First, err = argFirst(args["first"]); err != nil {
		return p, err
	}
	if p.Desc, err = argSort(args["sort"], true); err != nil {
		return p, err
	}
	if c, ok := args["after"].(string); ok && c != "" {
		n, err := decodeCursor(cursorKind, c)
		if err != nil {
			return p, err
		}
		p.After = &n
	} else if args["after"] != nil && args["after"] != "" {
		return p, gqlErrorf("argument \"after\" must be a cursor string")
	}
	return p, nil
}
