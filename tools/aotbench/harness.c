/*
 * harness.c: runs an aos module compiled ahead of time by wasm2c + cc on the
 * scenario files of tools/refloader/scenarios, the way aocu's loader drives it
 * (emscripten_stack_init, the stack cookie, __wasm_call_ctors, then handle(msg,
 * env) with both strings on the stack and Asyncify's unwind/rewind loop for
 * the WeaveDrive imports), and times each handle() call. It is a measurement
 * of the code a C compiler makes of the module against Cranelift's and V8's
 * (scripts/aotbench.sh), not a loader: imports that the scenario does not
 * reach stop the run with their name.
 *
 *   harness ENV.json MESSAGES.jsonl SKIP OUTPUTS MEMORY
 *
 * ENV.json and each line of MESSAGES.jsonl are what the glue passes to
 * handle() (JSON.stringify'd). The first SKIP messages are not timed. Each
 * handle() result goes to a line of OUTPUTS and the final linear memory to
 * MEMORY, so that the caller compares its sha256 with the reference loader's.
 * Prints one JSON object on stdout.
 *
 * With AOT_TIMEOUT_MS set, every handle() call runs under a deadline of that
 * many milliseconds, enforced by a signal instead of an epoch check (see
 * on_deadline); a call that passes it ends the run with exit status 4 and a
 * JSON object saying which message and how late control came back.
 *
 * Built by scripts/aotbench.sh from the C of wasm2c 1.0.39 (wasm2c -n aot;
 * MODULE_H names its header) with aocu's runtime (rt/), with -DW64 for a
 * memory64 module.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include MODULE_H

#define X(name) w2c_aot_##name
typedef w2c_aot inst_t;
#ifdef W64
typedef u64 ptr_t;
#else
typedef u32 ptr_t;
#endif

struct w2c_env {
  inst_t* m;
};
struct w2c_wasi__snapshot__preview1 {
  inst_t* m;
};

/* The loader's clock: emscripten_date_now starts at 10004 and counts calls. */
static double clock_ms = 10004;

/* invoke_* frames, innermost last: _emscripten_throw_longjmp returns to it. */
enum { MAX_INVOKE_DEPTH = 1024 };
static jmp_buf* invokes[MAX_INVOKE_DEPTH];
static int ninvokes;

/* Asyncify (the WeaveDrive imports): state, buffer and the value to return. */
enum { ASYNC_NORMAL, ASYNC_UNWINDING, ASYNC_REWINDING };
enum { ASYNCIFY_STACK = 41943040 };
static int async_state;
static ptr_t async_data;
static u32 async_value;

/* The timeout guard (AOT_TIMEOUT_MS): a POSIX timer per handle() call that
 * signals this thread; the handler leaves the wasm code with siglongjmp. In a
 * host import (here fd_write, which holds stdio's lock) it only marks the
 * timeout, and the import leaves when it is done. The instance's memory is
 * then in an arbitrary state: a tier would discard it and restore the
 * process, as aocu does after an epoch timeout today. */
static timer_t deadline_timer;
static sigjmp_buf timed_out;
static volatile sig_atomic_t in_host, timeout_pending, guard_armed;

static void on_deadline(int sig) {
  (void)sig;
  if (!guard_armed) return;
  if (in_host) {
    timeout_pending = 1;
    return;
  }
  guard_armed = 0;
  siglongjmp(timed_out, 1);
}

static void host_enter(void) { in_host = 1; }

static void host_leave(void) {
  in_host = 0;
  if (timeout_pending && guard_armed) {
    timeout_pending = 0;
    guard_armed = 0;
    siglongjmp(timed_out, 1);
  }
}

static void deadline_init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_deadline;
  sa.sa_flags = SA_ONSTACK; /* the Go runtime requires it (tools/aotbench/gohost) */
  sigaction(SIGRTMIN, &sa, NULL);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGRTMIN;
  ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  if (timer_create(CLOCK_MONOTONIC, &ev, &deadline_timer) != 0) {
    perror("harness: timer_create");
    exit(2);
  }
}

