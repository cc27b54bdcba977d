/*
 * KVM cross-check of the x86 decoder, emulation and page walker.
 *
 * Runs the generated guest (xc_guest.c + gen_kvm_guest.py) under vmio with
 * testdev behind two checking windows (0xd0000000 and 0x10000000). The guest
 * brackets every MMIO instruction with a marker port write (0xe2) before it
 * and a checkpoint port write (0xe0) after it. At the marker this program
 * takes the register file, walks the guest page tables to fetch the bytes at
 * the guest RIP and decodes the instruction with vmio_x86_decode() in the mode
 * the code segment says (64-bit and compatibility mode both run). At every
 * MMIO exit KVM reports, it compares KVM's access (guest-physical address,
 * width, direction, written data) with what vmio predicts from the decode,
 * vmio_x86_linear_address() + vmio_x86_translate() and vmio_x86_emulate()
 * (one step per exit, so REP and read-modify-write forms are followed exit
 * by exit), and feeds the device's read data into the emulation. At the
 * checkpoint it compares the guest's register file (GPRs, arithmetic flags,
 * DF, RIP) and, for MOVS into RAM, the RAM destination with vmio's
 * prediction. Any difference fails the test.
 *
 * Usage: kvm_crosscheck GUEST.elf. Exit status 0 on success, 1 on any
 * mismatch or setup failure, no /dev/kvm included (meson runs it through
 * vmio-kvm-exec, which finds a working KVM natively or in the nested VM).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmio/boot.h"
#include "vmio/decode.h"
#include "vmio/devices.h"
#include "vmio/testdev_regs.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define LOW_WINDOW 0x10000000ULL
#define XC_PORT 0xe0 /* 0xe0 checkpoint, 0xe1 final count, 0xe2 marker */
#define MAX_REPORTS 40
#define CHECKED_FLAGS (VMIO_X86_ARITH_FLAGS | VMIO_X86_DF)

struct xc {
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu;
    unsigned long markers, checkpoints, mmio_exits, mismatches, final_count;
    bool final_seen;
    /* The instruction between the current marker and checkpoint. */
    bool active;
    uint64_t insn_rip;
    uint8_t bytes[VMIO_X86_MAX_INSN];
    struct vmio_x86_insn insn;
    struct vmio_x86_regs cur; /* vmio's register file, stepped exit by exit */
    uint64_t seg_base[VMIO_X86_NSEG];
    struct vmio_x86_paging pg;
    bool done; /* the last step completed the instruction */
    unsigned steps;
    bool expect_write; /* a read-modify-write owes its write exit */
    uint64_t expect_gpa, expect_value;
    bool ram_check; /* MOVS into RAM: destination to verify */
    uint64_t ram_gpa, ram_value;
    unsigned ram_width;
    unsigned long forms[VMIO_X86_NOP + 1];
    unsigned long modes[3]; /* instructions per enum vmio_x86_mode */
};

