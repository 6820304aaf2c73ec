package sqlitestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

func openTest(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ao-cache.sqlite")
	s, err := Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func i64(v int64) *int64 { return &v }

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

func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestSchemaIsTheReferences(t *testing.T) {
	s, _ := openTest(t, Options{})
	rows, err := s.r.Query(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var typ, name, tbl, sqlText string
		if err := rows.Scan(&typ, &name, &tbl, &sqlText); err != nil {
			t.Fatal(err)
		}
		got[typ+" "+name] = tbl
		if typ == "table" && !strings.Contains(sqlText, "WITHOUT ROWID") {
			t.Errorf("table %s is not WITHOUT ROWID: %s", name, sqlText)
		}
	}
	want := map[string]string{
		"table processes":                                "processes",
		"table blocks":                                   "blocks",
		"table modules":                                  "modules",
		"table evaluations":                              "evaluations",
		"table messages":                                 "messages",
		"table checkpoints":                              "checkpoints",
		"table checkpoint_files":                         "checkpoint_files",
		"index idx_blocks_height_timestamp":              "blocks",
		"index idx_messages_id_processId_seq":            "messages",
		"index idx_checkpoints_processId_timestamp":      "checkpoints",
		"index idx_checkpoint_files_processId_timestamp": "checkpoints", // sic, as the reference
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("schema objects\n got %v\nwant %v", got, want)
	}

	cols := func(table string) []string {
		rows, err := s.r.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			out = append(out, n)
		}
		return out
	}
	wantCols := map[string][]string{
		"processes":        {"id", "signature", "data", "anchor", "owner", "tags", "block"},
		"blocks":           {"id", "height", "timestamp"},
		"modules":          {"id", "owner", "tags"},
		"evaluations":      {"id", "processId", "messageId", "deepHash", "nonce", "epoch", "timestamp", "ordinate", "blockHeight", "cron", "output", "evaluatedAt"},
		"messages":         {"id", "processId", "seq"},
		"checkpoints":      {"id", "processId", "timestamp", "ordinate", "cron", "memory", "evaluation"},
		"checkpoint_files": {"id", "processId", "timestamp", "ordinate", "cron", "file", "evaluation", "cachedAt"},
	}
	for table, want := range wantCols {
		if got := cols(table); !slices.Equal(got, want) {
			t.Errorf("%s columns = %v, want %v", table, got, want)
		}
	}

	var mode string
	if err := s.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestProcessRoundTrip(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()

	if _, err := s.FindProcess(ctx, "nope"); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("FindProcess(missing) = %v, want ErrNotFound", err)
	}
	p := &ao.Process{
		ID:        "P1",
		Signature: "sig",
		Anchor:    "anchor",
		Owner:     ao.Owner{Address: "addr", Key: "key"},
		Tags:      []ao.Tag{{Name: "Type", Value: "Process"}, {Name: "Html", Value: "<a>&é\u2028"}},
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

	// The columns as the reference writes them (JSON.stringify).
	var owner, tags, block string
	var dataNull bool
	if err := s.r.QueryRow(`SELECT owner, tags, block, data IS NULL FROM processes WHERE id = 'P1'`).Scan(&owner, &tags, &block, &dataNull); err != nil {
		t.Fatal(err)
	}
	if owner != `{"address":"addr","key":"key"}` {
		t.Errorf("owner = %s", owner)
	}
	if tags != `[{"name":"Type","value":"Process"},{"name":"Html","value":"<a>&é`+"\u2028"+`"}]` {
		t.Errorf("tags = %s", tags)
	}
	if block != `{"height":1500000,"timestamp":1700000000123}` {
		t.Errorf("block = %s", block)
	}
	if !dataNull {
		t.Error("data is not NULL")
	}

	// INSERT OR IGNORE: the first row stays.
	p2 := *p
	p2.Signature = "other"
	if err := s.SaveProcess(ctx, &p2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindProcess(ctx, "P1"); got.Signature != "sig" {
		t.Errorf("second save overwrote: signature %q", got.Signature)
	}

	// Empty signature and anchor are NULL and come back empty.
	p3 := &ao.Process{ID: "P3", Owner: ao.Owner{Address: "a"}, Tags: []ao.Tag{{Name: "n", Value: "v"}}}
	if err := s.SaveProcess(ctx, p3); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindProcess(ctx, "P3"); err != nil || !reflect.DeepEqual(got, p3) {
		t.Errorf("FindProcess(P3) = %+v, %v", got, err)
	}
}

func TestInvalidOwnerRowIsDeleted(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	// A row in the reference's deprecated format: owner is a bare address.
	if _, err := s.w.Exec(`INSERT INTO processes (id, owner, tags, block) VALUES ('P', 'addr', '[]', '{"height":1,"timestamp":2}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO modules (id, owner, tags) VALUES ('M', 'addr', '[]')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindProcess(ctx, "P"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("FindProcess(invalid) = %v, want ErrNotFound", err)
	}
	if _, err := s.FindModule(ctx, "M"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("FindModule(invalid) = %v, want ErrNotFound", err)
	}
	if n := count(t, s, "processes") + count(t, s, "modules"); n != 0 {
		t.Errorf("%d invalid rows left", n)
	}
}

func TestModuleRoundTrip(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	if _, err := s.FindModule(ctx, "M"); !errors.Is(err, ao.ErrNotFound) {
		t.Fatalf("FindModule(missing) = %v, want ErrNotFound", err)
	}
	m := &ao.Module{ID: "M", Owner: ao.Owner{Address: "a", Key: "k"}, Tags: []ao.Tag{{Name: "Module-Format", Value: "wasm64-unknown-emscripten-draft_2024_02_15"}}}
	if err := s.SaveModule(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindModule(ctx, "M")
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("FindModule = %+v, %v; want %+v", got, err, m)
	}
	var owner string
	s.r.QueryRow(`SELECT owner FROM modules`).Scan(&owner)
	if owner != `{"address":"a","key":"k"}` {
		t.Errorf("owner = %s", owner)
	}
}

func TestEvaluationOutputIsByteIdentical(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	outputs := []string{
		`{"Messages":[],"Assignments":[],"Spawns":[],"Output":{"data":"\u00e9\ud83d\ude00","prompt":"\u001b[0m"},"GasUsed":12345}`,
		`{"z":1,"a":2,"Output":"` + "\u2028\u2029 raw é 😀" + `","big":123456789012345678901234567890,"f":1.50e+300,"neg":-0}`,
		"{ \"spaced\" :\t[ 1 , 2 ] ,\n \"esc\":\"\\/\\\"\\\\\" }\n",
		`{"Error":"boom","Output":null,"dup":1,"dup":2}`,
	}
	var batch []*ao.Evaluation
	for i, o := range outputs {
		batch = append(batch, eval("P", 1700000000000+int64(i), fmt.Sprint(i+1), "", o))
	}
	if err := s.SaveEvaluations(ctx, batch, false); err != nil {
		t.Fatal(err)
	}
	for i, want := range batch {
		got, err := s.FindEvaluation(ctx, want.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Output, []byte(outputs[i])) {
			t.Errorf("output %d\n got %q\nwant %q", i, got.Output, outputs[i])
		}
		want.IsAssignment = false // not stored
		if !reflect.DeepEqual(got, want) {
			t.Errorf("FindEvaluation = %+v, want %+v", got, want)
		}
	}
	var typ string
	s.r.QueryRow(`SELECT DISTINCT typeof(output) FROM evaluations`).Scan(&typ)
	if typ != "text" {
		t.Errorf("output stored as %s, want text", typ)
	}
	if _, err := s.FindEvaluation(ctx, "P,1,1"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("FindEvaluation(missing) = %v, want ErrNotFound", err)
	}

	// A bare number would be converted by the JSONB (NUMERIC) affinity.
	bad := eval("P", 1800000000000, "9", "", `12345678901234567890`)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{bad}, false); err == nil {
		t.Error("bare number output accepted")
	}
}

func TestSaveEvaluationsRows(t *testing.T) {
	s, _ := openTest(t, Options{})
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
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{sched, pushed, assign, cron}, false); err != nil {
		t.Fatal(err)
	}

	type msgRow struct{ id, pid, seq string }
	rows, err := s.r.Query(`SELECT id, processId, seq FROM messages ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []msgRow
	for rows.Next() {
		var m msgRow
		rows.Scan(&m.id, &m.pid, &m.seq)
		got = append(got, m)
	}
	rows.Close()
	want := []msgRow{
		{sched.MessageID, "P", "0:1"},
		{"deephash==", "P", "0:2"},
		{assign.MessageID, "P", "0:3"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("messages = %v, want %v", got, want)
	}

	// NULLs: the cron has no nonce, epoch, messageId; the scheduled message
	// has no cron and no deepHash.
	var nonceNull, epochNull, midNull, cronNull, dhNull bool
	s.r.QueryRow(`SELECT nonce IS NULL, epoch IS NULL, messageId IS NULL FROM evaluations WHERE id = ?`, cron.ID()).Scan(&nonceNull, &epochNull, &midNull)
	s.r.QueryRow(`SELECT cron IS NULL, deepHash IS NULL FROM evaluations WHERE id = ?`, sched.ID()).Scan(&cronNull, &dhNull)
	if !nonceNull || !epochNull || !midNull || !cronNull || !dhNull {
		t.Errorf("NULLs: nonce %v epoch %v messageId %v cron %v deepHash %v", nonceNull, epochNull, midNull, cronNull, dhNull)
	}
	if got, err := s.FindEvaluation(ctx, cron.ID()); err != nil || got.Nonce != nil || got.Epoch != nil || got.Cron != "0-10-seconds" {
		t.Errorf("cron evaluation = %+v, %v", got, err)
	}

	// INSERT OR IGNORE: a second write of the same id keeps the first output.
	again := *sched
	again.Output = json.RawMessage(`{"n":"changed"}`)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{&again}, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindEvaluation(ctx, sched.ID()); string(got.Output) != `{"n":1}` {
		t.Errorf("output after re-save = %s", got.Output)
	}

	// skipEvaluations: messages only.
	skipped := eval("Q", 1700000000123, "1", "", `{}`)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{skipped}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindEvaluation(ctx, skipped.ID()); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("skipped evaluation stored: %v", err)
	}
	var n int
	s.r.QueryRow(`SELECT count(*) FROM messages WHERE processId = 'Q'`).Scan(&n)
	if n != 1 {
		t.Errorf("skipped evaluation: %d messages rows, want 1", n)
	}
}

// The reference's example ids, and the bounds as findEvaluations builds them.
func TestEvaluationsRangeQuery(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()

	const (
		a = "P,1700000000123,0"
		b = "P,1700000000123,0,0-10-seconds"
		c = "P,1700000010123,0,0-10-seconds"
		d = "P,1700000070125,2"
		e = "P,1700000070125,10"
	)
	batch := []*ao.Evaluation{
		eval("P", 1700000070125, "10", "", `{"e":1}`),
		eval("P", 1700000000123, "0", "", `{"a":1}`),
		eval("P", 1700000010123, "0", "0-10-seconds", `{"c":1}`),
		eval("P", 1700000070125, "2", "", `{"d":1}`),
		eval("P", 1700000000123, "0", "0-10-seconds", `{"b":1}`),
		// Neighbours in key order that the bounds must exclude.
		eval("O", 1700000000123, "0", "", `{}`),
		eval("PA", 1700000000123, "0", "", `{}`),
		eval("Q", 1700000000123, "0", "", `{}`),
	}
	if err := s.SaveEvaluations(ctx, batch, false); err != nil {
		t.Fatal(err)
	}

	maxc := collationMaxChar
	// The reference's bounds for no from/to: createEvaluationId({processId,
	// timestamp: ''}) is "P," (filter(isNotNil) keeps the empty string), and
	// createEvaluationId({processId, timestamp: MAX_CHAR}).
	whole := ao.RangeQuery{ProcessID: "P", After: "P,", Through: ao.EvaluationID("P", maxc), Limit: 1000}
	cases := []struct {
		name string
		q    ao.RangeQuery
		want []string
	}{
		{"whole ASC", whole, []string{a, b, c, e, d}},
		{"whole DESC", func() ao.RangeQuery { q := whole; q.Desc = true; return q }(), []string{d, e, c, b, a}},
		{"default bounds", ao.RangeQuery{ProcessID: "P"}, []string{a, b, c, e, d}},
		{"only cron", func() ao.RangeQuery { q := whole; q.OnlyCron = true; return q }(), []string{b, c}},
		{"limit DESC", func() ao.RangeQuery { q := whole; q.Desc = true; q.Limit = 2; return q }(), []string{d, e}},
		{"limit ASC", func() ao.RangeQuery { q := whole; q.Limit = 3; return q }(), []string{a, b, c}},
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
		{"empty", ao.RangeQuery{ProcessID: "P", After: d, Through: d, Limit: 10}, nil},
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

	if _, err := s.Evaluations(ctx, ao.RangeQuery{After: "P,"}); err == nil {
		t.Error("empty bound without process id accepted")
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
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{eval("P", 1700000070125, "2", "1-minute", `{"f":1}`)}, false); err != nil {
		t.Fatal(err)
	}
	if latest, err := s.LatestEvaluation(ctx, "P"); err != nil || latest.ID() != "P,1700000070125,2,1-minute" {
		t.Errorf("LatestEvaluation(P) after cron = %v, %v", latest, err)
	}
}

func TestMessageSeenBefore(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	e := eval("P", 1700000000123, "3", "", `{}`)
	e.MessageID, e.Nonce, e.Epoch = "m1", i64(3), i64(0)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{e}, false); err != nil {
		t.Fatal(err)
	}
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
		{"P", "m1", 4, 0, true},  // the quirk: nonce part 3 < epoch 4
	}
	for _, c := range cases {
		got, err := s.MessageSeenBefore(ctx, c.pid, c.id, c.epoch, c.nonce)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("MessageSeenBefore(%s, %s, %d, %d) = %v, want %v", c.pid, c.id, c.epoch, c.nonce, got, c.want)
		}
	}
}

func TestBlocks(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	var blocks []ao.Block
	for h := int64(1000); h < 1600; h++ { // more than one 250-row statement
		blocks = append(blocks, ao.Block{Height: h, Timestamp: h * 1000})
	}
	if err := s.SaveBlocks(ctx, blocks); err != nil {
		t.Fatal(err)
	}
	// INSERT OR IGNORE: an overlapping batch changes nothing.
	if err := s.SaveBlocks(ctx, []ao.Block{{Height: 1000, Timestamp: 1}, {Height: 1600, Timestamp: 1600000}}); err != nil {
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
	if got, err := s.Blocks(ctx, 2000, 1<<50); err != nil || len(got) != 0 {
		t.Errorf("Blocks(2000) = %v, %v", got, err)
	}
	var id, height int64
	s.r.QueryRow(`SELECT id, height FROM blocks WHERE height = 1234`).Scan(&id, &height)
	if id != 1234 || height != 1234 {
		t.Errorf("blocks row id %d height %d", id, height)
	}
}

func TestSaveEvaluationsIsAtomic(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()

	// The third evaluation fails after the first two rows (and their
	// messages rows) were inserted in the transaction.
	batch := []*ao.Evaluation{
		eval("P", 1700000000001, "1", "", `{"ok":1}`),
		eval("P", 1700000000002, "2", "", `{"ok":2}`),
		eval("P", 1700000000003, "3", "", `{"broken":`),
	}
	err := s.SaveEvaluations(ctx, batch, false)
	if err == nil || !strings.HasPrefix(err.Error(), "sqlitestore: save evaluations: ") {
		t.Fatalf("SaveEvaluations(invalid) = %v", err)
	}
	if n := count(t, s, "evaluations") + count(t, s, "messages"); n != 0 {
		t.Errorf("failed batch left %d rows", n)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.SaveEvaluations(cctx, batch[:2], false); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveEvaluations(canceled) = %v, want context.Canceled", err)
	}
	if n := count(t, s, "evaluations") + count(t, s, "messages"); n != 0 {
		t.Errorf("canceled batch left %d rows", n)
	}

	// The writer connection is still usable afterwards.
	if err := s.SaveEvaluations(ctx, batch[:2], false); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "evaluations"); n != 2 {
		t.Errorf("%d evaluations, want 2", n)
	}
}

func TestConcurrentWriters(t *testing.T) {
	s, _ := openTest(t, Options{})
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
	if n := count(t, s, "evaluations"); n != writers*batches*perBatch {
		t.Errorf("%d evaluations, want %d", n, writers*batches*perBatch)
	}
	if n := count(t, s, "messages"); n != writers*batches*perBatch {
		t.Errorf("%d messages, want %d", n, writers*batches*perBatch)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ao-cache.sqlite")
	ctx := t.Context()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := eval("P", 1700000000123, "1", "", `{"x":"\u2028"}`)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{e}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProcess(ctx, &ao.Process{ID: "P", Owner: ao.Owner{Address: "a", Key: "k"}, Tags: []ao.Tag{}}); err != nil {
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

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.FindEvaluation(ctx, e.ID()); err != nil || string(got.Output) != `{"x":"\u2028"}` {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	if _, err := s.FindProcess(ctx, "P"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
	if got, err := s.Blocks(ctx, 0, 10); err != nil || len(got) != 1 {
		t.Errorf("after reopen: blocks %v, %v", got, err)
	}
	if seen, err := s.MessageSeenBefore(ctx, "P", e.MessageID, 0, 100); err != nil || !seen {
		t.Errorf("after reopen: seen %v, %v", seen, err)
	}
}

func TestWALCheckpointLoop(t *testing.T) {
	s, _ := openTest(t, Options{WALCheckpointInterval: 5 * time.Millisecond, WALCheckpointBytes: 1})
	ctx := t.Context()
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{eval("P", 1, "1", "", `{}`)}, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.checkpoints.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no WAL checkpoint ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Writes keep working alongside the loop.
	for i := range 20 {
		if err := s.SaveEvaluations(ctx, []*ao.Evaluation{eval("P", int64(i+2), "1", "", `{}`)}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.loopDone:
	default:
		t.Error("WAL loop still running after Close")
	}
}

func TestCloseStopsLoop(t *testing.T) {
	s, _ := openTest(t, Options{})
	select {
	case <-s.loopDone:
		t.Fatal("loop ended before Close")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.loopDone:
	default:
		t.Error("WAL loop still running after Close")
	}
}
