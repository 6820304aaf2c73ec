//go:build !linux

package loader

func allocImage(n int) (buf []byte, release func()) { return make([]byte, n), func() {} }

func populate(b []byte) {}

func zeroMemory(b []byte) bool { clear(b); return false }

func touchedPages(b []byte) ([]bool, int, bool) { return nil, 0, false }

func mappedDataPages(b []byte) ([]bool, int, bool) { return nil, 0, false }
