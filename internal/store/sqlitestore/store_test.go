package sqlitestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
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

// evaluation is a scheduled message's evaluation of process P at ts (ms),
// nonce and ordinate n.
func evaluation(ts, n int64, output string) *ao.Evaluation {
	return &ao.Evaluation{ProcessID: "P", MessageID: fmt.Sprintf("msg-%d-%d", ts, n), Nonce: &n, Epoch: new(int64),
		Timestamp: ts, Ordinate: strconv.FormatInt(n, 10), BlockHeight: 1500000, Output: json.RawMessage(output), EvaluatedAt: ts + 5}
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
		"index idx_checkpoint_files_processId_timestamp": "checkpoints",          // sic, as the reference
		"table aocu_module_binaries":                     "aocu_module_binaries", // aocu's own
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
		"processes":            {"id", "signature", "data", "anchor", "owner", "tags", "block"},
		"blocks":               {"id", "height", "timestamp"},
		"modules":              {"id", "owner", "tags"},
		"evaluations":          {"id", "processId", "messageId", "deepHash", "nonce", "epoch", "timestamp", "ordinate", "blockHeight", "cron", "output", "evaluatedAt"},
		"messages":             {"id", "processId", "seq"},
		"checkpoints":          {"id", "processId", "timestamp", "ordinate", "cron", "memory", "evaluation"},
		"checkpoint_files":     {"id", "processId", "timestamp", "ordinate", "cron", "file", "evaluation", "cachedAt"},
		"aocu_module_binaries": {"id", "sha256", "size"},
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

// The columns hold what the reference writes (the behaviour through ao.Store
// is storetest's, in shared_test.go): JSON.stringify'd owner, tags and
// block, NULL data, the output as TEXT with its bytes as given, NULLs for
// what is absent, seq "<epoch>:<nonce>", blocks keyed by height.
func TestColumnsAsTheReferenceWritesThem(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	tags := []ao.Tag{{Name: "Type", Value: "Process"}, {Name: "Html", Value: "<a>&é\u2028"}}
	if err := errors.Join(
		s.SaveProcess(ctx, &ao.Process{ID: "P1", Signature: "sig", Anchor: "anchor", Owner: ao.Owner{Address: "addr", Key: "key"},
			Tags: tags, Block: ao.Block{Height: 1500000, Timestamp: 1700000000123}}),
		s.SaveModule(ctx, &ao.Module{ID: "M", Owner: ao.Owner{Address: "a", Key: "k"}, Tags: tags[:1]}),
	); err != nil {
		t.Fatal(err)
	}
	out := "{ \"Output\" :\t\"\u2028 é 😀\", \"big\": 123456789012345678901234567890, \"n\": 1.50e+300 }\n"
	sched := evaluation(1700000000123, 1, out)
	cron := &ao.Evaluation{ProcessID: "P", Timestamp: 1700000010123, Ordinate: "1", Cron: "0-10-seconds",
		BlockHeight: 8, Output: json.RawMessage(`{}`), EvaluatedAt: 1}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{sched, cron}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveBlocks(ctx, []ao.Block{{Height: 1234, Timestamp: 5678}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ query, want string }{
		{`SELECT owner FROM processes WHERE id = 'P1'`, `{"address":"addr","key":"key"}`},
		{`SELECT tags FROM processes WHERE id = 'P1'`, `[{"name":"Type","value":"Process"},{"name":"Html","value":"<a>&é` + "\u2028" + `"}]`},
		{`SELECT block FROM processes WHERE id = 'P1'`, `{"height":1500000,"timestamp":1700000000123}`},
		{`SELECT data IS NULL FROM processes WHERE id = 'P1'`, "1"},
		{`SELECT owner || tags FROM modules WHERE id = 'M'`, `{"address":"a","key":"k"}[{"name":"Type","value":"Process"}]`},
		{`SELECT group_concat(DISTINCT typeof(output)) FROM evaluations`, "text"},
		{`SELECT output FROM evaluations WHERE id = 'P,1700000000123,1'`, out},
		{`SELECT concat_ws(' ', processId, messageId, nonce, epoch, blockHeight, evaluatedAt, deepHash IS NULL, cron IS NULL)
      FROM evaluations WHERE id = 'P,1700000000123,1'`, "P " + sched.MessageID + " 1 0 1500000 1700000000128 1 1"},
		{`SELECT concat_ws(' ', nonce IS NULL, epoch IS NULL, messageId IS NULL, cron) FROM evaluations WHERE id = 'P,1700000010123,1,0-10-seconds'`,
			"1 1 1 0-10-seconds"},
		{`SELECT group_concat(id || ' ' || processId || ' ' || seq) FROM messages`, sched.MessageID + " P 0:1"},
		{`SELECT concat_ws(' ', id, height, timestamp) FROM blocks`, "1234 1234 5678"},
	} {
		var got string
		if err := s.r.QueryRow(c.query).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s\n got %q, %v\nwant %q", c.query, got, err, c.want)
		}
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

// Errors name the store and the call.
func TestErrorsAreWrapped(t *testing.T) {
	s, _ := openTest(t, Options{})
	bad := evaluation(1700000000003, 3, `{"broken":`)
	if err := s.SaveEvaluations(t.Context(), []*ao.Evaluation{bad}, false); err == nil || !strings.HasPrefix(err.Error(), "sqlitestore: save evaluations: P,1700000000003,3: ") {
		t.Errorf("SaveEvaluations(invalid) = %v", err)
	}
	if n := count(t, s, "evaluations") + count(t, s, "messages"); n != 0 {
		t.Errorf("failed batch left %d rows", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindEvaluation(t.Context(), "P,1,1"); err == nil || !strings.HasPrefix(err.Error(), "sqlitestore: find evaluation P,1,1: ") {
		t.Errorf("FindEvaluation after Close = %v", err)
	}
}

// Open creates the file's directory, and a reopened file has the data.
func TestOpenCreatesTheDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "ao-cache.sqlite")
	ctx := t.Context()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := evaluation(1700000000123, 1, `{"x":"\u2028"}`)
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{e}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.FindEvaluation(ctx, e.ID()); err != nil || string(got.Output) != `{"x":"\u2028"}` {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
}

// closeStopsLoop closes s and checks that its WAL loop has ended.
func closeStopsLoop(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.loopDone:
	default:
		t.Error("WAL loop still running after Close")
	}
}

func TestWALCheckpointLoop(t *testing.T) {
	s, _ := openTest(t, Options{WALCheckpointInterval: 5 * time.Millisecond, WALCheckpointBytes: 1})
	ctx := t.Context()
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{evaluation(1, 1, `{}`)}, false); err != nil {
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
		if err := s.SaveEvaluations(ctx, []*ao.Evaluation{evaluation(int64(i+2), 1, `{}`)}, false); err != nil {
			t.Fatal(err)
		}
	}
	closeStopsLoop(t, s)
}

func TestCloseStopsLoop(t *testing.T) {
	s, _ := openTest(t, Options{})
	select {
	case <-s.loopDone:
		t.Fatal("loop ended before Close")
	default:
	}
	closeStopsLoop(t, s)
}
