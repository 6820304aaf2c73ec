package gateway

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	graphql "github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"
	gqllog "github.com/graph-gophers/graphql-go/log"

	"github.com/aocu/aocu/internal/arweave"
)

//go:embed schema.graphql
var schemaText string

// Page sizes of transactions() and blocks(): the default (arweave.net's, also
// written in schema.graphql) and a maximum (larger values are clamped).
const (
	defaultPageSize = 10
	maxPageSize     = 1000
)

// maxGraphQLBody bounds a POST /graphql body.
const maxGraphQLBody = 1 << 20

// newSchema parses the schema and binds it to the resolvers of s.
func newSchema(s *Server) (*graphql.Schema, error) {
	logPanic := gqllog.LoggerFunc(func(ctx context.Context, v any) {
		s.cfg.Logger.ErrorContext(ctx, "gateway: graphql resolver panicked", "panic", v, "stack", string(debug.Stack()))
	})
	schema, err := graphql.ParseSchema(schemaText, &queryResolver{st: s.store},
		graphql.UseStringDescriptions(), graphql.UseFieldResolvers(), graphql.Logger(logPanic))
	if err != nil {
		return nil, fmt.Errorf("gateway: graphql schema: %w", err)
	}
	return schema, nil
}

// gqlRequest is a GraphQL-over-HTTP request (a POST body, or GET parameters).
type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

// gqlResponse is the answer: data first, then errors, as the gateway always
// wrote it (graphql.Response would write errors first).
type gqlResponse struct {
	Data   json.RawMessage         `json:"data,omitempty"`
	Errors []*gqlerrors.QueryError `json:"errors,omitempty"`
}

// handleGraphQL serves POST and GET /graphql. See the package doc for the
// status codes.
func (s *Server) handleGraphQL(w http.ResponseWriter, r *http.Request) {
	req, status, err := readGraphQLRequest(w, r)
	if err == nil && strings.TrimSpace(req.Query) == "" {
		status, err = http.StatusBadRequest, errors.New("Must provide query string.")
	}
	if err != nil {
		writeGraphQL(w, r, status, gqlResponse{Errors: []*gqlerrors.QueryError{{Message: err.Error()}}})
		return
	}
	res := s.schema.Exec(r.Context(), req.Query, req.OperationName, req.Variables)
	if isRequestError(res) {
		writeGraphQL(w, r, http.StatusBadRequest, gqlResponse{Errors: res.Errors})
		return
	}
	writeGraphQL(w, r, http.StatusOK, gqlResponse{Data: res.Data, Errors: res.Errors})
}

// isRequestError tells a request error (the document does not parse or
// validate, or a variable or argument cannot be coerced to its type) from
// field errors (a resolver failed; those carry a path). graphql-go answers the
// first kind without data, except for values it coerces while preparing
// execution: it then leaves the field out and reports an error without a path.
func isRequestError(res *graphql.Response) bool {
	if res.Data == nil {
		return true
	}
	for _, e := range res.Errors {
		if len(e.Path) == 0 {
			return true
		}
	}
	return false
}

// readGraphQLRequest decodes GET parameters, an application/json body or an
// application/graphql body. A malformed request gives a 4xx status and error.
func readGraphQLRequest(w http.ResponseWriter, r *http.Request) (gqlRequest, int, error) {
	var req gqlRequest
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.Query, req.OperationName = q.Get("query"), q.Get("operationName")
		if v := q.Get("variables"); v != "" {
			if err := json.Unmarshal([]byte(v), &req.Variables); err != nil {
				return req, http.StatusBadRequest, fmt.Errorf("variables is not a JSON object: %w", err)
			}
		}
		return req, 0, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGraphQLBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds %d bytes", maxGraphQLBody)
		}
		return req, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/graphql" {
		req.Query = string(body)
		return req, 0, nil
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, http.StatusBadRequest, fmt.Errorf("body is not a GraphQL JSON request: %w", err)
	}
	return req, 0, nil
}

// writeGraphQL answers with the media type the client accepts:
// application/graphql-response+json when asked for, application/json
// otherwise.
func writeGraphQL(w http.ResponseWriter, r *http.Request, status int, resp gqlResponse) {
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "gateway: encode graphql response: "+err.Error())
		return
	}
	ctype := "application/json; charset=utf-8"
	if strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
		ctype = "application/graphql-response+json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// Resolvers. Field names map to exported methods and fields
// (UseFieldResolvers); Int is int32 in graphql-go.

// queryResolver resolves the Query type.
type queryResolver struct{ st *store }

type tagFilterArg struct {
	Name   *string
	Values *[]string
	Op     enumArg
	Match  enumArg
}

type rangeArg struct{ Min, Max *int32 }

// Arguments with a default in the schema (first, sort, op, match) are
// nullable types here: graphql-go hands a resolver null, not the default, for
// a variable that is declared and not given (the spec says: the default) or
// for an explicit null; nil means the default, as it did before graphql-go.
type pageArgs struct {
	First intArg
	After *string
	Sort  enumArg
}

