/*
 * aot-abi.h: the interface between a module's shared object (the C of wasm2c,
 * wasm-rt.c and the glue internal/aot generates) and the Go process that
 * dlopens it (internal/aot/host.c). A shared object cannot link against the
 * Go binary's symbols: the host hands it an aot_api of function pointers at
 * load time (aot_init), and the shared object describes itself with an
 * aot_module.
 *
 * Per-thread state (the stack of jump targets, the timeout timer) lives in
 * the Go binary (static TLS, safe in a signal handler); the shared object
 * reaches it only through the api. So does the registry of memory32
 * reservations that the Go binary's fault handler reads (guard pages).
 */
#ifndef AOT_ABI_H_
#define AOT_ABI_H_

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#define AOT_ABI_VERSION 2

/* A memory32 linear memory's reservation: 4 GiB of addressable memory and
 * as much again of guard region, so that any address plus static offset
 * (both u32) lands in it. Beyond the accessible size it is PROT_NONE; a
 * fault there in wasm code is an out-of-bounds trap (host.c). */
#define AOT_MEM32_RESERVATION (8ull << 30)

/* Trap codes beyond wasm_rt_trap_t's (which are 1..10). */
enum {
  AOT_TRAP_OOB = 1,      /* WASM_RT_TRAP_OOB: the fault handler's trap */
  AOT_TRAP_HOST = 100,   /* a host import returned an error (kept by Go) */
  AOT_TRAP_TIMEOUT = 101,/* the deadline passed */
  AOT_TRAP_LONGJMP = 102,/* _emscripten_throw_longjmp */
  AOT_TRAP_ALLOC = 103,  /* linear memory or a table could not be allocated */
  AOT_TRAP_TIMER = 104,  /* the deadline timer could not be created or armed */
};

/* A jump target: one per Call (invoke == 0) and one per active invoke_*
 * (invoke == 1), innermost on top of the thread's stack. trap() pops the top
 * frame, stores the code in it and siglongjmps to it. */
typedef struct aot_frame {
  sigjmp_buf jb;
  struct aot_frame* prev;
  volatile int code;
  int invoke;
} aot_frame;

/* Bytes in front of every instance struct: the stack check in each wasm
 * function's prologue reads the limit at ((uintptr_t*)instance)[-1]. */
typedef struct aot_inst_header {
  uintptr_t ctx; /* the Go side's runtime/cgo.Handle of the Instance */
  uintptr_t reserved[6];
  uintptr_t stack_limit;
} aot_inst_header;

/* An export wrapper: the raw bits of the arguments in, of the result (if
 * any) out. */
typedef void (*aot_entry)(void* inst, const uint64_t* args, uint64_t* ret);

typedef struct aot_api {
  uint32_t abi;
  __attribute__((noreturn)) void (*trap)(int code);
  void (*push)(aot_frame* f);
  void (*pop)(aot_frame* f);
  /* Runs import idx in Go; traps (AOT_TRAP_HOST, AOT_TRAP_TIMEOUT) instead
   * of returning when Go failed or the deadline passed meanwhile. */
  uint64_t (*host_call)(uintptr_t ctx, int idx, uint64_t* args, int nargs);
  /* Around runtime code that must not be left by the timeout signal
   * (malloc, mprotect): host_leave traps if wasm code was running and the deadline passed
   * meanwhile (the host's own calls, such as aot_module.grow, never trap). */
  int (*host_enter)(void);        /* returns the state for host_leave */
  void (*host_leave)(int state);
  /* memory32's guard pages: guard_add registers the reservation of
   * AOT_MEM32_RESERVATION bytes at base (after it is mapped), so that a
   * fault inside it in wasm code becomes AOT_TRAP_OOB; 0, or -1 when the
   * fault handler is not installed or the registry is full (the memory
   * must not be used then). guard_remove unregisters it (before it is
   * unmapped). Called between host_enter and host_leave. */
  int (*guard_add)(void* base);
  void (*guard_remove)(void* base);
} aot_api;

/* types: one letter per value (i: i32, j: i64, f: f32, d: f64), the
 * parameters then the results. */
typedef struct aot_export {
  const char* name;
  const char* types;
  int nparams, nresults;
  aot_entry fn;
} aot_export;

typedef struct aot_import {
  const char* module;
  const char* name;
  const char* types;
  int nparams, nresults;
  int builtin; /* handled in C (invoke_*, _emscripten_throw_longjmp) */
} aot_import;

typedef struct aot_module {
  uint32_t abi;
  int memory64; /* 1: memory64, 0: memory32, -1: no memory */
  int nimports;
  const aot_import* imports;
  int nexports;
  const aot_export* exports;
  void* (*alloc)(uintptr_t ctx); /* the instance struct (header in front), or NULL */
  aot_entry instantiate;         /* run under a frame: it may trap */
  void (*free)(void* inst);
  void* (*memory)(void* inst); /* wasm_rt_memory_t*, or NULL */
  uint64_t (*grow)(void* inst, uint64_t pages);
} aot_module;

typedef const aot_module* (*aot_init_fn)(const aot_api* api);

#endif /* AOT_ABI_H_ */
