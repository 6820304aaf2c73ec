/*
 * wasm-rt.c: aocu's runtime for wasm2c 1.0.39's C (see wasm-rt.h): linear
 * memory reserved once and made accessible as it grows (never moved), tables
 * on the heap, traps that end the process with their reason.
 */
#include "wasm-rt.h"

#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static bool initialized;

/* A memory32 module relies on this much inaccessible address space after
 * its base: any 32-bit address plus a 32-bit offset lands in it. */
#define GUARDED_RESERVATION (8ull << 30)

/* The reservations of the live memories, for the fault handler. */
enum { MAX_MEMORIES = 16 };
static struct {
  uint8_t *start, *end;
} reservations[MAX_MEMORIES];

/* The handlers that were there before (the Go runtime's, in tools/aotbench/gohost). */
static struct sigaction previous_segv, previous_bus;

static void on_fault(int sig, siginfo_t* info, void* ctx) {
  uint8_t* addr = info->si_addr;
  for (int i = 0; i < MAX_MEMORIES; i++) {
    if (reservations[i].start && addr >= reservations[i].start && addr < reservations[i].end) {
      static const char msg[] = "harness: trap: out of bounds memory access (guard page)\n";
      if (write(2, msg, sizeof msg - 1) < 0) {
      }
      _exit(1);
    }
  }
  /* Not a wasm access: the fault belongs to whoever handled it before. */
  struct sigaction* prev = sig == SIGBUS ? &previous_bus : &previous_segv;
  if (prev->sa_flags & SA_SIGINFO) {
    prev->sa_sigaction(sig, info, ctx);
  } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
  } else {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}

void wasm_rt_init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  /* SA_ONSTACK: the Go runtime requires it of every handler in its process. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, &previous_segv);
  sigaction(SIGBUS, &sa, &previous_bus);
  initialized = true;
}

bool wasm_rt_is_initialized(void) { return initialized; }

void wasm_rt_free(void) { initialized = false; }

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
  fprintf(stderr, "harness: trap: %s\n", wasm_rt_strerror(trap));
  exit(1);
}

static void fail(const char* what) {
  perror(what);
  exit(2);
}

void wasm_rt_allocate_memory(wasm_rt_memory_t* mem, uint64_t initial_pages, uint64_t max_pages, bool is64,
                             uint32_t page_size) {
  uint64_t reserve = max_pages * page_size;
  if (!is64 && reserve < GUARDED_RESERVATION) reserve = GUARDED_RESERVATION;
  void* p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fail("harness: reserving linear memory");
  for (int i = 0; i < MAX_MEMORIES; i++) {
    if (!reservations[i].start) {
      reservations[i].start = p;
      reservations[i].end = (uint8_t*)p + reserve;
      break;
    }
  }
  uint64_t size = initial_pages * page_size;
  if (size > 0 && mprotect(p, size, PROT_READ | PROT_WRITE) != 0) fail("harness: committing linear memory");
  mem->data = p;
  mem->data_end = (uint8_t*)p + reserve;
  mem->page_size = page_size;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
  mem->size = size;
  mem->is64 = is64;
}

uint64_t wasm_rt_grow_memory(wasm_rt_memory_t* mem, uint64_t delta) {
  uint64_t old = mem->pages;
  if (delta > mem->max_pages - old) return UINT64_MAX;
  uint64_t size = (old + delta) * mem->page_size;
  if (delta > 0 && mprotect(mem->data + mem->size, size - mem->size, PROT_READ | PROT_WRITE) != 0)
    return UINT64_MAX;
  mem->pages = old + delta;
  mem->size = size;
  return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t* mem) {
  for (int i = 0; i < MAX_MEMORIES; i++) {
    if (reservations[i].start == mem->data) reservations[i].start = reservations[i].end = NULL;
  }
  munmap(mem->data, (size_t)(mem->data_end - mem->data));
  mem->data = mem->data_end = NULL;
}

#define TABLE_OPS(kind, elem)                                                                           \
  void wasm_rt_allocate_##kind##_table(wasm_rt_##kind##_table_t* t, uint32_t elements, uint32_t max) { \
    t->data = calloc(elements ? elements : 1, sizeof(elem));                                            \
    if (!t->data) fail("harness: allocating a table");                                                  \
    t->size = elements;                                                                                 \
    t->max_size = max;                                                                                  \
  }                                                                                                     \
  void wasm_rt_free_##kind##_table(wasm_rt_##kind##_table_t* t) {                                       \
    free(t->data);                                                                                      \
    t->data = NULL;                                                                                     \
  }                                                                                                     \
  uint32_t wasm_rt_grow_##kind##_table(wasm_rt_##kind##_table_t* t, uint32_t delta, elem init) {        \
    uint32_t old = t->size;                                                                             \
    if (delta > t->max_size - old) return UINT32_MAX;                                                   \
    elem* d = realloc(t->data, ((size_t)old + delta) * sizeof(elem));                                   \
    if (!d) return UINT32_MAX;                                                                          \
    for (uint32_t i = old; i < old + delta; i++) d[i] = init;                                           \
    t->data = d;                                                                                        \
    t->size = old + delta;                                                                              \
    return old;                                                                                         \
  }
TABLE_OPS(funcref, wasm_rt_funcref_t)
TABLE_OPS(externref, wasm_rt_externref_t)
