package metering

import (
	"math/big"
)

// reader emulates the buffer-pipe@0.0.3 stream the reference toolkit parses with. Reading past the end does
// not fail there: read(n) returns the bytes that are left (maybe none) and still advances bytesRead by n, and
// read(1)[0] is undefined, which the toolkit's code then treats as 0 in LEB128 loops and in Buffer.from([...]).
// pos is that virtual bytesRead; byte() returns -1 for an undefined byte.
type reader struct {
	buf []byte
	pos int64
}

const maxPos = int64(1) << 60 // saturation bound for the virtual position (never reached by real data)

func (r *reader) end() bool { return r.pos >= int64(len(r.buf)) }

func (r *reader) pastEnd() bool { return r.pos > int64(len(r.buf)) }

func (r *reader) advance(n int64) {
	if n > maxPos-r.pos {
		r.pos = maxPos
		return
	}
	r.pos += n
}

func (r *reader) byte() int {
	p := r.pos
	r.advance(1)
	if p < int64(len(r.buf)) {
		return int(r.buf[p])
	}
	return -1
}

// read returns up to n bytes (fewer at the end of the input) and advances by n.
func (r *reader) read(n int64) []byte {
	p := r.pos
	r.advance(n)
	l := int64(len(r.buf))
	if p >= l {
		return nil
	}
	e := l
	if n < l-p {
		e = p + n
	}
	return r.buf[p:e]
}

// leb is an unsigned LEB128 value as bn.js reads it: any number of bytes, no overflow.
type leb struct {
	v   uint64
	big *big.Int // non-nil when the value does not fit in 64 bits
}

const maxSafe = uint64(1) << 53 // bn.js toNumber() asserts value < 2^53

// readLEBGroups reads the 7-bit groups of one LEB128 number (leb128@0.0.4 readBn: stops at a byte whose top
// bit is clear; an undefined byte counts as 0x00). It returns the groups and the value of the last byte
// (-1 if undefined).
func (r *reader) readLEBGroups(scratch []byte) ([]byte, int) {
	groups := scratch[:0]
	for {
		b := r.byte()
		if b < 0 {
			return append(groups, 0), -1
		}
		groups = append(groups, byte(b&0x7f))
		if b&0x80 == 0 {
			return groups, b
		}
	}
}

// groupsToBig builds the unsigned integer from little-endian 7-bit groups in linear time.
func groupsToBig(groups []byte) *big.Int {
	nbits := len(groups) * 7
	out := make([]byte, (nbits+7)/8) // little-endian bytes
	for i, g := range groups {
		bit := i * 7
		for k := 0; k < 7; k++ {
			if g&(1<<k) != 0 {
				p := bit + k
				out[p/8] |= 1 << (p % 8)
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return new(big.Int).SetBytes(out)
}

func groupsToU64(groups []byte) (uint64, bool) {
	var v uint64
	for i, g := range groups {
		if g == 0 {
			continue
		}
		shift := uint(i * 7)
		if shift >= 64 || (shift > 57 && uint64(g)>>(64-shift) != 0) {
			return 0, false
		}
		v |= uint64(g) << shift
	}
	return v, true
}

func (r *reader) uleb() leb {
	var scratch [16]byte
	groups, _ := r.readLEBGroups(scratch[:])
	if v, ok := groupsToU64(groups); ok {
		return leb{v: v}
	}
	return leb{big: groupsToBig(groups)}
}

// sleb is a signed LEB128 value as leb128@0.0.4 signed.readBn returns it.
type sleb struct {
	v   int64
	big *big.Int // non-nil when the value does not fit in 64 bits
}

func (r *reader) sleb() sleb {
	var scratch [16]byte
	groups, last := r.readLEBGroups(scratch[:])
	neg := last >= 0 && last&0x40 != 0
	if len(groups) <= 9 { // at most 63 bits: fits in int64 in both signs
		u, _ := groupsToU64(groups)
		if !neg {
			return sleb{v: int64(u)}
		}
		return sleb{v: int64(u) - int64(1)<<(7*len(groups))}
	}
	raw := groupsToBig(groups)
	if neg {
		raw.Sub(raw, new(big.Int).Lsh(big.NewInt(1), uint(7*len(groups))))
	}
	if raw.IsInt64() {
		return sleb{v: raw.Int64()}
	}
	return sleb{big: raw}
}

// appendULEB appends the minimal unsigned LEB128 encoding (leb128 unsigned.write).
func appendULEB(dst []byte, v uint64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

func appendULEBBig(dst []byte, v *big.Int) []byte {
	if v.IsUint64() {
		return appendULEB(dst, v.Uint64())
	}
	return appendGroups(dst, v, max(1, (v.BitLen()+6)/7))
}

// appendGroups writes the low 7*k bits of the non-negative m as k LEB128 bytes, in linear time.
func appendGroups(dst []byte, m *big.Int, k int) []byte {
	be := m.Bytes()
	bit := func(i int) byte { // bit i of m
		j := len(be) - 1 - i/8
		if j < 0 {
			return 0
		}
		return (be[j] >> (i % 8)) & 1
	}
	for g := 0; g < k; g++ {
		var b byte
		for q := 0; q < 7; q++ {
			b |= bit(g*7+q) << q
		}
		if g < k-1 {
			b |= 0x80
		}
		dst = append(dst, b)
	}
	return dst
}

func (l leb) appendTo(dst []byte) []byte {
	if l.big != nil {
		return appendULEBBig(dst, l.big)
	}
	return appendULEB(dst, l.v)
}

// appendSLEB appends the minimal signed LEB128 encoding (leb128 signed.write produces exactly this).
func appendSLEB(dst []byte, v int64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

func appendSLEBBig(dst []byte, v *big.Int) []byte {
	if v.IsInt64() {
		return appendSLEB(dst, v.Int64())
	}
	if v.Sign() >= 0 {
		return appendGroups(dst, v, (v.BitLen()+1+6)/7)
	}
	// minimal length: -2^(7k-1) <= v, i.e. bitlen(-v-1) <= 7k-1; then the k groups of v + 2^(7k)
	notV := new(big.Int).Neg(v)
	notV.Sub(notV, big.NewInt(1))
	k := (notV.BitLen() + 1 + 6) / 7
	m := new(big.Int).Lsh(big.NewInt(1), uint(7*k))
	m.Add(m, v)
	return appendGroups(dst, m, k)
}

func (s sleb) appendTo(dst []byte) []byte {
	if s.big != nil {
		return appendSLEBBig(dst, s.big)
	}
	return appendSLEB(dst, s.v)
}
