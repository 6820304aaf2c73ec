// Package metering reproduces, byte for byte, the gas metering that the reference ao loader
// (@permaweb/ao-loader@0.0.49) applies to the "wasm32-unknown-emscripten-metering" and
// "wasm64-unknown-emscripten-draft_2024_10_16-metering" module formats: meterWASM(binary, {meterType}) of
// @permaweb/wasm-metering@0.2.2 with its default cost table, including the quirks of the
// @permaweb/wasm-json-toolkit@0.2.9 parser/encoder it runs on (see Meter).
//
// At run time the metered module calls the import metering.usegas(n) (n is i32 or i64, the meterType) and
// the reference glue does `gas.used += Number(n); if (gas.used > gas.limit) throw Error('out of gas!')`;
// Gas implements that.
package metering

import (
	"errors"
	"fmt"
	"github.com/aocu/aocu/internal/ao"
	"math"
	"math/big"
	"strconv"
)

const (
	// ImportModule and ImportField name the function import that Meter appends after the module's own
	// imports: (import "metering" "usegas" (func (param i32|i64))).
	ImportModule = "metering"
	ImportField  = "usegas"

	// FormatWasm32Metering and FormatWasm64Metering are the Module-Format values the reference meters.
	FormatWasm32Metering = ao.FormatWasm32Metering
	FormatWasm64Metering = ao.FormatWasm64Metering
)

// MeterTypeForFormat returns the meterType the reference loader uses for a Module-Format ("i32" for
// wasm32-unknown-emscripten-metering, "i64" for wasm64-unknown-emscripten-draft_2024_10_16-metering), and
// false for every format that is not metered at load.
func MeterTypeForFormat(format string) (string, bool) {
	switch format {
	case FormatWasm32Metering:
		return "i32", true
	case FormatWasm64Metering:
		return "i64", true
	}
	return "", false
}

// pastEndLimit bounds how many entries Meter emulates after the input is exhausted. The reference keeps
// looping over `undefined` bytes for as many entries as a count claims: past ~10^8 entries node dies with a
// fatal "invalid size error", and long before that its encoder, which grows every section buffer with
// Buffer.concat one write at a time, needs quadratic time (minutes for 10^6 entries). Meter refuses such
// inputs instead (KindLimit).
const pastEndLimit = 1 << 14

// Meter rewrites a wasm binary exactly as @permaweb/wasm-metering 0.2.2 meterWASM(binary, {meterType}) does,
// with the default cost table, so that the metered module consumes identical gas. meterType is "i32" or
// "i64".
//
// What the reference does, and therefore Meter:
//   - The module is parsed by wasm-json-toolkit, which knows only the MVP opcodes plus sign extension
//     (0x00-0xc4 minus the gaps). Any other opcode (SIMD 0xfd, 0xfc bulk memory / trunc_sat, reference
//     types, ...) makes it throw, and Meter returns an *Error of KindUnsupportedOpcode.
//   - Every section except custom ones is decoded and re-encoded: LEB128 numbers come out minimal, section
//     sizes are recomputed (declared sizes of non-custom sections are ignored when parsing), type bytes the
//     toolkit does not know become 0x00, a function type keeps at most one result, init expressions are one
//     instruction followed by 0x0b whatever the byte after it was, names are decoded as UTF-8 with U+FFFD
//     replacement, and import/custom-section names get their JS (UTF-16) length as length prefix. Custom
//     sections (including "name") are copied unchanged, so the name section's function indices are NOT
//     shifted.
//   - A type (func (param meterType)) is appended to the type section and the import metering.usegas of that
//     type is appended after the existing imports (both sections are created if missing). Every function
//     index >= the number of imported functions is shifted by one in call instructions, exports, element
//     segments and the start section.
//   - Each function body is cut into segments that end at grow_memory, end, br, br_table, br_if, if, else,
//     return or loop (the ending op is part of the segment). Before each segment with a non-zero cost
//     (sum of the default cost table over its ops, see OpCost) "meterType.const (cost+91); call $usegas" is
//     inserted. Function types and locals cost nothing (the reference's table lookups for them miss).
//   - Nothing is validated: the magic/version bytes are copied as they are, and reading past the end of a
//     truncated input does not fail in the reference (bytes read as `undefined`, which the toolkit turns
//     into 0). Meter emulates that too, so a truncated or corrupt module yields the same error or the same
//     bytes as the reference (an input without sections, even an empty one, comes back unchanged), except
//     for the absurd inputs refused with KindLimit.
func Meter(wasm []byte, meterType string) ([]byte, error) {
	var meterByte byte
	switch meterType {
	case "i32":
		meterByte = 0x7f
	case "i64":
		meterByte = 0x7e
	default:
		return nil, &Error{Kind: KindBadMeterType, Offset: -1, Msg: "meterType must be \"i32\" or \"i64\", not " + strconv.Quote(meterType)}
	}
	m, err := parseModule(wasm)
	if err != nil {
		return nil, err
	}
	if err := m.meter(meterByte); err != nil {
		return nil, err
	}
	return m.encode(len(wasm))
}

