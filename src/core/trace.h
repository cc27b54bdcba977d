/*
 * Exit traces and "which instruction touched this address" (internal to
 * src/core; used by vcpu.c).
 *
 * For an MMIO read exit KVM leaves RIP at the faulting instruction, so vmio
 * can fetch it (CS base + RIP, translated through the guest's page tables,
 * read from guest RAM with bounds checks; an instruction that crosses a page
 * has its second page translated separately) and decode it with its own x86
 * decoder. For an MMIO write KVM has already completed the instruction and
 * RIP is past it: nothing in kvm_run says where it started, so vmio does not
 * guess and shows no instruction for writes.
 *
 * Invariants: nothing here trusts guest state: every guest-physical read goes
 * through the guest-memory object (vmio/guest_mem.h: bounds-checked, RAM
 * only, never pass-through), registers come through the caller's accessor
 * (no hypervisor header here), and every failure (unmapped
 * code, code in MMIO, an undecodable instruction) becomes a reason string,
 * never a crash. Decodes are cached per vCPU by the instruction's
 * guest-physical address with verified lookups (the freshly fetched bytes
 * are compared), so self-modifying or remapped code never gets a stale
 * decode. Only called with tracing on or for unclaimed-access reports: the
 * run loop's hot path never gets here.
 */
#ifndef VMIO_CORE_TRACE_H
#define VMIO_CORE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/decode.h"
#include "vmio/exit.h"
#include "vmio/guest_mem.h"
#include "vmio/ratelimit.h"
#include "vmio/x86.h"

#define VMIO_INSN_CACHE_SLOTS 256

/* A vCPU's decode cache for traces and reports. Owned by one vCPU thread. */
struct vmio_insn_cache {
    struct vmio_x86_cache cache; /* hits, misses, stale */
    uint64_t uncached;           /* decodes not inserted: the instruction crosses a page */
    struct vmio_x86_cache_entry slots[VMIO_INSN_CACHE_SLOTS];
};

/*
 * The vCPU's registers as the trace needs them: get_sregs (CS for the mode,
 * CR0/CR3/CR4/EFER for paging) and get_regs (RIP when the exit has none).
 * Each returns 0 or -errno; ctx is passed back.
 */
struct vmio_trace_regs {
    int (*get_sregs)(void *ctx, struct vmio_x86_sregs *sregs);
    int (*get_regs)(void *ctx, struct vmio_x86_regs *regs);
    void *ctx;
};

/* The instruction at a guest RIP, or why there is none. */
struct vmio_insn_view {
    bool ok;                          /* insn holds a successful decode */
    uint64_t gpa;                     /* guest-physical address of the first byte, if known */
    uint8_t bytes[VMIO_X86_MAX_INSN]; /* fetched bytes (ok: the instruction's) */
    uint8_t nbytes;                   /* how many of bytes are valid (ok: insn.len) */
    struct vmio_x86_insn insn;
    char why[128]; /* !ok: the reason, e.g. "code at gpa 0xd0000000 is not guest RAM" */
};

/* vmio_insn_cache_init - an empty cache in @c (caller-owned). */
void vmio_insn_cache_init(struct vmio_insn_cache *c);

/*
 * vmio_insn_fetch - fetch and decode the instruction at @rip for the CPU
 * state @s (CS and EFER.LMA give the mode; CR0/CR3/CR4/EFER the paging).
 * Page tables and code are read from guest RAM in @mem; @c (may be NULL)
 * caches decodes by GPA, looked up with the fetched bytes. Fills *@out
 * completely; failures set out->ok = false and out->why. No errors are
 * returned.
 */
void vmio_insn_fetch(struct vmio_insn_cache *c, const struct vmio_x86_sregs *s, uint64_t rip,
                     const struct vmio_guest_mem *mem, struct vmio_insn_view *out);

/*
 * vmio_insn_format - @insn (a successful decode) in Intel syntax into @buf
 * (size @size, NUL-terminated when size > 0): "mov eax, dword [rbx+0x8]",
 * "add dword [rbx], 0x5", "movzx ecx, byte [rsi]", "rep movs byte [rdi],
 * [rsi]", "lock xchg qword [rax], rcx". The memory operand always carries
 * its width (byte/word/dword/qword), and it is the first such word in the
 * text. Returns the length the full text needs, like snprintf.
 */
int vmio_insn_format(const struct vmio_x86_insn *insn, char *buf, size_t size);

/*
 * vmio_insn_describe - the " insn ..." suffix of a trace or report line for
 * @v into @buf: ` insn "mov eax, dword [rbx+0x8]" (8b 43 08)` or
 * ` insn ? (reason) (bytes fetched, if any)`. Returns the length, like snprintf.
 */
int vmio_insn_describe(const struct vmio_insn_view *v, char *buf, size_t size);

/*
 * vmio_trace_exit_insn - the " insn ..." suffix for the MMIO exit @e into
 * @buf: for a read, the instruction at RIP (sregs from @regs, RIP from
 * @e->ip or @regs, code and page tables from @mem, decoded through *@cache,
 * which is allocated on first use; the caller frees it); for a write
 * " insn -" (the hypervisor has completed the instruction; RIP is past it).
 * Failures are described, never returned. Only for tracing and
 * unclaimed-access reports.
 */
void vmio_trace_exit_insn(struct vmio_insn_cache **cache, const struct vmio_guest_mem *mem,
                          const struct vmio_trace_regs *regs, const struct vmio_exit *e, char *buf,
                          size_t size);

/*
 * vmio_trace_allow - whether the next trace line may be written to @out:
 * always without a @limit (a trace to a file or a pipe is complete); with
 * one (a terminal), at most VMIO_TRACE_TTY_BURST lines per second, and the
 * first line let through after a gap is preceded by
 * "vmio-trace: N lines suppressed (...)".
 */
bool vmio_trace_allow(struct vmio_ratelimit *limit, FILE *out);

/* Trace lines a terminal shows per second (vmio_vm_set_trace() to a tty). */
#define VMIO_TRACE_TTY_BURST 1000

/*
 * vmio_trace_exit - write the trace line of access exit @e (exit number @n
 * of vCPU @cpu, claimed by device @dev or NULL) to @out, ending with @insn
 * (a vmio_trace_exit_insn() suffix, or "" for port I/O).
 */
void vmio_trace_exit(FILE *out, unsigned cpu, uint64_t n, const struct vmio_exit *e,
                     const char *dev, const char *insn);

/* vmio_trace_cache_stats - the trace line with @c's counters (nothing when @c is NULL). */
void vmio_trace_cache_stats(FILE *out, unsigned cpu, const struct vmio_insn_cache *c);

#endif
