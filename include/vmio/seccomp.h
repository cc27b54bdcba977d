/*
 * System-call filters (seccomp-BPF, through Debian's libseccomp) for vmio's
 * threads: once a thread has done its setup it keeps only the system calls
 * its job needs, so a bug a guest could reach in a device model cannot open
 * files, sockets or processes from that thread.
 *
 *   VMIO_SECCOMP_VCPU      a vCPU thread: KVM_RUN and the few KVM ioctls the
 *                          run loop and devices make (interrupt lines,
 *                          registers for traces), reads and writes on open
 *                          descriptors (serial, eventfds), poll, futex,
 *                          sleeps, signals (kicks, job control), memory.
 *   VMIO_SECCOMP_IOTHREAD  the I/O thread: epoll, reads and writes incl.
 *                          positional and vectored (disks, taps, eventfds),
 *                          fdatasync and fallocate, getrandom, the irq ioctl.
 *
 * A call outside the list is refused, not fatal: it returns -EPERM to the
 * caller and is reported at once on stderr (the system call's number and
 * the thread) and counted (vmio_seccomp_refused()), so a missing entry
 * shows up as a clear message and an error path, never as a silent kill.
 * Filters are per thread (no TSYNC) and permanent for that thread.
 *
 * Process-wide effect: the first install sets a SIGSYS handler (the report
 * and the -EPERM). Nothing is installed unless a program asks.
 */
#ifndef VMIO_SECCOMP_H
#define VMIO_SECCOMP_H

#include <stdint.h>

#include "vmio/error.h"

enum vmio_seccomp_profile {
    VMIO_SECCOMP_VCPU = 0,
    VMIO_SECCOMP_IOTHREAD,
};

/*
 * vmio_seccomp_install - confine the calling thread to @profile.
 * Errors: -EINVAL for an unknown profile; -ENOTSUP when this build has no
 * libseccomp or the kernel refuses filters; -errno of libseccomp; all
 * described in @err.
 */
int vmio_seccomp_install(enum vmio_seccomp_profile profile, struct vmio_error *err);

/* vmio_seccomp_refused - system calls refused so far, in every thread. */
uint64_t vmio_seccomp_refused(void);

#endif
