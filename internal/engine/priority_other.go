//go:build !linux

package engine

// setThreadPriority is Linux only.
func setThreadPriority(nice int) {}