static void report(struct xc *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct xc *x, const char *fmt, ...)
{
    x->mismatches++;
    if (x->mismatches > MAX_REPORTS)
        return;
    fprintf(stderr, "MISMATCH at rip 0x%" PRIx64 " [", x->insn_rip);
    for (unsigned i = 0; i < x->insn.len && i < VMIO_X86_MAX_INSN; i++)
        fprintf(stderr, "%s%02x", i ? " " : "", x->bytes[i]);
    fprintf(stderr, "] %s: ", vmio_x86_op_name((enum vmio_x86_op)x->insn.op));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- guest memory through the page tables ---- */

static int read_phys(void *ctx, uint64_t gpa, unsigned len, uint64_t *value)
{
    struct xc *x = ctx;
    const uint8_t *p = vmio_vm_gpa_to_host(x->vm, gpa, len);
    if (!p)
        return -1;
    uint64_t v = 0;
    memcpy(&v, p, len);
    *value = v;
    return 0;
}

static int linear_to_gpa(struct xc *x, uint64_t la, uint64_t *gpa)
{
    return vmio_x86_translate(&x->pg, la, read_phys, x, gpa);
}

/* Reads @len bytes at linear @la (page by page) into @out. Returns 0 or -1. */
static int read_linear(struct xc *x, uint64_t la, uint8_t *out, unsigned len)
{
    while (len) {
        uint64_t gpa;
        if (linear_to_gpa(x, la, &gpa))
            return -1;
        unsigned chunk = 4096 - (unsigned)(la & 4095);
        if (chunk > len)
            chunk = len;
        const uint8_t *p = vmio_vm_gpa_to_host(x->vm, gpa, chunk);
        if (!p)
            return -1;
        memcpy(out, p, chunk);
        out += chunk;
        la += chunk;
        len -= chunk;
    }
    return 0;
}

static int load_state(struct xc *x, struct vmio_x86_regs *regs, enum vmio_x86_mode *mode)
{
    struct vmio_x86_sregs s;
    if (vmio_vcpu_get_regs(x->vcpu, regs) || vmio_vcpu_get_sregs(x->vcpu, &s))
        return -1;
    x->pg = (struct vmio_x86_paging){.cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4, .efer = s.efer};
    x->seg_base[VMIO_X86_SEG_ES] = s.es.base;
    x->seg_base[VMIO_X86_SEG_CS] = s.cs.base;
    x->seg_base[VMIO_X86_SEG_SS] = s.ss.base;
    x->seg_base[VMIO_X86_SEG_DS] = s.ds.base;
    x->seg_base[VMIO_X86_SEG_FS] = s.fs.base;
    x->seg_base[VMIO_X86_SEG_GS] = s.gs.base;
    *mode = vmio_x86_mode_from_cs((s.efer >> 10) & 1, s.cs.l, s.cs.db);
    return 0;
}

static uint64_t mask_of(unsigned w)
{
    return w >= 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
}

/* ---- marker: decode the next instruction ---- */

static void on_marker(struct xc *x)
{
    struct vmio_x86_regs r;
    enum vmio_x86_mode mode;
    x->markers++;
    if (x->active)
        report(x, "marker before the previous instruction's checkpoint");
    x->active = false;
    if (load_state(x, &r, &mode)) {
        report(x, "cannot read vCPU state");
        return;
    }
    /* RIP is at the marker's OUT (E6 E2) or just past it. */
    uint64_t la = x->seg_base[VMIO_X86_SEG_CS] + r.rip;
    uint8_t out[2];
    if (read_linear(x, la, out, 2) == 0 && out[0] == 0xE6 && out[1] == 0xE2)
        r.rip += 2;
    memset(x->bytes, 0, sizeof(x->bytes));
    x->insn_rip = r.rip;
    memset(&x->insn, 0, sizeof(x->insn));
    if (read_linear(x, x->seg_base[VMIO_X86_SEG_CS] + r.rip, x->bytes, VMIO_X86_MAX_INSN)) {
        report(x, "instruction bytes not readable through the page tables");
        return;
    }
    int rc = vmio_x86_decode(x->bytes, VMIO_X86_MAX_INSN, mode, &x->insn);
    if (rc != VMIO_DECODE_OK) {
        x->insn.len = 8;
        report(x, "vmio cannot decode: %s (%s)", vmio_decode_status_name(rc), x->insn.reason);
        return;
    }
    x->cur = r;
    x->active = true;
    x->done = false;
    x->steps = 0;
    x->expect_write = false;
    x->ram_check = false;
    x->forms[x->insn.op]++;
    x->modes[mode]++;
}

/* ---- every MMIO exit ---- */

static void on_mmio(struct xc *x, bool write, uint64_t gpa, unsigned width, uint64_t value)
{
    x->mmio_exits++;
    if (!x->active) {
        report(x, "MMIO %s of %u at 0x%" PRIx64 " outside a marked instruction",
               write ? "write" : "read", width, gpa);
        return;
    }
    const struct vmio_x86_insn *d = &x->insn;
    struct vmio_x86_regs kvm;
    enum vmio_x86_mode mode;
    if (load_state(x, &kvm, &mode)) {
        report(x, "cannot read vCPU state");
        return;
    }
    /* KVM completes writes before exiting: RIP is at or past the instruction. */
    if (kvm.rip != x->insn_rip && kvm.rip != x->insn_rip + d->len)
        report(x, "KVM rip 0x%" PRIx64 " is neither the instruction nor the next one", kvm.rip);

    if (x->expect_write) {
        x->expect_write = false;
        if (!write || gpa != x->expect_gpa || width != d->access.width ||
            (value & mask_of(width)) != x->expect_value)
            report(x,
                   "read-modify-write: KVM %s w%u 0x%" PRIx64 " data 0x%" PRIx64
                   ", vmio write w%u 0x%" PRIx64 " data 0x%" PRIx64,
                   write ? "write" : "read", width, gpa, value, d->access.width, x->expect_gpa,
                   x->expect_value);
        return;
    }
    if (x->done) {
        report(x, "an exit after the instruction completed");
        return;
    }

    /* Where vmio says the memory operand(s) are. */
    uint64_t la = vmio_x86_linear_address(d, &d->mem, &x->cur, x->seg_base);
    uint64_t mem_gpa = 0, mem2_gpa = 0;
    if (linear_to_gpa(x, la, &mem_gpa)) {
        report(x, "vmio: memory operand 0x%" PRIx64 " does not translate", la);
        return;
    }
    bool movs = d->op == VMIO_X86_OP_MOVS;
    uint64_t la2 = 0;
    if (movs) {
        la2 = vmio_x86_linear_address(d, &d->mem2, &x->cur, x->seg_base);
        if (linear_to_gpa(x, la2, &mem2_gpa)) {
            report(x, "vmio: MOVS destination 0x%" PRIx64 " does not translate", la2);
            return;
        }
    }
    bool want_write;
    uint64_t want_gpa;
    uint64_t read_data = value;
    if (movs) {
        /* The MMIO side: the source (a read) or the destination (a write). */
        want_write = write;
        want_gpa = write ? mem2_gpa : mem_gpa;
        if (write) {
            uint8_t buf[8] = {0};
            if (read_linear(x, la, buf, d->access.width)) {
                report(x, "MOVS source not readable");
                return;
            }
            memcpy(&read_data, buf, 8);
        }
    } else {
        want_write = d->access.dir == VMIO_WRITE;
        want_gpa = mem_gpa;
    }
    if (write != want_write || gpa != want_gpa || width != d->access.width) {
        report(x,
               "KVM %s of %u at 0x%" PRIx64 ", vmio %s of %u at 0x%" PRIx64 " (rsi 0x%" PRIx64
               " rdi 0x%" PRIx64 " rcx 0x%" PRIx64 ")",
               write ? "write" : "read", width, gpa, want_write ? "write" : "read", d->access.width,
               want_gpa, x->cur.gpr[VMIO_X86_RSI], x->cur.gpr[VMIO_X86_RDI],
               x->cur.gpr[VMIO_X86_RCX]);
        return;
    }

    struct vmio_x86_effect eff;
    int rc = vmio_x86_emulate(d, &x->cur, read_data, &eff);
    x->steps++;
    if (rc != VMIO_DECODE_OK) {
        report(x, "vmio_x86_emulate failed: %s", vmio_decode_status_name(rc));
        return;
    }
    x->done = eff.done;
    if (write) {
        if (!eff.write || eff.value != (value & mask_of(width)))
            report(x, "KVM wrote 0x%" PRIx64 ", vmio computes %s0x%" PRIx64, value & mask_of(width),
                   eff.write ? "" : "no write, ", eff.value);
    } else if (eff.write && movs) {
        x->ram_check = true;
        x->ram_width = width;
        x->ram_value = eff.value;
        if (linear_to_gpa(x, la2, &x->ram_gpa))
            report(x, "MOVS destination does not translate");
    } else if (eff.write) {
        x->expect_write = true;
        x->expect_gpa = gpa;
        x->expect_value = eff.value;
    }
}

/* ---- checkpoint: compare the register file ---- */

static void on_checkpoint(struct xc *x)
{
    x->checkpoints++;
    if (!x->active) {
        report(x, "checkpoint without a decoded instruction");
        return;
    }
    x->active = false;
    struct vmio_x86_regs r;
    enum vmio_x86_mode mode;
    if (load_state(x, &r, &mode)) {
        report(x, "cannot read vCPU state");
        return;
    }
    if (!x->done)
        report(x, "instruction not completed after %u exits (rcx 0x%" PRIx64 ")", x->steps,
               x->cur.gpr[VMIO_X86_RCX]);
    if (x->expect_write)
        report(x, "the write of a read-modify-write never came");
    for (unsigned i = 0; i < VMIO_X86_NGPR; i++)
        if (r.gpr[i] != x->cur.gpr[i])
            report(x, "%s: guest 0x%016" PRIx64 ", vmio 0x%016" PRIx64,
                   vmio_x86_reg_name(i, 8, false), r.gpr[i], x->cur.gpr[i]);
    uint64_t fm = CHECKED_FLAGS;
    uint8_t op = x->insn.op;
    if (op == VMIO_X86_OP_AND || op == VMIO_X86_OP_OR || op == VMIO_X86_OP_XOR ||
        op == VMIO_X86_OP_TEST)
        fm &= ~VMIO_X86_AF; /* undefined after logic operations */
    if ((r.rflags & fm) != (x->cur.rflags & fm))
        report(x, "rflags: guest 0x%" PRIx64 ", vmio 0x%" PRIx64, r.rflags & fm,
               x->cur.rflags & fm);
    /* The checkpoint's OUT is where the instruction ended (RIP at it or past it). */
    if (r.rip != x->cur.rip && r.rip != x->cur.rip + 2)
        report(x, "rip: guest 0x%" PRIx64 ", vmio 0x%" PRIx64, r.rip, x->cur.rip);
    if (x->ram_check) {
        uint64_t v;
        if (read_phys(x, x->ram_gpa, x->ram_width, &v))
            report(x, "MOVS destination 0x%" PRIx64 " not in RAM", x->ram_gpa);
        else if (v != x->ram_value)
            report(x, "MOVS into RAM: guest 0x%" PRIx64 ", vmio 0x%" PRIx64, v, x->ram_value);
    }
}

/* ---- devices ---- */

struct window {
    struct vmio_device dev;
    struct vmio_device *testdev;
    uint64_t base;
    struct xc *xc;
};

static int win_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t off = io->offset;
    unsigned width = io->width;
    struct window *w = vmio_container_of(dev, struct window, dev);
    int rc = vmio_device_read(w->testdev, off, width, value);
    if (rc == 0)
        on_mmio(w->xc, false, w->base + off, width, *value & mask_of(width));
    return rc;
}

