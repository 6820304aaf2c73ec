//go:build !linux

package loader

func allocImage(n int) (buf []byte, release func()) { return make([]byte, n), func() {} }

func populate(b []byte) {}

func zeroMemory(b []byte) { clear(b) }
