package aot

import (
	"errors"
	"fmt"
)

// wasmImport is an entry of a wasm module's import section.
type wasmImport struct {
	module, name string
	kind         byte // 0 function, 1 table, 2 memory, 3 global, 4 tag
}

// wasmImports reads the import section of a wasm binary, in order (wasm2c's
// header lists imports in another order; Host indices follow the section).
func wasmImports(b []byte) ([]wasmImport, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("aot: not a wasm binary")
	}
	p := 8
	bad := errors.New("aot: malformed wasm binary")
	uleb := func() (uint64, error) {
		var v uint64
		for shift := 0; shift < 64; shift += 7 {
			if p >= len(b) {
				return 0, bad
			}
			c := b[p]
			p++
			v |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return v, nil
			}
		}
		return 0, bad
	}
	name := func() (string, error) {
		n, err := uleb()
		if err != nil || uint64(len(b)-p) < n {
			return "", bad
		}
		s := string(b[p : p+int(n)])
		p += int(n)
		return s, nil
	}
	limits := func() error {
		if p >= len(b) {
			return bad
		}
		flags := b[p]
		p++
		if _, err := uleb(); err != nil {
			return err
		}
		if flags&1 != 0 {
			if _, err := uleb(); err != nil {
				return err
			}
		}
		return nil
	}
	for p < len(b) {
		id := b[p]
		p++
		size, err := uleb()
		if err != nil || uint64(len(b)-p) < size {
			return nil, bad
		}
		end := p + int(size)
		if id != 2 {
			p = end
			continue
		}
		n, err := uleb()
		if err != nil {
			return nil, err
		}
		var ims []wasmImport
		for range n {
			var im wasmImport
			if im.module, err = name(); err != nil {
				return nil, err
			}
			if im.name, err = name(); err != nil {
				return nil, err
			}
			if p >= end {
				return nil, bad
			}
			im.kind = b[p]
			p++
			switch im.kind {
			case 0: // type index
				_, err = uleb()
			case 1: // reftype, limits
				p++
				err = limits()
			case 2:
				err = limits()
			case 3: // valtype, mutability
				p += 2
			case 4: // attribute, type index
				p++
				_, err = uleb()
			default:
				return nil, fmt.Errorf("aot: import %s.%s of unknown kind %d", im.module, im.name, im.kind)
			}
			if err != nil {
				return nil, err
			}
			ims = append(ims, im)
		}
		return ims, nil
	}
	return nil, nil
}
