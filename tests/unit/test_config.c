/*
 * VM-config schema unit tests (no KVM, no files: documents are parsed from
 * memory with vmio_config_parse()): every key of the AxVM schema and vmio's
 * extensions, relative path resolution, the architecture decision, the
 * emu_type -> model mapping, the memory map a config produces, every schema
 * error message (checked exactly), and robustness on truncated documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmio/backend_fake.h"
#include "vmio/boot.h"
#include "vmio/config.h"
#include "vmio/devices.h"
#include "vmio/guest_mem.h"
#include "vmio/memmap.h"
#include "vmio/pc.h"
#include "vmio/vm.h"

#define PATH "t/vm.toml"
#define KERNEL "[kernel]\nkernel_path = \"k.elf\"\nmemory_regions = [[0, 0x4000000, 7, 0]]\n"

static struct vmio_config *parse_ok(const char *doc, const char *path)
{
    struct vmio_config *cfg = NULL;
    struct vmio_error err = {0};
    int rc = vmio_config_parse(doc, strlen(doc), path, &cfg, &err);
    if (rc)
        fail_msg("parse failed: %s", err.msg);
    return cfg;
}

/* Returns 1 (and prints both) when the error differs from the expected one. */
static int parse_fails(const char *doc, int code, const char *msg)
{
    struct vmio_config *cfg = (struct vmio_config *)1;
    struct vmio_error err = {0};
    int rc = vmio_config_parse(doc, strlen(doc), PATH, &cfg, &err);
    assert_null(cfg);
    if (rc == code && strcmp(err.msg, msg) == 0)
        return 0;
    print_error("document:\n%s\nexpected %d \"%s\"\n     got %d \"%s\"\n", doc, code, msg, rc,
                err.msg);
    return 1;
}

static const char full_doc[] =
    "[base]\n"
    "id = 3\n"
    "name = \"full\"\n"
    "vm_type = 2\n"
    "cpu_num = 1\n"
    "phys_cpu_ids = [0]\n"
    "phys_cpu_sets = [0x2]\n"
    "\n"
    "[kernel]\n"
    "entry_point = 0x100000\n"
    "image_location = \"memory\"\n"
    "kernel_path = \"img/./k.elf\"\n"
    "kernel_load_addr = 0x100000\n"
    "dtb_path = \"/abs/x.dtb\"\n"
    "dtb_load_addr = 0x300000\n"
    "ramdisk_path = \"rd.img\"\n"
    "ramdisk_load_addr = 0x400000\n"
    "cmdline = \"console=ttyS0\"\n"
    "memory_regions = [\n"
    "  [0x0, 0x400_0000, 0x7, 0],\n"
    "  { gpa = 0xfff0_0000, size = 0x10_0000, flags = 0x5, map_type = 1 },\n"
    "  [0xfec0_0000, 0x1000, 0x33, 2],\n"
    "]\n"
    "\n"
    "[devices]\n"
    "emu_devices = [\n"
    "  [\"com1\", 0x3f8, 8, 4, 0x2, []],\n"
    "  [\"uart-mmio\", 0xd100_0000, 0x1000, 5, 0x2, [115200]],\n"
    "  [\"exit\", 0xf4, 1, 0, 0xf1, []],\n"
    "  [\"con\", 0xe9, 1, 0, 0xf2],\n"
    "  { name = \"td\", base_gpa = 0xd000_0000, length = 0x1000, irq_id = 0, emu_type = 0xf0 },\n"
    "]\n"
    "passthrough_devices = [\n"
    "  [\"pt-file\", 0xe000_0000, 0x0, 0x2000, 9],\n"
    "  [\"pt-mem\", 0xe100_0800, 0xfe00_0800, 0x100],\n"
    "  [\"dt-node\"],\n"
    "]\n"
    "passthrough_addresses = [[0xe200_0000, 0x1000]]\n"
    "excluded_devices = [[\"/soc/a\", \"/soc/b\"], []]\n"
    "interrupt_mode = \"emu\"\n"
    "[[devices.passthrough_backing]]\n"
    "device = \"pt-file\"\n"
    "backing = \"file:pt.bin\"\n"
    "[[devices.passthrough_backing]]\n"
    "device = \"passthrough_addresses[0]\"\n"
    "backing = \"shm:vm-shared\"\n";

static void test_full(void **state)
{
    (void)state;
    struct vmio_config *c = parse_ok(full_doc, PATH);
    assert_int_equal(c->arch, VMIO_ARCH_X86_64);
    assert_string_equal(c->arch_reason,
                        "default: no base.arch, no arch-specific device, no arch in the file name");
    assert_int_equal(c->id, 3);
    assert_string_equal(c->name, "full");
    assert_int_equal(c->vm_type, 2);
    assert_int_equal(c->cpu_num, 1);
    assert_int_equal(c->nphys_cpu_ids, 1);
    assert_int_equal(c->phys_cpu_sets[0], 2);
    assert_true(c->has_entry_point && c->entry_point == 0x100000);
    assert_string_equal(c->image_location, "memory");
    assert_string_equal(c->kernel_path, "t/img/./k.elf");
    assert_string_equal(c->dtb_path, "/abs/x.dtb");
    assert_string_equal(c->ramdisk_path, "t/rd.img");
    assert_int_equal(c->ramdisk_load_addr, 0x400000);
    assert_string_equal(c->cmdline, "console=ttyS0");
    assert_int_equal(c->nmem, 3);
    assert_int_equal(c->mem[1].gpa, 0xfff00000);
    assert_int_equal(c->mem[1].flags, 5);
    assert_int_equal(c->mem[1].map_type, VMIO_MAP_IDENTICAL);
    assert_int_equal(c->mem[2].map_type, VMIO_MAP_RESERVED);
    assert_int_equal(c->mem[1].line, 21);

    assert_int_equal(c->nemu, 5);
    assert_int_equal(c->emu[0].model, VMIO_MODEL_UART16550);
    assert_int_equal(c->emu[0].space, VMIO_SPACE_PIO);
    assert_int_equal(c->emu[0].irq_id, 4);
    assert_int_equal(c->emu[1].space, VMIO_SPACE_MMIO);
    assert_int_equal(c->emu[1].ncfg, 1);
    assert_int_equal(c->emu[1].cfg_list[0], 115200);
    assert_int_equal(c->emu[2].model, VMIO_MODEL_DEBUG_EXIT);
    assert_int_equal(c->emu[3].model, VMIO_MODEL_DEBUGCON);
    assert_int_equal(c->emu[3].ncfg, 0);
    assert_int_equal(c->emu[4].model, VMIO_MODEL_TESTDEV);
    assert_string_equal(c->emu[4].name, "td");

    /* 3 devices + 1 address + 1 DEVICE-flagged memory region */
    assert_int_equal(c->npt, 5);
    assert_string_equal(c->pt[0].backing, "file:t/pt.bin");
    assert_int_equal(c->pt[0].irq_id, 9);
    assert_null(c->pt[1].backing);
    assert_string_equal(vmio_config_backing_name(&c->pt[1]), "/dev/mem");
    assert_int_equal(c->pt[2].length, 0);
    assert_string_equal(c->pt[3].name, "passthrough_addresses[0]");
    assert_int_equal(c->pt[3].base_hpa, 0); /* offset in the shm object */
    assert_string_equal(c->pt[3].backing, "shm:vm-shared");
    assert_string_equal(c->pt[4].name, "memory_regions[2]");
    assert_true(c->pt[4].from_memory_regions);
    assert_false(c->pt[4].readonly);
    assert_int_equal(c->nexcluded, 2);
    assert_string_equal(c->excluded[0][1], "/soc/b");
    assert_int_equal(c->nexcluded_each[1], 0);
    assert_int_equal(c->irq_mode, VMIO_IRQ_EMULATED);

    /* Valid, but not runnable: the device-tree node reference. */
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_runnable(c, &err), -ENOTSUP);
    assert_string_equal(err.msg, "t/vm.toml: line 36, column 3: pass-through device 'dt-node' "
                                 "has no length (a device-tree node reference); x86_64 VMs have "
                                 "no device tree");
    vmio_config_free(c);
}

