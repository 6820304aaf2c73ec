//go:build linux

package engine

import "syscall"

// lowerThreadPriority gives the calling OS thread the lowest scheduling
// priority (nice 19); best effort.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