static void deadline_set(long ms) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = ms / 1000;
  its.it_value.tv_nsec = (ms % 1000) * 1000000L;
  guard_armed = ms > 0;
  timeout_pending = 0;
  timer_settime(deadline_timer, 0, &its, NULL);
}

__attribute__((noreturn)) static void fatal(const char* what) {
  fprintf(stderr, "harness: %s\n", what);
  exit(3);
}

/* An import the measured scenarios never call ends the run with its name. */
__attribute__((noreturn)) static void unreached(const char* name) {
  fprintf(stderr, "harness: import %s called: not part of this measurement\n", name);
  exit(3);
}

static u8* mem(inst_t* m) { return m->w2c_memory.data; }

static void check_range(inst_t* m, u64 p, u64 n) {
  if (p > m->w2c_memory.size || n > m->w2c_memory.size - p) {
    fprintf(stderr, "harness: memory access out of bounds (%llu + %llu)\n", (unsigned long long)p,
            (unsigned long long)n);
    exit(3);
  }
}

static void put_ptr(inst_t* m, ptr_t at, ptr_t v) {
  check_range(m, at, sizeof v);
  memcpy(mem(m) + at, &v, sizeof v);
}

static ptr_t get_ptr(inst_t* m, ptr_t at) {
  ptr_t v;
  check_range(m, at, sizeof v);
  memcpy(&v, mem(m) + at, sizeof v);
  return v;
}

/* async_return starts an unwind as the glue's Asyncify.handleAsync does: it
 * mallocs the header and 40 MiB buffer, which the memory image shows. */
static u32 async_return(inst_t* m, u32 value) {
  async_value = value;
  ptr_t hdr = 3 * sizeof(ptr_t); /* start, end, rewind id (u32, padded) */
  ptr_t p = X(malloc)(m, hdr + ASYNCIFY_STACK);
  if (p == 0) fatal("malloc of the Asyncify buffer (out of memory)");
  put_ptr(m, p, p + hdr);
  put_ptr(m, p + sizeof(ptr_t), p + hdr + ASYNCIFY_STACK);
  check_range(m, p + 2 * sizeof(ptr_t), 4);
  memset(mem(m) + p + 2 * sizeof(ptr_t), 0, 4); /* the rewind id of handle */
  X(asyncify_start_unwind)(m, p);
  async_state = ASYNC_UNWINDING;
  async_data = p;
  return 0;
}

static int rewound(inst_t* m, u32* value) {
  if (async_state != ASYNC_REWINDING) return 0;
  X(asyncify_stop_rewind)(m);
  X(free)(m, async_data);
  async_state = ASYNC_NORMAL;
  async_data = 0;
  *value = async_value;
  return 1;
}

/* No drive: every open returns NULL, as the loader's does without one. */
u32 w2c_env_0x5F_asyncjs_0x5Fweavedrive_open(struct w2c_env* e, ptr_t path, ptr_t mode) {
  u32 v;
  if (rewound(e->m, &v)) return v;
  return async_return(e->m, 0);
}
u32 w2c_env_0x5F_asyncjs_0x5Fweavedrive_read(struct w2c_env* e, u32 fd, ptr_t buf, ptr_t n) { unreached("__asyncjs__weavedrive_read"); }
u32 w2c_env_0x5F_asyncjs_0x5Fweavedrive_close(struct w2c_env* e, u32 fd) { unreached("__asyncjs__weavedrive_close"); }

