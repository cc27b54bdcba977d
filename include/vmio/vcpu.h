/*
 * Virtual CPUs, the exit-dispatch run loop, and running all vCPUs of a VM.
 *
 * One thread runs one vCPU. vmio_vcpu_run() enters the guest and handles
 * every I/O exit itself (bus lookup, device call, completion, back into the
 * guest); it returns the first exit it does not handle, filled into a
 * `struct vmio_exit` that vmio_exit_describe() turns into words.
 *
 * Several vCPUs: vmio_vm_run() starts one thread per vCPU and returns when
 * the first of them stops, after kicking and joining the others. Or run
 * vmio_vcpu_run() on threads of your own and stop them with
 * vmio_vcpu_kick() (docs/architecture.md, "Threads and ownership").
 * Kicks interrupt a thread blocked in KVM_RUN with a real-time signal,
 * vmio_vcpu_kick_signal(), which vmio reserves: it installs a handler that
 * does nothing (SA_RESTART) when the first vCPU is created, and unblocks
 * the signal in a thread while it runs a vCPU.
 */
#ifndef VMIO_VCPU_H
#define VMIO_VCPU_H

#include "vmio/error.h"
#include "vmio/exit.h"
#include "vmio/stats.h"
#include "vmio/vm.h"
#include "vmio/x86.h"

struct vmio_vcpu;

/*
 * vmio_vcpu_create - create vCPU number @index of @vm on the VM's backend
 * (KVM: with the host's supported CPUID). When the VM traces, the backend's
 * sync regs are turned on (a backend without them is fine). Errors: -EINVAL
 * for @index >= 64, -EEXIST for an index in use, the errno of a failing
 * backend operation (a KVM ioctl), described; -ENOMEM. Destroy it before
 * the VM.
 */
int vmio_vcpu_create(struct vmio_vm *vm, unsigned index, struct vmio_vcpu **out,
                     struct vmio_error *err);

/* vmio_vcpu_destroy - free @vcpu (may be NULL); folds its stats into the VM's. */
void vmio_vcpu_destroy(struct vmio_vcpu *vcpu);

/*
 * vmio_vcpu_run - run the guest until an exit the loop does not handle and
 * describe it in *@exit. Returns 0 (see exit->reason), or a negative errno
 * when the host failed in a way that is not the guest's doing (also
 * reported as VMIO_EXIT_HOST_ERROR in *@exit).
 * Only a kick (vmio_vcpu_kick(), or a power request) ends it with
 * VMIO_EXIT_INTR (POWEROFF/RESET): any other signal that interrupts KVM_RUN
 * (SIGSTOP/SIGCONT, Ctrl-Z then fg, a debugger attaching, a handler of the
 * caller's) makes it re-enter the guest. To stop a vCPU from a signal
 * handler, have the handler wake a thread that calls vmio_vcpu_kick().
 * Thread rules: one thread at a time per vCPU (any thread; the vCPU
 * remembers it for kicks while the call lasts). The kick signal is
 * unblocked in the calling thread for the duration of the call.
 */
int vmio_vcpu_run(struct vmio_vcpu *vcpu, struct vmio_exit *exit);

/*
 * vmio_vcpu_kick - make @vcpu's vmio_vcpu_run() return VMIO_EXIT_INTR soon:
 * the one under way (even when the vCPU sleeps inside KVM_RUN: halted with
 * the in-kernel LAPIC, or an application processor waiting for SIPI), or
 * else the next one, which then returns at once. Kicks do not queue: one
 * VMIO_EXIT_INTR return consumes every kick made before it. A vCPU that
 * stops for another reason while being kicked keeps the kick for its next
 * run (vmio_vm_run() clears such leftovers). Sets the backend's
 * immediate-exit flag (KVM's immediate_exit) and sends
 * vmio_vcpu_kick_signal() to the running thread.
 * Thread-safe; callable from any thread, including another vCPU's thread
 * and a device callback; not async-signal-safe (it takes a mutex).
 */
void vmio_vcpu_kick(struct vmio_vcpu *vcpu);

/*
 * vmio_vcpu_kick_signal - the real-time signal kicks use (SIGRTMIN). vmio
 * owns it: do not install another handler for it or send it yourself.
 */
int vmio_vcpu_kick_signal(void);

/* vmio_vcpu_index - the index @vcpu was created with. */
unsigned vmio_vcpu_index(const struct vmio_vcpu *vcpu);

/*
 * vmio_vcpu_mp_state - the multiprocessing state of @vcpu (KVM's) into *@state:
 * VMIO_MP_RUNNABLE, VMIO_MP_WAIT_SIPI (an application processor with the
 * in-kernel LAPIC before INIT/SIPI), VMIO_MP_INIT_RECEIVED, VMIO_MP_HALTED,
 * or another of KVM's numbers (the VMIO_MP_* values are in vmio/backend.h). Call it when the vCPU
 * is not running. Errors: -ENOTSUP when the backend has none; the errno of the backend's
 * vcpu_mp_state (KVM_GET_MP_STATE).
 */
