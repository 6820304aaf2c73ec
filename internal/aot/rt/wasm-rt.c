/*
 * wasm-rt.c: aocu's runtime for wasm2c 1.0.39's C (see wasm-rt.h), linked
 * into every module's shared object: linear memory reserved once and made
 * accessible as it grows (never moved; private anonymous memory; memory32's
 * reservation registered with the host for its guard pages), tables on the
 * heap, traps handed to the Go process through the api (aot-abi.h).
 */
#include "wasm-rt.h"

#include <sys/mman.h>

#include "aot-abi.h"

/* Set once by aot_init (the glue) before anything else runs. */
__attribute__((visibility("hidden"))) const aot_api* aot_rt_api;

/* Address space reserved for a memory64 module without a maximum (or with
 * a larger one): growth beyond it fails as memory.grow may. */
#define MEMORY64_RESERVATION (16ull << 30)

void wasm_rt_init(void) {}

bool wasm_rt_is_initialized(void) { return aot_rt_api != NULL; }

void wasm_rt_free(void) {}

const char* wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "no trap";
    case WASM_RT_TRAP_OOB: return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "indirect call signature mismatch";
    case WASM_RT_TRAP_NULL_REF: return "null reference";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_UNALIGNED: return "unaligned atomic";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
  }
  return "unknown trap";
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
  aot_rt_api->trap((int)trap);
  __builtin_unreachable();
}

void wasm_rt_allocate_memory(wasm_rt_memory_t* mem, uint64_t initial_pages, uint64_t max_pages, bool is64,
                             uint32_t page_size) {
  memset(mem, 0, sizeof *mem);
  uint64_t cap = (is64 ? MEMORY64_RESERVATION : (4ull << 30)) / page_size;
  if (max_pages > cap) max_pages = cap;
  if (initial_pages > max_pages) aot_rt_api->trap(AOT_TRAP_ALLOC);
  uint64_t reserve = max_pages * page_size;
  if (reserve == 0) reserve = page_size; /* a base address even for a memory of no pages */
  /* memory32: 4 GiB and the guard region beyond, whatever the maximum (the
   * accessible size still stops at max_pages). */
  if (!is64) reserve = AOT_MEM32_RESERVATION;
  int hs_ = aot_rt_api->host_enter();
  void* p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  uint64_t size = initial_pages * page_size;
  int ok = p != MAP_FAILED && (size == 0 || mprotect(p, size, PROT_READ | PROT_WRITE) == 0);
  if (ok && !is64) ok = aot_rt_api->guard_add(p) == 0;
  if (!ok && p != MAP_FAILED) munmap(p, reserve);
  aot_rt_api->host_leave(hs_);
  if (!ok) aot_rt_api->trap(AOT_TRAP_ALLOC);
  mem->data = p;
  mem->data_end = (uint8_t*)p + reserve;
  mem->page_size = page_size;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
  mem->size = size;
  mem->is64 = is64;
}

/* Called by wasm code (memory.grow) and by the host (aot_module.grow):
 * the old size in pages, or UINT64_MAX. */
uint64_t wasm_rt_grow_memory(wasm_rt_memory_t* mem, uint64_t delta) {
  uint64_t old = mem->pages;
  if (delta > mem->max_pages - old) return UINT64_MAX;
  if (delta == 0) return old;
  uint64_t size = (old + delta) * mem->page_size;
  int hs_ = aot_rt_api->host_enter();
  int ok = mprotect(mem->data + mem->size, size - mem->size, PROT_READ | PROT_WRITE) == 0;
  if (ok) {
    mem->pages = old + delta;
    mem->size = size;
  }
  aot_rt_api->host_leave(hs_);
  return ok ? old : UINT64_MAX;
}

void wasm_rt_free_memory(wasm_rt_memory_t* mem) {
  if (mem->data) {
    int hs_ = aot_rt_api->host_enter();
    if (!mem->is64) aot_rt_api->guard_remove(mem->data); /* before the range can be reused */
    munmap(mem->data, (size_t)(mem->data_end - mem->data));
    aot_rt_api->host_leave(hs_);
  }
  mem->data = mem->data_end = NULL;
  mem->size = mem->pages = 0;
}

#define TABLE_OPS(kind, elem)                                                                           \
  void wasm_rt_allocate_##kind##_table(wasm_rt_##kind##_table_t* t, uint32_t elements, uint32_t max) { \
    int hs_ = aot_rt_api->host_enter();                                                                           \
    t->data = calloc(elements ? elements : 1, sizeof(elem));                                            \
    aot_rt_api->host_leave(hs_);                                                                           \
    if (!t->data) aot_rt_api->trap(AOT_TRAP_ALLOC);                                                     \
    t->size = elements;                                                                                 \
    t->max_size = max;                                                                                  \
  }                                                                                                     \
  void wasm_rt_free_##kind##_table(wasm_rt_##kind##_table_t* t) {                                       \
    free(t->data);                                                                                      \
    t->data = NULL;                                                                                     \
    t->size = 0;                                                                                        \
  }                                                                                                     \
  uint32_t wasm_rt_grow_##kind##_table(wasm_rt_##kind##_table_t* t, uint32_t delta, elem init) {        \
    uint32_t old = t->size;                                                                             \
    if (delta > t->max_size - old) return UINT32_MAX;                                                   \
    int hs_ = aot_rt_api->host_enter();                                                                           \
    elem* d = realloc(t->data, ((size_t)old + delta) * sizeof(elem));                                   \
    if (d) {                                                                                            \
      for (uint32_t i = old; i < old + delta; i++) d[i] = init;                                         \
      t->data = d;                                                                                      \
      t->size = old + delta;                                                                            \
    }                                                                                                   \
    aot_rt_api->host_leave(hs_);                                                                           \
    return d ? old : UINT32_MAX;                                                                        \
  }
TABLE_OPS(funcref, wasm_rt_funcref_t)
TABLE_OPS(externref, wasm_rt_externref_t)
