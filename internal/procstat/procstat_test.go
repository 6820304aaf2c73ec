//go:build linux

package procstat

import (
	"crypto/sha256"
	"os"
	"testing"
	"time"
)

// This test process's own figures: resident memory within its peak, CPU time
// that grows with work done, a load average read.
func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	rss, hwm, err := Mem(pid)
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("Mem = %d, %d, %v", rss, hwm, err)
	}
	before, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for start := time.Now(); time.Since(start) < 150*time.Millisecond; {
		sha256.Sum256(buf)
	}
	after, err := CPU(pid)
	if err != nil || after <= before {
		t.Fatalf("CPU %v then %v after 150 ms of hashing, %v", before, after, err)
	}
	if l := LoadAvg(); l < 0 {
		t.Fatalf("LoadAvg = %v", l)
	}
	if _, err := CPU(-1); err == nil {
		t.Fatal("CPU of no process answered")
	}
}