u32 w2c_env_0x5F_syscall_dup3(struct w2c_env* e, u32 a, u32 b, u32 c) { unreached("__syscall_dup3"); }
u32 w2c_env_0x5F_syscall_fcntl64(struct w2c_env* e, u32 fd, u32 cmd, ptr_t arg) { unreached("__syscall_fcntl64"); }
u32 w2c_env_0x5F_syscall_ioctl(struct w2c_env* e, u32 fd, u32 op, ptr_t arg) { unreached("__syscall_ioctl"); }
u32 w2c_env_0x5F_syscall_openat(struct w2c_env* e, u32 dir, ptr_t path, u32 flags, ptr_t arg) { unreached("__syscall_openat"); }
u32 w2c_env_0x5F_syscall_readlinkat(struct w2c_env* e, u32 dir, ptr_t path, ptr_t buf, ptr_t n) { unreached("__syscall_readlinkat"); }
u32 w2c_env_0x5F_syscall_renameat(struct w2c_env* e, u32 od, ptr_t op, u32 nd, ptr_t np) { unreached("__syscall_renameat"); }
u32 w2c_env_0x5F_syscall_rmdir(struct w2c_env* e, ptr_t path) { unreached("__syscall_rmdir"); }
u32 w2c_env_0x5F_syscall_unlinkat(struct w2c_env* e, u32 dir, ptr_t path, u32 flags) { unreached("__syscall_unlinkat"); }
void w2c_env_0x5Fabort_js(struct w2c_env* e) { unreached("_abort_js"); }
u32 w2c_env_0x5Femscripten_get_now_is_monotonic(struct w2c_env* e) { return 1; }
void w2c_env_0x5Femscripten_memcpy_js(struct w2c_env* e, ptr_t dst, ptr_t src, ptr_t n) {
  check_range(e->m, dst, n);
  check_range(e->m, src, n);
  memmove(mem(e->m) + dst, mem(e->m) + src, n);
}
u32 w2c_env_0x5Femscripten_system(struct w2c_env* e, ptr_t cmd) { unreached("_emscripten_system"); }
void w2c_env_0x5Femscripten_throw_longjmp(struct w2c_env* e) {
  if (ninvokes == 0) fatal("longjmp outside of any setjmp");
  longjmp(*invokes[ninvokes - 1], 1);
}
#ifdef W64
void w2c_env_0x5Fgmtime_js(struct w2c_env* e, u64 t, u64 tm) { unreached("_gmtime_js"); }
void w2c_env_0x5Flocaltime_js(struct w2c_env* e, u64 t, u64 tm) { unreached("_localtime_js"); }
#else
void w2c_env_0x5Fgmtime_js(struct w2c_env* e, u32 lo, u32 hi, u32 tm) { unreached("_gmtime_js"); }
void w2c_env_0x5Flocaltime_js(struct w2c_env* e, u32 lo, u32 hi, u32 tm) { unreached("_localtime_js"); }
#endif
ptr_t w2c_env_0x5Fmktime_js(struct w2c_env* e, ptr_t tm) { unreached("_mktime_js"); }
void w2c_env_0x5Ftzset_js(struct w2c_env* e, ptr_t tz, ptr_t dl, ptr_t std, ptr_t dst) { unreached("_tzset_js"); }
f64 w2c_env_emscripten_date_now(struct w2c_env* e) { return clock_ms++; }

/* The glue's emscripten_resize_heap: up to three attempts, each asking for
 * 20%, 10%, 5% over the current size (at most 96 MiB over the request). */
u32 w2c_env_emscripten_resize_heap(struct w2c_env* e, ptr_t requested) {
#ifdef W64
  const double heap_max = 17179869184.0;
#else
  const double heap_max = 4294901760.0;
#endif
  double old = (double)e->m->w2c_memory.size, req = (double)requested;
  if (req > heap_max) return 0;
  for (double cut = 1; cut <= 4; cut *= 2) {
    double over = fmin(old * (1 + 0.2 / cut), req + 100663296);
    double want = fmax(req, over);
    want += fmod(65536 - fmod(want, 65536), 65536);
    double size = fmin(heap_max, want);
    u32 pages = (u32)floor((size - old + 65535) / 65536);
    if (wasm_rt_grow_memory(&e->m->w2c_memory, pages) != 0xffffffffu) return 1;
  }
  return 0;
}
void w2c_env_exit(struct w2c_env* e, u32 status) { unreached("exit"); }

/* invoke_vii / invoke_vjj: call table[idx](a, b); a longjmp out of it becomes
 * setThrew(1, 0) with the stack pointer restored. */
