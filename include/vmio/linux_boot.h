/*
 * The Linux x86 boot protocol: booting an unmodified bzImage (with an
 * optional initrd and a command line) the way a boot loader without BIOS
 * does, through the kernel's 64-bit entry point (or its 32-bit one for
 * images that lack it). docs/linux-boot.md explains every choice.
 *
 * The pieces, each pure (no KVM, no I/O) except the last two:
 *   1. vmio_bzimage_parse()   the setup header of the image, every field
 *                             checked against the file;
 *   2. vmio_linux_layout()    where the kernel, initrd, command line, zero
 *                             page, GDT, page tables and stack go in guest RAM;
 *   3. vmio_linux_zero_page() the 4 KiB boot_params the kernel reads;
 *   4. vmio_linux_gdt(), vmio_linux_page_tables(), vmio_linux_entry_state()
 *                             the bytes and the register state of the entry;
 *   5. vmio_linux_load()      1-4 in one call, then everything copied into
 *                             guest memory through a gpa-to-host callback;
 *   6. vmio_linux_setup_vcpu() the entry state applied to a vCPU.
 *
 * Trust: the image, the initrd and the command line are untrusted. Every
 * size is checked against the file, every address computation for
 * wraparound, and nothing is written to guest memory outside the spans the
 * callback accepted. Errors name the file offset and the field.
 */
#ifndef VMIO_LINUX_BOOT_H
#define VMIO_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/e820.h"
#include "vmio/error.h"
#include "vmio/gpa_range.h"
#include "vmio/x86.h"

/* ---- 1. The image ---- */

#define VMIO_BZ_MIN_VERSION 0x0206 /* cmdline_size appeared in 2.06 */

/* The setup header lives at [0x1f1, 0x202 + jump offset) of the file and of the zero page. */
#define VMIO_BZ_HEADER_OFFSET 0x1f1
#define VMIO_BZ_HEADER_LIMIT 0x290 /* boot_params has room up to here (edd_mbr_sig_buffer) */

/* loadflags bits */
#define VMIO_BZ_LOADED_HIGH 0x01
#define VMIO_BZ_CAN_USE_HEAP 0x80
/* xloadflags bits */
#define VMIO_BZ_XLF_KERNEL_64 0x0001
#define VMIO_BZ_XLF_CAN_BE_LOADED_ABOVE_4G 0x0002

/* What vmio reads from a bzImage's setup header (fields from the file, checked). */
struct vmio_bzimage {
    uint16_t version;          /* boot protocol, (major << 8) | minor; >= 2.06 */
    uint8_t setup_sects;       /* real-mode setup sectors; a 0 in the file reads as 4 */
    uint8_t loadflags;         /* LOADED_HIGH is always set */
    uint16_t xloadflags;       /* 0 before protocol 2.12 */
    bool relocatable;          /* relocatable_kernel != 0 */
    uint8_t min_alignment;     /* log2; 0 before 2.10 */
    uint32_t syssize;          /* protected-mode code size in 16-byte paragraphs; > 0 */
    uint32_t kernel_alignment; /* a power of two when relocatable */
    uint32_t initrd_addr_max;  /* highest address the initrd's last byte may have */
    uint32_t cmdline_size;     /* longest command line, without its NUL */
    uint64_t pref_address;     /* preferred load address; 0x100000 before 2.10 */
    uint32_t init_size;        /* bytes needed from the runtime start; before 2.10: kernel_size */
    uint64_t kernel_offset;    /* file offset of the protected-mode code: (setup_sects + 1) * 512 */
    /* Bytes of it: syssize * 16 (what follows, e.g. an appended signature, is not loaded). */
    uint64_t kernel_size;
    unsigned header_end; /* one past the setup header: 0x202 + the jump's offset byte */
    /* File bytes [0x1f1, header_end), for the zero page; the rest is 0. */
    uint8_t header[VMIO_BZ_HEADER_LIMIT - VMIO_BZ_HEADER_OFFSET];
};

/*
 * vmio_bzimage_detect - whether @image (@size bytes) starts like a bzImage:
 * boot_flag 0xaa55 at 0x1fe and "HdrS" at 0x202. Cheap; for choosing a
 * loader. A true answer does not mean vmio_bzimage_parse() accepts it.
 */
bool vmio_bzimage_detect(const uint8_t *image, size_t size);

/*
 * vmio_bzimage_detect_file - vmio_bzimage_detect() on the first 4 KiB of the
 * regular file @path (vmio_read_file_head()). Returns 1 (a bzImage), 0 (not
 * one, or shorter than a header), or -errno with @err naming the path when
 * it cannot be read (a FIFO or other non-regular file: -EINVAL).
 */