static void test_memmap_of_config(void **state)
{
    (void)state;
    struct vmio_config *c = parse_ok(full_doc, PATH);
    struct vmio_memmap *mm = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_memmap(c, &mm, &err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vmio_memmap_print(mm, f);
    fclose(f);
    assert_string_equal(
        buf,
        "memory map (guest-physical):\n"
        "  0x0000000000000000-0x0000000003ffffff  64 MiB     ram          memory_regions[0]\n"
        "  0x00000000d0000000-0x00000000d0000fff  4 KiB      device       td\n"
        "  0x00000000d1000000-0x00000000d1000fff  4 KiB      device       uart-mmio\n"
        "  0x00000000e0000000-0x00000000e0001fff  8 KiB      passthrough  pt-file <- "
        "file:t/pt.bin @ 0x0\n"
        "  0x00000000e1000000-0x00000000e1000fff  4 KiB      passthrough  pt-mem <- /dev/mem @ "
        "0xfe000000\n"
        "  0x00000000e2000000-0x00000000e2000fff  4 KiB      passthrough  passthrough_addresses[0] "
        "<- shm:vm-shared @ 0x0\n"
        "  0x00000000fec00000-0x00000000fec00fff  4 KiB      passthrough  memory_regions[2] <- "
        "/dev/mem @ 0xfec00000\n"
        "  0x00000000fff00000-0x00000000ffffffff  1 MiB      ram          memory_regions[1] "
        "(read-only)\n"
        "port map:\n"
        "  0x00e9-0x00e9  1 port     device       con\n"
        "  0x00f4-0x00f4  1 port     device       exit\n"
        "  0x03f8-0x03ff  8 ports    device       com1\n");
    free(buf);
    vmio_memmap_free(mm);
    vmio_config_free(c);
}

static void test_minimal_and_defaults(void **state)
{
    (void)state;
    struct vmio_config *c = parse_ok(KERNEL, "vm.toml");
    assert_int_equal(c->cpu_num, 1);
    assert_null(c->name);
    assert_int_equal(c->nemu, 0);
    assert_int_equal(c->npt, 0);
    assert_int_equal(c->irq_mode, VMIO_IRQ_NONE);
    assert_false(c->has_entry_point);
    assert_non_null(strstr(c->kernel_path, "/k.elf"));
    assert_true(c->kernel_path[0] == '/'); /* "." resolved with realpath */
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_runnable(c, &err), 0);
    vmio_config_free(c);
}

static void test_arch(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    /* An axvisor-style aarch64 config: decided by its GIC emu types. */
    static const char aarch64[] =
        "[base]\nid = 1\nname = \"linux\"\nvm_type = 1\ncpu_num = 2\nphys_cpu_ids = [0, 1]\n"
        "[kernel]\nentry_point = 0x8020_0000\nimage_location = \"memory\"\n"
        "kernel_path = \"Image\"\nkernel_load_addr = 0x8020_0000\n"
        "dtb_path = \"linux.dtb\"\ndtb_load_addr = 0x8000_0000\n"
        "memory_regions = [[0x8000_0000, 0x2000_0000, 0x7, 1]]\n"
        "[devices]\ninterrupt_mode = \"passthrough\"\n"
        "passthrough_devices = [[\"/virtio_mmio@a003c00\"], [\"/pl011@9040000\"]]\n"
        "passthrough_addresses = [[0x0900_0000, 0x1000]]\nexcluded_devices = []\n"
        "emu_devices = [\n"
        "  [\"gppt-gicd\", 0x0800_0000, 0x1_0000, 0, 0x21, []],\n"
        "  [\"gppt-gicr\", 0x080a_0000, 0x2_0000, 0, 0x20, [2, 0x2_0000, 0]],\n"
        "]\n";
    struct vmio_config *c = parse_ok(aarch64, PATH);
    assert_int_equal(c->arch, VMIO_ARCH_AARCH64);
    assert_int_equal(c->emu[0].space, VMIO_SPACE_MMIO);
    assert_int_equal(vmio_config_runnable(c, &err), -ENOTSUP);
    assert_string_equal(err.msg, "t/vm.toml: this VM is for aarch64 (decided by emu_type 0x21 "
                                 "(GPPTDistributor) of 'gppt-gicd' at line 21); this x86_64 "
                                 "host cannot run it (the config is valid)");
    vmio_config_free(c);

    /* By file name, as axvisor names its configs. */
    c = parse_ok(KERNEL, "configs/linux-riscv64-qemu-smp1.toml");
    assert_int_equal(c->arch, VMIO_ARCH_RISCV64);
    assert_int_equal(vmio_config_runnable(c, &err), -ENOTSUP);
    assert_string_equal(err.msg, "configs/linux-riscv64-qemu-smp1.toml: this VM is for riscv64 "
                                 "(decided by the file name 'linux-riscv64-qemu-smp1.toml'); "
                                 "this x86_64 host cannot run it (the config is valid)");
    vmio_config_free(c);

    /* base.arch wins over the file name. */
    c = parse_ok("[base]\narch = \"aarch64\"\n" KERNEL, "x86_64.toml");
    assert_int_equal(c->arch, VMIO_ARCH_AARCH64);
    assert_string_equal(c->arch_reason, "base.arch at line 2");
    vmio_config_free(c);

    /* An emu_type vmio does not model is fine on another architecture. */
    c = parse_ok("[base]\narch = \"riscv64\"\n" KERNEL
                 "[devices]\nemu_devices = [[\"plic\", 0xc00_0000, 0x400_0000, 0, 0x30, []]]\n",
                 PATH);
    assert_int_equal(c->arch, VMIO_ARCH_RISCV64);
    vmio_config_free(c);
}

