//go:build linux

package engine

import "syscall"

// setThreadPriority sets the nice value of the calling OS thread (the
// caller has locked its goroutine to it); best effort: raising it back from
// a lower priority may be refused without CAP_SYS_NICE.
func setThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