int vmio_bzimage_detect_file(const char *path, struct vmio_error *err);

/*
 * vmio_bzimage_parse - read and check the setup header of the bzImage
 * @image (@size bytes, not retained) into *@out.
 * Errors: -ENOEXEC with a message that names the field and its file offset:
 * no boot sector signature, no "HdrS", a header cut short by the end of the
 * file ("truncated setup header: ..."), a jump that does not give a header
 * length covering the fields of the protocol, protocol older than 2.06
 * ("protocol 2.04 is too old (need 2.06)"), no LOADED_HIGH (a zImage),
 * setup_sects or syssize pointing past the end of the file, syssize 0, a
 * relocatable kernel whose kernel_alignment is not a power of two;
 * -EINVAL for NULL @image or @out.
 */
int vmio_bzimage_parse(const uint8_t *image, size_t size, struct vmio_bzimage *out,
                       struct vmio_error *err);

/* ---- 2. The layout ---- */

enum vmio_linux_entry_mode {
    VMIO_LINUX_ENTRY_AUTO = 0, /* 64-bit when the image has it (XLF_KERNEL_64), else 32-bit */
    VMIO_LINUX_ENTRY_32 = 32,  /* 32-bit protected mode, paging off, EIP = load address */
    VMIO_LINUX_ENTRY_64 = 64,  /* long mode, identity paging, RIP = load address + 0x200 */
};

/*
 * Fixed places in low memory (below the EBDA at 0x9fc00; the first page,
 * with the real-mode IVT and BIOS data area, is left alone):
 *   0x1000  GDT (4 descriptors)          0x2000-0x7fff page tables (6 pages)
 *   0x8000-0x8fff boot stack             0x9000 zero page (boot_params)
 *   0xa000  command line (up to 0x9fc00)
 */
#define VMIO_LINUX_GDT_ADDR 0x1000ULL
#define VMIO_LINUX_GDT_SIZE 32ULL /* null, null, __BOOT_CS, __BOOT_DS */
#define VMIO_LINUX_PT_ADDR 0x2000ULL
#define VMIO_LINUX_PT_SIZE 0x6000ULL /* PML4, PDPT, 4 page directories of 2 MiB pages */
#define VMIO_LINUX_STACK_TOP 0x9000ULL
#define VMIO_LINUX_ZERO_PAGE_ADDR 0x9000ULL
#define VMIO_LINUX_ZERO_PAGE_SIZE 0x1000ULL
#define VMIO_LINUX_CMDLINE_ADDR 0xa000ULL
#define VMIO_LINUX_CMDLINE_LIMIT 0x9fc00ULL        /* the command line and its NUL end below */
#define VMIO_LINUX_IDENTITY_MAP_END 0x100000000ULL /* the page tables map [0, 4 GiB) */
#define VMIO_LINUX_INITRD_ALIGN 0x1000ULL

/* The selectors the boot protocol requires (__BOOT_CS, __BOOT_DS). */
#define VMIO_LINUX_BOOT_CS 0x10
#define VMIO_LINUX_BOOT_DS 0x18

/* What the layout needs besides the image. */
struct vmio_linux_layout_request {
    const struct vmio_gpa_range *ram; /* guest RAM, any order; may touch or overlap */
    unsigned ram_count;
    const struct vmio_gpa_range *reserved; /* RAM nothing may be placed in (ACPI tables...) */
    unsigned reserved_count;
    uint64_t initrd_size; /* 0: no initrd */
    uint64_t cmdline_len; /* strlen() of the command line */
    enum vmio_linux_entry_mode mode;
};

/* Where everything goes. Addresses are guest-physical; sizes in bytes. */
struct vmio_linux_layout {
    enum vmio_linux_entry_mode mode;     /* 32 or 64, never AUTO */
    uint64_t kernel_addr;                /* load address of the protected-mode code */
    uint64_t kernel_size;                /* bytes copied there (struct vmio_bzimage.kernel_size) */
    uint64_t init_addr;                  /* runtime start: kernel_addr when relocatable, else
                                            pref_address */
    uint64_t init_size;                  /* bytes the kernel needs from init_addr */
    uint64_t entry;                      /* first instruction: kernel_addr + 0x200 (64-bit) or
                                            kernel_addr (32-bit) */
    uint64_t initrd_addr, initrd_size;   /* 0, 0 without an initrd */
    uint64_t cmdline_addr, cmdline_size; /* size counts the NUL */
    uint64_t zero_page_addr;
    uint64_t gdt_addr, gdt_size;
    uint64_t page_tables_addr, page_tables_size; /* size 0 with the 32-bit entry */
    uint64_t stack_top;
};

