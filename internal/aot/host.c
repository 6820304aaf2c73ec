// host.c: the Go process's side of the ahead-of-time tier (compiled into the
// Go binary by cgo): the per-thread stack of jump targets that traps return
// to, the calls into Go for host imports, the timeout by signal, and the
// fault handler behind memory32's guard pages. See rt/aot-abi.h for the
// interface with the modules' shared objects.
#define _GNU_SOURCE
#include "host.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <ucontext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "_cgo_export.h"

// Room left on the native stack below the deepest wasm frame for the trap
// path and for host calls into Go (cgo's callback frames on this stack).
#define STACK_HEADROOM (256 * 1024)

typedef struct aot_thread {
	aot_frame* top;                 // innermost jump target
	volatile sig_atomic_t in_wasm;  // 1 while wasm code (not a host import) runs
	volatile sig_atomic_t armed;    // the deadline timer is armed
	volatile sig_atomic_t timed_out;
	int timer_state;  // 0: none yet, 1: created, -1: failed
	timer_t timer;
	uintptr_t stack_limit;
} aot_thread;

// Static TLS of the Go binary: safe to touch in a signal handler.
static __thread aot_thread T;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t timer_key;
static int signal_ok;

__attribute__((noreturn)) static void rt_trap(int code) {
	aot_frame* f = T.top;
	if (f == NULL) abort();  // a trap outside any Call: a bug in the tier
	T.top = f->prev;
	f->code = code;
	siglongjmp(f->jb, 1);
}

static void rt_push(aot_frame* f) {
	f->prev = T.top;
	f->code = 0;
	T.top = f;
}

static void rt_pop(aot_frame* f) { T.top = f->prev; }

static uint64_t rt_host_call(uintptr_t ctx, int idx, uint64_t* args, int nargs) {
	uint64_t ret = 0;
	T.in_wasm = 0;
	int rc = aocuAotHostCall(ctx, idx, args, nargs, &ret);
	T.in_wasm = 1;
	if (T.armed && T.timed_out) rt_trap(AOT_TRAP_TIMEOUT);
	if (rc != 0) rt_trap(AOT_TRAP_HOST);
	return ret;
}

// memory32's guard pages. Every live memory32 reservation (base address;
// all are AOT_MEM32_RESERVATION bytes) is in guard_base, a fixed array
// read by the fault handler without locks or allocation. 0 is a free slot;
// slots at and beyond guard_high were never used. 16384 reservations of
// 8 GiB are the whole 128 TiB of x86-64's user address space.
#define GUARD_SLOTS 16384
static _Atomic uintptr_t guard_base[GUARD_SLOTS];
static _Atomic int guard_high;
static int fault_ok;  // the fault handler is installed
static _Atomic uint64_t guard_traps;  // faults turned into traps (for tests)

static int rt_guard_add(void* p) {
	uintptr_t b = (uintptr_t)p;
	if (!fault_ok || b == 0) return -1;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t z = 0;
		if (atomic_load_explicit(&guard_base[i], memory_order_relaxed) != 0) continue;
		if (!atomic_compare_exchange_strong(&guard_base[i], &z, b)) continue;
		int h = atomic_load(&guard_high);
		while (h < i + 1 && !atomic_compare_exchange_weak(&guard_high, &h, i + 1)) {
		}
		return 0;
	}
	return -1;
}

static void rt_guard_remove(void* p) {
	uintptr_t b = (uintptr_t)p;
	int n = atomic_load(&guard_high);
	for (int i = 0; i < n; i++) {
		uintptr_t want = b;
		if (atomic_compare_exchange_strong(&guard_base[i], &want, 0)) return;
	}
}

// in_guard says whether addr lies inside a registered memory32 reservation.
// Async-signal-safe: atomic loads only.
static int in_guard(uintptr_t addr) {
	int n = atomic_load(&guard_high);
	for (int i = 0; i < n; i++) {
		uintptr_t b = atomic_load_explicit(&guard_base[i], memory_order_acquire);
		if (b != 0 && addr - b < AOT_MEM32_RESERVATION) return 1;
	}
	return 0;
}

static int rt_host_enter(void) {
	int s = T.in_wasm;
	T.in_wasm = 0;
	return s;
}

