package memstore

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/storetest"
)

// TestStoreSuite runs the behavioural suite shared with sqlitestore and
// pgstore, each test on its own DB.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, storetest.Opener(
		func(*testing.T) *DB { return NewDB() },
		func(t *testing.T, db *DB) ao.Store {
			s := Open(db)
			t.Cleanup(func() { s.Close() })
			return s
		},
	))
}

func i64(v int64) *int64 { return &v }

// The store keeps its own copies: changing what was saved or what was read
// does not change the row.
func TestRowsAreCopies(t *testing.T) {
	s := New()
	ctx := t.Context()
	e := &ao.Evaluation{ProcessID: "P", MessageID: "m", Nonce: i64(1), Epoch: i64(0), Timestamp: 1, Ordinate: "1",
		Output: json.RawMessage(`{"a":1}`)}
	if err := s.SaveEvaluations(ctx, []*ao.Evaluation{e}, false); err != nil {
		t.Fatal(err)
	}
	e.Output[2] = 'X'
	*e.Nonce = 9
	got, err := s.FindEvaluation(ctx, "P,1,1")
	if err != nil || string(got.Output) != `{"a":1}` || *got.Nonce != 1 {
		t.Fatalf("after changing the saved value: %+v, %v", got, err)
	}
	got.Output[2] = 'Y'
	*got.Epoch = 5
	for _, read := range []func() (*ao.Evaluation, error){
		func() (*ao.Evaluation, error) { return s.FindEvaluation(ctx, "P,1,1") },
		func() (*ao.Evaluation, error) { return s.LatestEvaluation(ctx, "P") },
		func() (*ao.Evaluation, error) {
			evs, err := s.Evaluations(ctx, ao.RangeQuery{ProcessID: "P"})
			if err != nil || len(evs) != 1 {
				return nil, errors.Join(err, errors.New("not one row"))
			}
			return evs[0], nil
		},
	} {
		if got, err := read(); err != nil || string(got.Output) != `{"a":1}` || *got.Epoch != 0 {
			t.Errorf("after changing a read value: %+v, %v", got, err)
		}
	}

	p := &ao.Process{ID: "P", Owner: ao.Owner{Address: "a"}, Tags: []ao.Tag{{Name: "n", Value: "v"}}}
	if err := s.SaveProcess(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Tags[0].Value = "changed"
	if got, err := s.FindProcess(ctx, "P"); err != nil || got.Tags[0].Value != "v" {
		t.Errorf("process after changing the saved value: %+v, %v", got, err)
	}
}

// Separate DBs share nothing; a closed Store errors with ErrClosed while
// another Store on its DB goes on.
func TestDatabasesAndClose(t *testing.T) {
	ctx := t.Context()
	db := NewDB()
	a, b, other := Open(db), Open(db), New()
	if err := a.SaveBlocks(ctx, []ao.Block{{Height: 1, Timestamp: 2}}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Blocks(ctx, 0, 10); err != nil || len(got) != 1 {
		t.Errorf("same DB: %v, %v", got, err)
	}
	if got, err := other.Blocks(ctx, 0, 10); err != nil || len(got) != 0 {
		t.Errorf("other DB: %v, %v", got, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Blocks(ctx, 0, 10); !errors.Is(err, ErrClosed) || !strings.HasPrefix(err.Error(), "memstore: blocks from 0 to 10: ") {
		t.Errorf("Blocks after Close = %v", err)
	}
	if _, err := a.FindFileCheckpoint(ctx, "P"); !errors.Is(err, ErrClosed) {
		t.Errorf("FindFileCheckpoint after Close = %v", err)
	}
	if got, err := b.Blocks(ctx, 0, 10); err != nil || len(got) != 1 {
		t.Errorf("other store after Close: %v, %v", got, err)
	}
	if got, err := Open(db).Blocks(ctx, 0, 10); err != nil || len(got) != 1 {
		t.Errorf("reopened: %v, %v", got, err)
	}
}

// The package builds without cgo or a database driver.
func TestNoCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		switch {
		case dep == "runtime/cgo", dep == "database/sql", strings.HasPrefix(dep, "github.com/mattn/"), strings.HasPrefix(dep, "github.com/jackc/"):
			t.Errorf("depends on %s", dep)
		}
	}
}
