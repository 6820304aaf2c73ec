package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fieldDef describes a field of an object type: the named type it returns
// (an object type of the schema or a scalar), and the arguments it takes.
type fieldDef struct {
	typ  string
	list bool
	args []string
}

// objectTypes is the gateway's GraphQL schema (the part of the Arweave
// gateway schema ao units use). Scalars are the types not listed.
func objectTypes() map[string]map[string]fieldDef {
	amount := map[string]fieldDef{"winston": {typ: "String"}, "ar": {typ: "String"}}
	blk := map[string]fieldDef{"id": {typ: "ID"}, "height": {typ: "Int"}, "timestamp": {typ: "Int"}, "previous": {typ: "ID"}}
	return map[string]map[string]fieldDef{
		"Query": {
			"transactions": {typ: "TransactionConnection", args: []string{"ids", "owners", "recipients", "tags", "bundledIn", "block", "ingested_at", "first", "after", "sort"}},
			"transaction":  {typ: "Transaction", args: []string{"id"}},
			"blocks":       {typ: "BlockConnection", args: []string{"ids", "height", "first", "after", "sort"}},
			"block":        {typ: "Block", args: []string{"id"}},
		},
		"TransactionConnection": {"pageInfo": {typ: "PageInfo"}, "edges": {typ: "TransactionEdge", list: true}},
		"BlockConnection":       {"pageInfo": {typ: "PageInfo"}, "edges": {typ: "BlockEdge", list: true}},
		"PageInfo":              {"hasNextPage": {typ: "Boolean"}},
		"TransactionEdge":       {"cursor": {typ: "String"}, "node": {typ: "Transaction"}},
		"BlockEdge":             {"cursor": {typ: "String"}, "node": {typ: "Block"}},
		"Transaction": {
			"id": {typ: "ID"}, "anchor": {typ: "String"}, "signature": {typ: "String"}, "recipient": {typ: "String"},
			"owner": {typ: "Owner"}, "fee": {typ: "Amount"}, "quantity": {typ: "Amount"}, "data": {typ: "MetaData"},
			"tags": {typ: "Tag", list: true}, "block": {typ: "Block"}, "parent": {typ: "Parent"},
			"bundledIn": {typ: "Bundle"}, "ingested_at": {typ: "Int"},
		},
		"Owner":    {"address": {typ: "String"}, "key": {typ: "String"}},
		"Amount":   amount,
		"MetaData": {"size": {typ: "String"}, "type": {typ: "String"}},
		"Tag":      {"name": {typ: "String"}, "value": {typ: "String"}},
		"Block":    blk,
		"Parent":   {"id": {typ: "ID"}},
		"Bundle":   {"id": {typ: "ID"}},
	}
}

// gqlRequest is the POST /graphql body.
type gqlRequest struct {
	Query         string          `json:"query"`
	Variables     json.RawMessage `json:"variables"`
	OperationName string          `json:"operationName"`
}

// gqlResponse is what /graphql answers.
type gqlResponse struct {
	Data   any        `json:"data,omitempty"`
	Errors []gqlIssue `json:"errors,omitempty"`
}

type gqlIssue struct {
	Message string `json:"message"`
	Path    []any  `json:"path,omitempty"`
}

// orderedObject is a JSON object that keeps the selection order.
type orderedObject struct {
	keys []string
	vals []any
}