static void invoke(inst_t* m, ptr_t idx, ptr_t a, ptr_t b) {
  ptr_t sp = X(emscripten_stack_get_current)(m);
  jmp_buf jb;
  if (ninvokes == MAX_INVOKE_DEPTH) fatal("invoke nested too deep");
  invokes[ninvokes++] = &jb;
  if (setjmp(jb) == 0) {
#ifdef W64
    X(dynCall_vjj)(m, (u32)idx, a, b);
#else
    X(dynCall_vii)(m, idx, a, b);
#endif
    ninvokes--;
    return;
  }
  ninvokes--;
  X(0x5Femscripten_stack_restore)(m, sp);
  X(setThrew)(m, 1, 0);
}
#ifdef W64
void w2c_env_invoke_vjj(struct w2c_env* e, u64 idx, u64 a, u64 b) { invoke(e->m, idx, a, b); }
#else
void w2c_env_invoke_vii(struct w2c_env* e, u32 idx, u32 a, u32 b) { invoke(e->m, idx, a, b); }
#endif
ptr_t w2c_env_strftime(struct w2c_env* e, ptr_t s, ptr_t max, ptr_t fmt, ptr_t tm) { unreached("strftime"); }

/* ao-loader 0.0.47+ gives no environment strings. */
u32 w2c_wasi__snapshot__preview1_environ_get(struct w2c_wasi__snapshot__preview1* w, ptr_t environ, ptr_t buf) {
  return 0;
}
u32 w2c_wasi__snapshot__preview1_environ_sizes_get(struct w2c_wasi__snapshot__preview1* w, ptr_t count,
                                                  ptr_t size) {
  put_ptr(w->m, count, 0);
  put_ptr(w->m, size, 0);
  return 0;
}
u32 w2c_wasi__snapshot__preview1_fd_close(struct w2c_wasi__snapshot__preview1* w, u32 fd) { unreached("fd_close"); }
u32 w2c_wasi__snapshot__preview1_fd_read(struct w2c_wasi__snapshot__preview1* w, u32 fd, ptr_t iov, ptr_t n,
                                       ptr_t nread) { unreached("fd_read"); }
#ifdef W64
u32 w2c_wasi__snapshot__preview1_fd_seek(struct w2c_wasi__snapshot__preview1* w, u32 fd, u64 off, u32 whence,
                                       u64 pos) { unreached("fd_seek"); }
#else
u32 w2c_wasi__snapshot__preview1_fd_seek(struct w2c_wasi__snapshot__preview1* w, u32 fd, u32 lo, u32 hi,
                                       u32 whence, u32 pos) { unreached("fd_seek"); }
#endif
/* stdout and stderr go to this process's stderr. */
u32 w2c_wasi__snapshot__preview1_fd_write(struct w2c_wasi__snapshot__preview1* w, u32 fd, ptr_t iov, ptr_t n,
                                        ptr_t written) {
  inst_t* m = w->m;
  ptr_t total = 0;
  host_enter();
  for (ptr_t i = 0; i < n; i++) {
    ptr_t p = get_ptr(m, iov + 2 * i * sizeof(ptr_t)), l = get_ptr(m, iov + (2 * i + 1) * sizeof(ptr_t));
    check_range(m, p, l);
    fwrite(mem(m) + p, 1, l, stderr);
    total += l;
  }
  put_ptr(m, written, total);
  host_leave();
  return 0;
}

static double now_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static char* read_file(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  char* b = malloc(*n + 1);
  if (!b || fread(b, 1, *n, f) != *n) {
    fprintf(stderr, "harness: cannot read %s\n", path);
    exit(2);
  }
  b[*n] = 0;
  fclose(f);
  return b;
}