static void test_runnable(void **state)
{
    (void)state;
    struct {
        const char *doc, *msg;
    } cases[] = {
        {"[base]\ncpu_num = 2\n" KERNEL,
         "t/vm.toml: cpu_num = 2 needs interrupt_mode = \"emulated\": the other vCPUs are "
         "started with INIT/SIPI through the in-kernel local APICs"},
        {"[kernel]\nkernel_path = \"k\"\ndisk_path = \"d.img\"\nmemory_regions = []\n",
         "t/vm.toml: kernel.disk_path needs a VirtioBlk device (emu_type 0xe1) in "
         "devices.emu_devices to be the guest's disk"},
        {KERNEL "[devices]\nemu_devices = [[\"r\", 0xd000_1000, 0x200, 16, 0xf3, []]]\n",
         "t/vm.toml: line 5, column 16: the virtio device 'r' needs interrupt_mode = "
         "\"emulated\" (its interrupt is an IOAPIC pin)"},
        {KERNEL "[devices]\ninterrupt_mode = \"emulated\"\nemu_devices = [[\"r\", 0xd000_1000, "
                "0x200, 5, 0xf3, []]]\n",
         "t/vm.toml: line 6, column 16: the virtio device 'r' has irq_id 5; virtio-mmio "
         "interrupts are level-triggered IOAPIC pins, GSIs 16-23"},
        {KERNEL "[devices]\ninterrupt_mode = \"emulated\"\nemu_devices = [[\"r\", 0xd000_1000, "
                "0x200, 17, 0xf3, []], [\"c\", 0xd000_2000, 0x200, 17, 0xe3, []]]\n",
         "t/vm.toml: line 6, column 57: virtio devices 'r' and 'c' share irq_id 17; each needs "
         "its own line"},
        {KERNEL "[devices]\ninterrupt_mode = \"emulated\"\nemu_devices = [[\"v\", 0xd000_1000, "
                "0x200, 16, 0xe1, []]]\n",
         "t/vm.toml: a VirtioBlk device needs kernel.disk_path (its raw image)"},
        {"[kernel]\nkernel_path = \"k\"\ndisk_path = \"d.img\"\nmemory_regions = []\n[devices]\n"
         "interrupt_mode = \"emulated\"\nemu_devices = [[\"v\", 0xd000_1000, 0x200, 16, 0xe1, []], "
         "[\"w\", 0xd000_2000, 0x200, 17, 0xe1, []]]\n",
         "t/vm.toml: 2 VirtioBlk devices; vmio takes the image of the one disk from "
         "kernel.disk_path"},
        {"[kernel]\nkernel_path = \"k\"\nenable_bios = true\nmemory_regions = []\n",
         "t/vm.toml: BIOS/UEFI boot (enable_bios, boot_protocol, bios_path, uefi_firmware_path) "
         "is not supported: vmio loads Linux, multiboot or raw kernels directly"},
        {KERNEL "[devices]\ninterrupt_mode = \"pt\"\n",
         "t/vm.toml: interrupt_mode = \"passthrough\" needs host interrupt forwarding, which "
         "vmio does not do"},
        {KERNEL "[devices]\npassthrough_ports = [[0x3f8, 8]]\n",
         "t/vm.toml: devices.passthrough_ports: vmio cannot pass host I/O ports through"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0x1000, 7, 0], [0x2000, 0x1000, 7, "
         "0], [0x4000, 0x1000, 7, 0], [0x6000, 0x1000, 7, 0], [0x8000, 0x1000, 7, 0]]\n",
         "t/vm.toml: 5 RAM regions in kernel.memory_regions; vmio supports at most 4"},
        {"[kernel]\nkernel_path = \"k\"\ndtb_path = \"x.dtb\"\nmemory_regions = []\n",
         "t/vm.toml: dtb_path/ramdisk_path and their *_load_addr go together"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vmio_config *c = parse_ok(cases[i].doc, PATH);
        struct vmio_error err = {0};
        assert_int_not_equal(vmio_config_runnable(c, &err), 0);
        if (strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("case %u: got \"%s\"", i, err.msg);
        vmio_config_free(c);
    }
}

static void test_schema_errors(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        int code;
        const char *msg;
    } cases[] = {
        /* TOML errors keep the reader's line and column. */
        {"[base]\nid = 1\nid = 2\n", -EINVAL, "t/vm.toml: line 3, column 1: duplicate key 'id'"},
        /* unknown keys, at every level */
        {"[base]\nid = 1\nnmae = \"x\"\n" KERNEL, -EINVAL,
         "t/vm.toml: line 3, column 1: unknown key 'base.nmae'"},
        {KERNEL "kernel_pth = \"x\"\n", -EINVAL,
         "t/vm.toml: line 4, column 1: unknown key 'kernel.kernel_pth'"},
        {KERNEL "[device]\n", -EINVAL, "t/vm.toml: line 4, column 2: unknown key 'device'"},
        {KERNEL "[devices]\nemu_device = []\n", -EINVAL,
         "t/vm.toml: line 5, column 1: unknown key 'devices.emu_device'"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [{gpa = 0, size = 0x1000, flags = 7, "
         "map_type = 0, extra = 1}]\n",
         -EINVAL, "t/vm.toml: line 3, column 69: unknown key 'kernel.memory_regions[0].extra'"},
        {KERNEL "[[devices.passthrough_backing]]\ndevice = \"x\"\nbackng = \"shm:a\"\n", -EINVAL,
         "t/vm.toml: line 6, column 1: unknown key 'devices.passthrough_backing[0].backng'"},
        /* missing tables and keys */
        {"[base]\nid = 1\n", -EINVAL, "t/vm.toml: no [kernel] table"},
        {"[kernel]\nmemory_regions = []\n", -EINVAL,
         "t/vm.toml: line 1, column 1: [kernel] has no kernel_path"},
        {"[kernel]\nkernel_path = \"k\"\n", -EINVAL,
         "t/vm.toml: line 1, column 1: [kernel] has no memory_regions"},
        /* types and ranges */
        {"base = 1\n" KERNEL, -EINVAL,
         "t/vm.toml: line 1, column 8: base: expected a table, got "
         "integer"},
        {"[base]\nid = \"one\"\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 6: base.id: expected an integer, got string"},
        {"[base]\nid = -1\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 6: base.id: must not be negative (-1)"},
        {"[base]\nvm_type = 3\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 11: base.vm_type: 3 is not 0 (host VM), 1 (RTOS) or 2 "
         "(Linux)"},
        {"[base]\ncpu_num = 0\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 11: base.cpu_num: 0 is outside 1..64"},
        {"[base]\ncpu_num = 2\nphys_cpu_sets = [1]\n" KERNEL, -EINVAL,
         "t/vm.toml: line 3, column 17: base.phys_cpu_sets: 1 entries for 2 vCPUs (cpu_num)"},
        {"[base]\nphys_cpu_sets = [0]\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 18: base.phys_cpu_sets[0]: an empty CPU mask"},
        {"[base]\nphys_cpu_ids = [1.5]\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 17: base.phys_cpu_ids[0]: expected an integer, got float"},
        {"[base]\narch = \"arm\"\n" KERNEL, -EINVAL,
         "t/vm.toml: line 2, column 8: base.arch: 'arm' is not one of \"x86_64\", \"aarch64\", "
         "\"riscv64\""},
        {"[kernel]\nkernel_path = \"\"\nmemory_regions = []\n", -EINVAL,
         "t/vm.toml: line 2, column 15: kernel.kernel_path: is empty"},
        {"[kernel]\nkernel_path = 7\nmemory_regions = []\n", -EINVAL,
         "t/vm.toml: line 2, column 15: kernel.kernel_path: expected a string, got integer"},
        {"[kernel]\nkernel_path = \"k\"\nimage_location = \"disk\"\nmemory_regions = []\n", -EINVAL,
         "t/vm.toml: line 3, column 18: kernel.image_location: 'disk' is not \"fs\" or "
         "\"memory\""},
        {"[kernel]\nkernel_path = \"k\"\nboot_protocol = \"pxe\"\nmemory_regions = []\n", -EINVAL,
         "t/vm.toml: line 3, column 17: kernel.boot_protocol: 'pxe' is not \"direct\", "
         "\"multiboot\" or \"uefi\""},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = {}\n", -EINVAL,
         "t/vm.toml: line 3, column 18: kernel.memory_regions: expected an array, got table"},
        /* memory regions */
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0x1000, 7]]\n", -EINVAL,
         "t/vm.toml: line 3, column 19: kernel.memory_regions[0]: expected 4 elements [gpa, "
         "size, flags, map_type], got 3"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [7]\n", -EINVAL,
         "t/vm.toml: line 3, column 19: kernel.memory_regions[0]: expected an array or an "
         "inline table, got integer"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [{gpa = 0, size = 0x1000, flags = 7}]\n",
         -EINVAL, "t/vm.toml: line 3, column 19: kernel.memory_regions[0]: missing 'map_type'"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0x1000, 0x47, 0]]\n", -EINVAL,
         "t/vm.toml: line 3, column 31: kernel.memory_regions[0]: flags 0x47 has unknown bits "
         "0x40 (known: READ 0x1, WRITE 0x2, EXECUTE 0x4, USER 0x8, DEVICE 0x10, UNCACHED 0x20)"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0x1000, 0x6, 0]]\n", -EINVAL,
         "t/vm.toml: line 3, column 31: kernel.memory_regions[0]: flags 0x6 lack READ (0x1); KVM "
         "cannot map memory the guest cannot read"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0x1000, 7, 3]]\n", -EINVAL,
         "t/vm.toml: line 3, column 34: kernel.memory_regions[0]: map_type 3 is not 0 (alloc), 1 "
         "(identical) or 2 (reserved)"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0, 7, 0]]\n", -EINVAL,
         "t/vm.toml: line 3, column 23: kernel.memory_regions[0]: size is 0"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0x800, 0x1000, 7, 0]]\n", -EINVAL,
         "t/vm.toml: line 3, column 19: kernel.memory_regions[0]: RAM at 0x800 with size 0x1000 "
         "is not 4 KiB aligned"},
        {"[kernel]\nkernel_path = \"k\"\nmemory_regions = [[0, 0x2000, 7, 0], [0x1000, 0x1000, "
         "7, 0]]\n",
         -EBUSY,
         "t/vm.toml: RAM 'memory_regions[0]' (0x0-0x1fff) overlaps RAM 'memory_regions[1]' "
         "(0x1000-0x1fff)"},
        /* emulated devices */
        {KERNEL "[devices]\nemu_devices = [[\"x\", 0xd000_0000, 0x1000, 0, 0x99, []]]\n", -EINVAL,
         "t/vm.toml: line 5, column 46: devices.emu_devices[0] 'x': emu_type 0x99 is not an AxVM "
         "emulated device type"},
        {KERNEL "[devices]\nemu_devices = [[\"pit\", 0x40, 4, 0, 0x24, []]]\n", -ENOTSUP,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'pit': emu_type 0x24 (X86Pit) is "
         "not modelled by vmio (it models 0x2 Console as a 16550A UART, 0xe1 VirtioBlk, 0xe2 "
         "VirtioNet, 0xe3 VirtioConsole, 0xf0 testdev, 0xf1 debug-exit, 0xf2 debugcon, 0xf3 "
         "virtio-rng)"},
        {KERNEL "[devices]\nemu_devices = [[\"fw\", 0xd000_0000, 0x1000, 0, 0x3, []]]\n", -ENOTSUP,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'fw': emu_type 0x3 (FwCfg) "
         "is not modelled by vmio (it models 0x2 Console as a 16550A UART, 0xe1 VirtioBlk, 0xe2 "
         "VirtioNet, 0xe3 VirtioConsole, 0xf0 testdev, 0xf1 debug-exit, 0xf2 debugcon, 0xf3 "
         "virtio-rng)"},
        /* VirtioNet: its name is the TAP, cfg_list [] or [MAC] */
        {KERNEL "[devices]\nemu_devices = [[\"a/b\", 0xd000_1000, 0x200, 16, 0xe2, []]]\n", -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0]: a VirtioNet device's name is its "
         "TAP interface: TAP interface name 'a/b' has a character a network interface name "
         "cannot have ('/', ':', '%', white space or a control character)"},
        {KERNEL "[devices]\nemu_devices = [[\"tap0\", 0xd000_1000, 0x200, 16, 0xe2, [1, 2]]]\n",
         -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'tap0': a VirtioNet cfg_list is "
         "[] or [MAC] (one integer), not 2 values"},
        {KERNEL "[devices]\nemu_devices = [[\"tap0\", 0xd000_1000, 0x200, 16, 0xe2, "
                "[0x0100_0000_0001]]]\n",
         -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'tap0': MAC 0x10000000001 is not "
         "a 48-bit unicast (first byte even), non-zero address such as 0x0200_0000_0001"},
        {KERNEL "[devices]\nemu_devices = [[\"tap0\", 0xd000_1000, 0x200, 16, 0xe2, "
                "[0x1_0200_0000_0001]]]\n",
         -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'tap0': MAC 0x1020000000001 is "
         "not a 48-bit unicast (first byte even), non-zero address such as 0x0200_0000_0001"},
        {KERNEL "[devices]\nemu_devices = [[\"tap0\", 0xd000_1000, 0x200, 16, 0xe2, []], "
                "[\"tap0\", 0xd000_2000, 0x200, 17, 0xe2, []]]\n",
         -EINVAL,
         "t/vm.toml: line 5, column 60: devices.emu_devices[1] 'tap0': TAP tap0 is already the "
         "VirtioNet device emu_devices[0]'s (a TAP takes one attachment)"},
        {KERNEL "[devices]\nemu_devices = [[\"v\", 0xd000_0000, 0x100, 16, 0xe1, []]]\n", -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'v': a virtio-blk (virtio-mmio) "
         "window needs at least 0x200 bytes, not 0x100"},
        {KERNEL "[devices]\nemu_devices = [[\"v\", 0x1000, 0x200, 16, 0xf3, []]]\n", -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'v': a virtio-mmio device needs an "
         "MMIO window (base_gpa + length above 0x10000), not ports"},
        {KERNEL "[devices]\nemu_devices = [[\"c\", 0x3f8, 4, 4, 2, []]]\n", -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'c': a 16550A UART window needs "
         "at least 0x8 bytes, not 0x4"},
        {KERNEL "[devices]\nemu_devices = [[\"c\", 0x3f8, 16, 4, 2, []]]\n", -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0] 'c': a 16550A UART occupies 8 "
         "ports, not 0x10"},
        {KERNEL "[devices]\nemu_devices = [[\"c\", 0x3f8, 8, 4]]\n", -EINVAL,
         "t/vm.toml: line 5, column 16: devices.emu_devices[0]: expected 5 to 6 elements [name, "
         "base_gpa, length, irq_id, emu_type, cfg_list], got 4"},
        {KERNEL "[devices]\nemu_devices = [[\"c\", 0x3f8, 0, 4, 2]]\n", -EINVAL,
         "t/vm.toml: line 5, column 29: devices.emu_devices[0] 'c': length is 0"},
        {KERNEL "[devices]\nemu_devices = [[\"c\", 0x3f8, 8, 4, 2, [\"x\"]]]\n", -EINVAL,
         "t/vm.toml: line 5, column 39: devices.emu_devices[0].cfg_list[0]: expected an integer, "
         "got string"},
        {KERNEL "[devices]\nemu_devices = [[\"a\", 0xf4, 1, 0, 0xf1], [\"b\", 0xf4, 1, 0, "
                "0xf2]]\n",
         -EBUSY, "t/vm.toml: device 'a' (ports 0xf4-0xf4) overlaps device 'b' (ports 0xf4-0xf4)"},
        {KERNEL "[devices]\nemu_devices = [[\"t\", 0x10_0000, 0x1000, 0, 0xf0]]\n", -EBUSY,
         "t/vm.toml: device 't' (0x100000-0x100fff) overlaps RAM 'memory_regions[0]' "
         "(0x0-0x3ffffff) (a device window inside RAM would never exit)"},
        /* pass-through */
        {KERNEL "[devices]\npassthrough_devices = [[\"p\", 0xe000_0000, 0, 0x1000], [\"q\", "
                "0xe000_0800, 0x1_0800, 0x100]]\n",
         -EBUSY,
         "t/vm.toml: pass-through 'p' (0xe0000000-0xe0000fff from /dev/mem at 0x0) overlaps "
         "pass-through 'q' (0xe0000000-0xe0000fff from /dev/mem at 0x10000) with a different "
         "guest-to-source offset: they cannot be merged"},
        {KERNEL "[devices]\npassthrough_devices = [[\"p\", 0x3f_f000, 0x3f_f000, 0x2000]]\n",
         -EBUSY,
         "t/vm.toml: RAM 'memory_regions[0]' (0x0-0x3ffffff) overlaps pass-through 'p' "
         "(0x3ff000-0x400fff from /dev/mem at 0x3ff000)"},
        {KERNEL "[devices]\npassthrough_devices = [[\"p\", 0xe000_0010, 0xe000_0020, 0x10]]\n",
         -EINVAL,
         "t/vm.toml: pass-through 'p': guest address 0xe0000010 and source address 0xe0000020 in "
         "/dev/mem differ in their offset within a 4 KiB page (0x10 vs 0x20), so no page can "
         "map one onto the other"},
        {KERNEL "[devices]\npassthrough_devices = [[]]\n", -EINVAL,
         "t/vm.toml: line 5, column 24: devices.passthrough_devices[0]: expected 1 to 5 elements "
         "[name, base_gpa, base_hpa, length, irq_id], got 0"},
        {KERNEL "[devices]\npassthrough_addresses = [[0xe000_0000, 0]]\n", -EINVAL,
         "t/vm.toml: line 5, column 40: devices.passthrough_addresses[0]: length is 0"},
        {KERNEL "[devices]\npassthrough_devices = [[\"p\", 0xe000_0000, 0, 0x1000]]\n"
                "[[devices.passthrough_backing]]\ndevice = \"q\"\nbacking = \"shm:x\"\n",
         -EINVAL,
         "t/vm.toml: line 7, column 10: devices.passthrough_backing[0].device: no pass-through "
         "device is named 'q'"},
        {KERNEL "[devices]\npassthrough_devices = [[\"p\", 0xe000_0000, 0, 0x1000]]\n"
                "[[devices.passthrough_backing]]\ndevice = \"p\"\nbacking = \"shm:a/b\"\n",
         -EINVAL,
         "t/vm.toml: line 8, column 11: devices.passthrough_backing[0].backing: 'shm:a/b' is not "
         "\"file:PATH\", \"shm:NAME\" (no '/') or \"devmem\""},
        {KERNEL "[devices]\npassthrough_devices = [[\"p\", 0xe000_0000, 0, 0x1000]]\n"
                "[[devices.passthrough_backing]]\ndevice = \"p\"\nbacking = \"shm:a\"\n"
                "[[devices.passthrough_backing]]\ndevice = \"p\"\nbacking = \"shm:b\"\n",
         -EINVAL,
         "t/vm.toml: line 9, column 1: devices.passthrough_backing[1]: pass-through device 'p' "
         "already has a backing"},
        {KERNEL "[[devices.passthrough_backing]]\ndevice = \"p\"\n", -EINVAL,
         "t/vm.toml: line 4, column 1: devices.passthrough_backing[0]: missing 'backing'"},
        /* the rest of [devices] */
        {KERNEL "[devices]\ninterrupt_mode = \"msi\"\n", -EINVAL,
         "t/vm.toml: line 5, column 18: devices.interrupt_mode: 'msi' is not \"no_irq\", \"emu\" "
         "or \"passthrough\""},
        {KERNEL "[devices]\nexcluded_devices = [\"/soc\"]\n", -EINVAL,
         "t/vm.toml: line 5, column 21: devices.excluded_devices[0]: expected an array, got "
         "string"},
        {KERNEL "[devices]\nexcluded_devices = [[1]]\n", -EINVAL,
         "t/vm.toml: line 5, column 22: devices.excluded_devices[0][0]: expected a string, got "
         "integer"},
        {KERNEL "[devices]\npassthrough_ports = [[0x3f8, 0x10000]]\n", -EINVAL,
         "t/vm.toml: line 5, column 30: devices.passthrough_ports[0].length: 0x10000 is over "
         "0xffff"},
        /* wraparound: two identity mappings that reach both ends merge into 2^64 bytes */
        {KERNEL "[devices]\npassthrough_addresses = [[0, 0x7fff_ffff_ffff_ffff], "
                "[0x7fff_ffff_ffff_ffff, 0x7fff_ffff_ffff_ffff]]\n",
         -EINVAL,
         "t/vm.toml: pass-through 'passthrough_addresses[0]+passthrough_addresses[1]' covers the "
         "whole address space once merged"},
        /* names are capped (they appear in the memory map and in messages) */
        {KERNEL
         "[devices]\nemu_devices = [[\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
         "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
         "n\", 0xd000_0000, 0x1000, 0, 0xf0]]\n",
         -EINVAL,
         "t/vm.toml: line 5, column 17: devices.emu_devices[0]: the name "
         "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 143 bytes long (at most 128)"},
        /* architecture contradictions */
        {"[base]\narch = \"x86_64\"\n" KERNEL
         "[devices]\nemu_devices = [[\"gicd\", 0x800_0000, 0x1_0000, 0, 0x21, []]]\n",
         -EINVAL,
         "t/vm.toml: line 7, column 16: emu_type 0x21 (GPPTDistributor) of 'gicd' is an aarch64 "
         "device, but this is an x86_64 VM (decided by base.arch at line 2)"},
    };
    int bad = 0;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        bad += parse_fails(cases[i].doc, cases[i].code, cases[i].msg);
    assert_int_equal(bad, 0);
}