static int win_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t off = io->offset;
    unsigned width = io->width;
    struct window *w = vmio_container_of(dev, struct window, dev);
    on_mmio(w->xc, true, w->base + off, width, value);
    return vmio_device_write(w->testdev, off, width, value);
}

static void win_destroy(struct vmio_device *dev)
{
    struct window *w = vmio_container_of(dev, struct window, dev);
    w->testdev->ops->destroy(w->testdev);
    free(w);
}

static const struct vmio_device_ops win_ops = {win_read, win_write, win_destroy};

struct ports {
    struct vmio_device dev;
    struct xc *xc;
};

static int port_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    unsigned width = io->width;
    (void)dev;
    *value = mask_of(width);
    return 0;
}

static int port_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t off = io->offset;
    struct ports *p = vmio_container_of(dev, struct ports, dev);
    if (off == 0)
        on_checkpoint(p->xc);
    else if (off == 1) {
        p->xc->final_seen = true;
        p->xc->final_count = (uint32_t)value;
    } else if (off == 2)
        on_marker(p->xc);
    return 0;
}

static void port_destroy(struct vmio_device *dev)
{
    free(vmio_container_of(dev, struct ports, dev));
}

static const struct vmio_device_ops port_ops = {port_read, port_write, port_destroy};

static int add_window(struct xc *x, uint64_t base, struct vmio_error *err)
{
    struct window *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    int made = vmio_testdev_create("testdev", &w->testdev, err);
    if (made < 0) {
        free(w);
        return made;
    }
    w->dev = (struct vmio_device){.name = "xc-window", .ops = &win_ops};
    w->base = base;
    w->xc = x;
    int rc = vmio_vm_add_device(x->vm, VMIO_SPACE_MMIO, &w->dev, base, VMIO_TESTDEV_MMIO_SIZE, err);
    if (rc)
        win_destroy(&w->dev);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s GUEST.elf\n", argv[0]);
        return 1;
    }
    static struct xc x;
    struct vmio_error err = {0};
    struct vmio_vm_options opts = {.mem_size = 64ULL << 20, .unclaimed = VMIO_UNCLAIMED_IGNORE};
    int rc = vmio_vm_create(&opts, &x.vm, &err);
    if (rc) {
        fprintf(stderr, "vm: %s\n", err.msg);
        return 1;
    }
    struct ports *p = calloc(1, sizeof(*p));
    struct vmio_device *dbg = NULL;
    if (!p || vmio_debug_exit_create("debug-exit", &dbg, NULL) < 0)
        return 1;
    p->dev = (struct vmio_device){.name = "xc-ports", .ops = &port_ops};
    p->xc = &x;
    uint8_t *image = NULL;
    size_t size = 0;
    struct vmio_boot_info info;
    if ((rc = add_window(&x, VMIO_TESTDEV_MMIO_BASE, &err)) ||
        (rc = add_window(&x, LOW_WINDOW, &err)) ||
        (rc = vmio_vm_add_device(x.vm, VMIO_SPACE_PIO, &p->dev, XC_PORT, 8, &err)) ||
        (rc = vmio_vm_add_device(x.vm, VMIO_SPACE_PIO, dbg, VMIO_DEBUG_EXIT_PORT, 1, &err)) ||
        (rc = vmio_vcpu_create(x.vm, 0, &x.vcpu, &err)) ||
        (rc = vmio_read_file(argv[1], 64 << 20, &image, &size, &err)) ||
        (rc = vmio_multiboot_load(vmio_vm_memory(x.vm), image, size, NULL, &info, &err)) ||
        (rc = vmio_x86_setup_multiboot(x.vcpu, &info, &err))) {
        fprintf(stderr, "setup: %s (%d)\n", err.msg, rc);
        return 1;
    }
    free(image);

    struct vmio_exit e;
    int status = 0;
    for (;;) {
        rc = vmio_vcpu_run(x.vcpu, &e);
        if (rc < 0 || e.reason != VMIO_EXIT_INTR)
            break;
    }
    char desc[256];
    vmio_exit_describe(&e, desc, sizeof(desc));
    if (e.reason != VMIO_EXIT_DEBUG_EXIT || e.code != 0) {
        fprintf(stderr, "guest did not finish cleanly: %s\n", desc);
        if (x.active)
            report(&x, "the guest stopped inside this instruction");
        status = 1;
    }
    if (!x.final_seen || x.final_count != x.checkpoints || x.markers != x.checkpoints) {
        fprintf(stderr, "guest ran %lu markers and %lu checkpoints of %lu\n", x.markers,
                x.checkpoints, x.final_count);
        status = 1;
    }
    printf("%lu instructions, %lu MMIO exits compared with KVM, %lu mismatches\n", x.checkpoints,
           x.mmio_exits, x.mismatches);
    printf("by mode: 64-bit=%lu 32-bit=%lu; by operation:", x.modes[VMIO_X86_MODE_64],
           x.modes[VMIO_X86_MODE_32]);
    for (unsigned i = 0; i < VMIO_X86_NOP; i++)
        if (x.forms[i])
            printf(" %s=%lu", vmio_x86_op_name((enum vmio_x86_op)i), x.forms[i]);
    printf("\n");
    if (x.mismatches)
        status = 1;
    vmio_vcpu_destroy(x.vcpu);
    vmio_vm_destroy(x.vm);
    return status;
}
