package pgstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/storetest"
)

// The tests run against a real PostgreSQL server: AOCU_TEST_POSTGRES_URL, or
// else the one scripts/postgres.sh makes available (installing and starting
// it if need be). Without one they are skipped, with the reason printed,
// except under CI=true, where that is a failure.
var (
	testURL    string // the server's database; each test works in its own schema
	skipReason string
	fromScript bool // testURL came from scripts/postgres.sh
)

func TestMain(m *testing.M) {
	testURL, skipReason = postgresURL()
	if testURL == "" {
		if ci() {
			fmt.Fprintf(os.Stderr, "pgstore: CI=true and no PostgreSQL server: %s\n", skipReason)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "pgstore: skipping the PostgreSQL tests: %s\n", skipReason)
	}
	os.Exit(m.Run())
}

func ci() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// postgresURL returns a reachable server's URL, or "" and why not.
func postgresURL() (string, string) {
	u := os.Getenv("AOCU_TEST_POSTGRES_URL")
	if u == "" {
		script, err := findScript()
		if err != nil {
			return "", err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return "", fmt.Sprintf("%s: %v: %s", script, err, tail(stderr.String(), 2000))
		}
		lines := strings.Fields(stdout.String())
		if len(lines) == 0 {
			return "", fmt.Sprintf("%s printed no URL: %s", script, tail(stderr.String(), 2000))
		}
		u = lines[len(lines)-1]
		fromScript = true
		if d := time.Since(start); d > 5*time.Second {
			fmt.Fprintf(os.Stderr, "pgstore: scripts/postgres.sh took %v\n", d.Round(time.Millisecond))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return "", fmt.Sprintf("cannot connect to %s: %v", redact(u), err)
	}
	conn.Close(ctx)
	return u, ""
}

// findScript finds scripts/postgres.sh in the module's root, above the
// package directory.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "postgres.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("AOCU_TEST_POSTGRES_URL is not set and %s is missing", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("AOCU_TEST_POSTGRES_URL is not set and the module root was not found")
		}
		dir = parent
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

func redact(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.User != nil {
		if _, ok := pu.User.Password(); ok {
			pu.User = url.UserPassword(pu.User.Username(), "xxx")
			return pu.String()
		}
	}
	return u
}

func needPostgres(t *testing.T) {
	t.Helper()
	if testURL == "" {
		t.Skip("no PostgreSQL server: " + skipReason)
	}
}

// withParams sets connection parameters (search_path, dbname, pool_*) on a
// postgres:// URL or a keyword/value string.
func withParams(base string, params map[string]string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		for k, v := range params {
			switch k {
			case "dbname":
				u.Path = "/" + v
				continue
			case "user":
				u.User = url.UserPassword(v, params["password"])
				continue
			case "password":
				continue
			}
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		base += fmt.Sprintf(" %s='%s'", k, strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v))
	}
	return base
}

func adminConn(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// newSchema creates an empty schema for test t in the database at base,
// dropped when t ends, and returns base with search_path set to it.
func newSchema(t *testing.T, base string) string {
	t.Helper()
	var rnd [5]byte
	rand.Read(rnd[:])
	name := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	name = "aocu_t_" + hex.EncodeToString(rnd[:]) + "_" + name
	if len(name) > 63 {
		name = name[:63]
	}
	conn := adminConn(t, base)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withParams(base, map[string]string{"search_path": name})
}

// openURL opens a Store on u, closed when t ends.
func openURL(t *testing.T, u string, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), u, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a Store on a new schema of the test database.
func openTest(t *testing.T) (*Store, *pgx.Conn) {
	t.Helper()
	needPostgres(t)
	u := newSchema(t, testURL)
	s := openURL(t, u, Options{})
	return s, adminConn(t, u)
}

// icuDatabase is a database whose default collation is ICU's en-US, where
// text does not sort byte-wise: an operator's database as the reference
// would have it, where every comparison of the store must still be SQLite's.
const icuDatabase = "aocu_test_icu"

// icuURL returns the URL of icuDatabase on the test server, creating the
// database if missing.
func icuURL(t *testing.T) string {
	t.Helper()
	needPostgres(t)
	conn := adminConn(t, testURL)
	ctx := t.Context()
	exists := func() bool {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, icuDatabase).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	if !exists() {
		_, err := conn.Exec(ctx, `CREATE DATABASE `+icuDatabase+` TEMPLATE template0 ENCODING 'UTF8'
			LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") && exists()) {
			if ci() && fromScript {
				t.Fatalf("create the ICU database: %v", err)
			}
			t.Skipf("cannot create a database with an ICU collation (PostgreSQL 15+ with ICU, CREATEDB): %v", err)
		}
	}
	return withParams(testURL, map[string]string{"dbname": icuDatabase})
}

// TestStoreSuite runs the behavioural suite shared with sqlitestore, each
// test in its own schema of the test database.
func TestStoreSuite(t *testing.T) {
	needPostgres(t)
	storetest.Run(t, storetest.Opener(
		func(t *testing.T) string { return newSchema(t, testURL) },
		func(t *testing.T, u string) ao.Store { return openURL(t, u, Options{}) },
	))
}

// TestStoreSuiteICU runs the suite again in a database whose collation is
// not byte-wise: the results must be the same.
func TestStoreSuiteICU(t *testing.T) {
	base := icuURL(t)
	storetest.Run(t, storetest.Opener(
		func(t *testing.T) string { return newSchema(t, base) },
		func(t *testing.T, u string) ao.Store { return openURL(t, u, Options{}) },
	))
}
