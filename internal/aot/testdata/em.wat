;; internal/aot's emscripten setjmp/longjmp test module: invoke_vii,
;; _emscripten_throw_longjmp, and the exports the tier calls for them. The
;; test also builds it without the dynCall_vii export (the table path).
(module
  (import "env" "invoke_vii" (func $invoke_vii (param i32 i32 i32)))
  (import "env" "_emscripten_throw_longjmp" (func $throw))
  (import "env" "host" (func $host (param i32)))
  (type $vii (func (param i32 i32)))
  (memory (export "memory") 1)
  (global $sp (mut i32) (i32.const 65536))
  (global $threw (mut i32) (i32.const 0))
  (global $threwValue (mut i32) (i32.const 0))
  (table (export "__indirect_function_table") 5 funcref)
  (elem (i32.const 1) $thrower $trapper $wrongtype $callshost)
  (func (export "emscripten_stack_get_current") (result i32) global.get $sp)
  (func (export "_emscripten_stack_restore") (param i32) local.get 0 global.set $sp)
  (func (export "setThrew") (param i32 i32) local.get 0 global.set $threw local.get 1 global.set $threwValue)
  (func (export "dynCall_vii") (param i32 i32 i32) local.get 1 local.get 2 local.get 0 call_indirect (type $vii))
  ;; Moves the stack pointer, stores b at 0, longjmps when a is not 0.
  (func $thrower (param i32 i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 64)))
    (i32.store (i32.const 0) (local.get 1))
    (if (local.get 0) (then call $throw)))
  (func $trapper (param i32 i32) unreachable)
  (func $wrongtype (param i32) (result i32) i32.const 0)
  (func $callshost (param i32 i32) (i32.store (i32.const 0) (local.get 1)) (call $host (local.get 0)))
  ;; invoke_vii(fn, a, 42): threw*1000 + (sp restored)*100 + mem[0]
  (func (export "run") (param i32 i32) (result i32)
    (global.set $sp (i32.const 65536))
    (global.set $threw (i32.const 0))
    (i32.store (i32.const 0) (i32.const 0))
    (call $invoke_vii (local.get 0) (local.get 1) (i32.const 42))
    (i32.add
      (i32.add (i32.mul (global.get $threw) (i32.const 1000))
               (i32.mul (i32.eq (global.get $sp) (i32.const 65536)) (i32.const 100)))
      (i32.load (i32.const 0))))
  (func (export "throw_direct") call $throw)
)