// intArg is an Int argument that may be null.
type intArg struct{ Value *int32 }

func (intArg) ImplementsGraphQLType(name string) bool { return name == "Int" }
func (intArg) Nullable()                              {}

func (a *intArg) UnmarshalGraphQL(v any) error {
	a.Value = nil
	if v == nil {
		return nil
	}
	var n graphql.NullInt
	if err := n.UnmarshalGraphQL(v); err != nil {
		return fmt.Errorf("Int cannot represent %s: %w", jsonText(v), err)
	}
	a.Value = n.Value
	return nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// enumArg is an argument of one of the schema's enums that may be null
// (graphql-go has checked the value against the enum).
type enumArg struct{ Value *string }

func (enumArg) ImplementsGraphQLType(name string) bool {
	return name == "SortOrder" || name == "TagOperator" || name == "TagMatch"
}
func (enumArg) Nullable() {}

func (e *enumArg) UnmarshalGraphQL(v any) error {
	switch x := v.(type) {
	case nil:
		e.Value = nil
	case string:
		e.Value = &x
	default:
		return fmt.Errorf("wrong type for an enum: %T", v)
	}
	return nil
}

// is tells whether the argument is the value, or null and the value is def.
func (e enumArg) is(value, def string) bool {
	if e.Value == nil {
		return value == def
	}
	return *e.Value == value
}

type transactionsArgs struct {
	IDs        *[]graphql.ID
	Owners     *[]string
	Recipients *[]string
	Tags       *[]tagFilterArg
	BundledIn  *[]graphql.ID
	Parent     *[]graphql.ID
	Block      *rangeArg
	IngestedAt *rangeArg // ingested_at
	pageArgs
}

func (q *queryResolver) Transactions(ctx context.Context, args transactionsArgs) (*txConnection, error) {
	var tq txQuery
	if args.IDs != nil {
		tq.IDs = idStrings(*args.IDs)
	}
	tq.Owners = deref(args.Owners)
	tq.Recipients = deref(args.Recipients)
	if args.BundledIn != nil || args.Parent != nil {
		tq.BundledIn = append(idStrings(deref(args.BundledIn)), idStrings(deref(args.Parent))...)
	}
	for _, f := range deref(args.Tags) {
		tf := tagFilter{Name: f.Name, Values: deref(f.Values), Not: f.Op.is("NEQ", "EQ")}
		if !f.Match.is("EXACT", "EXACT") {
			return nil, fmt.Errorf("tag filter match %s is not supported by the local gateway (only EXACT)", *f.Match.Value)
		}
		if tf.Not && len(tf.Values) == 0 {
			return nil, errors.New("tag filter op NEQ needs values")
		}
		tq.Tags = append(tq.Tags, tf)
	}
	tq.MinHeight, tq.MaxHeight = args.Block.bounds()
	tq.MinIngested, tq.MaxIngested = args.IngestedAt.bounds()
	var err error
	if tq.page, err = args.pageArgs.page("t"); err != nil {
		return nil, err
	}
	items, more, err := q.st.queryItems(ctx, tq)
	if err != nil {
		return nil, err
	}
	bl := newBlockLoader(q.st, items)
	c := &txConnection{PageInfo: pageInfo{HasNextPage: more}, Edges: make([]txEdge, len(items))}
	for i, it := range items {
		c.Edges[i] = txEdge{Cursor: encodeCursor("t", it.Seq), Node: &txResolver{it: it, blocks: bl}}
	}
	return c, nil
}

func (q *queryResolver) Transaction(ctx context.Context, args struct{ ID graphql.ID }) (*txResolver, error) {
	it, ok, err := q.st.getItem(ctx, string(args.ID), false)
	if err != nil || !ok {
		return nil, err
	}
	return &txResolver{it: it, blocks: newBlockLoader(q.st, []*item{it})}, nil
}

type blocksArgs struct {
	IDs    *[]graphql.ID
	Height *rangeArg
	pageArgs
}

func (q *queryResolver) Blocks(ctx context.Context, args blocksArgs) (*blockConnection, error) {
	var bq blockQuery
	if args.IDs != nil {
		bq.IDs = idStrings(*args.IDs)
	}
	bq.MinHeight, bq.MaxHeight = args.Height.bounds()
	var err error
	if bq.page, err = args.pageArgs.page("b"); err != nil {
		return nil, err
	}
	bs, more, err := q.st.queryBlocks(ctx, bq)
	if err != nil {
		return nil, err
	}
	c := &blockConnection{PageInfo: pageInfo{HasNextPage: more}, Edges: make([]blockEdge, len(bs))}
	for i, b := range bs {
		c.Edges[i] = blockEdge{Cursor: encodeCursor("b", b.Height), Node: blockOut(b)}
	}
	return c, nil
}

func (q *queryResolver) Block(ctx context.Context, args struct{ ID *string }) (*blockResult, error) {
	if args.ID == nil {
		return nil, nil
	}
	b, ok, err := q.st.blockBy(ctx, 0, *args.ID)
	if err != nil || !ok {
		return nil, err
	}
	return blockOut(b), nil
}

func (a pageArgs) page(cursorKind string) (page, error) {
	first := int32(defaultPageSize)
	if a.First.Value != nil {
		first = *a.First.Value
	}
	if first < 0 {
		return page{}, errors.New(`argument "first" must not be negative`)
	}
	p := page{Desc: a.Sort.is("HEIGHT_DESC", "HEIGHT_DESC"), First: int(min(first, maxPageSize))}
	if a.After != nil && *a.After != "" {
		n, err := decodeCursor(cursorKind, *a.After)
		if err != nil {
			return p, err
		}
		p.After = &n
	}
	return p, nil
}

func (r *rangeArg) bounds() (lo, hi *int64) {
	if r == nil {
		return nil, nil
	}
	widen := func(v *int32) *int64 {
		if v == nil {
			return nil
		}
		w := int64(*v)
		return &w
	}
	return widen(r.Min), widen(r.Max)
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

func idStrings(ids []graphql.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
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
	return 0, fmt.Errorf("invalid cursor %q", c)
}

type pageInfo struct{ HasNextPage bool }

type txConnection struct {
	PageInfo pageInfo
	Edges    []txEdge
}

type txEdge struct {
	Cursor string
	Node   *txResolver
}

type blockConnection struct {
	PageInfo pageInfo
	Edges    []blockEdge
}

type blockEdge struct {
	Cursor string
	Node   *blockResult
}

type blockResult struct {
	ID        graphql.ID
	Timestamp int32
	Height    int32
	Previous  graphql.ID
}

func blockOut(b block) *blockResult {
	return &blockResult{ID: graphql.ID(b.ID), Timestamp: int32(b.Timestamp), Height: int32(b.Height), Previous: graphql.ID(b.Previous)}
}

type ownerResult struct{ Address, Key string }

type amountResult struct{ Winston, Ar string }

type metaDataResult struct {
	Size string
	Type *string
}

type idResult struct{ ID graphql.ID }

// txResolver resolves a Transaction from a stored item.
type txResolver struct {
	it     *item
	blocks *blockLoader
}

var zeroAmount = amountResult{Winston: "0", Ar: "0.000000000000"}

func (t *txResolver) ID() graphql.ID    { return graphql.ID(t.it.ID) }
func (t *txResolver) Anchor() string    { return t.it.Anchor }
func (t *txResolver) Signature() string { return t.it.Signature }
func (t *txResolver) Recipient() string { return t.it.Target }
func (t *txResolver) Owner() ownerResult {
	return ownerResult{Address: t.it.OwnerAddr, Key: t.it.Owner}
}
func (t *txResolver) Fee() amountResult      { return zeroAmount }
func (t *txResolver) Quantity() amountResult { return zeroAmount }
func (t *txResolver) Tags() []arweave.Tag    { return t.it.Tags }
func (t *txResolver) IngestedAt() *int32 {
	s := int32(t.it.IngestedMS / 1000)
	return &s
}

func (t *txResolver) Data() metaDataResult {
	m := metaDataResult{Size: strconv.FormatInt(t.it.DataSize, 10)}
	if t.it.ContentType.Valid {
		m.Type = &t.it.ContentType.String
	}
	return m
}

func (t *txResolver) Parent() *idResult { return t.BundledIn() }

func (t *txResolver) BundledIn() *idResult {
	if !t.it.Parent.Valid {
		return nil
	}
	return &idResult{ID: graphql.ID(t.it.Parent.String)}
}

func (t *txResolver) Block(ctx context.Context) (*blockResult, error) {
	if !t.it.Height.Valid {
		return nil, nil
	}
	return t.blocks.get(ctx, t.it.Height.Int64)
}

// blockLoader reads the blocks of a page of items in one query, the first
// time a block is asked for (resolvers run concurrently).
type blockLoader struct {
	st      *store
	heights []int64
	mu      sync.Mutex
	loaded  bool
	byH     map[int64]block
}

func newBlockLoader(st *store, items []*item) *blockLoader {
	l := &blockLoader{st: st}
	seen := map[int64]bool{}
	for _, it := range items {
		if h := it.Height; h.Valid && !seen[h.Int64] {
			seen[h.Int64] = true
			l.heights = append(l.heights, h.Int64)
		}
	}
	return l
}

func (l *blockLoader) get(ctx context.Context, h int64) (*blockResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		byH, err := l.st.blocksAt(ctx, l.heights)
		if err != nil {
			return nil, err // not cached: a later field may retry
		}
		l.byH, l.loaded = byH, true
	}
	b, ok := l.byH[h]
	if !ok {
		return nil, fmt.Errorf("gateway: block %d is missing", h)
	}
	return blockOut(b), nil
}
