package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine's non-test build reaches the world only through its ports: no
// cgo (so no wasmtime, no SQLite driver), no HTTP, no database, no adapter.
func TestEngineDependsOnPortsOnly(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"runtime/cgo", "net/http", "database/sql", "github.com/mattn/", "github.com/jackc/",
		"github.com/bytecodealliance/", "github.com/aocu/aocu/internal/loader", "github.com/aocu/aocu/internal/suclient",
		"github.com/aocu/aocu/internal/gwclient", "github.com/aocu/aocu/internal/store/", "github.com/aocu/aocu/internal/cuhttp"}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, f := range forbidden {
			if dep == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the engine depends on %s", dep)
			}
		}
	}
}
