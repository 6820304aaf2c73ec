package metering

// Test modules: WAT sources (built with wasmtime.Wat2Wasm) and hand-assembled binaries for the encodings
// WAT cannot express.

import (
	"math/big"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

type call struct {
	name string
	args []any // int32 or int64
}

type watCase struct {
	name  string
	wat   string
	calls []call // exported functions to run for the gas comparison (nil: not run)
	limit float64
}

var watCases = []watCase{
	{name: "loops", wat: `(module
  (func $sum (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc)
          (i32.rem_u (i32.mul (local.get $i) (i32.const 7)) (i32.const 13))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $acc))
  (func (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $c i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $c (i32.add (local.get $c) (i32.xor (local.get $i) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $c)))`,
		calls: []call{{"sum", []any{int32(0)}}, {"sum", []any{int32(1)}}, {"sum", []any{int32(1000)}}, {"nested", []any{int32(40)}}}},

	{name: "loops-limited", wat: `(module
  (func (export "spin") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i)))`,
		calls: []call{{"spin", []any{int32(10)}}, {"spin", []any{int32(100000)}}, {"spin", []any{int32(1)}}},
		limit: 30000},

	{name: "branches", wat: `(module
  (func (export "classify") (param $x i32) (result i32)
    (block $d
      (block $c
        (block $b
          (block $a
            (br_table $a $b $c $d (local.get $x)))
          (return (i32.const 100)))
        (return (i32.div_s (i32.const 1000) (i32.add (local.get $x) (i32.const 1)))))
      (return (if (result i32) (i32.eqz (local.get $x)) (then (i32.const 1)) (else (i32.const 2)))))
    (if (i32.gt_s (local.get $x) (i32.const 10))
      (then (nop) (return (i32.const -1)))
      (else (drop (i32.const 3))))
    (select (i32.const 7) (i32.const 8) (i32.and (local.get $x) (i32.const 1))))
  (func (export "deep") (param $x i32) (result i32)
    (block (result i32)
      (block (result i32)
        (block (result i32)
          (br_if 2 (i32.const 5) (i32.eq (local.get $x) (i32.const 5)))
          (drop)
          (i32.const 9))))))`,
		calls: []call{{"classify", []any{int32(0)}}, {"classify", []any{int32(1)}}, {"classify", []any{int32(2)}},
			{"classify", []any{int32(3)}}, {"classify", []any{int32(4)}}, {"classify", []any{int32(11)}},
			{"deep", []any{int32(5)}}, {"deep", []any{int32(6)}}}},

	{name: "calls", wat: `(module
  (type $ii (func (param i32) (result i32)))
  (import "env" "ext_i32" (func $ext (param i32) (result i32)))
  (import "env" "ext_void" (func $void))
  (global $started (mut i32) (i32.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $double $ext $fac $square)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $square (type $ii) (i32.mul (local.get 0) (local.get 0)))
  (func $fac (type $ii)
    (if (result i32) (i32.le_s (local.get 0) (i32.const 1))
      (then (i32.const 1))
      (else (i32.mul (local.get 0) (call $fac (i32.sub (local.get 0) (i32.const 1)))))))
  (func $init (global.set $started (i32.const 42)) (call $void))
  (start $init)
  (func (export "indirect") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $ii) (local.get $x) (local.get $i)))
  (func (export "fac") (param i32) (result i32) (call $fac (local.get 0)))
  (func (export "mix") (param i32) (result i32)
    (call $void)
    (i32.add (call $ext (local.get 0)) (call $double (call $square (local.get 0)))))
  (func (export "started") (result i32) (global.get $started))
  (export "ext_reexport" (func $ext))
  (export "double" (func $double)))`,
		calls: []call{{"indirect", []any{int32(0), int32(5)}}, {"indirect", []any{int32(1), int32(5)}},
			{"indirect", []any{int32(2), int32(6)}}, {"indirect", []any{int32(3), int32(7)}},
			{"indirect", []any{int32(9), int32(7)}}, // out of table bounds: traps
			{"fac", []any{int32(10)}}, {"mix", []any{int32(3)}}, {"started", nil},
			{"ext_reexport", []any{int32(4)}}, {"double", []any{int32(21)}}}},

	{name: "memory", wat: `(module
  (memory (export "mem") 1 4)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08hello, world")
  (data (i32.const 100) "\ff\fe")
  (func (export "sum_bytes") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func (export "widths") (result i64)
    (i32.store offset=200 (i32.const 0) (i32.load16_s (i32.const 100)))
    (i64.store offset=208 (i32.const 0) (i64.load32_u (i32.const 0)))
    (i64.store8 (i32.const 216) (i64.load8_s (i32.const 101)))
    (i64.store16 (i32.const 218) (i64.load16_u (i32.const 2)))
    (i64.store32 (i32.const 220) (i64.load32_s (i32.const 4)))
    (i32.store8 (i32.const 224) (i32.load8_s (i32.const 5)))
    (i32.store16 (i32.const 226) (i32.load16_u (i32.const 6)))
    (f32.store (i32.const 228) (f32.load (i32.const 0)))
    (f64.store (i32.const 232) (f64.load (i32.const 8)))
    (i64.add (i64.load (i32.const 208)) (i64.extend_i32_s (i32.load (i32.const 200)))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "oob") (result i32) (i32.load (i32.const 1000000))))`,
		calls: []call{{"sum_bytes", []any{int32(20)}}, {"widths", nil}, {"grow", []any{int32(1)}},
			{"grow", []any{int32(10)}}, {"size", nil}, {"oob", nil}}},

	{name: "numeric", wat: `(module
  (func (export "i64ops") (param $a i64) (param $b i64) (result i64)
    (local $r i64)
    (local.set $r (i64.add (i64.mul (local.get $a) (local.get $b))
      (i64.div_s (local.get $a) (i64.or (local.get $b) (i64.const 1)))))
    (local.set $r (i64.xor (local.get $r) (i64.rem_u (local.get $a) (i64.const 97))))
    (local.set $r (i64.sub (local.get $r) (i64.rotl (local.get $b) (i64.const 13))))
    (local.set $r (i64.add (local.get $r) (i64.rotr (local.get $a) (i64.const 7))))
    (local.set $r (i64.add (local.get $r) (i64.shl (i64.clz (local.get $a)) (i64.const 3))))
    (local.set $r (i64.add (local.get $r) (i64.shr_s (i64.ctz (local.get $b)) (i64.const 1))))
    (local.set $r (i64.add (local.get $r) (i64.shr_u (i64.popcnt (local.get $a)) (i64.const 1))))
    (local.set $r (i64.and (local.get $r) (i64.const -9223372036854775808)))
    (local.set $r (i64.add (local.get $r) (i64.div_u (local.get $a) (i64.const 3))))
    (local.set $r (i64.add (local.get $r) (i64.rem_s (local.get $b) (i64.const 5))))
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_u (i64.eqz (local.get $a)))))
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_u (i64.lt_s (local.get $a) (local.get $b)))))
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_u (i64.ge_u (local.get $a) (local.get $b)))))
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_s (i64.ne (local.get $a) (local.get $b)))))
    (local.set $r (i64.add (local.get $r) (i64.extend8_s (local.get $a))))
    (local.set $r (i64.add (local.get $r) (i64.extend16_s (local.get $b))))
    (local.set $r (i64.add (local.get $r) (i64.extend32_s (local.get $a))))
    (i64.add (local.get $r) (i64.extend_i32_u (i32.wrap_i64 (local.get $b)))))
  (func (export "f64ops") (param $x i32) (result i64)
    (local $f f64)
    (local.set $f (f64.convert_i32_s (local.get $x)))
    (local.set $f (f64.add (f64.mul (local.get $f) (f64.const 1.5)) (f64.div (local.get $f) (f64.const 3))))
    (local.set $f (f64.add (f64.sqrt (f64.abs (local.get $f)))
      (f64.min (local.get $f) (f64.max (f64.floor (local.get $f)) (f64.ceil (f64.const -2.5))))))
    (local.set $f (f64.copysign (f64.nearest (local.get $f)) (f64.neg (f64.trunc (f64.const 1.7)))))
    (if (f64.lt (local.get $f) (f64.const 0)) (then (local.set $f (f64.neg (local.get $f)))))
    (local.set $f (f64.sub (local.get $f) (f64.promote_f32 (f32.const 0.25))))
    (i64.add (i64.reinterpret_f64 (local.get $f)) (i64.trunc_f64_s (local.get $f))))
  (func (export "f32ops") (param $x i32) (result i32)
    (local $f f32)
    (local.set $f (f32.convert_i32_u (local.get $x)))
    (local.set $f (f32.div (f32.add (local.get $f) (f32.const 0.5)) (f32.sqrt (f32.const 2))))
    (local.set $f (f32.max (f32.min (local.get $f) (f32.const 1e6)) (f32.demote_f64 (f64.const 3.25))))
    (i32.add (i32.reinterpret_f32 (local.get $f))
      (i32.add (i32.trunc_f32_u (local.get $f)) (i32.add (f32.gt (local.get $f) (f32.const 10))
        (f32.eq (local.get $f) (f32.const 3.25))))))
  (func (export "signext") (param i32) (result i32)
    (i32.add (i32.extend8_s (local.get 0)) (i32.extend16_s (local.get 0))))
  (func (export "bits") (param i32) (result i32)
    (i32.add (i32.clz (local.get 0)) (i32.add (i32.ctz (local.get 0)) (i32.popcnt (local.get 0)))))
  (func (export "tee") (param i32) (result i32) (local i32)
    (i32.add (local.tee 1 (i32.shr_u (local.get 0) (i32.const 1))) (i32.rotl (local.get 1) (i32.const 3)))))`,
		calls: []call{{"i64ops", []any{int64(123456789), int64(-987654321)}}, {"i64ops", []any{int64(0), int64(0)}},
			{"f64ops", []any{int32(-17)}}, {"f64ops", []any{int32(1000)}}, {"f32ops", []any{int32(77)}},
			{"signext", []any{int32(0x1ff80)}}, {"bits", []any{int32(0x00f0)}}, {"tee", []any{int32(99)}}}},

	{name: "globals", wat: `(module
  (import "env" "g" (global $g i32))
  (global $m (mut i64) (i64.const -5))
  (global $f (mut f64) (f64.const 2.5))
  (global (export "gexp") i32 (global.get $g))
  (func (export "bump") (param i64) (result i64)
    (global.set $m (i64.add (global.get $m) (local.get 0)))
    (global.set $f (f64.mul (global.get $f) (f64.const 2)))
    (i64.add (global.get $m) (i64.extend_i32_u (global.get $g)))))`,
		calls: []call{{"bump", []any{int64(10)}}, {"bump", []any{int64(-3)}}}},

	{name: "traps", wat: `(module
  (import "env" "ext_i64" (func $ext (param i64) (result i64)))
  (func (export "divzero") (param i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
    (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "unreach") (drop (i32.const 1)) (unreachable))
  (func (export "ext") (param i64) (result i64) (call $ext (i64.mul (local.get 0) (i64.const 3)))))`,
		calls: []call{{"divzero", []any{int32(1)}}, {"divzero", []any{int32(0)}}, {"unreach", nil},
			{"ext", []any{int64(5)}}}},

	{name: "memory64", wat: `(module
  (memory i64 1)
  (data (i64.const 16) "abcdefgh")
  (func (export "m64") (param i64) (result i64)
    (i64.store offset=64 (local.get 0) (i64.load (i64.const 16)))
    (drop (memory.grow (i64.const 1)))
    (i64.add (i64.load offset=64 (local.get 0)) (memory.size))))`,
		calls: []call{{"m64", []any{int64(8)}}}},

	{name: "allops", wat: `(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (table 1 funcref)
  (type $v (func))
  (func $nop)
  (elem (i32.const 0) $nop)
  (func (export "all") (param $p i32) (result i32)
    (local $i i32) (local $l i64) (local $f f32) (local $d f64)
    (block $b
      (loop $lp
        (br_if $b (local.get $p))
        (br_table $b $b (local.get $p))))
    (if (local.get $p) (then (nop)) (else (nop)))
    (call $nop) (call_indirect (type $v) (i32.const 0))
    (drop (select (i32.const 1) (i32.const 2) (local.get $p)))
    (local.set $i (local.tee $i (local.get $p)))
    (global.set $g (global.get $g))
    (drop (i32.load (i32.const 0))) (drop (i64.load (i32.const 0))) (drop (f32.load (i32.const 0)))
    (drop (f64.load (i32.const 0))) (drop (i32.load8_s (i32.const 0))) (drop (i32.load8_u (i32.const 0)))
    (drop (i32.load16_s (i32.const 0))) (drop (i32.load16_u (i32.const 0))) (drop (i64.load8_s (i32.const 0)))
    (drop (i64.load8_u (i32.const 0))) (drop (i64.load16_s (i32.const 0))) (drop (i64.load16_u (i32.const 0)))
    (drop (i64.load32_s (i32.const 0))) (drop (i64.load32_u (i32.const 0)))
    (i32.store (i32.const 0) (i32.const 0)) (i64.store (i32.const 0) (i64.const 0))
    (f32.store (i32.const 0) (f32.const 0)) (f64.store (i32.const 0) (f64.const 0))
    (i32.store8 (i32.const 0) (i32.const 0)) (i32.store16 (i32.const 0) (i32.const 0))
    (i64.store8 (i32.const 0) (i64.const 0)) (i64.store16 (i32.const 0) (i64.const 0))
    (i64.store32 (i32.const 0) (i64.const 0))
    (drop (memory.size)) (drop (memory.grow (i32.const 0)))
    (drop (i32.eqz (local.get $i))) (drop (i32.eq (local.get $i) (local.get $i))) (drop (i32.ne (local.get $i) (local.get $i)))
    (drop (i32.lt_s (local.get $i) (local.get $i))) (drop (i32.lt_u (local.get $i) (local.get $i)))
    (drop (i32.gt_s (local.get $i) (local.get $i))) (drop (i32.gt_u (local.get $i) (local.get $i)))
    (drop (i32.le_s (local.get $i) (local.get $i))) (drop (i32.le_u (local.get $i) (local.get $i)))
    (drop (i32.ge_s (local.get $i) (local.get $i))) (drop (i32.ge_u (local.get $i) (local.get $i)))
    (drop (i64.eqz (local.get $l))) (drop (i64.eq (local.get $l) (local.get $l))) (drop (i64.ne (local.get $l) (local.get $l)))
    (drop (i64.lt_s (local.get $l) (local.get $l))) (drop (i64.lt_u (local.get $l) (local.get $l)))
    (drop (i64.gt_s (local.get $l) (local.get $l))) (drop (i64.gt_u (local.get $l) (local.get $l)))
    (drop (i64.le_s (local.get $l) (local.get $l))) (drop (i64.le_u (local.get $l) (local.get $l)))
    (drop (i64.ge_s (local.get $l) (local.get $l))) (drop (i64.ge_u (local.get $l) (local.get $l)))
    (drop (f32.eq (local.get $f) (local.get $f))) (drop (f32.ne (local.get $f) (local.get $f)))
    (drop (f32.lt (local.get $f) (local.get $f))) (drop (f32.gt (local.get $f) (local.get $f)))
    (drop (f32.le (local.get $f) (local.get $f))) (drop (f32.ge (local.get $f) (local.get $f)))
    (drop (f64.eq (local.get $d) (local.get $d))) (drop (f64.ne (local.get $d) (local.get $d)))
    (drop (f64.lt (local.get $d) (local.get $d))) (drop (f64.gt (local.get $d) (local.get $d)))
    (drop (f64.le (local.get $d) (local.get $d))) (drop (f64.ge (local.get $d) (local.get $d)))
    (drop (i32.clz (local.get $i))) (drop (i32.ctz (local.get $i))) (drop (i32.popcnt (local.get $i)))
    (drop (i32.add (local.get $i) (local.get $i))) (drop (i32.sub (local.get $i) (local.get $i)))
    (drop (i32.mul (local.get $i) (local.get $i))) (drop (i32.div_s (local.get $i) (i32.const 1)))
    (drop (i32.div_u (local.get $i) (i32.const 1))) (drop (i32.rem_s (local.get $i) (i32.const 1)))
    (drop (i32.rem_u (local.get $i) (i32.const 1))) (drop (i32.and (local.get $i) (local.get $i)))
    (drop (i32.or (local.get $i) (local.get $i))) (drop (i32.xor (local.get $i) (local.get $i)))
    (drop (i32.shl (local.get $i) (local.get $i))) (drop (i32.shr_s (local.get $i) (local.get $i)))
    (drop (i32.shr_u (local.get $i) (local.get $i))) (drop (i32.rotl (local.get $i) (local.get $i)))
    (drop (i32.rotr (local.get $i) (local.get $i)))
    (drop (i64.clz (local.get $l))) (drop (i64.ctz (local.get $l))) (drop (i64.popcnt (local.get $l)))
    (drop (i64.add (local.get $l) (local.get $l))) (drop (i64.sub (local.get $l) (local.get $l)))
    (drop (i64.mul (local.get $l) (local.get $l))) (drop (i64.div_s (local.get $l) (i64.const 1)))
    (drop (i64.div_u (local.get $l) (i64.const 1))) (drop (i64.rem_s (local.get $l) (i64.const 1)))
    (drop (i64.rem_u (local.get $l) (i64.const 1))) (drop (i64.and (local.get $l) (local.get $l)))
    (drop (i64.or (local.get $l) (local.get $l))) (drop (i64.xor (local.get $l) (local.get $l)))
    (drop (i64.shl (local.get $l) (local.get $l))) (drop (i64.shr_s (local.get $l) (local.get $l)))
    (drop (i64.shr_u (local.get $l) (local.get $l))) (drop (i64.rotl (local.get $l) (local.get $l)))
    (drop (i64.rotr (local.get $l) (local.get $l)))
    (drop (f32.abs (local.get $f))) (drop (f32.neg (local.get $f))) (drop (f32.ceil (local.get $f)))
    (drop (f32.floor (local.get $f))) (drop (f32.trunc (local.get $f))) (drop (f32.nearest (local.get $f)))
    (drop (f32.sqrt (local.get $f))) (drop (f32.add (local.get $f) (local.get $f)))
    (drop (f32.sub (local.get $f) (local.get $f))) (drop (f32.mul (local.get $f) (local.get $f)))
    (drop (f32.div (local.get $f) (local.get $f))) (drop (f32.min (local.get $f) (local.get $f)))
    (drop (f32.max (local.get $f) (local.get $f))) (drop (f32.copysign (local.get $f) (local.get $f)))
    (drop (f64.abs (local.get $d))) (drop (f64.neg (local.get $d))) (drop (f64.ceil (local.get $d)))
    (drop (f64.floor (local.get $d))) (drop (f64.trunc (local.get $d))) (drop (f64.nearest (local.get $d)))
    (drop (f64.sqrt (local.get $d))) (drop (f64.add (local.get $d) (local.get $d)))
    (drop (f64.sub (local.get $d) (local.get $d))) (drop (f64.mul (local.get $d) (local.get $d)))
    (drop (f64.div (local.get $d) (local.get $d))) (drop (f64.min (local.get $d) (local.get $d)))
    (drop (f64.max (local.get $d) (local.get $d))) (drop (f64.copysign (local.get $d) (local.get $d)))
    (drop (i32.wrap_i64 (local.get $l))) (drop (i32.trunc_f32_s (f32.const 1))) (drop (i32.trunc_f32_u (f32.const 1)))
    (drop (i32.trunc_f64_s (f64.const 1))) (drop (i32.trunc_f64_u (f64.const 1)))
    (drop (i64.extend_i32_s (local.get $i))) (drop (i64.extend_i32_u (local.get $i)))
    (drop (i64.trunc_f32_s (f32.const 1))) (drop (i64.trunc_f32_u (f32.const 1)))
    (drop (i64.trunc_f64_s (f64.const 1))) (drop (i64.trunc_f64_u (f64.const 1)))
    (drop (f32.convert_i32_s (local.get $i))) (drop (f32.convert_i32_u (local.get $i)))
    (drop (f32.convert_i64_s (local.get $l))) (drop (f32.convert_i64_u (local.get $l)))
    (drop (f32.demote_f64 (local.get $d))) (drop (f64.convert_i32_s (local.get $i)))
    (drop (f64.convert_i32_u (local.get $i))) (drop (f64.convert_i64_s (local.get $l)))
    (drop (f64.convert_i64_u (local.get $l))) (drop (f64.promote_f32 (local.get $f)))
    (drop (i32.reinterpret_f32 (local.get $f))) (drop (i64.reinterpret_f64 (local.get $d)))
    (drop (f32.reinterpret_i32 (local.get $i))) (drop (f64.reinterpret_i64 (local.get $l)))
    (drop (i32.extend8_s (local.get $i))) (drop (i32.extend16_s (local.get $i)))
    (drop (i64.extend8_s (local.get $l))) (drop (i64.extend16_s (local.get $l))) (drop (i64.extend32_s (local.get $l)))
    (if (i32.eq (local.get $p) (i32.const 77)) (then (unreachable)))
    (return (i32.const 7))))`,
		calls: []call{{"all", []any{int32(0)}}, {"all", []any{int32(1)}}, {"all", []any{int32(77)}}}},

	// Differential-only cases (not run).
	{name: "empty", wat: `(module)`},
	{name: "memory-only", wat: `(module (memory 1) (data (i32.const 0) "hi"))`},
	{name: "type-only", wat: `(module (type (func)))`},
	{name: "custom-only", wat: `(module (@custom "a" "b"))`},
	{name: "imports-only", wat: `(module
  (import "env" "t" (table 2 10 funcref))
  (import "env" "m" (memory 1 2))
  (import "env" "g" (global (mut i64)))
  (import "env" "f" (func (param i32 f64) (result f32))))`},
	{name: "exports-kinds", wat: `(module
  (import "env" "f" (func $f))
  (func $a) (func $b (param i32))
  (table $t (export "tbl") 2 funcref)
  (memory (export "mem") 1)
  (global (export "glob") i32 (i32.const 1))
  (elem (i32.const 0) $b $f)
  (export "f" (func $f)) (export "b" (func $b)) (export "a" (func $a)))`},
	{name: "start-imported", wat: `(module (import "env" "v" (func $v)) (func $w) (start $v))`},
	{name: "start-defined", wat: `(module (import "env" "v" (func $v)) (func $w (call $v)) (start $w))`},
	{name: "unicode-names", wat: `(module
  (import "mödüle" "fïeld😀" (func))
  (@custom "cüstom" "payload")
  (func $n (export "ñ😀"))
  (func $other (export "plain") (call $n)))`},
	{name: "multi-value", wat: `(module (func (result i32 i64) (i32.const 1) (i64.const 2)) (func (result i32) (i32.const 3)))`},
	{name: "block-type-index", wat: `(module (type (func)) (type $t (func (param i32) (result i32)))
  (func (param i32) (result i32) (local.get 0) (block (type $t) (param i32) (result i32) (i32.add (i32.const 1)))))`},
	{name: "externref-param", wat: `(module (func (export "f") (param externref) (result i32) (i32.const 1)))`},
	{name: "passive-data", wat: `(module (memory 1) (data "xyz") (func))`},
	{name: "passive-elem", wat: `(module (func $f) (elem func $f))`},
	{name: "global-funcref", wat: `(module (func $f) (global funcref (ref.func $f)))`},
	{name: "bulk-memory", wat: `(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 1))))`},
	{name: "simd", wat: `(module (func (drop (v128.const i32x4 1 2 3 4))))`},
	{name: "ref-null", wat: `(module (global externref (ref.null extern)))`},
	{name: "typed-select", wat: `(module (func (result i32) (select (result i32) (i32.const 1) (i32.const 2) (i32.const 3))))`},
	{name: "trunc-sat", wat: `(module (func (result i32) (i32.trunc_sat_f32_s (f32.const 1))))`},
	{name: "tail-call", wat: `(module (func $f (return_call $f)))`},
	{name: "already-metered", wat: `(module (import "metering" "usegas" (func (param i64))) (func))`},
	{name: "metering-memory-import", wat: `(module (import "metering" "usegas" (memory 1)))`},
	{name: "i64-const-extremes", wat: `(module (func (result i64)
  (i64.add (i64.const -9223372036854775808) (i64.add (i64.const 9223372036854775807) (i64.const -1)))))`},
}

func buildWAT(t testing.TB, c watCase) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(c.wat)
	if err != nil {
		t.Fatalf("%s: wat2wasm: %v", c.name, err)
	}
	return b
}

