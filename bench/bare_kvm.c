/*
 * bare_kvm: a minimal KVM_RUN loop used only as the benchmark comparator for
 * vmio's run loop (see bare_kvm.h). It uses <linux/kvm.h> directly on
 * purpose, which vmio's rules allow here in bench/ and nowhere else outside
 * src/kvm: it is the "no VMM at all" baseline, doing the least a VMM can do
 * per exit (one switch on the exit reason, one range check, one add).
 *
 * Invariants: every ioctl result is checked; the loop allocates nothing and
 * makes no system call other than KVM_RUN.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bare_kvm.h"

#define BARE_PORT_LEN 0x100
#define BARE_MMIO_LEN 0x1000
#define BARE_TSS_ADDR 0xfffbd000UL

struct bare_vm {
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;
    size_t mem_size;
    uint16_t port;
    uint64_t mmio;
};

static int fail(const char *what)
{
    int e = errno;
    fprintf(stderr, "bare_kvm: %s: %s\n", what, strerror(e));
    return -e;
}

static struct kvm_segment flat(uint16_t selector, uint8_t type)
{
    return (struct kvm_segment){.base = 0,
                                .limit = 0xffffffff,
                                .selector = selector,
                                .type = type,
                                .present = 1,
                                .dpl = 0,
                                .db = 1,
                                .s = 1,
                                .l = 0,
                                .g = 1};
}

int bare_vm_create(struct bare_vm **out, size_t mem_size, uint16_t port, uint64_t mmio)
{
    struct bare_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    vm->port = port;
    vm->mmio = mmio;
    int rc = 0;
    if ((vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) {
        rc = fail("open /dev/kvm");
        goto out;
    }
    if ((vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0)) < 0) {
        rc = fail("KVM_CREATE_VM");
        goto out;
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, BARE_TSS_ADDR) < 0) {
        rc = fail("KVM_SET_TSS_ADDR");
        goto out;
    }
    vm->mem_size = mem_size;
    vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vm->mem == MAP_FAILED) {
        vm->mem = NULL;
        rc = fail("mmap guest RAM");
        goto out;
    }
    struct kvm_userspace_memory_region region = {.slot = 0,
                                                 .guest_phys_addr = 0,
                                                 .memory_size = mem_size,
                                                 .userspace_addr = (uintptr_t)vm->mem};
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        rc = fail("KVM_SET_USER_MEMORY_REGION");
        goto out;
    }
    if ((vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0)) < 0) {
        rc = fail("KVM_CREATE_VCPU");
        goto out;
    }
    int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run)) {
        rc = fail("KVM_GET_VCPU_MMAP_SIZE");
        goto out;
    }
    vm->run_size = (size_t)size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        rc = fail("mmap kvm_run");
        goto out;
    }
    struct kvm_sregs s;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        rc = fail("KVM_GET_SREGS");
        goto out;
    }
    s.cs = flat(0x10, 0xb);
    s.ds = s.es = s.fs = s.gs = s.ss = flat(0x18, 0x3);
    s.cr0 = 0x11; /* PE | ET */
    s.cr3 = s.cr4 = s.efer = 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
        rc = fail("KVM_SET_SREGS");
        goto out;
    }
out:
    if (rc < 0)
        bare_vm_destroy(vm);
    else
        *out = vm;
    return rc;
}

uint8_t *bare_vm_mem(struct bare_vm *vm)
{
    return vm->mem;
}

int bare_vm_reset(struct bare_vm *vm, uint64_t entry)
{
    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    r.rip = entry;
    r.rflags = 0x2;
    return ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0 ? fail("KVM_SET_REGS") : 0;
}

int bare_vm_run(struct bare_vm *vm, struct bare_result *res)
{
    struct kvm_run *run = vm->run;
    memset(res, 0, sizeof(*res));
    for (;;) {
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return fail("KVM_RUN");
        }
        res->exits++;
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            uint16_t off = (uint16_t)(run->io.port - vm->port);
            if (run->io.port < vm->port || off >= BARE_PORT_LEN)
                break; /* not ours: dropped, as an unclaimed write */
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
                if (run->io.direction == KVM_EXIT_IO_OUT) {
                    uint64_t v = 0;
                    memcpy(&v, data, run->io.size);
                    res->sum += v;
                } else {
                    uint64_t v = off;
                    memcpy(data, &v, run->io.size);
                }
            }
            res->accesses++;
            break;
        }
        case KVM_EXIT_MMIO: {
            uint64_t a = run->mmio.phys_addr;
            if (a < vm->mmio || a - vm->mmio + run->mmio.len > BARE_MMIO_LEN)
                break;
            if (run->mmio.is_write) {
                uint64_t v = 0;
                memcpy(&v, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
                res->sum += v;
            } else {
                uint64_t v = a - vm->mmio;
                memcpy(run->mmio.data, &v, run->mmio.len <= 8 ? run->mmio.len : 8);
            }
            res->accesses++;
            break;
        }
        case KVM_EXIT_HLT:
            return 0;
        default:
            fprintf(stderr, "bare_kvm: unexpected exit reason %u\n", run->exit_reason);
            return -EIO;
        }
    }
}

void bare_vm_destroy(struct bare_vm *vm)
{
    if (!vm)
        return;
    if (vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->mem)
        munmap(vm->mem, vm->mem_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    free(vm);
}
