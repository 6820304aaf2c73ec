// Package testbin gives tests that run aocu as a separate process its binary:
// built from this tree once per test binary, or the prebuilt one that
// AOCU_TEST_BIN names.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Aocu returns the aocu binary, building ./cmd/aocu into a temporary
// directory the first time; a build failure fails t.
func Aocu(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if bin := os.Getenv("AOCU_TEST_BIN"); bin != "" {
			built.path = bin
			return
		}
		dir, err := os.MkdirTemp("", "aocu-test-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "aocu")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/aocu")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/aocu: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