static void test_no_crash_on_truncation(void **state)
{
    (void)state;
    /* Every prefix of a valid document either parses or fails with a message. */
    size_t len = strlen(full_doc);
    for (size_t n = 0; n <= len; n++) {
        struct vmio_config *c = NULL;
        struct vmio_error err = {0};
        int rc = vmio_config_parse(full_doc, n, PATH, &c, &err);
        if (rc == 0)
            vmio_config_free(c);
        else
            assert_true(err.msg[0] != '\0');
    }
    vmio_config_free(NULL);
}

static void test_no_crash_on_mutation(void **state)
{
    (void)state;
    /* Deterministic byte mutations of a valid document: never a crash or a leak. */
    static const char alphabet[] = "[]{}=\",.#\n 0x1_-\\'ab";
    size_t len = strlen(full_doc);
    char *doc = malloc(len + 1);
    assert_non_null(doc);
    uint32_t seed = 12345;
    unsigned parsed = 0;
    for (unsigned round = 0; round < 3000; round++) {
        memcpy(doc, full_doc, len + 1);
        for (unsigned k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            doc[at] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
        }
        struct vmio_config *c = NULL;
        struct vmio_error err = {0};
        if (vmio_config_parse(doc, len, PATH, &c, &err) == 0) {
            parsed++;
            vmio_config_free(c);
        } else {
            assert_true(err.msg[0] != '\0');
        }
    }
    free(doc);
    assert_true(parsed > 0);
}

