// Package storetest is the behavioural test suite of ao.Store, shared by its
// implementations (sqlitestore, pgstore) so that they keep one behaviour: the
// CU's results must not depend on its database. The contract is SQLite's
// behaviour, as sqlitestore has it.
//
// It is imported only by tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, storetest.Opener(newDatabase, connect))
//	}
//
// The suite uses ao.Store alone; what only a backend can see (its schema,
// the column bytes, its own options) stays in that backend's tests.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aocu/aocu/internal/ao"
)

// OpenFunc opens a Store on the database of test t: an empty database the
// first time it is called for t, the same database on later calls for the
// same t (to test reopening, and several stores sharing one database). The
// stores it returns are closed when t ends, unless the test closed them
// first (Close must be idempotent).
type OpenFunc func(t *testing.T) ao.Store

// Opener makes an OpenFunc from create, which makes a new empty database
// for a test (a temporary file, a schema) and returns what connect needs to
// open a Store on it. connect should register the store's Close with
// t.Cleanup.
func Opener[D any](create func(t *testing.T) D, connect func(t *testing.T, db D) ao.Store) OpenFunc {
	var dbs sync.Map // *testing.T -> D
	return func(t *testing.T) ao.Store {
		t.Helper()
		v, ok := dbs.Load(t)
		if !ok {
			v = create(t)
			dbs.Store(t, v)
			t.Cleanup(func() { dbs.Delete(t) })
		}
		return connect(t, v.(D))
	}
}

