package sqlitestore

import (
	"path/filepath"
	"testing"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/storetest"
)

// TestStoreSuite runs the behavioural suite shared with pgstore, each test
// on its own database file.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, storetest.Opener(
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "ao-cache.sqlite") },
		func(t *testing.T, path string) ao.Store {
			t.Helper()
			s, err := Open(t.Context(), path, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	))
}