func (o *orderedObject) set(k string, v any) {
	for i, kk := range o.keys {
		if kk == k {
			o.vals[i] = v
			return
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// enumValue is an enum literal (HEIGHT_DESC) as an argument value.
type enumValue string

// resolver resolves a field of an object value.
type resolver func(ctx context.Context, field string, args map[string]any) (any, error)

// objValue is a resolved object; its fields are resolved on demand.
type objValue struct {
	typ     string
	resolve resolver
}

// executor runs one request.
type executor struct {
	types map[string]map[string]fieldDef
	doc   *document
	vars  map[string]any
}

// executeGraphQL parses, validates and runs a request against root. A request
// error (syntax, validation, variables) gives a response without data and
// bad == true.
func executeGraphQL(ctx context.Context, types map[string]map[string]fieldDef, req gqlRequest, root resolver) (resp gqlResponse, bad bool) {
	fail := func(err error) (gqlResponse, bool) {
		return gqlResponse{Errors: []gqlIssue{{Message: err.Error()}}}, true
	}
	if strings.TrimSpace(req.Query) == "" {
		return fail(gqlErrorf("Must provide query string."))
	}
	doc, err := parseDocument(req.Query)
	if err != nil {
		return fail(err)
	}
	op, err := pickOperation(doc, req.OperationName)
	if err != nil {
		return fail(err)
	}
	if op.kind != "query" {
		return fail(gqlErrorf("Only queries are supported, not %s.", op.kind))
	}
	ex := &executor{types: types, doc: doc}
	if err := ex.validate(op); err != nil {
		return fail(err)
	}
	if ex.vars, err = coerceVariables(op, req.Variables); err != nil {
		return fail(err)
	}
	data, issues := ex.executeSelection(ctx, objValue{typ: "Query", resolve: root}, op.sel, nil)
	return gqlResponse{Data: data, Errors: issues}, false
}

func pickOperation(doc *document, name string) (*operation, error) {
	if name == "" {
		if len(doc.ops) != 1 {
			return nil, gqlErrorf("Must provide operation name if query contains multiple operations.")
		}
		return doc.ops[0], nil
	}
	for _, op := range doc.ops {
		if op.name == name {
			return op, nil
		}
	}
	return nil, gqlErrorf("Unknown operation named %q.", name)
}

// validate checks fields, arguments, fragments, directives and variables
// against the schema, before anything runs.
func (ex *executor) validate(op *operation) error {
	defined := map[string]bool{}
	for _, v := range op.vars {
		if defined[v.name] {
			return gqlErrorf("There can be only one variable named \"$%s\".", v.name)
		}
		defined[v.name] = true
	}
	used := map[string]bool{}
	var visiting []string
	var checkValue func(v astValue) error
	checkValue = func(v astValue) error {
		switch v.kind {
		case valVariable:
			if !defined[v.text] {
				return gqlErrorf("Variable \"$%s\" is not defined.", v.text)
			}
			used[v.text] = true
		case valList:
			for _, e := range v.list {
				if err := checkValue(e); err != nil {
					return err
				}
			}
		case valObject:
			for _, f := range v.fields {
				if err := checkValue(f.value); err != nil {
					return err
				}
			}
		}
		return nil
	}
	checkDirs := func(ds []directive) error {
		for _, d := range ds {
			if d.name != "skip" && d.name != "include" {
				return gqlErrorf("Unknown directive \"@%s\".", d.name)
			}
			if len(d.args) != 1 || d.args[0].name != "if" {
				return gqlErrorf("Directive \"@%s\" takes exactly one argument, \"if\".", d.name)
			}
			if err := checkValue(d.args[0].value); err != nil {
				return err
			}
		}
		return nil
	}
	var checkSel func(typ string, sel []selection) error
	checkSel = func(typ string, sel []selection) error {
		fields := ex.types[typ]
		for _, s := range sel {
			if err := checkDirs(s.directives); err != nil {
				return err
			}
			switch {
			case s.spread != "":
				f, ok := ex.doc.fragments[s.spread]
				if !ok {
					return gqlErrorf("Unknown fragment %q.", s.spread)
				}
				if f.typeCond != typ {
					return gqlErrorf("Fragment %q cannot be spread here as objects of type %q can never be of type %q.", f.name, typ, f.typeCond)
				}
				for _, v := range visiting {
					if v == f.name {
						return gqlErrorf("Cannot spread fragment %q within itself.", f.name)
					}
				}
				visiting = append(visiting, f.name)
				if err := checkDirs(f.dirs); err != nil {
					return err
				}
				if err := checkSel(typ, f.sel); err != nil {
					return err
				}
				visiting = visiting[:len(visiting)-1]
			case s.inline:
				if s.typeCond != "" && s.typeCond != typ {
					return gqlErrorf("Fragment cannot be spread here as objects of type %q can never be of type %q.", typ, s.typeCond)
				}
				if err := checkSel(typ, s.sel); err != nil {
					return err
				}
			default:
				if s.name == "__typename" {
					if len(s.args) > 0 || s.hasSel {
						return gqlErrorf("Field \"__typename\" takes no arguments or selections.")
					}
					continue
				}
				fd, ok := fields[s.name]
				if !ok {
					return gqlErrorf("Cannot query field %q on type %q.", s.name, typ)
				}
				seen := map[string]bool{}
				for _, a := range s.args {
					if !contains(fd.args, a.name) {
						return gqlErrorf("Unknown argument %q on field \"%s.%s\".", a.name, typ, s.name)
					}
					if seen[a.name] {
						return gqlErrorf("There can be only one argument named %q.", a.name)
					}
					seen[a.name] = true
					if err := checkValue(a.value); err != nil {
						return err
					}
				}
				_, isObject := ex.types[fd.typ]
				switch {
				case isObject && !s.hasSel:
					return gqlErrorf("Field %q of type %q must have a selection of subfields.", s.name, fd.typ)
				case !isObject && s.hasSel:
					return gqlErrorf("Field %q must not have a selection since type %q has no subfields.", s.name, fd.typ)
				case isObject:
					if err := checkSel(fd.typ, s.sel); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := checkDirs(op.dirs); err != nil {
		return err
	}
	if err := checkSel("Query", op.sel); err != nil {
		return err
	}
	for _, v := range op.vars {
		if !used[v.name] {
			return gqlErrorf("Variable \"$%s\" is never used.", v.name)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// coerceVariables applies defaults and checks required variables and the
// shape of scalar ones.
func coerceVariables(op *operation, raw json.RawMessage) (map[string]any, error) {
	given := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&given); err != nil {
			return nil, gqlErrorf("Variables are invalid JSON: %v", err)
		}
	}
	out := map[string]any{}
	for _, v := range op.vars {
		val, ok := given[v.name]
		if !ok {
			if v.defaultVal != nil {
				dv, err := literalValue(*v.defaultVal, nil)
				if err != nil {
					return nil, err
				}
				out[v.name] = dv
				continue
			}
			if v.typ.nonNull {
				return nil, gqlErrorf("Variable \"$%s\" of required type \"%s\" was not provided.", v.name, v.typ)
			}
			continue
		}
		cv, err := coerceJSON(val, v.typ, "$"+v.name)
		if err != nil {
			return nil, err
		}
		out[v.name] = cv
	}
	return out, nil
}

// coerceJSON converts a JSON variable to the executor's value forms and
// checks it against the declared type (scalars: Int, Float, String, ID,
// Boolean; other named types are taken as they are).
func coerceJSON(v any, t typeRef, what string) (any, error) {
	if v == nil {
		if t.nonNull {
			return nil, gqlErrorf("Variable \"%s\" of non-null type \"%s\" must not be null.", what, t)
		}
		return nil, nil
	}
	if t.elem != nil {
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // input coercion of a single value to a list
		}
		out := make([]any, len(list))
		for i, e := range list {
			c, err := coerceJSON(e, *t.elem, what)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	bad := func() error {
		return gqlErrorf("Variable \"%s\" got invalid value %s; expected type \"%s\".", what, jsonText(v), t.name)
	}
	switch t.name {
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, bad()
			}
			i = int64(f)
		}
		return i, nil
	case "Float":
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		f, err := n.Float64()
		if err != nil {
			return nil, bad()
		}
		return f, nil
	case "String":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, bad()
	case "ID":
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return string(x), nil
		}
		return nil, bad()
	case "Boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, bad()
	}
	return normalizeJSON(v), nil
}

func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	}
	return v
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// literalValue evaluates an argument value with the request's variables.
func literalValue(v astValue, vars map[string]any) (any, error) {
	switch v.kind {
	case valVariable:
		return vars[v.text], nil
	case valInt:
		i, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			return nil, gqlErrorf("Int cannot represent %s", v.text)
		}
		return i, nil
	case valFloat:
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, gqlErrorf("invalid Float %s", v.text)
		}
		return f, nil
	case valString:
		return v.text, nil
	case valBool:
		return v.b, nil
	case valNull:
		return nil, nil
	case valEnum:
		return enumValue(v.text), nil
	case valList:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			x, err := literalValue(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case valObject:
		out := make(map[string]any, len(v.fields))
		for _, f := range v.fields {
			x, err := literalValue(f.value, vars)
			if err != nil {
				return nil, err
			}
			out[f.name] = x
		}
		return out, nil
	}
	return nil, gqlErrorf("unknown value")
}

// included applies @skip and @include.
func (ex *executor) included(ds []directive) (bool, error) {
	for _, d := range ds {
		v, err := literalValue(d.args[0].value, ex.vars)
		if err != nil {
			return false, err
		}
		b, ok := v.(bool)
		if !ok {
			return false, gqlErrorf("Argument \"if\" of directive \"@%s\" must be a Boolean, got %s.", d.name, jsonText(v))
		}
		if d.name == "skip" && b || d.name == "include" && !b {
			return false, nil
		}
	}
	return true, nil
}

// collectFields flattens fragments and directives into the ordered fields
// of each response key (fields of the same key are merged).
func (ex *executor) collectFields(sel []selection, keys *[]string, groups map[string][]*selection) error {
	for i := range sel {
		s := &sel[i]
		ok, err := ex.included(s.directives)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		switch {
		case s.spread != "":
			f := ex.doc.fragments[s.spread]
			if ok, err := ex.included(f.dirs); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			if err := ex.collectFields(f.sel, keys, groups); err != nil {
				return err
			}
		case s.inline:
			if err := ex.collectFields(s.sel, keys, groups); err != nil {
				return err
			}
		default:
			k := s.responseKey()
			if _, seen := groups[k]; !seen {
				*keys = append(*keys, k)
			}
			groups[k] = append(groups[k], s)
		}
	}
	return nil
}

// executeSelection resolves the selections on obj. Field errors null the
// field and are reported with their path.
func (ex *executor) executeSelection(ctx context.Context, obj objValue, sel []selection, path []any) (*orderedObject, []gqlIssue) {
	var keys []string
	groups := map[string][]*selection{}
	if err := ex.collectFields(sel, &keys, groups); err != nil {
		return nil, []gqlIssue{{Message: err.Error(), Path: path}}
	}
	out := &orderedObject{}
	var issues []gqlIssue
	for _, k := range keys {
		fs := groups[k]
		f := fs[0]
		fpath := append(append([]any{}, path...), k)
		if f.name == "__typename" {
			out.set(k, obj.typ)
			continue
		}
		args := map[string]any{}
		var err error
		for _, a := range f.args {
			if args[a.name], err = literalValue(a.value, ex.vars); err != nil {
				break
			}
		}
		var v any
		if err == nil {
			v, err = obj.resolve(ctx, f.name, args)
		}
		if err != nil {
			out.set(k, nil)
			issues = append(issues, gqlIssue{Message: err.Error(), Path: fpath})
			continue
		}
		var sub []selection
		for _, g := range fs {
			sub = append(sub, g.sel...)
		}
		rv, is := ex.completeValue(ctx, v, sub, fpath)
		out.set(k, rv)
		issues = append(issues, is...)
	}
	return out, issues
}

func (ex *executor) completeValue(ctx context.Context, v any, sub []selection, path []any) (any, []gqlIssue) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case objValue:
		o, is := ex.executeSelection(ctx, x, sub, path)
		if o == nil {
			return nil, is
		}
		return o, is
	case []objValue:
		out := make([]any, len(x))
		var issues []gqlIssue
		for i, e := range x {
			o, is := ex.executeSelection(ctx, e, sub, append(append([]any{}, path...), i))
			if o != nil {
				out[i] = o
			}
			issues = append(issues, is...)
		}
		return out, issues
	}
	return v, nil
}