static void rt_host_leave(int s) {
	T.in_wasm = s;
	if (s && T.armed && T.timed_out) rt_trap(AOT_TRAP_TIMEOUT);
}

static const aot_api api = {
    .abi = AOT_ABI_VERSION,
    .trap = rt_trap,
    .push = rt_push,
    .pop = rt_pop,
    .host_call = rt_host_call,
    .host_enter = rt_host_enter,
    .host_leave = rt_host_leave,
    .guard_add = rt_guard_add,
    .guard_remove = rt_guard_remove,
};

// The deadline signal. In wasm code it leaves for the innermost jump target;
// anywhere else (a host import in Go, the runtime's malloc) it only marks the
// timeout, which the import's trampoline turns into a trap when it returns.
static void on_deadline(int sig, siginfo_t* si, void* uc) {
	(void)sig;
	(void)uc;
	if (si->si_code != SI_TIMER || !T.armed) return;
	T.timed_out = 1;
	if (T.in_wasm && T.top != NULL) {
		T.in_wasm = 0;
		rt_trap(AOT_TRAP_TIMEOUT);
	}
}

// The handlers of SIGSEGV and SIGBUS installed before ours (Go's, or
// wasmtime's, which chains to Go's): every fault that is not a memory32
// guard page hit in wasm code goes to them.
static struct sigaction prev_segv, prev_bus;

static void chain_fault(int sig, siginfo_t* si, void* uc) {
	const struct sigaction* p = sig == SIGBUS ? &prev_bus : &prev_segv;
	if (p->sa_flags & SA_SIGINFO) {
		p->sa_sigaction(sig, si, uc);
		return;
	}
	if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN) {
		// Back to the default action; the faulting instruction runs again
		// when we return and the fault kills the process as it would have.
		struct sigaction d;
		memset(&d, 0, sizeof d);
		d.sa_handler = SIG_DFL;
		sigemptyset(&d.sa_mask);
		sigaction(sig, &d, NULL);
		return;
	}
	p->sa_handler(sig);
}

// The fault handler: an out-of-bounds trap when wasm code (T.in_wasm: not a
// host import, not the runtime's malloc or mprotect) touched a registered
// memory32 reservation beyond its accessible size (the guard pages; a
// memory access within it cannot fault otherwise); anything else goes on to
// the previous handler (a Go nil dereference, wasmtime's own guard pages, a
// real crash). si_code > 0: a fault the kernel raised (not a kill(2) or
// tgkill(2), whose si_addr means nothing).
static void on_fault(int sig, siginfo_t* si, void* uc) {
	if (T.in_wasm && T.top != NULL && si->si_code > 0 && in_guard((uintptr_t)si->si_addr)) {
		// Out of wasm code first: a deadline signal from here on only marks
		// the timeout instead of jumping to a frame of its own.
		T.in_wasm = 0;
		atomic_fetch_add_explicit(&guard_traps, 1, memory_order_relaxed);
		// Leave with the interrupted code's signal mask (the jump targets do
		// not save one).
		sigprocmask(SIG_SETMASK, &((ucontext_t*)uc)->uc_sigmask, NULL);
		rt_trap(AOT_TRAP_OOB);
	}
	chain_fault(sig, si, uc);
}

// install_fault installs on_fault for sig, keeping the handler it replaces
// in *prev. The previous handler is read before ours is installed, so that
// a fault on another thread meanwhile never sees *prev half written.
static int install_fault(int sig, struct sigaction* prev) {
	if (sigaction(sig, NULL, prev) != 0) return 0;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	// SA_ONSTACK: Go requires it (its threads have an alternate signal
	// stack). SA_NODEFER, no mask: as wasmtime's handler, so that the
	// handlers we chain to run as they would on their own.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0) return 0;
	// Another handler installed between the two calls: chain to that one.
	if (old.sa_sigaction != prev->sa_sigaction || old.sa_flags != prev->sa_flags) *prev = old;
	return 1;
}

static void delete_timer(void* p) {
	aot_thread* t = p;
	if (t->timer_state == 1) timer_delete(t->timer);
	t->timer_state = 0;
}

