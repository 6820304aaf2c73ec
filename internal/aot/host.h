// host.h: declarations shared by host.c and the cgo preambles.
#ifndef AOCU_AOT_HOST_H_
#define AOCU_AOT_HOST_H_

#include <signal.h>
#include <stdint.h>

#include "rt/aot-abi.h"

// The realtime signal of the per-thread deadline timers. Go uses SIGURG
// (preemption) and SIGPROF, not the realtime signals; glibc keeps 32 and 33
// for itself, SIGRTMIN is the first free one (tools/aotbench's choice).
#define AOT_DEADLINE_SIGNAL (SIGRTMIN)

void aot_host_init(void);
const aot_api* aot_host_api(void);
// aot_call runs fn under a new jump target: 0, or the trap code. timeout_ns:
// -1 for no deadline, else the time left (0: already passed).
int aot_call(aot_entry fn, void* inst, const uint64_t* args, uint64_t* ret, int64_t timeout_ns);

// For tests: the fault handler (memory32's guard pages), the handler of sig
// (SIGSEGV or SIGBUS) it chains to, and the number of registered memory32
// reservations and of faults the handler turned into traps.
uintptr_t aot_fault_handler(void);
uintptr_t aot_fault_prev(int sig);
int aot_guard_count(void);
uint64_t aot_guard_traps(void);

#endif
