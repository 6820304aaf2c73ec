//go:build !linux

package engine

// lowerThreadPriority is Linux only.
func lowerThreadPriority() {}