/*
 * The VM side of pass-through, on the fake backend (which applies KVM's
 * memory-slot rules); config-passthrough runs the same against real KVM.
 */
static void test_vm_host_maps(void **state)
{
    (void)state;
    struct vmio_fake *fake = NULL;
    struct vmio_vm *vm = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_create(&fake, &err), 0);
    struct vmio_vm_options opts = {.backend = vmio_fake_backend(fake)};
    assert_int_equal(vmio_vm_create_empty(&opts, &vm, &err), 0);
    assert_int_equal(vmio_guest_mem_count(vmio_vm_memory(vm)), 0);
    assert_int_equal(vmio_vm_add_ram(vm, 0x100000, 0x200000, false, &err), 0);
    assert_int_equal(vmio_vm_add_ram(vm, 0x0, 0x1000, false, &err), -EINVAL);
    assert_string_equal(err.msg, "RAM at 0x0 added after RAM at 0x100000 (add regions in address "
                                 "order)");
    assert_int_equal(vmio_vm_add_ram(vm, 0x400800, 0x1000, false, &err), -EINVAL);
    assert_int_equal(vmio_vm_add_ram(vm, 0xfffff000, 0x1000, true, &err), 0);

    void *host = mmap(NULL, 0x3000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(host != MAP_FAILED);
    assert_int_equal(vmio_vm_map_host(vm, 0x200000, 0x1000, host, 0, "clash", &err), -EBUSY);
    assert_string_equal(err.msg, "pass-through mapping clash at 0x200000-0x200fff overlaps guest "
                                 "RAM at 0x100000-0x2fffff");
    assert_int_equal(vmio_vm_map_host(vm, 0xe0000000, 0x3000, (char *)host + 1, 0, "odd", &err),
                     -EINVAL);
    assert_int_equal(vmio_vm_map_host(vm, 0xe0000000, 0x3000, host, VMIO_MAP_OWNED, "shared", &err),
                     0);
    const struct vmio_guest_mem *mem = vmio_vm_memory(vm);
    assert_int_equal(vmio_guest_mem_count(mem), 3); /* RAM, the mapping, the ROM */
    assert_string_equal(vmio_guest_mem_at(mem, 1)->name, "shared");
    assert_int_equal(vmio_guest_mem_at(mem, 1)->gpa, 0xe0000000);
    assert_int_equal(vmio_guest_mem_at(mem, 1)->kind, VMIO_MEM_PASSTHROUGH);
    assert_string_equal(vmio_guest_mem_at(mem, 2)->name, "rom");
    assert_null(vmio_guest_mem_at(mem, 3));
    assert_ptr_equal(vmio_vm_gpa_to_host(vm, 0xe0000000, 8), NULL); /* not RAM */

    struct vmio_device *td = NULL;

    assert_int_equal(vmio_testdev_create("td", &td, NULL), 0);
    assert_int_equal(vmio_vm_add_device(vm, VMIO_SPACE_MMIO, td, 0xe0001000, 0x100, &err), -EBUSY);
    assert_string_equal(err.msg, "device td at 0xe0001000-0xe00010ff overlaps pass-through "
                                 "mapping shared at 0xe0000000-0xe0002fff (it would never exit)");
    assert_int_equal(vmio_vm_add_device(vm, VMIO_SPACE_MMIO, td, 0xd0000000, 0x1000, &err), 0);
    void *h2 = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(h2 != MAP_FAILED);
    assert_int_equal(vmio_vm_map_host(vm, 0xd0000000, 0x1000, h2, 0, "over-td", &err), -EBUSY);
    assert_string_equal(err.msg, "pass-through mapping over-td at 0xd0000000-0xd0000fff overlaps "
                                 "device td at 0xd0000000-0xd0000fff (its accesses must exit)");
    munmap(h2, 0x1000);
    vmio_vm_destroy(vm); /* unmaps "shared" (owned) */
    vmio_fake_destroy(fake);
}