/* The glue's stringToUTF8OnStack: len + 1 bytes on the stack. */
static ptr_t stack_string(inst_t* m, const char* s, size_t n) {
  ptr_t p = X(0x5Femscripten_stack_alloc)(m, (ptr_t)n + 1);
  check_range(m, p, n + 1);
  memcpy(mem(m) + p, s, n);
  mem(m)[p + n] = 0;
  return p;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: harness ENV.json MESSAGES.jsonl SKIP OUTPUTS MEMORY\n");
    return 2;
  }
  size_t env_len, msgs_len;
  char* env = read_file(argv[1], &env_len);
  while (env_len > 0 && (env[env_len - 1] == '\n' || env[env_len - 1] == '\r')) env[--env_len] = 0;
  char* msgs = read_file(argv[2], &msgs_len);
  int skip = atoi(argv[3]);
  const char* tenv = getenv("AOT_TIMEOUT_MS");
  long timeout_ms = tenv ? atol(tenv) : 0;
  if (timeout_ms > 0) deadline_init();
  FILE* outputs = fopen(argv[4], "w");
  if (!outputs) {
    perror(argv[4]);
    return 2;
  }

  static inst_t m;
  static struct w2c_env e;
  static struct w2c_wasi__snapshot__preview1 w;
  e.m = &m;
  w.m = &m;
  double t0 = now_ms(CLOCK_MONOTONIC);
  wasm_rt_init();
  wasm2c_aot_instantiate(&m, &e, &w);
  X(emscripten_stack_init)(&m);
  ptr_t end = X(emscripten_stack_get_end)(&m);
  if (end == 0) end = 4;
  u32 cookie1 = 0x02135467, cookie2 = 0x89BACDFE, cookie0 = 0x63736D65;
  check_range(&m, end, 8);
  memcpy(mem(&m) + end, &cookie1, 4);
  memcpy(mem(&m) + end + 4, &cookie2, 4);
  memcpy(mem(&m), &cookie0, 4);
  X(0x5F_wasm_call_ctors)(&m);
  double init_ms = now_ms(CLOCK_MONOTONIC) - t0;

  size_t cap = 1024, nt = 0;
  double* times = malloc(cap * sizeof *times);
  double sum = 0, cpu0 = 0;
  int i = 0;
  for (char* line = msgs; line && *line; i++) {
    char* nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (n == 0) break;
    if (i == skip) cpu0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    double t = now_ms(CLOCK_MONOTONIC);
    ptr_t sp = X(emscripten_stack_get_current)(&m);
    ptr_t pm = stack_string(&m, line, n);
    ptr_t pe = stack_string(&m, env, env_len);
    ptr_t r = 0;
    if (timeout_ms > 0 && sigsetjmp(timed_out, 1) != 0) {
      /* The guard fired: report how late after the deadline control came back. */
      double late = now_ms(CLOCK_MONOTONIC) - t - (double)timeout_ms;
      printf("{\"impl\":\"wasm2c\",\"timedOut\":%d,\"timeoutMs\":%ld,\"lateMs\":%.3f}\n", i, timeout_ms, late);
      return 4;
    }
    deadline_set(timeout_ms);
    for (;;) {
      r = X(handle)(&m, pm, pe);
      if (async_state != ASYNC_UNWINDING) break;
      X(asyncify_stop_unwind)(&m);
      async_state = ASYNC_REWINDING;
      X(asyncify_start_rewind)(&m, async_data);
    }
    deadline_set(0);
    check_range(&m, r, 1);
    fprintf(outputs, "%s\n", (const char*)mem(&m) + r);
    X(0x5Femscripten_stack_restore)(&m, sp);
    double d = now_ms(CLOCK_MONOTONIC) - t;
    if (i >= skip) {
      if (nt == cap) times = realloc(times, (cap *= 2) * sizeof *times);
      times[nt++] = d;
      sum += d;
    }
    line = nl ? nl + 1 : NULL;
  }
  double cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  fclose(outputs);
  FILE* out = fopen(argv[5], "wb");
  if (!out || fwrite(mem(&m), 1, m.w2c_memory.size, out) != m.w2c_memory.size || fclose(out) != 0) {
    fprintf(stderr, "harness: cannot write %s\n", argv[5]);
    return 2;
  }
  if (nt == 0) {
    fprintf(stderr, "harness: no measured messages\n");
    return 2;
  }
  qsort(times, nt, sizeof *times, cmp_double);
  printf("{\"impl\":\"wasm2c\",\"initMs\":%.3f,\"messages\":%zu,\"meanMs\":%.3f,\"medianMs\":%.3f,\"p99Ms\":%.3f,"
         "\"cpuMeanMs\":%.3f,\"memoryBytes\":%llu}\n",
         init_ms, nt, sum / nt, times[nt / 2], times[nt * 99 / 100], cpu / nt,
         (unsigned long long)m.w2c_memory.size);
  return 0;
}