// MeterInline meters wasm as Meter does, but the inserted calls go to a
// function appended to the module instead of the import: it adds the cost to
// the exported i64 global InlineUsedGlobal and calls metering.usegas (whose
// host side then throws "out of gas!") only when the global exceeds
// InlineLimitGlobal. The gas counted is the same as Meter's module counts
// through the import; a host call per metered segment is what this saves.
// Modules without function, global, export and code sections are refused
// (ErrNoInline); use Meter for them.
func MeterInline(wasm []byte, meterType string) ([]byte, error) {
	m, err := parseModule(wasm)
	if err != nil {
		return nil, err
	}
	have := map[byte]bool{}
	for _, s := range m.sections {
		have[s.id] = true
	}
	if !have[secFunction] || !have[secGlobal] || !have[secExport] || !have[secCode] || !have[secType] || !have[secImport] {
		return nil, ErrNoInline
	}
	var meterByte byte
	switch meterType {
	case "i32":
		meterByte = 0x7f
	case "i64":
		meterByte = 0x7e
	default:
		return nil, &Error{Kind: KindBadMeterType, Offset: -1, Msg: "meterType must be \"i32\" or \"i64\", not " + strconv.Quote(meterType)}
	}
	m.inline = true
	if err := m.meter(meterByte); err != nil {
		return nil, err
	}
	return m.encode(len(wasm))
}

// ErrNoInline is MeterInline's refusal of a module it cannot extend.
var ErrNoInline = errors.New("metering: the module lacks a section needed to inline gas counting")

// inlineBody is the appended function (param meterType):
//
//	used += n (sign-extended); if used > limit { usegas(n) }
func (m *module) inlineBody() []byte {
	g := m.importedGlobals + m.definedGlobals
	used, limit := appendULEB(nil, g), appendULEB(nil, g+1)
	b := []byte{0x00} // no locals
	b = append(b, 0x23)
	b = append(b, used...)
	b = append(b, 0x20, 0x00) // local.get 0
	if m.meterByte == 0x7f {
		b = append(b, 0xac) // i64.extend_i32_s
	}
	b = append(b, 0x7c, 0x24) // i64.add, global.set
	b = append(b, used...)
	b = append(b, 0x23)
	b = append(b, used...)
	b = append(b, 0x23)
	b = append(b, limit...)
	b = append(b, 0x55, 0x04, 0x40, 0x20, 0x00, 0x10) // i64.gt_s, if, local.get 0, call
	b = appendULEB(b, m.funcIndex)
	b = append(b, 0x0b, 0x0b) // end if, end
	return b
}

// Section ids (json2wasm SECTION_IDS).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secGlobal    = 6
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secExport    = 7
	secDataCount = 12
)

