package servecmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// testDB returns the DB_URL of a fresh database for one CU: SQLite under dir,
// or, with AOCU_TEST_DB=postgres, a new database on the PostgreSQL server of
// AOCU_TEST_POSTGRES_URL (scripts/test.sh runs this package both ways),
// dropped after the test.
func testDB(t testing.TB, dir string) string {
	t.Helper()
	if os.Getenv("AOCU_TEST_DB") != "postgres" {
		return filepath.Join(dir, "ao-cache")
	}
	base := os.Getenv("AOCU_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("AOCU_TEST_DB=postgres needs AOCU_TEST_POSTGRES_URL (scripts/postgres.sh prints one)")
	}
	return newPostgresDB(t, base)
}

// newPostgresDB creates a database of its own on the server at base (dropped
// when the test ends) and returns its URL.
func newPostgresDB(t testing.TB, base string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "aocu_e2e_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