/*
 * A config at the caps (MAX_LIST = 4096 entries in each list that feeds the
 * memory map) in the layout that made the old map builder cubic: 4096
 * one-page mappings that merge into one, a device window between each two,
 * 4096 more identity mappings from passthrough_addresses and 4096 RAM
 * regions. It loads, and the map's work stays N log N (counted, not timed).
 */
static void test_config_at_the_caps(void **state)
{
    (void)state;
    size_t cap = 4096, len = 0, size = 1 << 20;
    char *doc = malloc(size);
    assert_non_null(doc);
#define PUT(...) (len += (size_t)snprintf(doc + len, size - len, __VA_ARGS__))
    PUT("[kernel]\nkernel_path = \"k.elf\"\nmemory_regions = [\n");
    for (size_t i = 0; i < cap; i++)
        PUT("[0x%zx, 0x1000, 3, 0],\n", i * 0x2000);
    PUT("]\n[devices]\npassthrough_devices = [\n");
    for (size_t i = 0; i < cap; i++)
        PUT("[\"pt%zu\", 0x%llx, 0x%llx, 0x2000],\n", i, 0x100000000ULL + i * 0x2000,
            0x100000000ULL + i * 0x2000);
    PUT("]\nemu_devices = [\n");
    for (size_t i = 0; i < cap; i++)
        PUT("[\"td%zu\", 0x%llx, 0x50, 0, 0xf0],\n", i, 0x100001000ULL + i * 0x2000);
    PUT("]\npassthrough_addresses = [\n");
    for (size_t i = 0; i < cap; i++)
        PUT("[0x%llx, 0x800],\n", 0x200000000ULL + i * 0x2000);
    PUT("]\n");
#undef PUT
    assert_true(len < size - 1);
    struct vmio_config *cfg = parse_ok(doc, PATH);
    const struct vmio_memmap *mm = cfg->memmap;
    assert_non_null(mm);
    /* 4096 RAM, 4096 windows, 4096 pieces between them, 4096 identity mappings. */
    assert_int_equal(vmio_memmap_count(mm), 4 * cap);
    uint64_t n = 4 * cap;
    assert_true(vmio_memmap_work(mm) <= 8 * n * 14);
    const struct vmio_mm_entry *piece = NULL;
    for (size_t i = 0; i < vmio_memmap_count(mm) && !piece; i++)
        if (vmio_memmap_at(mm, i)->kind == VMIO_MM_PASSTHROUGH)
            piece = vmio_memmap_at(mm, i);
    assert_non_null(piece);
    assert_string_equal(piece->owner, "pt0+pt1+pt2+pt3+4092 more");
    vmio_config_free(cfg);

    /* One entry more in a list is refused with its line. */
    size_t at = (size_t)(strstr(doc, "]\npassthrough_addresses") - doc);
    char *more = malloc(len + 64);
    assert_non_null(more);
    memcpy(more, doc, at);
    size_t l2 = at + (size_t)sprintf(more + at, "[\"x\", 0x900000000, 0x50, 0, 0xf0],\n");
    memcpy(more + l2, doc + at, len - at + 1);
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_parse(more, strlen(more), PATH, &cfg, &err), -EINVAL);
    assert_string_equal(err.msg, "t/vm.toml: line 8200, column 15: devices.emu_devices: more than "
                                 "4096 entries");
    free(more);
    free(doc);
}

