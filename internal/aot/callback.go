package aot

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// aocuAotHostCall is the one Go function the modules' import trampolines
// reach (through host.c's rt_host_call): it runs import idx of the instance
// ctx names. 0: the result is in *ret; 1: the import failed (the error, or
// the panic, is kept on the Instance for its Call).
//
//export aocuAotHostCall
func aocuAotHostCall(ctx C.uintptr_t, idx C.int, args *C.uint64_t, nargs C.int, ret *C.uint64_t) (rc C.int) {
	i := cgo.Handle(ctx).Value().(*Instance)
	defer func() {
		if p := recover(); p != nil {
			i.hostErr, i.hostPanic, i.panicked = nil, p, true
			rc = 1
		}
	}()
	var a []uint64
	if nargs > 0 {
		a = unsafe.Slice((*uint64)(unsafe.Pointer(args)), int(nargs))
	}
	r, err := i.host.CallImport(int(idx), a)
	if err != nil {
		i.hostErr = err
		return 1
	}
	*ret = C.uint64_t(r)
	return 0
}