/*
 * vmio_linux_layout - choose where everything of @bz goes for @req, into
 * *@out. The rules (docs/linux-boot.md, "Where everything goes"):
 *   - a relocatable kernel at pref_address rounded up to kernel_alignment if
 *     [it, + max(init_size, kernel_size)) is free RAM below 4 GiB, else at
 *     the lowest aligned address from 1 MiB where it is; a non-relocatable
 *     one is loaded at 1 MiB and needs [pref_address, + init_size) too;
 *   - the fixed low-memory places above, each inside RAM and outside
 *     @req->reserved;
 *   - the initrd as high as possible, 4 KiB aligned, ending at or below
 *     min(initrd_addr_max, 4 GiB - 1), from 1 MiB up, clear of the kernel's
 *     ranges and of @req->reserved.
 * Errors (-EINVAL for bad arguments and invalid ranges; -E2BIG for a command
 * line longer than cmdline_size or than the room below 0x9fc00; -ENOMEM when
 * something does not fit, the message saying what, how big and the RAM
 * there is, e.g. "initrd of N bytes does not fit below 0x7fffffff (RAM
 * ...)"; -ENOTSUP for the 64-bit entry on an image without XLF_KERNEL_64).
 * Nothing of @bz or @req is retained; *@out is written only on success.
 */
int vmio_linux_layout(const struct vmio_bzimage *bz, const struct vmio_linux_layout_request *req,
                      struct vmio_linux_layout *out, struct vmio_error *err);

/* ---- 3. The zero page ---- */

/*
 * vmio_linux_zero_page - fill @page (4096 bytes) with the boot_params for
 * @bz placed as @lay says: all zero, the image's setup header copied at
 * 0x1f1, then the fields a loader writes (type_of_loader 0xff, CAN_USE_HEAP
 * and heap_end_ptr, vid_mode "normal", code32_start, cmd_line_ptr and
 * ext_cmd_line_ptr, ramdisk_image/ramdisk_size and their ext_ halves), the
 * ACPI RSDP address @acpi_rsdp (0: none; the kernel then scans the BIOS
 * areas) and the e820 map @e820 (NULL: none).
 * Errors: -EINVAL for NULL @bz, @lay or @page, a @bz whose header_end is not
 * in (0x1f1, 0x290], or an e820 map with more than 128 entries; -ERANGE for
 * an address above 4 GiB when the image lacks XLF_CAN_BE_LOADED_ABOVE_4G.
 */
int vmio_linux_zero_page(const struct vmio_bzimage *bz, const struct vmio_linux_layout *lay,
                         const struct vmio_e820_map *e820, uint64_t acpi_rsdp, uint8_t *page,
                         struct vmio_error *err);

/* ---- 4. The entry state ---- */

/*
 * vmio_linux_gdt - the boot GDT for @mode into @gdt (VMIO_LINUX_GDT_SIZE
 * bytes): two null descriptors, then at 0x10 a flat execute/read code
 * segment (64-bit: L=1; 32-bit: D=1, 4 GiB) and at 0x18 a flat 4 GiB
 * read/write data segment. These are the descriptors vmio_linux_entry_state()
 * loads into CS and DS/ES/SS/FS/GS.
 */
void vmio_linux_gdt(enum vmio_linux_entry_mode mode, uint8_t *gdt);

/*
 * vmio_linux_page_tables - identity page tables for [0, 4 GiB) with 2 MiB
 * pages into @buf (VMIO_LINUX_PT_SIZE bytes), for placing at guest-physical
 * @base (4 KiB aligned; the tables point at each other through it): PML4 at
 * @base, the PDPT at @base + 0x1000, page directories at @base + 0x2000..
 * 0x5fff. Pages are present, writable, supervisor.
 * Errors: -EINVAL for NULL @buf, an unaligned @base or one whose tables
 * would not lie below 4 GiB.
 */
int vmio_linux_page_tables(uint64_t base, uint8_t *buf, struct vmio_error *err);

