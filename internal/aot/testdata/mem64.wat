;; internal/aot's memory64 test module.
(module
  (memory (export "memory") i64 1 8)
  (func (export "load") (param i64) (result i32) local.get 0 i32.load)
  (func (export "load_off") (param i64) (result i32) local.get 0 i32.load offset=65533)
  (func (export "store") (param i64 i32) local.get 0 local.get 1 i32.store)
  (func (export "store_off") (param i64 i32) local.get 0 local.get 1 i32.store offset=65533)
  (func (export "grow") (param i64) (result i64) local.get 0 memory.grow)
  (func (export "size") (result i64) memory.size)
)
