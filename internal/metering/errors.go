package metering

import (
	"errors"
	"fmt"
)

// ErrorKind classifies why Meter refused a module.
type ErrorKind int

const (
	// KindUnsupportedOpcode: an opcode byte the reference toolkit does not know (0xfc bulk memory / saturating
	// truncation, 0xfd SIMD, ref.*, select t, table.*, exceptions, tail calls, ...), or the input ends where
	// an opcode is expected.
	KindUnsupportedOpcode ErrorKind = iota + 1
	// KindUnknownSection: a section id above 12.
	KindUnknownSection
	// KindUnknownImportKind: an import whose kind byte is not 0..3 (function, table, memory, global).
	KindUnknownImportKind
	// KindNumberTooLarge: a LEB128 number that must fit in a JS number is >= 2^53 (bn.js toNumber asserts), or
	// an index becomes 2^53 after the +1 shift (bn.js refuses to encode it).
	KindNumberTooLarge
	// KindMeteringImport: the module already imports metering.usegas.
	KindMeteringImport
	// KindMalformed: a structural problem the reference trips over with a TypeError: a function body whose
	// last metering segment has no closing branch op (no final `end`), or a code section without a preceding
	// function/type section.
	KindMalformed
	// KindLimit: inputs on which the reference would not finish (it would try to build gigabytes of entries
	// past the end of a truncated module, or re-encode call indices >= 1e21 as garbage). Meter refuses them.
	KindLimit
	// KindBadMeterType: meterType is not "i32" or "i64".
	KindBadMeterType
)

// Error is returned by Meter. For every kind except KindLimit and KindBadMeterType the reference meterWASM
// throws on the same input; RefError is the exception it throws (as printed by node 20, "Name: message").
type Error struct {
	Kind     ErrorKind
	Offset   int64 // byte offset in the input where the problem was found, -1 if not applicable
	Msg      string
	RefError string
}

func (e *Error) Error() string {
	s := "metering: " + e.Msg
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	if e.RefError != "" {
		s += " (the reference wasm-metering cannot meter this module either: it throws " + e.RefError + ")"
	}
	return s
}

// Exceptions thrown by the reference (node 20 wording).
const (
	refSplit       = "TypeError: Cannot read properties of undefined (reading 'split')"
	refSection     = "TypeError: sectionParsers[header.name] is not a function"
	refImportKind  = "TypeError: _exports.typeParsers[entry.kind] is not a function"
	refToNumber    = "Error: Number can only safely store up to 53 bits"
	refAssert      = "Error: Assertion failed"
	refMetering    = "Error: importing metering function is not allowed"
	refReadName    = "TypeError: Cannot read properties of undefined (reading 'name')"
	refReadEntries = "TypeError: Cannot read properties of undefined (reading 'entries')"
)

// IsUnsupported reports whether err is a refusal that the reference shares (any *Error except KindLimit and
// KindBadMeterType): the module cannot be metered by @permaweb/wasm-metering either.
func IsUnsupported(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.RefError != ""
}