/*
 * vmio_linux_entry_state - the vCPU state at the kernel's entry for @lay:
 * 64-bit: long mode (EFER.LME|LMA, CR0.PE|PG, CR4.PAE, CR3 = the page
 * tables), RIP = entry; 32-bit: protected mode, paging off, EIP = entry. Both:
 * CS = 0x10, DS/ES/SS/FS/GS = 0x18 from the boot GDT, RSI = the zero page,
 * RSP = the boot stack, other GPRs 0, RFLAGS = 0x2 (interrupts off), an
 * empty IDT, a busy TSS and an unusable LDT (VM entry needs them).
 */
void vmio_linux_entry_state(const struct vmio_linux_layout *lay, struct vmio_x86_regs *regs,
                            struct vmio_x86_sregs *sregs);

/* ---- 5. Into guest memory ---- */

/*
 * The one way the loader reaches guest memory: a host pointer for the
 * guest-physical span [@gpa, @gpa + @len), or NULL unless all of it is guest
 * RAM (vmio_vm_gpa_to_host() has this meaning; wrap it in a function taking
 * void * for the VM).
 */
typedef void *(*vmio_gpa_to_host_fn)(void *ctx, uint64_t gpa, uint64_t len);

/* Everything vmio_linux_load() needs. Nothing is retained after the call. */
struct vmio_linux_boot {
    const uint8_t *image; /* the bzImage file */
    size_t image_size;
    const uint8_t *initrd; /* may be NULL when initrd_size is 0 */
    size_t initrd_size;
    const char *cmdline; /* NULL means "" */
    const struct vmio_gpa_range *ram;
    unsigned ram_count;
    const struct vmio_gpa_range *reserved;
    unsigned reserved_count;
    const struct vmio_e820_map *e820; /* NULL: vmio_e820_pc(ram, reserved as RESERVED) */
    uint64_t acpi_rsdp;               /* 0: none */
    enum vmio_linux_entry_mode mode;
};

/*
 * vmio_linux_load - parse @boot->image, lay it out, build the zero page and
 * the entry structures, and copy the kernel, initrd, command line, zero
 * page, GDT and page tables into guest memory through @gpa_to_host(@ctx,
 * ...). Fills *@out (for vmio_linux_setup_vcpu()). Nothing is written before
 * every check has passed and every span has been resolved to host memory.
 * Errors: those of vmio_bzimage_parse(), vmio_linux_layout(),
 * vmio_e820_pc() and vmio_linux_zero_page(); -EFAULT when @gpa_to_host
 * refuses a span (the message names what and where); -EINVAL for NULL
 * arguments.
 */
int vmio_linux_load(const struct vmio_linux_boot *boot, vmio_gpa_to_host_fn gpa_to_host, void *ctx,
                    struct vmio_linux_layout *out, struct vmio_error *err);

/* ---- 6. On a VM ---- */

struct vmio_vm;

/* What vmio_linux_boot_vm() loads; everything is borrowed for the call. */
struct vmio_linux_vm_boot {
    const uint8_t *image; /* the bzImage file */
    size_t image_size;
    const uint8_t *initrd; /* NULL when initrd_size is 0 */
    size_t initrd_size;
    const char *cmdline; /* NULL means "" */
    uint64_t rsdp;       /* the ACPI RSDP (boot_params.acpi_rsdp_addr); 0: none */
    uint64_t acpi_base;  /* the ACPI tables, typed ACPI in e820; size 0: none */
    uint64_t acpi_size;
};

/*
 * vmio_linux_boot_vm - load the Linux kernel of @b into @vm's guest memory
 * (vmio_linux_load(), 64-bit entry when the image has one): the RAM regions of
 * vmio_vm_memory(@vm) give the layout and, with the ACPI range, the e820 map
 * (vmio_e820_pc()). Fills *@out for vmio_linux_setup_vcpu() on vCPU 0.
 * Errors: those of vmio_e820_pc() and vmio_linux_load() (a truncated or
 * too-old image, an initrd or kernel that does not fit: the message says
 * which, with sizes and addresses); -ENOMEM.
 */
int vmio_linux_boot_vm(struct vmio_vm *vm, const struct vmio_linux_vm_boot *b,
                       struct vmio_linux_layout *out, struct vmio_error *err);

/* ---- 7. The vCPU ---- */

struct vmio_vcpu;

/*
 * vmio_linux_setup_vcpu - apply vmio_linux_entry_state(@lay) to @vcpu (the
 * bootstrap processor) with vmio_vcpu_set_sregs() and vmio_vcpu_set_regs().
 * Errors: the errno of the failing call, with its name in the message.
 */
int vmio_linux_setup_vcpu(struct vmio_vcpu *vcpu, const struct vmio_linux_layout *lay,
                          struct vmio_error *err);

#endif