int vmio_vcpu_mp_state(struct vmio_vcpu *vcpu, unsigned *state);

/* ---- Running every vCPU of a VM ---- */

/* Optional settings of vmio_vm_run(); all-zero means none. */
struct vmio_run_options {
    /*
     * Called first on each vCPU's thread, with that vCPU's index, before it
     * runs: pin the thread, name it, set up thread-local state. A negative
     * return stops the run: the vCPU counts as stopped with
     * VMIO_EXIT_HOST_ERROR (code = the value, message in the result's err).
     */
    int (*thread_init)(void *ctx, unsigned vcpu_index, struct vmio_error *err);
    void *ctx;
    /* If non-NULL, n entries: exits[i] receives vcpus[i]'s own last exit. */
    struct vmio_exit *exits;
};

/* What vmio_vm_run() reports: the exit that ended the run and who made it. */
struct vmio_run_result {
    struct vmio_exit exit; /* the first exit a vCPU returned */
    unsigned vcpu;         /* the index (vmio_vcpu_index()) of the vCPU that returned it */
    int rc;                /* vmio_vcpu_run()'s return value for it (0 or -errno) */
    struct vmio_error err; /* thread_init's message when it stopped the run */
};

/*
 * vmio_vm_run - run @n vCPUs of @vm (@vcpus[0..n-1], created and set up by
 * the caller; vCPU 0 is the bootstrap processor, the others wait for
 * INIT/SIPI from it as KVM leaves them) on one new thread each, and wait.
 * The first vCPU whose vmio_vcpu_run() returns ends the run: that exit,
 * whatever it is (debug-exit, shutdown, strict unclaimed access, device or
 * host error, HLT without the irqchip, a kick from vmio_vm_stop() or
 * vmio_vcpu_kick()), goes into *@out with the vCPU's index; every other
 * vCPU is kicked, and the call returns once all threads have finished.
 * Later exits of the others (usually VMIO_EXIT_INTR from the kick) are only
 * in opts->exits. No kick is left pending on return.
 * With more than one vCPU the VM needs the in-kernel irqchip (each vCPU's
 * local APIC carries INIT/SIPI, and HLT then waits inside KVM for an
 * interrupt, so a halted vCPU never ends the run).
 * Returns 0 when the run ended (see *@out). Errors (nothing ran): -EINVAL
 * for n == 0, a NULL or repeated vCPU, one of another VM, or n > 1 without
 * the irqchip (the message says so); -EAGAIN when a thread cannot be created
 * (the vCPUs already started are stopped and joined first).
 * Thread rules: the vCPUs must not be run elsewhere meanwhile; stats of
 * the vCPUs are exact once it returns (the threads are joined).
 */
int vmio_vm_run(struct vmio_vm *vm, struct vmio_vcpu *const *vcpus, unsigned n,
                const struct vmio_run_options *opts, struct vmio_run_result *out,
                struct vmio_error *err);

/*
 * vmio_vm_stop - kick every vCPU of @vm (vmio_vcpu_kick()): a vmio_vm_run()
 * under way ends, with VMIO_EXIT_INTR unless a vCPU had stopped for another
 * reason first. Thread-safe; vCPUs not running then return INTR from their
 * next run.
 */
void vmio_vm_stop(struct vmio_vm *vm);

/*
 * x86 register access. Errors: -ENOTSUP when the backend has no x86
 * registers; the errno of the failing backend operation (a KVM ioctl).
 */
int vmio_vcpu_get_regs(struct vmio_vcpu *vcpu, struct vmio_x86_regs *regs);
int vmio_vcpu_set_regs(struct vmio_vcpu *vcpu, const struct vmio_x86_regs *regs);
int vmio_vcpu_get_sregs(struct vmio_vcpu *vcpu, struct vmio_x86_sregs *sregs);
int vmio_vcpu_set_sregs(struct vmio_vcpu *vcpu, const struct vmio_x86_sregs *sregs);

/*
 * AArch64 register access: @reg is an enum vmio_arm64_reg (vmio/arm64_regs.h).
 * Call it while the vCPU is not running. Errors: -ENOTSUP when the backend
 * has no arm64 registers; -EINVAL for an unknown @reg; the errno of the
 * backend (KVM_{GET,SET}_ONE_REG).
 */
int vmio_vcpu_get_arm64_reg(struct vmio_vcpu *vcpu, unsigned reg, uint64_t *value);
int vmio_vcpu_set_arm64_reg(struct vmio_vcpu *vcpu, unsigned reg, uint64_t value);

/*
 * vmio_vcpu_stats - copy this vCPU's counters so far into *@out, times in ns
 * (read by the vCPU's own thread, or when it is not running, for exact
 * figures).
 */
void vmio_vcpu_stats(const struct vmio_vcpu *vcpu, struct vmio_stats *out);

#endif
