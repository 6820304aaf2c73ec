package pgstore

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3" // the reference semantics of seqBefore

	"github.com/aocu/aocu/internal/ao"
)

func i64(v int64) *int64 { return &v }

func count(t *testing.T, conn *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// The reference's Postgres schema (pg.js): tables, columns and their types,
// keys and indexes, plus idx_evaluations_id_collate_c.
func TestSchemaIsTheReferences(t *testing.T) {
	_, conn := openTest(t)
	ctx := t.Context()

	rows, err := conn.Query(ctx, `SELECT table_name, column_name, data_type, collation_name
  FROM information_schema.columns WHERE table_schema = current_schema()
  ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for rows.Next() {
		var table, col, typ string
		var coll *string
		if err := rows.Scan(&table, &col, &typ, &coll); err != nil {
			t.Fatal(err)
		}
		if coll != nil {
			t.Errorf("%s.%s has collation %s, want the default", table, col, *coll)
		}
		got[table] = append(got[table], col+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"processes": {"id text", "signature text", "data text", "anchor text", "owner text", "tags text", "block text"},
		"blocks":    {"id bigint", "height bigint", "timestamp bigint"},
		"modules":   {"id text", "owner text", "tags text"},
		"evaluations": {"id text", "processId text", "messageId text", "deepHash text", "nonce bigint", "epoch bigint",
			"timestamp bigint", "ordinate text", "blockHeight bigint", "cron text", "output text", "evaluatedAt bigint"},
		"messages":         {"id text", "processId text", "seq text"},
		"checkpoints":      {"id text", "processId text", "timestamp bigint", "ordinate text", "cron text", "memory text", "evaluation text"},
		"checkpoint_files": {"id text", "processId text", "timestamp bigint", "ordinate text", "cron text", "file text", "evaluation text", "cachedAt bigint"},
		// aocu's own table, beside the reference's.
		"aocu_module_binaries": {"id text", "sha256 text", "size bigint"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns\n got %v\nwant %v", got, want)
	}

	rows, err = conn.Query(ctx, `SELECT tablename, indexname, indexdef FROM pg_indexes
  WHERE schemaname = current_schema() ORDER BY tablename, indexname`)
	if err != nil {
		t.Fatal(err)
	}
	var idx []string
	for rows.Next() {
		var table, name, def string
		if err := rows.Scan(&table, &name, &def); err != nil {
			t.Fatal(err)
		}
		// The definition without "ON <schema>.<table> USING btree".
		def = def[strings.Index(def, " USING btree ")+len(" USING btree "):]
		if strings.HasPrefix(def, "(") {
			idx = append(idx, table+" "+name+" "+def)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantIdx := []string{
		`aocu_module_binaries aocu_module_binaries_pkey (id)`,
		`blocks blocks_pkey (id)`,
		`blocks idx_blocks_height_timestamp (height, "timestamp")`,
		`checkpoint_files checkpoint_files_pkey (id)`,
		`checkpoint_files checkpoint_files_processId_key ("processId")`,
		`checkpoints checkpoints_pkey (id)`,
		`checkpoints idx_checkpoint_files_processid_timestamp ("processId", "timestamp")`, // sic, as the reference
		`checkpoints idx_checkpoints_processid_timestamp ("processId", "timestamp")`,
		`evaluations evaluations_pkey (id)`,
		`evaluations idx_evaluations_id_collate_c (id COLLATE "C")`, // the one addition
		`messages idx_messages_id_processid_seq (id, "processId", seq)`,
		`messages messages_pkey (id, "processId")`,
		`modules modules_pkey (id)`,
		`processes processes_pkey (id)`,
	}
	if !slices.Equal(idx, wantIdx) {
		t.Errorf("indexes\n got %q\nwant %q", idx, wantIdx)
	}
}

// The columns hold what the reference writes: JSON.stringify'd owner, tags
// and block, NULL data, the output bytes as given, NULLs for what is absent.
func TestColumnsAsTheReferenceWritesThem(t *testing.T) {
	s, conn := openTest(t)
	ctx := t.Context()
	p := &ao.Process{
		ID: "P1", Signature: "sig", Anchor: "anchor",
		Owner: ao.Owner{Address: "addr", Key: "key"},
		Tags:  []ao.Tag{{Name: "Type", Value: "Process"}, {Name: "Html", Value: "<a>&é\u2028"}},
		Block: ao.Block{Height: 1500000, Timestamp: 1700000000123},
	}
	if err := s.SaveProcess(ctx, p); err != nil {
		t.Fatal(err)
	}
	var owner, tags, block string
	var dataNull bool
	if err := conn.QueryRow(ctx, `SELECT owner, tags, block, data IS NULL FROM processes WHERE id = 'P1'`).Scan(&owner, &tags, &block, &dataNull); err != nil {
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

	out := "{ \"Output\" :\t\"\u2028 é 😀\", \"n\": 1.50e+300 }\n"
	sched := &ao.Evaluation{ProcessID: "P", MessageID: "m", Nonce: i64(1), Epoch: i64(0), Timestamp: 1700000000123,
		Ordinate: "1", BlockHeight: 7, Output: []byte(out), EvaluatedAt: 1700000000999}
	cron := &ao.Evaluation{ProcessID: "P", Timestamp: 1700000010123, Ordinate: "1", Cron: "0-10-seconds",
		BlockHeight: 8, Output: []byte(`{}`), EvaluatedAt: 1}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{sched, cron}, false); err != nil {
		t.Fatal(err)
	}
	var same bool
	var pid, mid string
	var nonce, epoch, bh, evAt int64
	var dhNull, cronNull bool
	err := conn.QueryRow(ctx, `SELECT output = $1, "processId", "messageId", nonce, epoch, "blockHeight", "evaluatedAt",
    "deepHash" IS NULL, cron IS NULL FROM evaluations WHERE id = 'P,1700000000123,1'`, out).
		Scan(&same, &pid, &mid, &nonce, &epoch, &bh, &evAt, &dhNull, &cronNull)
	if err != nil {
		t.Fatal(err)
	}
	if !same || pid != "P" || mid != "m" || nonce != 1 || epoch != 0 || bh != 7 || evAt != 1700000000999 || !dhNull || !cronNull {
		t.Errorf("scheduled row: output same %v, %s %s %d %d %d %d, deepHash NULL %v, cron NULL %v", same, pid, mid, nonce, epoch, bh, evAt, dhNull, cronNull)
	}
	var nonceNull, epochNull, midNull bool
	var cronText string
	if err := conn.QueryRow(ctx, `SELECT nonce IS NULL, epoch IS NULL, "messageId" IS NULL, cron FROM evaluations WHERE id = 'P,1700000010123,1,0-10-seconds'`).
		Scan(&nonceNull, &epochNull, &midNull, &cronText); err != nil {
		t.Fatal(err)
	}
	if !nonceNull || !epochNull || !midNull || cronText != "0-10-seconds" {
		t.Errorf("cron row: nonce NULL %v, epoch NULL %v, messageId NULL %v, cron %q", nonceNull, epochNull, midNull, cronText)
	}
	var msgs []string
	rows, err := conn.Query(ctx, `SELECT id || ' ' || "processId" || ' ' || seq FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		rows.Scan(&m)
		msgs = append(msgs, m)
	}
	if !slices.Equal(msgs, []string{"m P 0:1"}) {
		t.Errorf("messages = %q", msgs)
	}

	if err := s.SaveBlocks(ctx, []ao.Block{{Height: 1234, Timestamp: 5678}}); err != nil {
		t.Fatal(err)
	}
	var id, height, ts int64
	if err := conn.QueryRow(ctx, `SELECT id, height, timestamp FROM blocks`).Scan(&id, &height, &ts); err != nil || id != 1234 || height != 1234 || ts != 5678 {
		t.Errorf("blocks row %d %d %d, %v", id, height, ts, err)
	}

	if err := s.SaveCheckpoint(ctx, &ao.Checkpoint{TxID: "tx", Encoding: "gzip", Evaluation: ao.CheckpointEvaluation{ProcessID: "P", Timestamp: 5, Ordinate: "2"}}); err != nil {
		t.Fatal(err)
	}
	var cid, mem string
	if err := conn.QueryRow(ctx, `SELECT id, memory FROM checkpoints`).Scan(&cid, &mem); err != nil || cid != "P,5,2" || mem != `{"id":"tx","encoding":"gzip"}` {
		t.Errorf("checkpoints row %s %s, %v", cid, mem, err)
	}
}

func TestInvalidOwnerRowIsDeleted(t *testing.T) {
	s, conn := openTest(t)
	ctx := t.Context()
	// Rows in the reference's deprecated format: owner is a bare address.
	if _, err := conn.Exec(ctx, `INSERT INTO processes (id, owner, tags, block) VALUES ('P', 'addr', '[]', '{"height":1,"timestamp":2}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO modules (id, owner, tags) VALUES ('M', 'addr', '[]'), ('N', NULL, '[]')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindProcess(ctx, "P"); !errors.Is(err, ao.ErrNotFound) {
		t.Errorf("FindProcess(invalid) = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"M", "N"} {
		if _, err := s.FindModule(ctx, id); !errors.Is(err, ao.ErrNotFound) {
			t.Errorf("FindModule(%s) = %v, want ErrNotFound", id, err)
		}
	}
	if n := count(t, conn, "processes") + count(t, conn, "modules"); n != 0 {
		t.Errorf("%d invalid rows left", n)
	}
}

// A database the reference CU created and wrote: the store opens it (adding
// only its index) and reads the rows.
func TestOpensAReferenceDatabase(t *testing.T) {
	needPostgres(t)
	u := newSchema(t, testURL)
	conn := adminConn(t, u)
	ctx := t.Context()
	for _, stmt := range schema {
		if stmt == IDIndexSQL {
			continue
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	// As the reference's saveEvaluation, saveProcess and saveBlocks write them.
	for _, stmt := range []string{
		`INSERT INTO evaluations (id, "processId", "messageId", "deepHash", nonce, epoch, timestamp, ordinate, "blockHeight", cron, "evaluatedAt", output)
      VALUES ('P,1700000000123,2', 'P', 'm2', NULL, 2, 0, 1700000000123, '2', 1500000, NULL, 1700000000200, '{"Messages":[],"Output":{"data":"hi"},"GasUsed":3}')`,
		`INSERT INTO evaluations (id, "processId", "messageId", "deepHash", nonce, epoch, timestamp, ordinate, "blockHeight", cron, "evaluatedAt", output)
      VALUES ('P,1700000000123,10', 'P', 'm10', 'dh', 10, 0, 1700000000123, '10', 1500000, NULL, 1700000000300, '{"Output":"ten"}')`,
		`INSERT INTO messages (id, "processId", seq) VALUES ('m2', 'P', '0:2'), ('dh', 'P', '0:10')`,
		`INSERT INTO processes (id, signature, data, anchor, owner, tags, block)
      VALUES ('P', 'sig', NULL, NULL, '{"address":"a","key":"k"}', '[{"name":"Type","value":"Process"}]', '{"height":1,"timestamp":2}')`,
		`INSERT INTO blocks (id, height, timestamp) VALUES (5, 5, 50)`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	s := openURL(t, u, Options{})
	got, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID() != "P,1700000000123,10" || got[1].ID() != "P,1700000000123,2" ||
		string(got[1].Output) != `{"Messages":[],"Output":{"data":"hi"},"GasUsed":3}` || got[0].DeepHash != "dh" || *got[0].Nonce != 10 {
		t.Errorf("Evaluations = %+v", got)
	}
	if !seenBefore(t, s, "P", "dh", 0, 11) || seenBefore(t, s, "P", "m2", 0, 2) {
		t.Error("messages rows not read")
	}
	if p, err := s.FindProcess(ctx, "P"); err != nil || p.Owner.Key != "k" || p.Tags[0].Value != "Process" || p.Anchor != "" {
		t.Errorf("FindProcess = %+v, %v", p, err)
	}
	if b, err := s.Blocks(ctx, 0, 100); err != nil || len(b) != 1 || b[0] != (ao.Block{Height: 5, Timestamp: 50}) {
		t.Errorf("Blocks = %v, %v", b, err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'idx_evaluations_id_collate_c'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("idx_evaluations_id_collate_c: %d, %v", n, err)
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func seenBefore(t *testing.T, s *Store, pid, id string, epoch, nonce int64) bool {
	t.Helper()
	ok, err := s.MessageSeenBefore(t.Context(), pid, id, epoch, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// The range queries are served by idx_evaluations_id_collate_c (in the test
// database and in the ICU one alike), not by a scan of the table.
func TestRangeQueriesUseTheIndex(t *testing.T) {
	needPostgres(t)
	for _, name := range []string{"default", "icu"} {
		t.Run(name, func(t *testing.T) {
			base := testURL
			if name == "icu" {
				base = icuURL(t)
			}
			u := newSchema(t, base)
			s := openURL(t, u, Options{})
			conn := adminConn(t, u)
			ctx := t.Context()
			var batch []*ao.Evaluation
			for i := range 2000 {
				batch = append(batch, &ao.Evaluation{ProcessID: fmt.Sprintf("P%02d", i%20), Timestamp: int64(i), Ordinate: "1",
					MessageID: fmt.Sprint(i), Nonce: i64(1), Epoch: i64(0), Output: []byte(`{}`)})
			}
			if err := s.SaveEvaluations(ctx, batch, false); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `ANALYZE evaluations`); err != nil {
				t.Fatal(err)
			}
			queries := map[string]string{
				"Evaluations": `SELECT ` + evaluationCols + ` FROM evaluations WHERE ` + idRange + ` ORDER BY ` + orderBy(false) + ` LIMIT $3`,
				"LatestEvaluation": `SELECT ` + evaluationCols + ` FROM evaluations WHERE id = (
          SELECT id FROM evaluations WHERE ` + idRange + ` ORDER BY ` + orderBy(true) + ` LIMIT 1)`,
			}
			for qname, q := range queries {
				args := []any{"P03,", "P03,\U0010FFFF"}
				if qname == "Evaluations" {
					args = append(args, int64(10))
				}
				rows, err := conn.Query(ctx, `EXPLAIN `+q, args...)
				if err != nil {
					t.Fatal(err)
				}
				var plan []string
				for rows.Next() {
					var line string
					rows.Scan(&line)
					plan = append(plan, line)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				p := strings.Join(plan, "\n")
				if !strings.Contains(p, "idx_evaluations_id_collate_c") || strings.Contains(p, "Seq Scan") {
					t.Errorf("%s plan:\n%s", qname, p)
				}
			}
		})
	}
}

// seqBefore is the reference's SQLite WHERE clause, for every seq, even odd
// ones (checked against SQLite itself).
func TestSeqBeforeMatchesSQLite(t *testing.T) {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmt, err := db.Prepare(`SELECT
      CAST(substr(?1, instr(?1, ':') + 1) as UNSIGNED) < ?2
      OR
        (
          CAST(SUBSTR(?1, 1, INSTR(?1, ':') - 1) AS INTEGER) = ?2
          AND CAST(SUBSTR(?1, INSTR(?1, ':') + 1) AS INTEGER) < ?3
        )`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	seqs := []string{
		"0:3", "0:0", "2:7", "0:5000000000", "5000000000:1", "", ":", "abc", "3", "0:", ":5", " 1: 2", "\t7:\n8 ",
		"+1:+2", "-1:-2", "1.5:2.5", "1.0:2.0", "0:5.", "0:.5", "0:-.5", "1e1:1e1", "0:2E-1", "0:1e400", "0:-1e400",
		"0x10:0x10", "0:3abc", "1abc:3", "1:2:3", "٣:٣", "NaN:inf", "- 1:+ 2", "0:9223372036854775807",
		"0:9223372036854775808", "99999999999999999999:1", "0:99999999999999999999", "-99999999999999999999:-99999999999999999999",
		"0:9007199254740993", "0:9007199254740993.0", "0:1e18", "0:123456789012345678.5",
	}
	vals := []int64{math.MinInt64, -2, -1, 0, 1, 2, 3, 4, 7, 8, 10, 1 << 53, 9007199254740992, 9007199254740993,
		1e18, 1<<62 + 1, 5000000000, math.MaxInt64}
	for _, seq := range seqs {
		for _, epoch := range vals {
			for _, nonce := range vals {
				var want bool
				if err := stmt.QueryRow(seq, epoch, nonce).Scan(&want); err != nil {
					t.Fatalf("sqlite %q %d %d: %v", seq, epoch, nonce, err)
				}
				if got := seqBefore(seq, epoch, nonce); got != want {
					t.Errorf("seqBefore(%q, %d, %d) = %v, SQLite says %v", seq, epoch, nonce, got, want)
				}
			}
		}
	}
}

func TestOpenOptions(t *testing.T) {
	needPostgres(t)
	u := newSchema(t, testURL)
	cases := []struct {
		url  string
		opts Options
		max  int32
		idle time.Duration
	}{
		{u, Options{}, DefaultMaxConns, DefaultMaxConnIdleTime},
		{withParams(u, map[string]string{"pool_max_conns": "3", "pool_max_conn_idle_time": "1m"}), Options{}, 3, time.Minute},
		{withParams(u, map[string]string{"pool_max_conns": "3"}), Options{MaxConns: 5}, 5, DefaultMaxConnIdleTime},
	}
	for _, c := range cases {
		s := openURL(t, c.url, c.opts)
		if cfg := s.pool.Config(); cfg.MaxConns != c.max || cfg.MaxConnIdleTime != c.idle {
			t.Errorf("Open(%s, %+v): MaxConns %d, MaxConnIdleTime %v; want %d, %v", c.url, c.opts, cfg.MaxConns, cfg.MaxConnIdleTime, c.max, c.idle)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, u := range []string{
		"",
		"postgres://u:secret@127.0.0.1:1/db?connect_timeout=2&sslmode=disable",
		"postgres://u:secret@[::1/db",
		"host=/nonexistent/dir user=u password=secret connect_timeout=2",
	} {
		s, err := Open(ctx, u, Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if !strings.HasPrefix(err.Error(), "pgstore: open") || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v", u, err)
		}
	}
	// A search_path naming no schema: nothing to create the tables in.
	needPostgres(t)
	if s, err := Open(ctx, withParams(testURL, map[string]string{"search_path": "aocu_no_such_schema"}), Options{}); err == nil {
		s.Close()
		t.Error("Open without a schema to create in succeeded")
	}
}

// A role that may use the tables but not create anything in the schema
// opens a database made beforehand: Open runs no DDL when the schema is
// complete.
func TestOpenWithoutCreatePrivilege(t *testing.T) {
	needPostgres(t)
	u := newSchema(t, testURL)
	s := openURL(t, u, Options{}) // creates the schema
	s.Close()
	conn := adminConn(t, u)
	ctx := t.Context()
	var rnd [4]byte
	crand.Read(rnd[:])
	role := "aocu_t_user_" + hex.EncodeToString(rnd[:])
	if _, err := conn.Exec(ctx, `CREATE ROLE `+role+` LOGIN PASSWORD 'pw'`); err != nil {
		t.Skipf("cannot create a role: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := conn.Exec(ctx, `DROP OWNED BY `+role); err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if _, err := conn.Exec(ctx, `DROP ROLE `+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	for _, stmt := range []string{
		`GRANT USAGE ON SCHEMA ` + pgx.Identifier{currentSchema(t, conn)}.Sanitize() + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + pgx.Identifier{currentSchema(t, conn)}.Sanitize() + ` TO ` + role,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	limited := withParams(u, map[string]string{"user": role, "password": "pw"})
	s = openURL(t, limited, Options{})
	e := &ao.Evaluation{ProcessID: "P", Timestamp: 1, Ordinate: "1", MessageID: "m", Nonce: i64(1), Epoch: i64(0), Output: []byte(`{}`)}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{e}, false); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LatestEvaluation(ctx, "P"); err != nil || got.ID() != e.ID() {
		t.Errorf("LatestEvaluation = %v, %v", got, err)
	}
	// With an object missing, Open must create it, which this role cannot.
	if _, err := conn.Exec(ctx, `DROP INDEX idx_evaluations_id_collate_c`); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, limited, Options{}); err == nil {
		s.Close()
		t.Error("Open without CREATE created the index")
	} else if !strings.Contains(err.Error(), "create schema") {
		t.Errorf("Open = %v", err)
	}
}

func currentSchema(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// CUs starting at once on a new database: one creates the schema, the others
// wait for it.
func TestConcurrentOpen(t *testing.T) {
	needPostgres(t)
	u := newSchema(t, testURL)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			s, err := Open(t.Context(), u, Options{})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.SaveBlocks(t.Context(), []ao.Block{{Height: 1, Timestamp: 1}})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestErrorsAreWrapped(t *testing.T) {
	s, conn := openTest(t)
	ctx := t.Context()
	bad := &ao.Evaluation{ProcessID: "P", Timestamp: 1, Ordinate: "1", Output: []byte(`{"broken":`)}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{bad}, false); err == nil || !strings.HasPrefix(err.Error(), "pgstore: save evaluations: P,1,1: ") {
		t.Errorf("SaveEvaluations(invalid) = %v", err)
	}
	// PostgreSQL's TEXT takes no NUL byte: the server's error, wrapped, and
	// nothing of the batch is stored.
	ok := &ao.Evaluation{ProcessID: "P", Timestamp: 1, Ordinate: "1", Output: []byte(`{}`), MessageID: "m", Nonce: i64(1), Epoch: i64(0)}
	nul := &ao.Evaluation{ProcessID: "P", Timestamp: 2, Ordinate: "2", Output: []byte(`{}`), MessageID: "m\x00", Nonce: i64(2), Epoch: i64(0)}
	err := s.SaveEvaluations(ctx, []*ao.Evaluation{ok, nul}, false)
	if err == nil || !strings.HasPrefix(err.Error(), "pgstore: save evaluations: ") {
		t.Errorf("SaveEvaluations(NUL) = %v", err)
	}
	if n := count(t, conn, "evaluations") + count(t, conn, "messages"); n != 0 {
		t.Errorf("failed batch left %d rows", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindEvaluation(ctx, "P,1,1"); err == nil || !strings.HasPrefix(err.Error(), "pgstore: find evaluation P,1,1: ") {
		t.Errorf("FindEvaluation after Close = %v", err)
	}
}

// A deadlock aborts one of two transactions: it is retried, and both
// batches land.
func TestDeadlockIsRetried(t *testing.T) {
	needPostgres(t)
	u := newSchema(t, testURL)
	var logBuf syncBuffer
	s := openURL(t, u, Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	conn := adminConn(t, u)
	ctx := t.Context()
	// Hold a row lock from outside so that a batch waits, then make the
	// outside transaction wait on the batch: PostgreSQL aborts one of the
	// two, and when it is the batch, the retry lands it.
	e1 := &ao.Evaluation{ProcessID: "P", Timestamp: 1, Ordinate: "1", Output: []byte(`{"a":1}`)}
	e2 := &ao.Evaluation{ProcessID: "P", Timestamp: 2, Ordinate: "2", Output: []byte(`{"b":1}`)}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `INSERT INTO evaluations (id, "processId", output) VALUES ($1, 'P', '{"outside":1}')`, e2.ID()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.SaveEvaluations(ctx, []*ao.Evaluation{e1, e2}, false) }()
	// Wait until the batch waits on the outside lock (it holds e1's row).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch never waited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The batch waited first, so its deadlock check (after deadlock_timeout)
	// finds the cycle first: it is the victim, and this insert goes through.
	_, outsideErr := tx.Exec(ctx, `INSERT INTO evaluations (id, "processId", output) VALUES ($1, 'P', '{"outside":2}')`, e1.ID())
	tx.Rollback(ctx) // let the retry through
	if err := <-done; err != nil {
		t.Fatalf("SaveEvaluations = %v", err)
	}
	if outsideErr != nil {
		t.Logf("the outside transaction was the deadlock's victim (%v): no retry to test", outsideErr)
	} else if !strings.Contains(logBuf.String(), "retrying transaction") || !strings.Contains(logBuf.String(), "40P01") {
		t.Errorf("no retry logged: %s", logBuf.String())
	}
	for _, e := range []*ao.Evaluation{e1, e2} {
		if got, err := s.FindEvaluation(ctx, e.ID()); err != nil || string(got.Output) != string(e.Output) {
			t.Errorf("FindEvaluation(%s) = %+v, %v", e.ID(), got, err)
		}
	}
}