type module struct {
	preamble []byte // magic + version as read (up to 8 bytes, never checked)
	sections []*section

	meterByte     byte
	funcIndex     uint64 // index of the metering import (= imported functions counted so far)
	importTypeIdx uint64 // type index of the metering import (last type section wins)

	// Inline mode (MeterInline): the inserted calls go to an appended function
	// that counts gas in a global and calls the import only past the limit.
	inline          bool
	definedFuncs    uint64
	importedGlobals uint64
	definedGlobals  uint64
}

// Names of the globals MeterInline exports: the gas used in the current call
// and the limit above which the module calls metering.usegas (which throws).
const (
	InlineUsedGlobal  = "aocu_gas_used"
	InlineLimitGlobal = "aocu_gas_limit"
)

// callTarget is the function index the inserted calls go to.
func (m *module) callTarget() uint64 {
	if m.inline {
		return m.funcIndex + 1 + m.definedFuncs
	}
	return m.funcIndex
}

type section struct {
	id byte

	// custom
	name    []byte
	nameLen int // JS string length of the decoded name
	payload []byte

	// sections that are re-encoded from pre-encoded entries (type, import, function, table, memory, global,
	// data, data_count). For data_count, body is the encoded count and count is unused.
	count int
	body  []byte

	imports []importInfo // import
	exports []exportEntry
	start   uint64
	elems   []elemEntry
	bodies  []codeBody

	addType   bool // type: the metering type is appended
	addImport bool // import: the metering import is appended
}

type importInfo struct {
	isMetering bool // module "metering", field "usegas"
	isFunc     bool
	isGlobal   bool
	offset     int64
}

type exportEntry struct {
	name  []byte // length prefix + UTF-8 bytes
	kind  byte   // as written: 0..3, anything else becomes 0
	fn    bool   // kind was 'function'
	index uint64
}

type elemEntry struct {
	head  []byte // table index + init expression + 0x0b
	elems []uint64
}

type opRef struct {
	off uint32 // start of the op in codeBody.code
	op  byte
}

type codeBody struct {
	offset int64  // input offset of the body (for errors)
	locals []byte // encoded local declarations
	code   []byte // encoded ops, call immediates left out
	ops    []opRef
	calls  []leb // immediates of the call ops, in order
	out    []byte
}

// ---------------------------------------------------------------------------------------------------------
// parsing (wasm2json)

func errAt(kind ErrorKind, off int64, ref, format string, args ...any) *Error {
	return &Error{Kind: kind, Offset: off, Msg: fmt.Sprintf(format, args...), RefError: ref}
}

// num reads an unsigned LEB128 number that the toolkit converts with bn.js toNumber().
func (r *reader) num() (uint64, error) {
	off := r.pos
	l := r.uleb()
	if l.big != nil || l.v >= maxSafe {
		return 0, errAt(KindNumberTooLarge, off, refToNumber, "LEB128 number does not fit in 53 bits")
	}
	return l.v, nil
}

// loopGuard refuses to emulate more than pastEndLimit loop iterations once the input is exhausted.
func (r *reader) loopGuard(remaining uint64, what string) error {
	if remaining > pastEndLimit && r.end() {
		return errAt(KindLimit, r.pos, "", "truncated module: %d more %s declared after the end of the input (the reference would try to allocate them all)", remaining, what)
	}
	return nil
}

func parseModule(wasm []byte) (*module, error) {
	r := &reader{buf: wasm}
	m := &module{}
	m.preamble = append(m.preamble, r.read(4)...)
	m.preamble = append(m.preamble, r.read(4)...)
	for !r.end() {
		hdr := r.pos
		id := r.byte()
		size, err := r.num()
		if err != nil {
			return nil, err
		}
		if id > secDataCount {
			return nil, errAt(KindUnknownSection, hdr, refSection, "unknown section id %d", id)
		}
		s := &section{id: byte(id)}
		switch id {
		case secCustom:
			err = parseCustom(r, s, size)
		case secType:
			err = parseType(r, s)
		case secImport:
			err = parseImport(r, s)
		case secFunction:
			err = parseFunction(r, s)
		case 4: // table
			err = parseTable(r, s)
		case 5: // memory
			err = parseMemory(r, s)
		case 6: // global
			err = parseGlobal(r, s)
		case secExport:
			err = parseExport(r, s)
		case secStart:
			s.start, err = r.num()
		case secElement:
			err = parseElement(r, s)
		case secCode:
			err = parseCode(r, s)
		case 11: // data
			err = parseData(r, s)
		case secDataCount:
			var n uint64
			n, err = r.num()
			s.body = appendULEB(nil, n)
		}
		if err != nil {
			return nil, err
		}
		m.sections = append(m.sections, s)
	}
	return m, nil
}