// Run runs the suite, one subtest per behaviour, each on its own database.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, OpenFunc)
	}{
		{"ProcessRoundTrip", testProcessRoundTrip},
		{"ModuleRoundTrip", testModuleRoundTrip},
		{"EmptyIDs", testEmptyIDs},
		{"EvaluationOutputIsByteIdentical", testOutputIsByteIdentical},
		{"SaveEvaluationsRows", testSaveEvaluationsRows},
		{"FirstOfOneKeyInABatchWins", testFirstOfOneKeyWins},
		{"EvaluationsRangeQuery", testEvaluationsRangeQuery},
		{"EvaluationsByteOrder", testEvaluationsByteOrder},
		{"MessageSeenBefore", testMessageSeenBefore},
		{"Blocks", testBlocks},
		{"SaveEvaluationsIsAtomic", testSaveEvaluationsIsAtomic},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentWriters", testConcurrentWriters},
		{"StoresShareADatabase", testStoresShareADatabase},
		{"ReopenKeepsData", testReopenKeepsData},
		{"Checkpoints", testCheckpoints},
		{"ModuleBinaries", testModuleBinaries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func i64(v int64) *int64 { return &v }

// eval is a scheduled message's evaluation (nonce = ordinate, epoch 0), or a
// cron's when cron is not empty.
func eval(pid string, ts int64, ordinate, cron string, output string) *ao.Evaluation {
	e := &ao.Evaluation{
		ProcessID:   pid,
		Timestamp:   ts,
		Ordinate:    ordinate,
		BlockHeight: 1500000,
		Cron:        cron,
		Output:      json.RawMessage(output),
		EvaluatedAt: ts + 5,
	}
	if cron == "" {
		e.MessageID = fmt.Sprintf("msg-%s-%d-%s", pid, ts, ordinate)
		n, _ := strconv.ParseInt(ordinate, 10, 64)
		e.Nonce = i64(n)
		e.Epoch = i64(0)
	}
	return e
}

func ids(evals []*ao.Evaluation) []string {
	out := make([]string, len(evals))
	for i, e := range evals {
		out[i] = e.ID()
	}
	return out
}

func save(t *testing.T, s ao.Store, evals ...*ao.Evaluation) {
	t.Helper()
	if err := s.SaveEvaluations(t.Context(), evals, false); err != nil {
		t.Fatalf("SaveEvaluations: %v", err)
	}
}

// seen is MessageSeenBefore, failing the test on an error.
func seen(t *testing.T, s ao.Store, pid, id string, epoch, nonce int64) bool {
	t.Helper()
	ok, err := s.MessageSeenBefore(t.Context(), pid, id, epoch, nonce)
	if err != nil {
		t.Fatalf("MessageSeenBefore(%s, %s, %d, %d): %v", pid, id, epoch, nonce, err)
	}
	return ok
}

// all returns the ids of the process's evaluations in ascending order.
func all(t *testing.T, s ao.Store, pid string) []string {
	t.Helper()
	got, err := s.Evaluations(t.Context(), ao.RangeQuery{ProcessID: pid})
	if err != nil {
		t.Fatalf("Evaluations(%s): %v", pid, err)
	}
	return ids(got)
}

func testProcessRoundTrip(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()

	if _, err := s.FindProcess(ctx, "nope"); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("FindProcess(missing) = %v, want ErrNotFound", err)
	}
	p := &ao.Process{
		ID:        "P1",
		Signature: "sig",
		Anchor:    "anchor",
		Owner:     ao.Owner{Address: "addr", Key: "key"},
		Tags:      []ao.Tag{{Name: "Type", Value: "Process"}, {Name: "Html", Value: "<a>&é\u2028\x00\x1f\"\\😀"}},
		Block:     ao.Block{Height: 1500000, Timestamp: 1700000000123},
	}
	if err := s.SaveProcess(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindProcess(ctx, "P1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("FindProcess = %+v, want %+v", got, p)
	}

	// INSERT OR IGNORE: the first row stays.
	p2 := *p
	p2.Signature = "other"
	if err := s.SaveProcess(ctx, &p2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindProcess(ctx, "P1"); got == nil || got.Signature != "sig" {
		t.Errorf("second save overwrote: %+v", got)
	}

	// Empty signature and anchor are NULL and come back empty.
	p3 := &ao.Process{ID: "P3", Owner: ao.Owner{Address: "a"}, Tags: []ao.Tag{{Name: "n", Value: "v"}}}
	if err := s.SaveProcess(ctx, p3); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindProcess(ctx, "P3"); err != nil || !reflect.DeepEqual(got, p3) {
		t.Errorf("FindProcess(P3) = %+v, %v", got, err)
	}
	// No tags are stored as [] and come back as no tags.
	p4 := &ao.Process{ID: "P4", Owner: ao.Owner{Address: "a", Key: "k"}, Block: ao.Block{Height: 1, Timestamp: 2}}
	if err := s.SaveProcess(ctx, p4); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindProcess(ctx, "P4"); err != nil || len(got.Tags) != 0 || got.Block != p4.Block {
		t.Errorf("FindProcess(P4) = %+v, %v", got, err)
	}
}

func testModuleRoundTrip(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	if _, err := s.FindModule(ctx, "M"); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("FindModule(missing) = %v, want ErrNotFound", err)
	}
	m := &ao.Module{ID: "M", Owner: ao.Owner{Address: "a", Key: "k"}, Tags: []ao.Tag{
		{Name: "Module-Format", Value: "wasm64-unknown-emscripten-draft_2024_02_15"},
		{Name: "Memory-Limit", Value: "1-gb"},
	}}
	if err := s.SaveModule(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindModule(ctx, "M")
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("FindModule = %+v, %v; want %+v", got, err, m)
	}
	m2 := *m
	m2.Owner.Key = "other"
	if err := s.SaveModule(ctx, &m2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindModule(ctx, "M"); got == nil || got.Owner.Key != "k" {
		t.Errorf("second save overwrote: %+v", got)
	}
}

func testEmptyIDs(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	if err := s.SaveProcess(ctx, &ao.Process{}); err == nil {
		t.Error("SaveProcess(no id) accepted")
	}
	if err := s.SaveProcess(ctx, nil); err == nil {
		t.Error("SaveProcess(nil) accepted")
	}
	if err := s.SaveModule(ctx, &ao.Module{}); err == nil {
		t.Error("SaveModule(no id) accepted")
	}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{{Output: json.RawMessage(`{}`)}}, false); err == nil {
		t.Error("SaveEvaluations(no process id) accepted")
	}
	if err := s.SaveEvaluations(ctx, nil, false); err != nil {
		t.Errorf("SaveEvaluations(nil) = %v", err)
	}
	if _, err := s.Evaluations(ctx, ao.RangeQuery{After: "P,"}); err == nil {
		t.Error("Evaluations: empty bound without process id accepted")
	}
}

func testOutputIsByteIdentical(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	big := `{"Output":"` + strings.Repeat("0123456789abcdef\\u00e9é", 1<<16) + `"}` // ~1.6 MB
	outputs := []string{
		`{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"\u00e9\ud83d\ude00","prompt":"\u001b[0m"},"GasUsed":12345}`,
		`{"z":1,"a":2,"Output":"` + "\u2028\u2029 raw é 😀" + `","big":123456789012345678901234567890,"f":1.50e+300,"neg":-0}`,
		"{ \"spaced\" :\t[ 1 , 2 ] ,\n \"esc\":\"\\/\\\"\\\\\" }\n",
		`{"Error":"boom","Output":null,"dup":1,"dup":2}`,
		`{"lone":"\ud800","nul":"\u0000"}`,
		`[1,"two",{"3":null}]`,
		`"a string"`,
		`null`,
		big,
	}
	var batch []*ao.Evaluation
	for i, o := range outputs {
		batch = append(batch, eval("P", 1700000000000+int64(i), fmt.Sprint(i+1), "", o))
	}
	save(t, s, batch...)
	for i, want := range batch {
		got, err := s.FindEvaluation(ctx, want.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Output, []byte(outputs[i])) {
			t.Errorf("output %d\n got %.200q\nwant %.200q", i, got.Output, outputs[i])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("FindEvaluation = %+v, want %+v", got, want)
		}
	}
	// The range query and LatestEvaluation return the same bytes.
	rng, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P"})
	if err != nil || len(rng) != len(outputs) {
		t.Fatalf("Evaluations = %d rows, %v", len(rng), err)
	}
	for i, e := range rng {
		if !bytes.Equal(e.Output, []byte(outputs[i])) {
			t.Errorf("Evaluations output %d = %.200q", i, e.Output)
		}
	}
	if latest, err := s.LatestEvaluation(ctx, "P"); err != nil || !bytes.Equal(latest.Output, []byte(big)) {
		t.Errorf("LatestEvaluation = %v", err)
	}
	if _, err := s.FindEvaluation(ctx, "P,1,1"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("FindEvaluation(missing) = %v, want ErrNotFound", err)
	}

	// Rejected: a bare number (SQLite's NUMERIC affinity would convert it),
	// invalid JSON, nothing.
	for _, out := range []string{`12345678901234567890`, ` -1`, `{"broken":`, ``} {
		bad := eval("P", 1800000000000, "9", "", out)
		if err := s.SaveEvaluations(ctx, []*ao.Evaluation{bad}, false); err == nil {
			t.Errorf("output %q accepted", out)
		}
	}
	// With skipEvaluations the output is not stored, so not checked.
	skipped := eval("P", 1800000000000, "9", "", ``)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{skipped}, true); err != nil {
		t.Errorf("skipped evaluation without output: %v", err)
	}
}

func testSaveEvaluationsRows(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()

	sched := eval("P", 1700000000123, "1", "", `{"n":1}`)
	sched.Nonce, sched.Epoch = i64(1), i64(0)
	pushed := eval("P", 1700000000124, "2", "", `{"n":2}`)
	pushed.Nonce, pushed.Epoch = i64(2), i64(0)
	pushed.DeepHash = "deephash=="
	assign := eval("P", 1700000000125, "3", "", `{"n":3}`)
	assign.Nonce, assign.Epoch = i64(3), i64(0)
	assign.DeepHash = "ignored-for-assignments"
	assign.IsAssignment = true
	cron := eval("P", 1700000010123, "3", "0-10-seconds", `{"n":4}`)
	save(t, s, sched, pushed, assign, cron)

	// The messages rows: the message id, else the deep hash of a pushed
	// message, always the message id for an assignment, none for a cron.
	for _, c := range []struct {
		id           string
		nonce        int64
		want, before bool
	}{
		{sched.MessageID, 1, true, false},
		{"deephash==", 2, true, false},
		{pushed.MessageID, 2, false, false},
		{assign.MessageID, 3, true, false},
		{"ignored-for-assignments", 3, false, false},
		{cron.ID(), 3, false, false},
	} {
		if got := seen(t, s, "P", c.id, 0, c.nonce+1); got != c.want {
			t.Errorf("messages row %s at nonce %d: seen at %d = %v, want %v", c.id, c.nonce, c.nonce+1, got, c.want)
		}
		if got := seen(t, s, "P", c.id, 0, c.nonce); got != c.before {
			t.Errorf("messages row %s at nonce %d: seen at %d = %v, want %v", c.id, c.nonce, c.nonce, got, c.before)
		}
	}

	// What comes back: NULLs as nil and "" (IsAssignment is not stored).
	for _, want := range []*ao.Evaluation{sched, pushed, assign, cron} {
		got, err := s.FindEvaluation(ctx, want.ID())
		if err != nil {
			t.Fatal(err)
		}
		w := *want
		w.IsAssignment = false
		if !reflect.DeepEqual(got, &w) {
			t.Errorf("FindEvaluation(%s) = %+v, want %+v", want.ID(), got, &w)
		}
	}
	if got, err := s.FindEvaluation(ctx, cron.ID()); err != nil || got.Nonce != nil || got.Epoch != nil || got.MessageID != "" || got.Cron != "0-10-seconds" {
		t.Errorf("cron evaluation = %+v, %v", got, err)
	}
	// Zero and negative numbers are values, not NULLs.
	zero := eval("Z", 0, "0", "", `{}`)
	zero.Nonce, zero.Epoch, zero.BlockHeight, zero.EvaluatedAt = i64(0), i64(0), 0, -1
	save(t, s, zero)
	if got, err := s.FindEvaluation(ctx, zero.ID()); err != nil || got.Nonce == nil || *got.Nonce != 0 || got.Epoch == nil || got.EvaluatedAt != -1 {
		t.Errorf("zero evaluation = %+v, %v", got, err)
	}

	// INSERT OR IGNORE: a second write of the same id keeps the first output.
	again := *sched
	again.Output = json.RawMessage(`{"n":"changed"}`)
	save(t, s, &again)
	if got, _ := s.FindEvaluation(ctx, sched.ID()); got == nil || string(got.Output) != `{"n":1}` {
		t.Errorf("output after re-save = %+v", got)
	}

	// skipEvaluations: messages only.
	skipped := eval("Q", 1700000000123, "1", "", `{}`)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{skipped}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindEvaluation(ctx, skipped.ID()); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("skipped evaluation stored: %v", err)
	}
	if !seen(t, s, "Q", skipped.MessageID, 0, 2) {
		t.Error("skipped evaluation: no messages row")
	}
}