/* Write @len bytes of @data to @path (a test fixture). */
static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/*
 * vmio_config_load_kernel() on a plain guest-memory object: a raw kernel at
 * kernel_load_addr and a ramdisk, at the top of what a config can address
 * (TOML integers stop at 2^63 - 1, so no end address computed from config
 * values can wrap past 2^64), and an image one byte too high.
 */
static void test_load_kernel_raw(void **state)
{
    (void)state;
    char dir[] = "/tmp/vmio-test-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char kpath[64], rpath[64], cfgpath[64];
    snprintf(kpath, sizeof(kpath), "%s/k.bin", dir);
    snprintf(rpath, sizeof(rpath), "%s/rd.bin", dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/vm.toml", dir);
    uint8_t kernel[0x1000], rd[0x800];
    memset(kernel, 0x90, sizeof(kernel)); /* no multiboot header */
    memset(rd, 0xab, sizeof(rd));
    write_file(kpath, kernel, sizeof(kernel));
    write_file(rpath, rd, sizeof(rd));

    /* RAM at 0 (multiboot's 2 MiB) and in the last two pages a config can name. */
    static uint8_t low[2 << 20];
    static uint8_t top[0x2000] __attribute__((aligned(4096)));
    struct vmio_guest_mem *mem = NULL;
    assert_int_equal(vmio_guest_mem_create(&mem, NULL), 0);
    struct vmio_mem_region r0 = {.gpa = 0, .size = sizeof(low), .host = low, .name = "low"};
    struct vmio_mem_region r1 = {
        .gpa = INT64_MAX - 0x1fff, .size = sizeof(top), .host = top, .name = "top"};
    assert_int_equal(vmio_guest_mem_add(mem, &r0, NULL), 0);
    assert_int_equal(vmio_guest_mem_add(mem, &r1, NULL), 0);

    char doc[512];
    snprintf(doc, sizeof(doc),
             "[kernel]\nkernel_path = \"k.bin\"\nkernel_load_addr = 0x7fff_ffff_ffff_f000\n"
             "ramdisk_path = \"rd.bin\"\nramdisk_load_addr = 0x7fff_ffff_ffff_e000\n"
             "memory_regions = [[0, 0x20_0000, 7, 0], [0x7fff_ffff_ffff_e000, 0x2000, 7, 0]]\n");
    struct vmio_config *cfg = parse_ok(doc, cfgpath);
    struct vmio_boot_info boot;
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_load_kernel(mem, cfg, NULL, &boot, &err), 0);
    assert_int_equal(boot.entry, 0x7ffffffffffff000ULL);
    assert_int_equal(boot.image_lo, 0x7ffffffffffff000ULL);
    assert_int_equal(boot.image_hi, 0x8000000000000000ULL);
    assert_int_equal(boot.mbi_addr, 0);
    assert_memory_equal(top + 0x1000, kernel, sizeof(kernel));
    assert_memory_equal(top, rd, sizeof(rd));
    vmio_config_free(cfg);

    /* One byte over the top: refused, nothing written. */
    memset(top, 0, sizeof(top));
    snprintf(doc, sizeof(doc),
             "[kernel]\nkernel_path = \"k.bin\"\nkernel_load_addr = 0x7fff_ffff_ffff_f001\n"
             "memory_regions = [[0, 0x20_0000, 7, 0], [0x7fff_ffff_ffff_e000, 0x2000, 7, 0]]\n");
    cfg = parse_ok(doc, cfgpath);
    assert_int_equal(vmio_config_load_kernel(mem, cfg, NULL, &boot, &err), -ERANGE);
    char want[256];
    snprintf(want, sizeof(want),
             "%s: kernel %s (4096 bytes, not multiboot) does not fit in guest RAM at "
             "kernel_load_addr 0x7ffffffffffff001",
             cfgpath, kpath);
    assert_string_equal(err.msg, want);
    assert_int_equal(top[0x1000], 0);
    vmio_config_free(cfg);

    vmio_guest_mem_destroy(mem);
    unlink(kpath);
    unlink(rpath);
    rmdir(dir);
}

/*
 * Relative paths that leave the config's folder are refused unless the
 * caller allows them: "..", and symbolic links inside the folder that point
 * out (checked on a real folder); absolute paths are taken as written.
 */