func parseCustom(r *reader, s *section, size uint64) error {
	sub := &reader{buf: r.read(int64(size))}
	n, err := sub.num()
	if err != nil {
		return err
	}
	name := sub.read(int64(n))
	s.name, s.nameLen = jsString(name)
	if !sub.end() {
		s.payload = sub.buf[sub.pos:]
	}
	return nil
}

func parseType(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		if err := r.loopGuard(n-i, "types"); err != nil {
			return err
		}
		form := r.byte()
		np, err := r.num()
		if err != nil {
			return err
		}
		b = append(b, languageType(form))
		b = appendULEB(b, np)
		for q := uint64(0); q < np; q++ {
			if err := r.loopGuard(np-q, "parameter types"); err != nil {
				return err
			}
			b = append(b, languageType(r.byte()))
		}
		nr, err := r.num()
		if err != nil {
			return err
		}
		// Only one result type is read; it is written back only if it is a known type.
		if nr != 0 {
			if t := r.byte(); isLanguageType(t) {
				b = append(b, 1, byte(t))
			} else {
				b = append(b, 0)
			}
		} else {
			b = append(b, 0)
		}
	}
	s.count, s.body = int(n), b
	return nil
}

// appendJSName appends a JS string with its UTF-16 length as prefix (import and custom section names).
func appendJSName(dst, raw []byte) (out []byte, name []byte) {
	name, n := jsString(raw)
	dst = appendULEB(dst, uint64(n))
	return append(dst, name...), name
}

func parseLimits(r *reader, b []byte) ([]byte, error) {
	flags, err := r.num()
	if err != nil {
		return nil, err
	}
	initial, err := r.num()
	if err != nil {
		return nil, err
	}
	b = appendULEB(b, flags)
	b = appendULEB(b, initial)
	if flags%2 == 1 {
		max, err := r.num()
		if err != nil {
			return nil, err
		}
		b = appendULEB(b, max)
	}
	return b, nil
}

func parseImport(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		off := r.pos
		ml, err := r.num()
		if err != nil {
			return err
		}
		var mod, field []byte
		b, mod = appendJSName(b, r.read(int64(ml)))
		fl, err := r.num()
		if err != nil {
			return err
		}
		b, field = appendJSName(b, r.read(int64(fl)))
		kindOff := r.pos
		kind := r.byte()
		if kind < 0 || kind > 3 {
			return errAt(KindUnknownImportKind, kindOff, refImportKind, "import kind %d is not function/table/memory/global", kind)
		}
		b = append(b, byte(kind))
		switch kind {
		case 0: // function
			t, err := r.num()
			if err != nil {
				return err
			}
			b = appendULEB(b, t)
		case 1: // table
			b = append(b, languageType(r.byte()))
			if b, err = parseLimits(r, b); err != nil {
				return err
			}
		case 2: // memory
			if b, err = parseLimits(r, b); err != nil {
				return err
			}
		case 3: // global
			b = append(b, languageType(r.byte()), rawByte(r.byte()))
		}
		s.imports = append(s.imports, importInfo{
			isMetering: string(mod) == ImportModule && string(field) == ImportField,
			isFunc:     kind == 0,
			isGlobal:   kind == 3,
			offset:     off,
		})
	}
	s.count, s.body = int(n), b
	return nil
}

// rawByte is Buffer.from([x]) of a byte read with read(1)[0]: undefined becomes 0.
func rawByte(b int) byte {
	if b < 0 {
		return 0
	}
	return byte(b)
}

