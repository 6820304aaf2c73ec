// Package memimage is the compact on-disk form of a process memory: a magic
// header, the memory's length and its zstd compression. A fresh aos process
// holds 110 MB of linear memory of which about 2 MB is not zero; zstd turns
// the zero runs into almost nothing, so a drained process or a file
// checkpoint costs what the process holds, not its linear memory size.
// Decode also accepts a raw memory file (the reference CU's file checkpoints
// and aocu's older files). It does no I/O.
package memimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// magic starts every compact image.
var magic = [8]byte{'A', 'O', 'C', 'U', 'M', 'E', 'M', '1'}

const headerLen = len(magic) + 8

// IsCompact reports whether b is a compact image.
func IsCompact(b []byte) bool {
	return len(b) >= headerLen && bytes.Equal(b[:len(magic)], magic[:])
}

// Encode returns the compact image of mem.
func Encode(mem []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	defer enc.Close()
	out := make([]byte, headerLen, headerLen+len(mem)/64)
	copy(out, magic[:])
	binary.LittleEndian.PutUint64(out[len(magic):], uint64(len(mem)))
	return enc.EncodeAll(mem, out), nil
}

// Decode returns the memory of a compact image, or b itself when it is a raw
// memory. max bounds the decoded size (0: no bound).
func Decode(b []byte, max int64) ([]byte, error) {
	if !IsCompact(b) {
		return b, nil
	}
	n := binary.LittleEndian.Uint64(b[len(magic):headerLen])
	if max > 0 && n > uint64(max) {
		return nil, fmt.Errorf("memimage: image of %d bytes is larger than the %d allowed", n, max)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(n+1<<16))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	defer dec.Close()
	mem, err := dec.DecodeAll(b[headerLen:], make([]byte, 0, n))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	if uint64(len(mem)) != n {
		return nil, errors.New("memimage: truncated image")
	}
	return mem, nil
}