// Of two rows with one key in a batch, the first is stored (INSERT OR
// IGNORE in order).
func testFirstOfOneKeyWins(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	first := eval("P", 1700000000123, "5", "", `{"first":1}`)
	second := eval("P", 1700000000123, "5", "", `{"second":1}`)
	second.Nonce = i64(3) // same messages row (id, processId), seq 0:3
	other := eval("P", 1700000000100, "1", "", `{"other":1}`)
	save(t, s, first, other, second)
	if got, err := s.FindEvaluation(ctx, first.ID()); err != nil || string(got.Output) != `{"first":1}` || *got.Nonce != 5 {
		t.Errorf("evaluation = %+v, %v; want the first", got, err)
	}
	// seq 0:5 stayed: not seen before nonce 4.
	if seen(t, s, "P", first.MessageID, 0, 4) || !seen(t, s, "P", first.MessageID, 0, 6) {
		t.Error("messages row is not the first's")
	}
}

// The reference's example ids, and the bounds as findEvaluations builds them.
func testEvaluationsRangeQuery(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()

	const (
		a = "P,1700000000123,0"
		b = "P,1700000000123,0,0-10-seconds"
		c = "P,1700000010123,0,0-10-seconds"
		d = "P,1700000070125,2"
		e = "P,1700000070125,10"
	)
	save(t, s,
		eval("P", 1700000070125, "10", "", `{"e":1}`),
		eval("P", 1700000000123, "0", "", `{"a":1}`),
		eval("P", 1700000010123, "0", "0-10-seconds", `{"c":1}`),
		eval("P", 1700000070125, "2", "", `{"d":1}`),
		eval("P", 1700000000123, "0", "0-10-seconds", `{"b":1}`),
		// Neighbours in key order that the bounds must exclude.
		eval("O", 1700000000123, "0", "", `{}`),
		eval("PA", 1700000000123, "0", "", `{}`),
		eval("Q", 1700000000123, "0", "", `{}`),
	)

	const maxc = "\U0010FFFF"
	// The reference's bounds for no from/to: createEvaluationId({processId,
	// timestamp: ''}) is "P," (filter(isNotNil) keeps the empty string), and
	// createEvaluationId({processId, timestamp: MAX_CHAR}).
	whole := ao.RangeQuery{ProcessID: "P", After: "P,", Through: ao.EvaluationID("P", maxc), Limit: 1000}
	with := func(f func(*ao.RangeQuery)) ao.RangeQuery { q := whole; f(&q); return q }
	cases := []struct {
		name string
		q    ao.RangeQuery
		want []string
	}{
		{"whole ASC", whole, []string{a, b, c, e, d}},
		// DESC: NULL cron last, after the cron of the same timestamp.
		{"whole DESC", with(func(q *ao.RangeQuery) { q.Desc = true }), []string{d, e, c, b, a}},
		{"default bounds", ao.RangeQuery{ProcessID: "P"}, []string{a, b, c, e, d}},
		{"default bounds DESC", ao.RangeQuery{ProcessID: "P", Desc: true}, []string{d, e, c, b, a}},
		{"no limit", with(func(q *ao.RangeQuery) { q.Limit = 0 }), []string{a, b, c, e, d}},
		{"negative limit", with(func(q *ao.RangeQuery) { q.Limit = -1 }), []string{a, b, c, e, d}},
		{"only cron", with(func(q *ao.RangeQuery) { q.OnlyCron = true }), []string{b, c}},
		{"only cron DESC limit 1", with(func(q *ao.RangeQuery) { q.OnlyCron, q.Desc, q.Limit = true, true, 1 }), []string{c}},
		{"limit DESC", with(func(q *ao.RangeQuery) { q.Desc = true; q.Limit = 2 }), []string{d, e}},
		{"limit ASC", with(func(q *ao.RangeQuery) { q.Limit = 3 }), []string{a, b, c}},
		{"limit 1", with(func(q *ao.RangeQuery) { q.Limit = 1 }), []string{a}},
		{
			// from = {timestamp, ordinate, cron} of b (exclusive),
			// to = {timestamp} only: ordinate becomes the max char.
			"from b to ts",
			ao.RangeQuery{ProcessID: "P",
				After:   ao.EvaluationID("P", "1700000000123", "0", "0-10-seconds"),
				Through: ao.EvaluationID("P", "1700000070125", maxc), Limit: 1000},
			[]string{c, e, d},
		},
		{
			// from = {timestamp} only: inclusive of that timestamp.
			"from ts",
			ao.RangeQuery{ProcessID: "P", After: ao.EvaluationID("P", "1700000010123"), Through: ao.EvaluationID("P", maxc)},
			[]string{c, e, d},
		},
		{
			// to = {timestamp, ordinate: "10"}: "P,1700000070125,2" is
			// above it in string order, so only "10" is included.
			"to ordinate 10",
			ao.RangeQuery{ProcessID: "P", After: "P,", Through: ao.EvaluationID("P", "1700000070125", "10"), Limit: 1000},
			[]string{a, b, c, e},
		},
		{
			// to = {timestamp, ordinate: "2"}: "10" < "2" as strings, so
			// both are included.
			"to ordinate 2",
			ao.RangeQuery{ProcessID: "P", After: "P,", Through: ao.EvaluationID("P", "1700000070125", "2"), Limit: 1000},
			[]string{a, b, c, e, d},
		},
		{
			// to = {timestamp: a's}: the scheduled message and the cron at
			// that timestamp.
			"to first ts",
			ao.RangeQuery{ProcessID: "P", After: "P,", Through: ao.EvaluationID("P", "1700000000123", maxc), Limit: 1000},
			[]string{a, b},
		},
		{
			"from a exclusive to c inclusive",
			ao.RangeQuery{ProcessID: "P", After: a, Through: c, Limit: 1000},
			[]string{b, c},
		},
		{
			// Explicit bounds need no process id.
			"bounds without process id",
			ao.RangeQuery{After: a, Through: c},
			[]string{b, c},
		},
		{"empty", ao.RangeQuery{ProcessID: "P", After: d, Through: d, Limit: 10}, nil},
		{"inverted", ao.RangeQuery{ProcessID: "P", After: d, Through: a, Limit: 10}, nil},
		{"other process", ao.RangeQuery{ProcessID: "none"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Evaluations(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); !slices.Equal(g, tc.want) {
				t.Errorf("ids = %q, want %q", g, tc.want)
			}
			for _, ev := range got {
				if ev.ProcessID != "P" || len(ev.Output) == 0 {
					t.Errorf("row %s: %+v", ev.ID(), ev)
				}
			}
		})
	}

	// LatestEvaluation: greatest (timestamp, ordinate, cron): "2" > "10".
	latest, err := s.LatestEvaluation(ctx, "P")
	if err != nil || latest.ID() != d || string(latest.Output) != `{"d":1}` {
		t.Errorf("LatestEvaluation(P) = %+v, %v; want %s", latest, err, d)
	}
	if _, err := s.LatestEvaluation(ctx, "none"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("LatestEvaluation(none) = %v, want ErrNotFound", err)
	}
	// A cron at the same timestamp and ordinate sorts after the scheduled
	// message (NULL cron first).
	save(t, s, eval("P", 1700000070125, "2", "1-minute", `{"f":1}`))
	if latest, err := s.LatestEvaluation(ctx, "P"); err != nil || latest.ID() != "P,1700000070125,2,1-minute" {
		t.Errorf("LatestEvaluation(P) after cron = %v, %v", latest, err)
	}
}

