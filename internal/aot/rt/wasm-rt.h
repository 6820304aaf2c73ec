/*
 * wasm-rt.h: aocu's runtime for the C that wasm2c (wabt 1.0.39, npm
 * wabt@1.0.39) generates, for internal/aot (grown from tools/aotbench/rt). It
 * declares the types and functions the generated code refers to, with the
 * layout it expects, and nothing else (wabt's own runtime is not shipped in
 * the npm package).
 *
 * Bounds: memory64 accesses are checked explicitly by the generated code
 * (wasm2c always checks memory64, plus aot_addr_off below for a static
 * offset that wraps). memory32 accesses (of the default page size) are not
 * checked (WASM_RT_MEMCHECK_GUARD_PAGES: wasm2c's MEMCHECK_DEFAULT32 is
 * then empty): a memory32 reserves AOT_MEM32_RESERVATION (8 GiB, aot-abi.h)
 * so that any u32 address plus u32 offset lands in it, PROT_NONE beyond the
 * accessible size, and the Go binary's SIGSEGV/SIGBUS handler (host.c)
 * turns a fault inside a registered reservation in wasm code into an
 * out-of-bounds trap. bulk memory operations (memory.fill, copy, init) keep
 * wasm2c's explicit RANGE_CHECK either way. Linear memory is one private
 * anonymous reservation (memory64: of the module's maximum size), made
 * accessible as it grows; its base never moves.
 *
 * Traps go to the Go process's innermost jump target through the api
 * (aot-abi.h). Stack exhaustion: internal/aot rewrites the generated
 * FUNC_PROLOGUE into AOT_STACK_CHECK(instance), which compares the native
 * stack pointer with the limit the host stores in front of the instance.
 */
#ifndef WASM_RT_H_
#define WASM_RT_H_

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define wasm_rt_memcpy __builtin_memcpy
#define wasm_rt_unreachable __builtin_unreachable

#define WASM_RT_SANITY_CHECKS 0
#define WASM_RT_USE_SEGUE 0
#define WASM_RT_SEGUE_FREE_SEGMENT 0
/* Used by the generated code only for memory32 of the default page size
 * (the *_default32 accessors); memory64 is checked whatever this says. */
#define WASM_RT_MEMCHECK_GUARD_PAGES 1
#define WASM_RT_MEMCHECK_BOUNDS_CHECK 0
#define WASM_RT_STACK_DEPTH_COUNT 0
#define WASM_RT_STACK_EXHAUSTION_HANDLER 0
#define WASM_RT_NONCONFORMING_UNCHECKED_STACK_EXHAUSTION 1
#define WASM_RT_THREAD_LOCAL __thread
#define WASM_RT_NO_RETURN __attribute__((noreturn))
#define WASM_DEFAULT_PAGE_SIZE 65536

/* The native stack pointer, without forcing a frame pointer. */
#if defined(__x86_64__)
#define AOT_SP() ({ uintptr_t sp_; __asm__ volatile("mov %%rsp, %0" : "=r"(sp_)); sp_; })
#elif defined(__aarch64__)
#define AOT_SP() ({ uintptr_t sp_; __asm__ volatile("mov %0, sp" : "=r"(sp_)); sp_; })
#else
#define AOT_SP() ((uintptr_t)__builtin_frame_address(0))
#endif
/* The prologue of every wasm function (see the comment at the top). */
#define AOT_STACK_CHECK(instance)                                                  \
  if (UNLIKELY(AOT_SP() < ((const volatile uintptr_t*)(const void*)(instance))[-1])) \
    wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);

typedef enum {
  WASM_RT_TRAP_NONE,
  WASM_RT_TRAP_OOB,
  WASM_RT_TRAP_INT_OVERFLOW,
  WASM_RT_TRAP_DIV_BY_ZERO,
  WASM_RT_TRAP_INVALID_CONVERSION,
  WASM_RT_TRAP_UNREACHABLE,
  WASM_RT_TRAP_CALL_INDIRECT,
  WASM_RT_TRAP_NULL_REF,
  WASM_RT_TRAP_UNCAUGHT_EXCEPTION,
  WASM_RT_TRAP_UNALIGNED,
  WASM_RT_TRAP_EXHAUSTION,
} wasm_rt_trap_t;

typedef enum {
  WASM_RT_I32,
  WASM_RT_I64,
  WASM_RT_F32,
  WASM_RT_F64,
  WASM_RT_V128,
  WASM_RT_FUNCREF,
  WASM_RT_EXTERNREF,
  WASM_RT_EXNREF,
} wasm_rt_type_t;

typedef void (*wasm_rt_function_ptr_t)(void);

typedef struct wasm_rt_tailcallee_t {
  void (*fn)(void** instance_ptr, void* tail_call_stack, struct wasm_rt_tailcallee_t* next);
} wasm_rt_tailcallee_t;

/* A function type is the address of a string unique to the signature. */
typedef const char* wasm_rt_func_type_t;

typedef struct {
  wasm_rt_func_type_t func_type;
  wasm_rt_function_ptr_t func;
  wasm_rt_tailcallee_t func_tailcallee;
  void* module_instance;
} wasm_rt_funcref_t;

#define wasm_rt_funcref_null_value ((wasm_rt_funcref_t){NULL, NULL, {NULL}, NULL})

typedef void* wasm_rt_externref_t;
#define wasm_rt_externref_null_value ((wasm_rt_externref_t){NULL})

typedef struct {
  uint8_t* data;     /* size bytes, accessible */
  uint8_t* data_end; /* the end of the reservation */
  uint32_t page_size;
  uint64_t pages;
  uint64_t max_pages;
  uint64_t size;
  bool is64;
} wasm_rt_memory_t;

typedef struct {
  wasm_rt_funcref_t* data;
  uint32_t max_size;
  uint32_t size;
} wasm_rt_funcref_table_t;

typedef struct {
  wasm_rt_externref_t* data;
  uint32_t max_size;
  uint32_t size;
} wasm_rt_externref_table_t;

void wasm_rt_init(void);
bool wasm_rt_is_initialized(void);
void wasm_rt_free(void);
WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t);
const char* wasm_rt_strerror(wasm_rt_trap_t trap);

void wasm_rt_allocate_memory(wasm_rt_memory_t*, uint64_t initial_pages, uint64_t max_pages, bool is64,
                             uint32_t page_size);
uint64_t wasm_rt_grow_memory(wasm_rt_memory_t*, uint64_t pages);
void wasm_rt_free_memory(wasm_rt_memory_t*);

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t*, uint32_t elements, uint32_t max_elements);
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t*);
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t*, uint32_t delta, wasm_rt_funcref_t init);
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t*, uint32_t elements, uint32_t max_elements);
void wasm_rt_free_externref_table(wasm_rt_externref_table_t*);
uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t*, uint32_t delta, wasm_rt_externref_t init);

/* A memory64 address plus a static offset (internal/aot rewrites wasm2c's
 * unchecked sum into this): out of bounds if it overflows. */
static inline uint64_t aot_addr_off(uint64_t a, uint64_t o) {
  uint64_t r;
  if (UNLIKELY(__builtin_add_overflow(a, o, &r))) wasm_rt_trap(WASM_RT_TRAP_OOB);
  return r;
}

#ifdef __cplusplus
}
#endif

#endif /* WASM_RT_H_ */