// ------------------------------------------------------------------------------------------------------
// hand-assembled binaries

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u(v uint64) []byte { return appendULEB(nil, v) }

// padded encodes v as an unsigned LEB128 of exactly n bytes.
func padded(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(v & 0x7f)
		v >>= 7
		if i < n-1 {
			out[i] |= 0x80
		}
	}
	return out
}

func sec(id byte, payload ...[]byte) []byte {
	p := cat(payload...)
	return cat([]byte{id}, u(uint64(len(p))), p)
}

func str(s string) []byte { return cat(u(uint64(len(s))), []byte(s)) }

var header = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// typeFunc is a type section with one type: (func) or (func (param i32) (result i32)).
var (
	typeVoid = sec(1, u(1), []byte{0x60, 0, 0})
	typeII   = sec(1, u(1), []byte{0x60, 1, 0x7f, 1, 0x7f})
)

func body(code ...byte) []byte { return cat(u(uint64(len(code))), code) }

type binCase struct {
	name string
	wasm []byte
}

func binCases() []binCase {
	nonMinimal := cat(header,
		[]byte{1}, padded(9, 5), padded(1, 2), []byte{0x60}, padded(1, 3), []byte{0x7f}, padded(1, 2), []byte{0x7f},
		[]byte{2}, padded(13, 5), u(1), str("env"), str("f"), []byte{0}, padded(0, 4),
		sec(3, padded(2, 3), padded(0, 2), u(0)),
		sec(7, u(2), str("f"), []byte{0}, padded(1, 4), str("g"), []byte{0}, padded(2, 5)),
		sec(10, u(2),
			body(cat([]byte{0x01}, padded(2, 3), []byte{0x7f}, // 2 locals i32 (padded count)
				[]byte{0x20}, padded(0, 5), // local.get 0
				[]byte{0x41}, []byte{0x80, 0x80, 0x80, 0x00}, // i32.const 0 (non-minimal)
				[]byte{0x6a},
				[]byte{0x10}, padded(0, 5), // call 0 (import, not shifted)
				[]byte{0x10}, padded(2, 3), // call 2 (shifted)
				[]byte{0x28}, padded(2, 4), padded(16, 5), // i32.load align=2 offset=16
				[]byte{0x0b})...),
			body(0x00, 0x20, 0x00, 0x0b)),
		sec(0, str("name"), []byte{1, 2, 3}),
	)
	badUTF8 := cat(header,
		typeVoid,
		sec(2, u(2),
			u(3), []byte{0xe2, 0x82, 0x41}, u(2), []byte{0xc0, 0x80}, []byte{0}, u(0),
			u(4), []byte{0xf0, 0x9f, 0x98, 0x80}, u(3), []byte{0xed, 0xa0, 0x80}, []byte{0}, u(0)),
		sec(3, u(1), u(0)),
		sec(7, u(1), u(2), []byte{0xff, 0x41}, []byte{0}, u(2)),
		sec(10, u(1), body(0x00, 0x0b)),
		sec(0, u(3), []byte{0xef, 0xbb, 0xbf}, []byte("bom")),
		sec(0, u(2), []byte{0xf4, 0x90}, []byte("x")),
	)
	// i32.const with a 26-byte negative LEB (182 bits: the bn.js fromTwos quirk), a 10-byte one and a
	// 30-byte positive one; br/get_local immediates longer than 64 bits.
	long := func(n int, last byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 0xff
		}
		b[n-1] = last
		return b
	}
	bigLEB := cat(header, typeVoid, sec(3, u(1), u(0)),
		sec(10, u(1), body(cat([]byte{0x00},
			[]byte{0x41}, long(26, 0x7f), []byte{0x1a},
			[]byte{0x41}, long(26, 0x40), []byte{0x1a},
			[]byte{0x41}, long(25, 0x7f), []byte{0x1a},
			[]byte{0x41}, long(10, 0x7f), []byte{0x1a},
			[]byte{0x42}, long(30, 0x3f), []byte{0x1a},
			[]byte{0x42}, long(52, 0x41), []byte{0x1a},
			[]byte{0x20}, long(12, 0x01), []byte{0x1a},
			[]byte{0x0c}, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
			[]byte{0x0b})...)))
	hugeCall := func(idx uint64) []byte {
		return cat(header, typeVoid, sec(3, u(1), u(0)),
			sec(10, u(1), body(cat([]byte{0x00, 0x10}, u(idx), []byte{0x0b})...)))
	}
	hugeCallBig := cat(header, typeVoid, sec(3, u(1), u(0)),
		sec(10, u(1), body(cat([]byte{0x00, 0x10}, long(11, 0x0f), []byte{0x0b})...))) // ~2^74: >= 1e21
	return []binCase{
		{"non-minimal-leb", nonMinimal},
		{"bad-utf8-names", badUTF8},
		{"big-leb", bigLEB},
		{"call-2^53", hugeCall(1 << 53)},
		{"call-2^60+5", hugeCall(1<<60 + 5)},
		{"call-1e20+3", cat(header, typeVoid, sec(3, u(1), u(0)),
			sec(10, u(1), body(cat([]byte{0x00, 0x10}, appendULEBBig(nil, e20plus3()), []byte{0x0b})...)))},
		{"call-ge-1e21", hugeCallBig},
		{"header-only", header},
		{"bad-magic", []byte("garbage!")},
		{"short", []byte{0x00, 0x61, 0x73}},
		{"empty-input", nil},
		{"version-2", []byte{0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00, 1, 4, 1, 0x60, 0, 0}},
		{"no-end", cat(header, typeVoid, sec(3, u(1), u(0)), sec(10, u(1), body(0x00, 0x01)))},
		{"trailing-after-end", cat(header, typeVoid, sec(3, u(1), u(0)), sec(10, u(1), body(0x00, 0x0b, 0x01)))},
		{"empty-body", cat(header, typeVoid, sec(3, u(1), u(0)), sec(10, u(1), body()))},
		{"code-without-function", cat(header, typeVoid, sec(10, u(1), body(0x00, 0x0b)))},
		{"code-without-function-empty", cat(header, typeVoid, sec(10, u(0)))},
		{"code-before-type", cat(header, sec(3, u(1), u(0)), sec(10, u(1), body(0x00, 0x0b)), typeVoid)},
		{"import-after-export", cat(header, typeVoid, sec(7, u(1), str("e"), []byte{0}, u(0)),
			sec(2, u(1), str("a"), str("b"), []byte{0}, u(0)), sec(3, u(1), u(0)), sec(10, u(1), body(0x00, 0x10, 0x00, 0x0b)))},
		{"two-type-sections", cat(header, typeVoid, typeII, sec(2, u(1), str("a"), str("b"), []byte{0}, u(0)))},
		{"two-import-sections", cat(header, typeVoid, sec(2, u(1), str("a"), str("b"), []byte{0}, u(0)),
			sec(2, u(1), str("c"), str("d"), []byte{0}, u(0)), sec(3, u(1), u(0)), sec(10, u(1), body(0x00, 0x10, 0x01, 0x10, 0x02, 0x0b)))},
		{"unknown-section", cat(header, typeVoid, sec(13, []byte{1, 2, 3}))},
		{"section-size-too-big", cat(header, []byte{1}, padded(1<<53, 8))},
		{"section-size-lies", cat(header, []byte{1, 0x7f}, u(1), []byte{0x60, 0, 0}, sec(3, u(1), u(0)),
			[]byte{10, 1}, u(1), body(0x00, 0x0b))},
		{"type-index-too-big", cat(header, typeVoid, sec(3, u(1), padded(1<<53, 8)))},
		{"import-kind-4", cat(header, typeVoid, sec(2, u(1), str("a"), str("b"), []byte{4}, u(0)))},
		{"export-kind-4", cat(header, typeVoid, sec(3, u(1), u(0)), sec(7, u(1), str("t"), []byte{4}, u(0)),
			sec(10, u(1), body(0x00, 0x0b)))},
		{"export-index-2^53-1", cat(header, typeVoid, sec(7, u(1), str("x"), []byte{0}, u(1<<53-1)))},
		{"elem-index-2^53-1", cat(header, typeVoid, sec(9, u(1), u(0), []byte{0x41, 0x00, 0x0b}, u(1), u(1<<53-1)))},
		{"start-2^53-1", cat(header, typeVoid, sec(8, u(1<<53-1)))},
		{"data-count", cat(header, typeVoid, sec(3, u(1), u(0)), sec(5, u(1), u(0), u(1)), sec(12, u(1)),
			sec(10, u(1), body(0x00, 0x0b)), sec(11, u(1), u(0), []byte{0x41, 0x00, 0x0b}, str("abc")))},
		{"init-expr-skip-byte", cat(header, sec(6, u(1), []byte{0x7f, 0x00, 0x41, 0x05, 0x99}))},
		{"unknown-value-types", cat(header, sec(1, u(3), []byte{0x60, 2, 0x6f, 0x7b, 1, 0x6f}, []byte{0x5e, 0, 1, 0x7c},
			[]byte{0x60, 0, 2, 0x7f, 0x7e}))},
		{"truncated-custom", cat(header, typeVoid, []byte{0, 20}, str("name"), []byte{1, 2})},
		{"truncated-data", cat(header, sec(5, u(1), u(0), u(1)), []byte{11, 10, 1, 0, 0x41, 0, 0x0b, 10, 'a'})},
		{"truncated-function-section", cat(header, typeVoid, []byte{3, 5, 4, 0})},
		{"truncated-in-body", cat(header, typeVoid, sec(3, u(1), u(0)), []byte{10, 6, 1, 4, 0, 0x41})},
		{"truncated-in-opcode", cat(header, typeVoid, sec(3, u(1), u(0)), []byte{10, 6, 1, 4, 0, 0x41, 0x01})},
		{"past-end-huge-count", cat(header, []byte{3, 5}, padded(1<<40, 6))},
	}
}

func e20plus3() *big.Int {
	v, _ := new(big.Int).SetString("100000000000000000003", 10)
	return v
}