// Ids, ordinates and crons compare byte-wise (SQLite's BINARY collation),
// whatever the database's collation: upper case before lower case, '-'
// before digits, non-ASCII after ASCII, and the bound "<pid>,\U0010FFFF"
// above every id of the process.
func testEvaluationsByteOrder(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	const ts1, ts2 = 1700000000200, 1700000000300
	ordinates := []string{"é", "a", "Z", "B", "9", "10", "Ä", "b"}
	crons := []string{"é-cron", "a-cron", "A-cron", "10-seconds", "1-minute", "0-10-seconds"}
	var batch []*ao.Evaluation
	for _, o := range ordinates {
		batch = append(batch, eval("P", ts1, o, "", `{}`))
	}
	batch = append(batch, eval("P", ts2, "1", "", `{}`))
	for _, c := range crons {
		batch = append(batch, eval("P", ts2, "1", c, `{}`))
	}
	// Neighbours whose ids sort near "P,…" in some collations.
	for _, pid := range []string{"P", "P+", "P-", "P.", "P;", "p", "Pa", "P\u00e9", "P_", "O\U0010FFFF", "P\U0010FFFF"} {
		if pid != "P" {
			batch = append(batch, eval(pid, ts1, "1", "", `{}`))
		}
	}
	save(t, s, batch...)

	sortedOrd := []string{"10", "9", "B", "Z", "a", "b", "Ä", "é"} // byte order
	sortedCron := []string{"0-10-seconds", "1-minute", "10-seconds", "A-cron", "a-cron", "é-cron"}
	var want []string
	for _, o := range sortedOrd {
		want = append(want, ao.EvaluationID("P", strconv.Itoa(ts1), o))
	}
	want = append(want, ao.EvaluationID("P", strconv.Itoa(ts2), "1"))
	for _, c := range sortedCron {
		want = append(want, ao.EvaluationID("P", strconv.Itoa(ts2), "1", c))
	}
	if got := all(t, s, "P"); !slices.Equal(got, want) {
		t.Errorf("ASC\n got %q\nwant %q", got, want)
	}
	desc, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P", Desc: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, w := ids(desc), slices.Clone(want); !slices.Equal(got, func() []string { slices.Reverse(w); return w }()) {
		t.Errorf("DESC\n got %q\nwant %q", got, w)
	}
	onlyCron, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P", OnlyCron: true, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(onlyCron); !slices.Equal(got, want[len(sortedOrd)+1:len(sortedOrd)+4]) {
		t.Errorf("only cron = %q", got)
	}
	// Bounds in byte order: after "P,<ts1>,9" come "B" … "é".
	q := ao.RangeQuery{ProcessID: "P", After: ao.EvaluationID("P", strconv.Itoa(ts1), "9"),
		Through: ao.EvaluationID("P", strconv.Itoa(ts1), "\U0010FFFF")}
	got, err := s.Evaluations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(got); !slices.Equal(g, want[2:len(sortedOrd)]) {
		t.Errorf("after 9\n got %q\nwant %q", g, want[2:len(sortedOrd)])
	}
	// Through "P,<ts1>,Z": "a", "b", "Ä", "é" are above it.
	q = ao.RangeQuery{ProcessID: "P", After: "P,", Through: ao.EvaluationID("P", strconv.Itoa(ts1), "Z")}
	if got, err = s.Evaluations(ctx, q); err != nil {
		t.Fatal(err)
	}
	if g := ids(got); !slices.Equal(g, want[:4]) {
		t.Errorf("through Z\n got %q\nwant %q", g, want[:4])
	}
	latest, err := s.LatestEvaluation(ctx, "P")
	if err != nil || latest.ID() != want[len(want)-1] {
		t.Errorf("LatestEvaluation = %v, %v; want %s", latest, err, want[len(want)-1])
	}
	// Each neighbour sees only its own row.
	for _, pid := range []string{"P+", "P-", "p", "P\u00e9", "P\U0010FFFF"} {
		if got := all(t, s, pid); len(got) != 1 || !strings.HasPrefix(got[0], pid+",") {
			t.Errorf("Evaluations(%q) = %q", pid, got)
		}
	}
}

