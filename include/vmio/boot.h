/*
 * Loading guest images and setting up the boot CPU state.
 *
 * vmio loads multiboot (v1) kernels the way QEMU's -kernel does: ELF32 or
 * ELF64 images with a multiboot header (or its a.out-kludge address fields),
 * entered in 32-bit protected mode with paging off, EAX = 0x2BADB002 and EBX
 * = the guest-physical address of a multiboot information structure with a
 * memory map and the command line. Every image byte is untrusted: all
 * offsets and sizes are checked against the file and against guest RAM.
 */
#ifndef VMIO_BOOT_H
#define VMIO_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"
#include "vmio/file.h" /* vmio_read_file(), used with the loaders */
#include "vmio/guest_mem.h"
#include "vmio/vcpu.h"

#define VMIO_MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define VMIO_MULTIBOOT_BOOT_MAGIC 0x2BADB002u

/* Result of loading an image: where to start and what to pass. */
struct vmio_boot_info {
    uint64_t entry;    /* guest-physical entry point */
    uint64_t mbi_addr; /* guest-physical address of the multiboot info */
    uint64_t image_lo; /* lowest loaded guest-physical address */
    uint64_t image_hi; /* one past the highest loaded address (bss included) */
};

/*
 * vmio_multiboot_load - copy the multiboot image @image (@size bytes, not
 * retained) into the RAM of @mem (a VM's: vmio_vm_memory(), or any guest
 * memory object; only its RAM regions are written) and write the multiboot
 * information (memory map from @mem's RAM regions, @cmdline (may be NULL),
 * loader name "vmio") just after the image. Fills *@info. A segment may
 * span adjacent RAM regions; nothing is written outside RAM.
 * Errors: -ENOEXEC when there is no valid multiboot header or the ELF is
 * malformed (the message says which field and offset); -ERANGE when a segment
 * or the info structure does not fit in guest RAM; -ENOTSUP for header flags
 * vmio does not implement (video mode, required unknown bits); -ENOMEM.
 */
int vmio_multiboot_load(const struct vmio_guest_mem *mem, const uint8_t *image, size_t size,
                        const char *cmdline, struct vmio_boot_info *info, struct vmio_error *err);

/*
 * vmio_x86_setup_multiboot - put @vcpu in the multiboot machine state: flat
 * 32-bit code and data segments, CR0.PE set and paging off, interrupts off,
 * EAX = 0x2BADB002, EBX = info->mbi_addr, EIP = info->entry.
 * Errors: the errno of the failing register access (the backend's; with
 * KVM, an ioctl), described.
 */
int vmio_x86_setup_multiboot(struct vmio_vcpu *vcpu, const struct vmio_boot_info *info,
                             struct vmio_error *err);

#endif