static void test_paths_stay_inside(void **state)
{
    (void)state;
    struct {
        const char *kernel;
        bool escapes;
    } cases[] = {
        {"k.elf", false},          {"sub/../k.elf", false},
        {"./sub/./k.elf", false},  {"../k.elf", true},
        {"sub/../../k.elf", true}, {"sub//..//..//x", true},
        {"/abs/k.elf", false},     {"..", true},
        {"a/b/../../../c", true},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[256];
        snprintf(doc, sizeof(doc),
                 "[kernel]\nkernel_path = \"%s\"\nmemory_regions = [[0, 0x100_0000, 7, 0]]\n",
                 cases[i].kernel);
        struct vmio_config *cfg = NULL;
        struct vmio_error err = {0};
        int rc = vmio_config_parse(doc, strlen(doc), PATH, &cfg, &err);
        if (rc != (cases[i].escapes ? -EPERM : 0))
            fail_msg("%s: %d %s", cases[i].kernel, rc, err.msg);
        if (cases[i].escapes) {
            char want[512];
            snprintf(want, sizeof(want),
                     "t/vm.toml: line 2, column 15: kernel.kernel_path: '%s' leads outside the "
                     "config's folder t; vmio refuses that unless asked (vmio run/check "
                     "--allow-outside-paths; docs/config.md, \"Config files are privileged\")",
                     cases[i].kernel);
            assert_string_equal(err.msg, want);
            struct vmio_config_options o = {.allow_outside_paths = true};
            assert_int_equal(vmio_config_parse_with(doc, strlen(doc), PATH, &o, &cfg, &err), 0);
        }
        vmio_config_free(cfg);
    }
    /* file: backings too. */
    const char *bdoc = KERNEL "[devices]\npassthrough_devices = [[\"p\", 0xe000_0000, 0, 0x1000]]\n"
                              "[[devices.passthrough_backing]]\ndevice = \"p\"\n"
                              "backing = \"file:../pt.bin\"\n";
    struct vmio_config *cfg = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_parse(bdoc, strlen(bdoc), PATH, &cfg, &err), -EPERM);
    assert_non_null(strstr(err.msg, "line 8, column 11: devices.passthrough_backing[0]: "
                                    "'../pt.bin' leads outside the config's folder t;"));

    /* A symbolic link in the folder that points outside it. */
    char dir[] = "/tmp/vmio-test-paths-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char inner[64], link[96], cfgpath[96];
    snprintf(inner, sizeof(inner), "%s/vm", dir);
    assert_int_equal(mkdir(inner, 0700), 0);
    snprintf(link, sizeof(link), "%s/out", inner);
    assert_int_equal(symlink(dir, link), 0); /* vm/out -> the parent */
    snprintf(cfgpath, sizeof(cfgpath), "%s/vm.toml", inner);
    const char *ldoc = "[kernel]\nkernel_path = \"out/k.elf\"\n"
                       "memory_regions = [[0, 0x100_0000, 7, 0]]\n";
    assert_int_equal(vmio_config_parse(ldoc, strlen(ldoc), cfgpath, &cfg, &err), -EPERM);
    const char *okdoc = "[kernel]\nkernel_path = \"k.elf\"\n"
                        "memory_regions = [[0, 0x100_0000, 7, 0]]\n";
    assert_int_equal(vmio_config_parse(okdoc, strlen(okdoc), cfgpath, &cfg, &err), 0);
    vmio_config_free(cfg);
    unlink(link);
    rmdir(inner);
    rmdir(dir);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(vmio_emu_type_name(0x2), "Console");
    assert_string_equal(vmio_emu_type_name(0x26), "X86LocalApic");
    assert_string_equal(vmio_emu_type_name(0xf0), "VmioTestdev");
    assert_null(vmio_emu_type_name(0x5));
    assert_string_equal(vmio_arch_name(VMIO_ARCH_RISCV64), "riscv64");
    assert_string_equal(vmio_irq_mode_name(VMIO_IRQ_PASSTHROUGH), "passthrough");
}

/* The virtio devices of a config, as vmio_pc_add_virtio() takes them. */
static void test_virtio_devices(void **state)
{
    (void)state;
    const char *doc = "[kernel]\nkernel_path = \"k\"\ndisk_path = \"disk.img\"\n"
                      "memory_regions = [[0, 0x4000000, 7, 0]]\n[devices]\n"
                      "interrupt_mode = \"emulated\"\nemu_devices = [\n"
                      "  [\"com1\", 0x3f8, 8, 4, 0x2, []],\n"
                      "  [\"vda\", 0xd000_1000, 0x200, 16, 0xe1, [1]],\n"
                      "  [\"hvc\", 0xd000_2000, 0x1000, 18, 0xe3],\n"
                      "  [\"rng\", 0xd000_3000, 0x200, 23, 0xf3, []],\n"
                      "  [\"vmtap0\", 0xd000_4000, 0x200, 19, 0xe2, [0x0276_6d69_6f42]],\n"
                      "  [\"vmtap1\", 0xd000_5000, 0x200, 20, 0xe2],\n]\n";
    struct vmio_config *c = parse_ok(doc, PATH);
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_runnable(c, &err), 0);
    assert_true(vmio_config_is_virtio(c->emu[1].model));
    assert_false(vmio_config_is_virtio(c->emu[0].model));
    struct vmio_pc_virtio v[5];
    unsigned n = 99;
    assert_int_equal(vmio_config_virtio(c, v, 5, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(v[0].kind, VMIO_PC_VIRTIO_BLK);
    assert_string_equal(v[0].path, "t/disk.img");
    assert_true(v[0].readonly);
    assert_int_equal(v[0].base, 0xd0001000);
    assert_int_equal(v[0].gsi, 16);
    assert_int_equal(v[1].kind, VMIO_PC_VIRTIO_CONSOLE);
    assert_null(v[1].chardev);
    assert_int_equal(v[1].gsi, 18);
    assert_int_equal(v[2].kind, VMIO_PC_VIRTIO_RNG);
    assert_int_equal(v[2].base, 0xd0003000);
    assert_int_equal(v[3].kind, VMIO_PC_VIRTIO_NET);
    assert_string_equal(v[3].tap, "vmtap0");
    assert_true(v[3].mac_set);
    assert_memory_equal(v[3].mac, "\x02\x76\x6d\x69\x6f\x42", 6);
    assert_int_equal(v[3].gsi, 19);
    assert_int_equal(v[4].kind, VMIO_PC_VIRTIO_NET);
    assert_string_equal(v[4].tap, "vmtap1");
    assert_false(v[4].mac_set);
    assert_int_equal(vmio_config_virtio(c, v, 2, &n, &err), -ENOSPC);
    vmio_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_memmap_of_config),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_arch),
        cmocka_unit_test(test_runnable),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_no_crash_on_truncation),
        cmocka_unit_test(test_no_crash_on_mutation),
        cmocka_unit_test(test_vm_host_maps),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_config_at_the_caps),
        cmocka_unit_test(test_load_kernel_raw),
        cmocka_unit_test(test_paths_stay_inside),
        cmocka_unit_test(test_virtio_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