func testMessageSeenBefore(t *testing.T, open OpenFunc) {
	s := open(t)
	e := eval("P", 1700000000123, "3", "", `{}`)
	e.MessageID, e.Nonce, e.Epoch = "m1", i64(3), i64(0)
	big := eval("P", 1700000000124, "4", "", `{}`)
	big.MessageID, big.Nonce, big.Epoch = "m-big", i64(5_000_000_000), i64(0)
	ep := eval("P", 1700000000125, "5", "", `{}`)
	ep.MessageID, ep.Nonce, ep.Epoch = "m-epoch", i64(7), i64(2)
	save(t, s, e, big, ep)
	cases := []struct {
		pid, id      string
		epoch, nonce int64
		want         bool
	}{
		{"P", "m1", 0, 5, true},  // recorded at a lower nonce
		{"P", "m1", 0, 4, true},  //
		{"P", "m1", 0, 3, false}, // same nonce: re-evaluation, not a duplicate
		{"P", "m1", 0, 2, false}, // recorded later
		{"Q", "m1", 0, 5, false}, // other process
		{"P", "m2", 0, 5, false}, // other message
		{"P", "m1", 1, 0, false}, // other epoch: nonce part 3 is not < epoch 1
		{"P", "m1", 3, 0, false}, // nonce part 3 is not < epoch 3
		{"P", "m1", 4, 0, true},  // the quirk: nonce part 3 < epoch 4
		{"P", "m1", 0, math.MaxInt64, true},
		{"P", "m1", -1, 100, false}, // nonce part 3 is not < -1, epoch 0 != -1
		// 64-bit nonces.
		{"P", "m-big", 0, 5_000_000_001, true},
		{"P", "m-big", 0, 5_000_000_000, false},
		{"P", "m-big", 0, 10, false},
		// Epoch 2, nonce 7.
		{"P", "m-epoch", 2, 8, true},
		{"P", "m-epoch", 2, 7, false},
		{"P", "m-epoch", 0, 100, false},
		{"P", "m-epoch", 1, 100, false},
		{"P", "m-epoch", 8, 0, true}, // the quirk again: 7 < 8
	}
	for _, c := range cases {
		if got := seen(t, s, c.pid, c.id, c.epoch, c.nonce); got != c.want {
			t.Errorf("MessageSeenBefore(%s, %s, %d, %d) = %v, want %v", c.pid, c.id, c.epoch, c.nonce, got, c.want)
		}
	}
}

