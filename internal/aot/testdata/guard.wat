;; internal/aot's guard-page test module (memory32): accesses past the end
;; of memory, static offsets that take a small address past 4 GiB, growth,
;; and a loop over memory that keeps an instance busy.
(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (memory (export "memory") 1 8)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func (export "load8") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func (export "load_big_off") (param i32) (result i32) local.get 0 i32.load offset=0xfffffff0)
  (func (export "store_big_off") (param i32 i32) local.get 0 local.get 1 i32.store offset=0xfffffff0)
  ;; The farthest any memory32 access reaches: 0xffffffff + 0xffffffff + 8.
  (func (export "load64_max") (param i32) (result i64) local.get 0 i64.load offset=0xffffffff)
  (func (export "store64_max") (param i32 i64) local.get 0 local.get 1 i64.store offset=0xffffffff)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size)
  ;; Bulk memory keeps wasm2c's explicit check.
  (func (export "fill") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill)
  ;; Calls the host, then loads from its result (an OOB address traps there).
  (func (export "host_then_load") (param i32) (result i32) local.get 0 call $host i32.load)
  ;; rounds times: write i*seed to word i of [0, n), then sum the words back.
  (func (export "churn") (param $n i32) (param $seed i32) (param $rounds i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $r
        (br_if $done (i32.eqz (local.get $rounds)))
        (local.set $i (i32.const 0))
        (loop $w
          (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.mul (local.get $i) (local.get $seed)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $w (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $s (i32.const 0))
        (local.set $i (i32.const 0))
        (loop $rd
          (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $rd (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
        br $r))
    local.get $s)
)