func parseFunction(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		if err := r.loopGuard(n-i, "functions"); err != nil {
			return err
		}
		t, err := r.num()
		if err != nil {
			return err
		}
		b = appendULEB(b, t)
	}
	s.count, s.body = int(n), b
	return nil
}

func parseTable(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		if err := r.loopGuard(n-i, "tables"); err != nil {
			return err
		}
		b = append(b, languageType(r.byte()))
		if b, err = parseLimits(r, b); err != nil {
			return err
		}
	}
	s.count, s.body = int(n), b
	return nil
}

func parseMemory(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		if err := r.loopGuard(n-i, "memories"); err != nil {
			return err
		}
		if b, err = parseLimits(r, b); err != nil {
			return err
		}
	}
	s.count, s.body = int(n), b
	return nil
}

// parseInitExpr reads one instruction and skips one byte (the toolkit's initExpr); it writes the
// instruction and 0x0b.
func parseInitExpr(r *reader, b []byte) ([]byte, error) {
	b, _, _, err := parseOp(r, b, false)
	if err != nil {
		return nil, err
	}
	r.read(1)
	return append(b, 0x0b), nil
}

func parseGlobal(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		b = append(b, languageType(r.byte()), rawByte(r.byte()))
		if b, err = parseInitExpr(r, b); err != nil {
			return err
		}
	}
	s.count, s.body = int(n), b
	return nil
}

func parseExport(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		if err := r.loopGuard(n-i, "exports"); err != nil {
			return err
		}
		l, err := r.num()
		if err != nil {
			return err
		}
		name, _ := jsString(r.read(int64(l)))
		e := exportEntry{name: append(appendULEB(nil, uint64(len(name))), name...)}
		switch kind := r.byte(); kind {
		case 0, 1, 2, 3:
			e.kind = byte(kind)
			e.fn = kind == 0
		}
		if e.index, err = r.num(); err != nil {
			return err
		}
		s.exports = append(s.exports, e)
	}
	return nil
}

func parseElement(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		idx, err := r.num()
		if err != nil {
			return err
		}
		e := elemEntry{head: appendULEB(nil, idx)}
		if e.head, err = parseInitExpr(r, e.head); err != nil {
			return err
		}
		ne, err := r.num()
		if err != nil {
			return err
		}
		for q := uint64(0); q < ne; q++ {
			if err := r.loopGuard(ne-q, "element indices"); err != nil {
				return err
			}
			v, err := r.num()
			if err != nil {
				return err
			}
			e.elems = append(e.elems, v)
		}
		s.elems = append(s.elems, e)
	}
	return nil
}

func parseData(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	var b []byte
	for i := uint64(0); i < n; i++ {
		idx, err := r.num()
		if err != nil {
			return err
		}
		b = appendULEB(b, idx)
		if b, err = parseInitExpr(r, b); err != nil {
			return err
		}
		size, err := r.num()
		if err != nil {
			return err
		}
		data := r.read(int64(size))
		b = appendULEB(b, uint64(len(data)))
		b = append(b, data...)
	}
	s.count, s.body = int(n), b
	return nil
}

func parseCode(r *reader, s *section) error {
	n, err := r.num()
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		if err := r.loopGuard(n-i, "function bodies"); err != nil {
			return err
		}
		cb := codeBody{offset: r.pos}
		size, err := r.num()
		if err != nil {
			return err
		}
		end := r.pos + int64(size)
		nl, err := r.num()
		if err != nil {
			return err
		}
		cb.locals = appendULEB(nil, nl)
		for q := uint64(0); q < nl; q++ {
			if err := r.loopGuard(nl-q, "local declarations"); err != nil {
				return err
			}
			c, err := r.num()
			if err != nil {
				return err
			}
			cb.locals = appendULEB(cb.locals, c)
			cb.locals = append(cb.locals, languageType(r.byte()))
		}
		for r.pos < end {
			start := len(cb.code)
			var op byte
			var call *leb
			cb.code, op, call, err = parseOp(r, cb.code, true)
			if err != nil {
				return err
			}
			if len(cb.code) > math.MaxUint32 {
				return errAt(KindLimit, cb.offset, "", "function body too large")
			}
			cb.ops = append(cb.ops, opRef{off: uint32(start), op: op})
			if call != nil {
				cb.calls = append(cb.calls, *call)
			}
		}
		s.bodies = append(s.bodies, cb)
	}
	return nil
}