static void init_once(void) {
	pthread_key_create(&timer_key, delete_timer);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_deadline;
	// SA_ONSTACK: the Go runtime requires it of every handler in its process.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	signal_ok = sigaction(AOT_DEADLINE_SIGNAL, &sa, NULL) == 0;
	fault_ok = install_fault(SIGSEGV, &prev_segv) && install_fault(SIGBUS, &prev_bus);
}

uintptr_t aot_fault_handler(void) { return (uintptr_t)on_fault; }

uintptr_t aot_fault_prev(int sig) {
	const struct sigaction* p = sig == SIGBUS ? &prev_bus : &prev_segv;
	return (uintptr_t)p->sa_sigaction;
}

uint64_t aot_guard_traps(void) { return atomic_load(&guard_traps); }

int aot_guard_count(void) {
	int n = atomic_load(&guard_high), c = 0;
	for (int i = 0; i < n; i++) c += atomic_load(&guard_base[i]) != 0;
	return c;
}

void aot_host_init(void) { pthread_once(&once, init_once); }

const aot_api* aot_host_api(void) { return &api; }

static uintptr_t current_sp(void) { return (uintptr_t)__builtin_frame_address(0); }

static void init_stack(void) {
	uintptr_t sp = current_sp(), lo = 0;
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		void* addr;
		size_t size;
		if (pthread_attr_getstack(&a, &addr, &size) == 0) lo = (uintptr_t)addr;
		pthread_attr_destroy(&a);
	}
	// Unknown, or a main thread with an unlimited stack: assume 1 MiB more.
	if (lo == 0 || lo >= sp || sp - lo > ((uintptr_t)1 << 30)) lo = sp - (1 << 20);
	T.stack_limit = lo + STACK_HEADROOM;
}

static int arm(int64_t ns) {
	if (!signal_ok) return -1;
	if (T.timer_state == 0) {
		struct sigevent ev;
		memset(&ev, 0, sizeof ev);
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = AOT_DEADLINE_SIGNAL;
		ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		if (timer_create(CLOCK_MONOTONIC, &ev, &T.timer) != 0) {
			T.timer_state = -1;
			return -1;
		}
		T.timer_state = 1;
		pthread_setspecific(timer_key, &T);
	}
	if (T.timer_state != 1) return -1;
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = ns / 1000000000;
	its.it_value.tv_nsec = ns % 1000000000;
	T.timed_out = 0;
	T.armed = 1;
	if (timer_settime(T.timer, 0, &its, NULL) != 0) {
		T.armed = 0;
		return -1;
	}
	return 0;
}

static void disarm(void) {
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	timer_settime(T.timer, 0, &its, NULL);
	T.armed = 0;
	T.timed_out = 0;
}

int aot_call(aot_entry fn, void* inst, const uint64_t* args, uint64_t* ret, int64_t timeout_ns) {
	if (T.stack_limit == 0) init_stack();
	((volatile aot_inst_header*)inst - 1)->stack_limit = T.stack_limit;
	if (T.armed && T.timed_out) return AOT_TRAP_TIMEOUT;
	int armed_here = 0;
	if (timeout_ns >= 0 && !T.armed) {
		if (timeout_ns == 0) return AOT_TRAP_TIMEOUT;
		if (arm(timeout_ns) != 0) return AOT_TRAP_TIMER;
		armed_here = 1;
	}
	aot_frame f;
	int saved = T.in_wasm;
	int code = 0;
	f.invoke = 0;
	if (sigsetjmp(f.jb, 0) == 0) {
		rt_push(&f);
		T.in_wasm = 1;
		fn(inst, args, ret);
		T.in_wasm = saved;
		rt_pop(&f);
	} else {
		code = f.code;  // the frame is popped already
		T.in_wasm = saved;
	}
	if (armed_here) {
		disarm();
		if (code == AOT_TRAP_TIMEOUT) {
			// Left the signal handler by a jump: its signal is still blocked.
			sigset_t s;
			sigemptyset(&s);
			sigaddset(&s, AOT_DEADLINE_SIGNAL);
			pthread_sigmask(SIG_UNBLOCK, &s, NULL);
		}
	}
	return code;
}
