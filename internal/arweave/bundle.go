package arweave

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Bundle headers store numbers as 32-byte little-endian integers.
func readU256(b []byte) (uint64, bool) {
	for _, c := range b[8:32] {
		if c != 0 {
			return 0, false
		}
	}
	return binary.LittleEndian.Uint64(b), true
}

func appendU256(b []byte, n uint64) []byte {
	b = binary.LittleEndian.AppendUint64(b, n)
	return append(b, make([]byte, 24)...)
}

// ParseBundle parses an ANS-104 bundle (Bundle-Format binary, Bundle-Version
// 2.0.0): a 32-byte item count, then per item a 32-byte size and its 32-byte
// id, then the items back to back. Each item is parsed (structure only; call
// Verify on each to check signatures), its id must match the header, and no
// bytes may follow the last item. The items alias b.
func ParseBundle(b []byte) ([]*DataItem, error) {
	if len(b) < 32 {
		return nil, errorf(ErrMalformed, "bundle: truncated at offset 0: need 32 bytes for the item count, have %d", len(b))
	}
	count, ok := readU256(b[:32])
	if !ok || count > uint64(len(b)-32)/64 {
		return nil, errorf(ErrMalformed, "bundle: item count %s needs %s header bytes, only %d bytes follow",
			u256String(b[:32]), headerBytes(b[:32]), len(b)-32)
	}
	n := int(count)
	off := 32 + 64*n
	items := make([]*DataItem, 0, n)
	for i := 0; i < n; i++ {
		h := b[32+64*i : 32+64*(i+1)]
		size, ok := readU256(h[:32])
		if !ok || size > uint64(len(b)-off) {
			return nil, errorf(ErrMalformed, "bundle: item %d (id %s) is %s bytes, but only %d bytes are left at offset %d",
				i, B64Encode(h[32:]), u256String(h[:32]), len(b)-off, off)
		}
		raw := b[off : off+int(size)]
		d, err := ParseDataItem(raw)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("bundle: item %d (at offset %d)", i, off), err)
		}
		if id := d.RawID(); !bytes.Equal(id[:], h[32:]) {
			return nil, errorf(ErrMalformed, "bundle: item %d header id %s does not match the item's id %s", i, B64Encode(h[32:]), d.ID())
		}
		items = append(items, d)
		off += int(size)
	}
	if off != len(b) {
		return nil, errorf(ErrMalformed, "bundle: %d bytes after the last item (at offset %d)", len(b)-off, off)
	}
	return items, nil
}

// BuildBundle encodes signed items as an ANS-104 bundle, in order, as
// arbundles' bundleAndSignData lays them out.
func BuildBundle(items []*DataItem) ([]byte, error) {
	raws := make([][]byte, len(items))
	total := 32 + 64*len(items)
	for i, d := range items {
		raw, err := d.Bytes()
		if err != nil {
			return nil, prefixed(fmt.Sprintf("bundle: item %d", i), err)
		}
		raws[i] = raw
		total += len(raw)
	}
	b := make([]byte, 0, total)
	b = appendU256(b, uint64(len(items)))
	for i, raw := range raws {
		b = appendU256(b, uint64(len(raw)))
		id := items[i].RawID()
		b = append(b, id[:]...)
	}
	for _, raw := range raws {
		b = append(b, raw...)
	}
	return b, nil
}

func u256String(b []byte) string {
	if v, ok := readU256(b); ok {
		return fmt.Sprint(v)
	}
	return "0x" + fmt.Sprintf("%x", reverse(b))
}

func headerBytes(b []byte) string {
	if v, ok := readU256(b); ok && v <= 1<<57 {
		return fmt.Sprint(64 * v)
	}
	return "more than 2^63"
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}