// parseOp reads one instruction (the toolkit's parseOp) and appends its re-encoding to b. In a function body
// (inCode) the immediate of `call` is returned instead of written, because it is remapped later.
func parseOp(r *reader, b []byte, inCode bool) ([]byte, byte, *leb, error) {
	off := r.pos
	c := r.byte()
	if c < 0 {
		return nil, 0, nil, errAt(KindUnsupportedOpcode, off, refSplit, "unexpected end of input where an opcode is expected")
	}
	info := &opTable[c]
	if info.name == "" {
		return nil, 0, nil, errAt(KindUnsupportedOpcode, off, refSplit, "unsupported opcode 0x%02x", c)
	}
	op := byte(c)
	b = append(b, op)
	switch info.imm {
	case immBlockType:
		b = append(b, languageType(r.byte()))
	case immVaruint32:
		l := r.uleb()
		if inCode && op == 0x10 {
			return b, op, &l, nil
		}
		b = l.appendTo(b)
	case immBrTable:
		n, err := r.num()
		if err != nil {
			return nil, 0, nil, err
		}
		b = appendULEB(b, n)
		for i := uint64(0); i < n; i++ {
			if err := r.loopGuard(n-i, "br_table targets"); err != nil {
				return nil, 0, nil, err
			}
			t, err := r.num()
			if err != nil {
				return nil, 0, nil, err
			}
			b = appendULEB(b, t)
		}
		d, err := r.num()
		if err != nil {
			return nil, 0, nil, err
		}
		b = appendULEB(b, d)
	case immCallIndirect:
		t, err := r.num()
		if err != nil {
			return nil, 0, nil, err
		}
		b = appendULEB(b, t)
		b = append(b, rawByte(r.byte()))
	case immMemory:
		flags, err := r.num()
		if err != nil {
			return nil, 0, nil, err
		}
		offset, err := r.num()
		if err != nil {
			return nil, 0, nil, err
		}
		b = appendULEB(b, flags)
		b = appendULEB(b, offset)
	case immVaruint1:
		b = append(b, rawByte(r.byte()))
	case immVarint32, immVarint64:
		b = r.sleb().appendTo(b)
	case immUint32:
		b = append(b, r.read(4)...)
	case immUint64:
		b = append(b, r.read(8)...)
	}
	return b, op, nil, nil
}

// ---------------------------------------------------------------------------------------------------------
// metering (meterJSON)

func (m *module) has(id byte) bool {
	for _, s := range m.sections {
		if s.id == id {
			return true
		}
	}
	return false
}

// createSection inserts an empty section before the first non-custom section with a larger id (and does
// nothing if there is none).
func (m *module) createSection(id byte) {
	for i, s := range m.sections {
		if s.id != secCustom && id < s.id {
			m.sections = append(m.sections[:i], append([]*section{{id: id}}, m.sections[i:]...)...)
			return
		}
	}
}

