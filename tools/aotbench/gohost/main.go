// Command gohost runs scripts/aotbench.sh's harness, built as a shared
// object, inside a Go process: the compiled aos module on a goroutine locked
// to its OS thread, called through cgo, with the Go runtime's own signal
// handlers installed and its garbage collector kept busy by another
// goroutine. It shows that the ahead-of-time code, its guard-page fault
// handler (which chains to the Go runtime's for faults outside linear
// memory) and its timeout by signal (a POSIX timer aimed at the thread,
// siglongjmp out of the wasm code) work and keep their speed in a Go process,
// as they would in aocu (docs/aot-tier.md). After the harness it checks that
// a nil dereference in Go still becomes a panic.
//
//	gohost HARNESS.so ENV.json MESSAGES.jsonl SKIP OUTPUTS MEMORY
//
// The arguments after the shared object are the harness's; so are its
// output and exit status (AOT_TIMEOUT_MS as for the harness).
package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*harness_main)(int, char**);

static int run_harness(void* entry, int argc, char** argv) {
	int status = ((harness_main)entry)(argc, argv);
	fflush(stdout);
	fflush(stderr);
	return status;
}
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gohost HARNESS.so ARGS...")
		os.Exit(2)
	}
	status, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gohost:", err)
		os.Exit(2)
	}
	// The harness's fault handler now sits in front of the Go runtime's: a
	// nil dereference in Go must still become a panic.
	if err := goFault(); err == nil || !strings.Contains(err.Error(), "nil pointer dereference") {
		fmt.Fprintf(os.Stderr, "gohost: a nil dereference in Go after the harness: %v\n", err)
		os.Exit(2)
	}
	os.Exit(status)
}

// goFault dereferences a nil pointer as a Go bug would and returns the panic
// the runtime made of it.
func goFault() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var p *int
	return fmt.Errorf("read %d without a fault", *p)
}

// run loads the shared object and calls its harness entry with args on this
// goroutine's locked thread while another goroutine allocates.
func run(so string, args []string) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cso := C.CString(so)
	defer C.free(unsafe.Pointer(cso))
	lib := C.dlopen(cso, C.RTLD_NOW|C.RTLD_LOCAL)
	if lib == nil {
		return 0, fmt.Errorf("dlopen %s: %s", so, C.GoString(C.dlerror()))
	}
	sym := C.CString("aot_harness_main")
	defer C.free(unsafe.Pointer(sym))
	entry := C.dlsym(lib, sym)
	if entry == nil {
		return 0, fmt.Errorf("%s has no aot_harness_main", so)
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go churn(ctx, done)
	defer func() { stop(); <-done }()

	// argv in C memory: "harness", the arguments, NULL.
	cargv := (**C.char)(C.calloc(C.size_t(len(args)+2), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	defer C.free(unsafe.Pointer(cargv))
	argv := unsafe.Slice(cargv, len(args)+2)
	argv[0] = C.CString("harness")
	for i, a := range args {
		argv[i+1] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	return int(C.run_harness(entry, C.int(len(args)+1), cargv)), nil
}

// churn keeps the garbage collector busy until ctx ends: 64 KiB of garbage
// every millisecond (a collection every few milliseconds with a small heap).
func churn(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	var keep [][]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			keep = append(keep, make([]byte, 64<<10))
			if len(keep) > 64 {
				keep = keep[:0]
			}
		}
	}
}