func testBlocks(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	var blocks []ao.Block
	for h := int64(1599); h >= 1000; h-- { // more than one 250-row statement, descending
		blocks = append(blocks, ao.Block{Height: h, Timestamp: h * 1000})
	}
	if err := s.SaveBlocks(ctx, blocks); err != nil {
		t.Fatal(err)
	}
	// INSERT OR IGNORE: an overlapping batch changes nothing; of two rows
	// with one height in a batch, the first is stored.
	if err := s.SaveBlocks(ctx, []ao.Block{{Height: 1000, Timestamp: 1}, {Height: 1600, Timestamp: 1600000}, {Height: 1600, Timestamp: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBlocks(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Blocks(ctx, 1000, 1000*1000)
	if err != nil || !reflect.DeepEqual(got, []ao.Block{{Height: 1000, Timestamp: 1000000}}) {
		t.Errorf("Blocks(1000, 1e6) = %v, %v", got, err)
	}
	got, err = s.Blocks(ctx, 1590, 1600*1000)
	if err != nil {
		t.Fatal(err)
	}
	var want []ao.Block
	for h := int64(1590); h <= 1600; h++ {
		want = append(want, ao.Block{Height: h, Timestamp: h * 1000})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Blocks(1590, 1.6e6) = %v, want %v", got, want)
	}
	if got, err := s.Blocks(ctx, 0, math.MaxInt64); err != nil || len(got) != 601 || got[0].Height != 1000 || got[600].Height != 1600 {
		t.Errorf("Blocks(all) = %d blocks, %v", len(got), err)
	}
	if got, err := s.Blocks(ctx, 2000, 1<<50); err != nil || len(got) != 0 {
		t.Errorf("Blocks(2000) = %v, %v", got, err)
	}
	if got, err := s.Blocks(ctx, 0, 999); err != nil || len(got) != 0 {
		t.Errorf("Blocks(ts <= 999) = %v, %v", got, err)
	}
}

func testSaveEvaluationsIsAtomic(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()

	// The third evaluation fails: nothing of the batch is stored.
	batch := []*ao.Evaluation{
		eval("P", 1700000000001, "1", "", `{"ok":1}`),
		eval("P", 1700000000002, "2", "", `{"ok":2}`),
		eval("P", 1700000000003, "3", "", `{"broken":`),
	}
	err := s.SaveEvaluations(ctx, batch, false)
	if err == nil || !strings.Contains(err.Error(), "save evaluations: ") {
		t.Fatalf("SaveEvaluations(invalid) = %v", err)
	}
	empty := func(what string) {
		t.Helper()
		if got := all(t, s, "P"); len(got) != 0 {
			t.Errorf("%s left evaluations %q", what, got)
		}
		for _, e := range batch {
			if seen(t, s, "P", e.MessageID, 0, 100) {
				t.Errorf("%s left the messages row %s", what, e.MessageID)
			}
		}
	}
	empty("failed batch")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.SaveEvaluations(cctx, batch[:2], false); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveEvaluations(canceled) = %v, want context.Canceled", err)
	}
	empty("canceled batch")

	// The store is still usable afterwards.
	save(t, s, batch[:2]...)
	if got := all(t, s, "P"); len(got) != 2 {
		t.Errorf("%d evaluations, want 2", len(got))
	}
	// A large batch in one go.
	var large []*ao.Evaluation
	for i := range 2000 {
		large = append(large, eval("L", 1700000000000+int64(i), strconv.Itoa(i), "", fmt.Sprintf(`{"i":%d}`, i)))
	}
	save(t, s, large...)
	if got := all(t, s, "L"); len(got) != 2000 {
		t.Errorf("large batch: %d evaluations", len(got))
	}
	if !seen(t, s, "L", large[1999].MessageID, 0, 2000) {
		t.Error("large batch: last messages row missing")
	}
}

func testCanceledContext(t *testing.T, open OpenFunc) {
	s := open(t)
	save(t, s, eval("P", 1, "1", "", `{}`))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	checks := map[string]error{}
	_, checks["FindEvaluation"] = s.FindEvaluation(ctx, "P,1,1")
	_, checks["Evaluations"] = s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P"})
	_, checks["LatestEvaluation"] = s.LatestEvaluation(ctx, "P")
	_, checks["MessageSeenBefore"] = s.MessageSeenBefore(ctx, "P", "m", 0, 1)
	_, checks["FindProcess"] = s.FindProcess(ctx, "P")
	checks["SaveProcess"] = s.SaveProcess(ctx, &ao.Process{ID: "P"})
	checks["SaveBlocks"] = s.SaveBlocks(ctx, []ao.Block{{Height: 1, Timestamp: 1}})
	_, checks["Blocks"] = s.Blocks(ctx, 0, 10)
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s(canceled) = %v, want context.Canceled", name, err)
		}
	}
	// Nothing was written, and the store still works.
	if _, err := s.FindProcess(t.Context(), "P"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("FindProcess after canceled save = %v", err)
	}
	if got, err := s.Blocks(t.Context(), 0, 10); err != nil || len(got) != 0 {
		t.Errorf("Blocks after canceled save = %v, %v", got, err)
	}
}

func testConcurrentWriters(t *testing.T, open OpenFunc) {
	s := open(t)
	ctx := t.Context()
	const writers, batches, perBatch = 8, 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, 4*writers)
	for w := range writers {
		pid := fmt.Sprintf("P%d", w)
		wg.Go(func() {
			for b := range batches {
				var batch []*ao.Evaluation
				for i := range perBatch {
					n := b*perBatch + i
					batch = append(batch, eval(pid, 1700000000000+int64(n), fmt.Sprint(n), "", fmt.Sprintf(`{"n":%d}`, n)))
				}
				if err := s.SaveEvaluations(ctx, batch, false); err != nil {
					errs <- err
					return
				}
				if err := s.SaveBlocks(ctx, []ao.Block{{Height: int64(w*1000 + b), Timestamp: int64(b)}}); err != nil {
					errs <- err
					return
				}
			}
		})
		// Readers alongside.
		wg.Go(func() {
			for range batches {
				if _, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: pid, Desc: true, Limit: 10}); err != nil {
					errs <- err
					return
				}
				if _, err := s.LatestEvaluation(ctx, pid); err != nil && !errors.Is(err, ao.ErrNotFound) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		pid := fmt.Sprintf("P%d", w)
		if got := all(t, s, pid); len(got) != batches*perBatch {
			t.Errorf("%s: %d evaluations, want %d", pid, len(got), batches*perBatch)
		}
		for n := range batches * perBatch {
			if !seen(t, s, pid, fmt.Sprintf("msg-%s-%d-%d", pid, 1700000000000+int64(n), n), 0, int64(n)+1) {
				t.Errorf("%s: messages row %d missing", pid, n)
			}
		}
	}
	if got, err := s.Blocks(ctx, 0, math.MaxInt64); err != nil || len(got) != writers*batches {
		t.Errorf("%d blocks, %v; want %d", len(got), err, writers*batches)
	}
}

// Several CUs on one database write the same rows at once, in batches cut
// differently and in opposite orders.
func testStoresShareADatabase(t *testing.T, open OpenFunc) {
	a, b := open(t), open(t)
	ctx := t.Context()
	const n = 300
	var evals []*ao.Evaluation
	var blocks []ao.Block
	for i := range n {
		evals = append(evals, eval("P", 1700000000000+int64(i), strconv.Itoa(i), "", fmt.Sprintf(`{"i":%d}`, i)))
		blocks = append(blocks, ao.Block{Height: int64(i), Timestamp: int64(i) * 10})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() {
		for i := 0; i < n; i += 7 {
			if err := a.SaveEvaluations(ctx, evals[i:min(i+7, n)], false); err != nil {
				errs <- err
				return
			}
			if err := a.SaveBlocks(ctx, blocks[i:min(i+7, n)]); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for i := n; i > 0; i -= 11 {
			batch := slices.Clone(evals[max(i-11, 0):i])
			slices.Reverse(batch)
			if err := b.SaveEvaluations(ctx, batch, false); err != nil {
				errs <- err
				return
			}
			bl := slices.Clone(blocks[max(i-11, 0):i])
			slices.Reverse(bl)
			if err := b.SaveBlocks(ctx, bl); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range []ao.Store{a, b} {
		got, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P"})
		if err != nil || len(got) != n {
			t.Fatalf("Evaluations = %d rows, %v", len(got), err)
		}
		for i, e := range got {
			if e.Timestamp != 1700000000000+int64(i) || string(e.Output) != fmt.Sprintf(`{"i":%d}`, i) {
				t.Errorf("row %d = %+v", i, e)
				break
			}
		}
		if bl, err := s.Blocks(ctx, 0, math.MaxInt64); err != nil || !reflect.DeepEqual(bl, blocks) {
			t.Errorf("Blocks = %d, %v", len(bl), err)
		}
	}
	// One sees what the other wrote.
	if err := a.SaveProcess(ctx, &ao.Process{ID: "X", Owner: ao.Owner{Address: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.FindProcess(ctx, "X"); err != nil {
		t.Errorf("FindProcess on the other store: %v", err)
	}
}

func testReopenKeepsData(t *testing.T, open OpenFunc) {
	ctx := t.Context()
	s := open(t)
	e := eval("P", 1700000000123, "1", "", `{"x":"\u2028"}`)
	save(t, s, e)
	if err := s.SaveProcess(ctx, &ao.Process{ID: "P", Owner: ao.Owner{Address: "a", Key: "k"}, Tags: []ao.Tag{}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveModule(ctx, &ao.Module{ID: "M", Owner: ao.Owner{Address: "a", Key: "k"}, Tags: []ao.Tag{{Name: "n", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBlocks(ctx, []ao.Block{{Height: 1, Timestamp: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.FindProcess(ctx, "P"); err == nil {
		t.Error("FindProcess after Close succeeded")
	}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{eval("P", 1, "1", "", `{}`)}, false); err == nil {
		t.Error("SaveEvaluations after Close succeeded")
	}

	s = open(t)
	if got, err := s.FindEvaluation(ctx, e.ID()); err != nil || string(got.Output) != `{"x":"\u2028"}` {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	if _, err := s.FindProcess(ctx, "P"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
	if _, err := s.FindModule(ctx, "M"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
	if got, err := s.Blocks(ctx, 0, 10); err != nil || len(got) != 1 {
		t.Errorf("after reopen: blocks %v, %v", got, err)
	}
	if !seen(t, s, "P", e.MessageID, 0, 100) {
		t.Error("after reopen: messages row missing")
	}
	if latest, err := s.LatestEvaluation(ctx, "P"); err != nil || latest.ID() != e.ID() {
		t.Errorf("after reopen: latest %v, %v", latest, err)
	}
}

// testCheckpoints covers ao.CheckpointStore, for the stores that have it.
func testCheckpoints(t *testing.T, open OpenFunc) {
	s, ok := open(t).(ao.CheckpointStore)
	if !ok {
		t.Skip("not an ao.CheckpointStore")
	}
	ctx := t.Context()
	cev := func(pid string, ts int64, ordinate, cron string) ao.CheckpointEvaluation {
		n, _ := strconv.ParseInt(ordinate, 10, 64)
		return ao.CheckpointEvaluation{ProcessID: pid, ModuleID: "M", Timestamp: ts, Epoch: 0, Nonce: n,
			BlockHeight: 1500000, Ordinate: ordinate, Cron: cron, SHA256: fmt.Sprintf("sha-%d", ts),
			MessageID: "msg<&>é", HashChain: "hc", AssignmentID: "as"}
	}

	// File checkpoints: one row per process, replaced.
	if _, err := s.FindFileCheckpoint(ctx, "P"); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("FindFileCheckpoint(missing) = %v, want ErrNotFound", err)
	}
	first := &ao.FileCheckpoint{File: "state-P.dat", Evaluation: cev("P", 1700000000100, "3", ""), CachedAt: 1700000000200}
	if err := s.SaveFileCheckpoint(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindFileCheckpoint(ctx, "P"); err != nil || !reflect.DeepEqual(got, first) {
		t.Errorf("FindFileCheckpoint = %+v, %v; want %+v", got, err, first)
	}
	later := &ao.FileCheckpoint{File: "state-P.dat", Evaluation: cev("P", 1700000000500, "4", "1-minute"), CachedAt: 1700000000600}
	if err := s.SaveFileCheckpoint(ctx, later); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindFileCheckpoint(ctx, "P"); err != nil || !reflect.DeepEqual(got, later) {
		t.Errorf("FindFileCheckpoint after replace = %+v, %v; want %+v", got, err, later)
	}
	// Saving the same position again replaces too.
	again := *later
	again.CachedAt++
	if err := s.SaveFileCheckpoint(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindFileCheckpoint(ctx, "P"); err != nil || got.CachedAt != again.CachedAt {
		t.Errorf("FindFileCheckpoint after same-id replace = %+v, %v", got, err)
	}
	other := &ao.FileCheckpoint{File: "state-Q.dat", Evaluation: cev("Q", 1, "1", ""), CachedAt: 2}
	if err := s.SaveFileCheckpoint(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindFileCheckpoint(ctx, "P"); err != nil || got.Evaluation.Timestamp != 1700000000500 {
		t.Errorf("P's file checkpoint after Q's = %+v, %v", got, err)
	}

	// Arweave checkpoint records: INSERT OR IGNORE, latest first, before
	// exclusive, limit.
	if got, err := s.Checkpoints(ctx, "P", math.MaxInt64, 5); err != nil || len(got) != 0 {
		t.Errorf("Checkpoints(none) = %v, %v", got, err)
	}
	var recs []*ao.Checkpoint
	for i, ts := range []int64{300, 100, 500, 200, 400} {
		enc := "gzip"
		if i%2 == 1 {
			enc = ""
		}
		recs = append(recs, &ao.Checkpoint{TxID: fmt.Sprintf("tx-%d", ts), Encoding: enc, Evaluation: cev("P", ts, "1", "")})
	}
	recs = append(recs, &ao.Checkpoint{TxID: "tx-q", Encoding: "gzip", Evaluation: cev("Q", 250, "1", "")})
	for _, r := range recs {
		if err := s.SaveCheckpoint(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	dup := *recs[0]
	dup.TxID = "tx-dup"
	if err := s.SaveCheckpoint(ctx, &dup); err != nil {
		t.Fatal(err)
	}
	txs := func(cs []*ao.Checkpoint) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.TxID)
		}
		return out
	}
	for _, c := range []struct {
		before int64
		limit  int
		want   []string
	}{
		{math.MaxInt64, 5, []string{"tx-500", "tx-400", "tx-300", "tx-200", "tx-100"}},
		{math.MaxInt64, 2, []string{"tx-500", "tx-400"}},
		{400, 5, []string{"tx-300", "tx-200", "tx-100"}},
		{401, 1, []string{"tx-400"}},
		{100, 5, nil},
		{math.MaxInt64, 0, nil},
	} {
		got, err := s.Checkpoints(ctx, "P", c.before, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if g := txs(got); !slices.Equal(g, c.want) {
			t.Errorf("Checkpoints(P, %d, %d) = %q, want %q", c.before, c.limit, g, c.want)
		}
	}
	got, err := s.Checkpoints(ctx, "P", 301, 1)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], recs[0]) {
		t.Errorf("Checkpoints(P, 301, 1) = %+v, %v; want %+v", got, err, recs[0])
	}
	if got, err := s.Checkpoints(ctx, "P", 201, 1); err != nil || len(got) != 1 || got[0].Encoding != "" {
		t.Errorf("Checkpoints(P, 201, 1) = %+v, %v; want no encoding", got, err)
	}
	// Rows of one timestamp: by id, descending.
	for _, ord := range []string{"10", "9", "2"} {
		if err := s.SaveCheckpoint(ctx, &ao.Checkpoint{TxID: "tx-600-" + ord, Evaluation: cev("P", 600, ord, "")}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Checkpoints(ctx, "P", 601, 3); err != nil || !slices.Equal(txs(got), []string{"tx-600-9", "tx-600-2", "tx-600-10"}) {
		t.Errorf("Checkpoints(P, 601, 3) = %q, %v", txs(got), err)
	}
}

// testModuleBinaries covers ao.ModuleBinaryStore, for the stores that have
// it: a record per module, replaced by a later save, kept across reopening,
// and ao.ErrNotFound for a module never recorded.
func testModuleBinaries(t *testing.T, open OpenFunc) {
	s := open(t)
	bs, ok := s.(ao.ModuleBinaryStore)
	if !ok {
		t.Skip("not an ao.ModuleBinaryStore")
	}
	ctx := t.Context()
	if got, err := bs.FindModuleBinary(ctx, "M"); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("FindModuleBinary(missing) = %+v, %v; want ErrNotFound", got, err)
	}
	for _, b := range []*ao.ModuleBinary{nil, {SHA256: "00", Size: 1}} {
		if err := bs.SaveModuleBinary(ctx, b); err == nil {
			t.Errorf("SaveModuleBinary(%+v) accepted", b)
		}
	}
	first := &ao.ModuleBinary{ModuleID: "M", SHA256: strings.Repeat("ab", 32), Size: 37}
	if err := bs.SaveModuleBinary(ctx, first); err != nil {
		t.Fatalf("SaveModuleBinary: %v", err)
	}
	if got, err := bs.FindModuleBinary(ctx, "M"); err != nil || *got != *first {
		t.Errorf("FindModuleBinary = %+v, %v; want %+v", got, err, first)
	}
	// A later save replaces the record (a module fetched again after its
	// cached copy was found corrupt); sizes past 32 bits are kept.
	second := &ao.ModuleBinary{ModuleID: "M", SHA256: strings.Repeat("cd", 32), Size: 5 << 32}
	if err := bs.SaveModuleBinary(ctx, second); err != nil {
		t.Fatalf("SaveModuleBinary(replace): %v", err)
	}
	other := &ao.ModuleBinary{ModuleID: "N", SHA256: strings.Repeat("ef", 32), Size: 1}
	if err := bs.SaveModuleBinary(ctx, other); err != nil {
		t.Fatalf("SaveModuleBinary(other): %v", err)
	}
	if got, err := bs.FindModuleBinary(ctx, "M"); err != nil || *got != *second {
		t.Errorf("FindModuleBinary after replace = %+v, %v; want %+v", got, err, second)
	}
	// The module id is the whole key: no prefix or case folding.
	for _, id := range []string{"m", "M ", "", "N2"} {
		if got, err := bs.FindModuleBinary(ctx, id); !errors.Is(err, ao.ErrNotFound) {
			t.Errorf("FindModuleBinary(%q) = %+v, %v; want ErrNotFound", id, got, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := bs.SaveModuleBinary(canceled, &ao.ModuleBinary{ModuleID: "X", SHA256: "00", Size: 1}); err == nil {
		t.Error("SaveModuleBinary with a canceled context succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.FindModuleBinary(ctx, "M"); err == nil {
		t.Error("FindModuleBinary after Close succeeded")
	}

	// Another store on the same database sees the records.
	bs = open(t).(ao.ModuleBinaryStore)
	for _, want := range []*ao.ModuleBinary{second, other} {
		if got, err := bs.FindModuleBinary(ctx, want.ModuleID); err != nil || *got != *want {
			t.Errorf("after reopen: FindModuleBinary(%s) = %+v, %v; want %+v", want.ModuleID, got, err, want)
		}
	}
	if _, err := bs.FindModuleBinary(ctx, "X"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("the save with a canceled context was stored: %v", err)
	}
}