func (m *module) meter(meterByte byte) error {
	m.meterByte = meterByte
	if !m.has(secType) {
		m.createSection(secType)
	}
	if !m.has(secImport) {
		m.createSection(secImport)
	}
	haveType, haveFunc := false, false
	for _, s := range m.sections {
		switch s.id {
		case secType:
			m.importTypeIdx = uint64(s.count)
			s.addType = true
			haveType = true
		case secFunction:
			haveFunc = true
			m.definedFuncs = uint64(s.count)
		case secGlobal:
			m.definedGlobals = uint64(s.count)
		case secImport:
			for _, im := range s.imports {
				if im.isMetering {
					return errAt(KindMeteringImport, im.offset, refMetering, "the module already imports %s.%s", ImportModule, ImportField)
				}
				if im.isFunc {
					m.funcIndex++
				}
				if im.isGlobal {
					m.importedGlobals++
				}
			}
			s.addImport = true
		case secExport:
			for i := range s.exports {
				if e := &s.exports[i]; e.fn && e.index >= m.funcIndex {
					e.index++
				}
			}
		case secElement:
			for i := range s.elems {
				for j, v := range s.elems[i].elems {
					if v >= m.funcIndex {
						s.elems[i].elems[j] = v + 1
					}
				}
			}
		case secStart:
			if s.start >= m.funcIndex {
				s.start++
			}
		case secCode:
			for i := range s.bodies {
				if !haveFunc || !haveType {
					return errAt(KindMalformed, s.bodies[i].offset, refReadEntries, "code section before the function or type section")
				}
				if err := m.meterBody(&s.bodies[i]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// meterBody is meterCodeEntry: the body's ops are cut into segments ending at a branching op, and each
// segment with a non-zero cost is preceded by "meterType.const cost; call funcIndex".
func (m *module) meterBody(cb *codeBody) error {
	out := make([]byte, 0, len(cb.locals)+len(cb.code)+len(cb.code)/4+16)
	out = append(out, cb.locals...)
	constOp := byte(0x41)
	if m.meterByte == 0x7e {
		constOp = 0x42
	}
	ops := cb.ops
	nextCall := 0
	var calls []leb // remapped call immediates of the current segment
	for i := 0; i < len(ops); {
		var cost int64
		j := i
		calls = calls[:0]
		for {
			if j >= len(ops) {
				return errAt(KindMalformed, cb.offset, refReadName, "function body does not end with a branching op (end, br, return, ...)")
			}
			o := ops[j]
			j++
			if o.op == 0x10 {
				v, err := m.remapCall(cb.calls[nextCall], cb.offset)
				if err != nil {
					return err
				}
				nextCall++
				calls = append(calls, v)
			}
			info := &opTable[o.op]
			cost += info.cost
			if info.branch {
				break
			}
		}
		if cost != 0 {
			cost += MeteringStatementCost
			out = append(out, constOp)
			out = appendSLEB(out, cost)
			out = append(out, 0x10)
			out = appendULEB(out, m.callTarget())
		}
		// copy the segment, writing the (remapped) call immediates
		k := 0
		for q := i; q < j; q++ {
			start := ops[q].off
			end := uint32(len(cb.code))
			if q+1 < len(ops) {
				end = ops[q+1].off
			}
			out = append(out, cb.code[start:end]...)
			if ops[q].op == 0x10 {
				out = calls[k].appendTo(out)
				k++
			}
		}
		i = j
	}
	cb.out = out
	cb.code, cb.ops, cb.calls = nil, nil, nil
	return nil
}

var (
	bigMaxSafe = new(big.Int).SetUint64(maxSafe)
	big1e21    = new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil)
)

// remapCall is remapOp: `if (op.immediates >= funcIndex) op.immediates = (++op.immediates).toString()`, with
// op.immediates a decimal string. Below 2^53 this is exact; above, it goes through a float64 like JS does.
func (m *module) remapCall(v leb, off int64) (leb, error) {
	if v.big == nil && v.v < maxSafe {
		if v.v >= m.funcIndex {
			v.v++
		}
		return v, nil
	}
	x := v.big
	if x == nil {
		x = new(big.Int).SetUint64(v.v)
	}
	if x.Cmp(bigMaxSafe) >= 0 && x.Cmp(big1e21) < 0 {
		// Number(str) rounds to the nearest double; ++ adds 1 in double precision; toString prints the
		// double's shortest decimal digits padded with zeros; bn.js parses that back.
		f, _ := new(big.Float).SetInt(x).Float64()
		f++
		s := strconv.FormatFloat(f, 'f', -1, 64)
		y, ok := new(big.Int).SetString(s, 10)
		if ok && y.Cmp(big1e21) < 0 {
			return leb{big: y}, nil
		}
	}
	return leb{}, errAt(KindLimit, off, "", "call index >= 1e21 (the reference would re-encode it as garbage)")
}

// ---------------------------------------------------------------------------------------------------------
// encoding (json2wasm)

func (m *module) encode(sizeHint int) ([]byte, error) {
	out := make([]byte, 0, sizeHint+sizeHint/4+64)
	out = append(out, m.preamble...)
	var p []byte
	for _, s := range m.sections {
		p = p[:0]
		switch s.id {
		case secCustom:
			p = appendULEB(p, uint64(s.nameLen))
			p = append(p, s.name...)
			p = append(p, s.payload...)
		case secStart:
			if s.start >= maxSafe {
				return nil, errAt(KindNumberTooLarge, -1, refAssert, "start function index 2^53 after the shift")
			}
			p = appendULEB(p, s.start)
		case secDataCount:
			p = append(p, s.body...)
		case secType:
			n := s.count
			if s.addType {
				n++
			}
			p = appendULEB(p, uint64(n))
			p = append(p, s.body...)
			if s.addType {
				p = append(p, 0x60, 1, m.meterByte, 0)
			}
		case secImport:
			n := s.count
			if s.addImport {
				n++
			}
			p = appendULEB(p, uint64(n))
			p = append(p, s.body...)
			if s.addImport {
				p = append(p, byte(len(ImportModule)))
				p = append(p, ImportModule...)
				p = append(p, byte(len(ImportField)))
				p = append(p, ImportField...)
				p = append(p, 0)
				p = appendULEB(p, m.importTypeIdx)
			}
		case secExport:
			n := len(s.exports)
			if m.inline {
				n += 2
			}
			p = appendULEB(p, uint64(n))
			if m.inline {
				g := m.importedGlobals + m.definedGlobals
				for i, name := range []string{InlineUsedGlobal, InlineLimitGlobal} {
					p = appendULEB(p, uint64(len(name)))
					p = append(p, name...)
					p = append(p, 3)
					p = appendULEB(p, g+uint64(i))
				}
			}
			for _, e := range s.exports {
				if e.index >= maxSafe {
					return nil, errAt(KindNumberTooLarge, -1, refAssert, "export index 2^53 after the shift")
				}
				p = append(p, e.name...)
				p = append(p, e.kind)
				p = appendULEB(p, e.index)
			}
		case secElement:
			p = appendULEB(p, uint64(len(s.elems)))
			for _, e := range s.elems {
				p = append(p, e.head...)
				p = appendULEB(p, uint64(len(e.elems)))
				for _, v := range e.elems {
					if v >= maxSafe {
						return nil, errAt(KindNumberTooLarge, -1, refAssert, "element index 2^53 after the shift")
					}
					p = appendULEB(p, v)
				}
			}
		case secCode:
			n := len(s.bodies)
			if m.inline {
				n++
			}
			p = appendULEB(p, uint64(n))
			for _, b := range s.bodies {
				p = appendULEB(p, uint64(len(b.out)))
				p = append(p, b.out...)
			}
			if m.inline {
				b := m.inlineBody()
				p = appendULEB(p, uint64(len(b)))
				p = append(p, b...)
			}
		case secFunction, secGlobal:
			n := uint64(s.count)
			if m.inline && s.id == secFunction {
				n++
			} else if m.inline {
				n += 2
			}
			p = appendULEB(p, n)
			p = append(p, s.body...)
			if m.inline && s.id == secFunction {
				p = appendULEB(p, m.importTypeIdx)
			} else if m.inline {
				// (global (mut i64) (i64.const 0)) twice: used, limit
				p = append(p, 0x7e, 0x01, 0x42, 0x00, 0x0b, 0x7e, 0x01, 0x42, 0x00, 0x0b)
			}
		default: // function, table, memory, global, data
			p = appendULEB(p, uint64(s.count))
			p = append(p, s.body...)
		}
		out = append(out, s.id)
		out = appendULEB(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out, nil
}
