/*
 * The AxVM VM-config schema on top of the TOML reader: walks the tree of a
 * config file, checks every key and value, resolves paths, decides the
 * guest architecture and maps emulated device types to vmio's models.
 *
 * Invariants: every table is walked key by key against a list of known keys,
 * so an unknown key (a typo) is always an error naming it and its line;
 * every message starts with "<path>: line L, column C: " (or "<path>: " for
 * memory-map conflicts, which have two sides); nothing is opened except the
 * config file itself; on any error everything allocated so far is freed.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/models.h"
#include "vmio/boot.h"
#include "vmio/config.h"
#include "vmio/tap.h"
#include "vmio/toml.h"
#include "vmio/virtio_net.h"
#include "vmio/vm.h"

#define MAX_CONFIG_SIZE (4u << 20)
#define MAX_VCPUS 64
/* Entries in any one list: plenty, and bounded. The four lists that feed the memory map
 * (memory_regions, emu_devices, passthrough_devices, passthrough_addresses) then stay
 * within VMIO_MEMMAP_MAX_ENTRIES together. */
#define MAX_LIST 4096
#define VMIO_CONFIG_MAX_RAM 4 /* VMIO_MAX_RAM_REGIONS of the VM */
_Static_assert(4 * MAX_LIST <= VMIO_MEMMAP_MAX_ENTRIES, "a config at its caps fits the memory map");

typedef const struct vmio_toml_value tv;

struct ctx {
    const char *path;
    struct vmio_config *cfg;
    struct vmio_error *err;
    struct vmio_config_options opts;
};

/* ---- errors ---- */

static int fail_at(struct ctx *c, struct vmio_toml_pos pos, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct ctx *c, struct vmio_toml_pos pos, int code, const char *fmt, ...)
{
    char msg[VMIO_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return vmio_error_set(c->err, code, "%s: line %u, column %u: %s", c->path, pos.line, pos.column,
                          msg);
}

static int oom(struct ctx *c)
{
    return vmio_error_set(c->err, -ENOMEM, "%s: out of memory", c->path);
}

/* ---- names ---- */

const char *vmio_arch_name(enum vmio_arch arch)
{
    switch (arch) {
    case VMIO_ARCH_X86_64:
        return "x86_64";
    case VMIO_ARCH_AARCH64:
        return "aarch64";
    case VMIO_ARCH_RISCV64:
        return "riscv64";
    }
    return "?";
}

const char *vmio_emu_type_name(unsigned t)
{
    switch (t) {
    case VMIO_EMU_DUMMY:
        return "Dummy";
    case VMIO_EMU_INTERRUPT_CONTROLLER:
        return "InterruptController";
    case VMIO_EMU_CONSOLE:
        return "Console";
    case VMIO_EMU_FW_CFG:
        return "FwCfg";
    case VMIO_EMU_IVC_CHANNEL:
        return "IVCChannel";
    case VMIO_EMU_GPPT_REDISTRIBUTOR:
        return "GPPTRedistributor";
    case VMIO_EMU_GPPT_DISTRIBUTOR:
        return "GPPTDistributor";
    case VMIO_EMU_GPPT_ITS:
        return "GPPTITS";
    case VMIO_EMU_X86_IOAPIC:
        return "X86IoApic";
    case VMIO_EMU_X86_PIT:
        return "X86Pit";
    case VMIO_EMU_X86_PIC:
        return "X86Pic";
    case VMIO_EMU_X86_LOCAL_APIC:
        return "X86LocalApic";
    case VMIO_EMU_PPPT_GLOBAL:
        return "PPPTGlobal";
    case VMIO_EMU_VIRTIO_BLK:
        return "VirtioBlk";
    case VMIO_EMU_VIRTIO_NET:
        return "VirtioNet";
    case VMIO_EMU_VIRTIO_CONSOLE:
        return "VirtioConsole";
    case VMIO_EMU_VMIO_TESTDEV:
        return "VmioTestdev";
    case VMIO_EMU_VMIO_DEBUG_EXIT:
        return "VmioDebugExit";
    case VMIO_EMU_VMIO_DEBUGCON:
        return "VmioDebugcon";
    case VMIO_EMU_VMIO_VIRTIO_RNG:
        return "VmioVirtioRng";
    default:
        return NULL;
    }
}

const char *vmio_irq_mode_name(enum vmio_irq_mode mode)
{
    switch (mode) {
    case VMIO_IRQ_NONE:
        return "no_irq";
    case VMIO_IRQ_EMULATED:
        return "emu";
    case VMIO_IRQ_PASSTHROUGH:
        return "passthrough";
    }
    return "?";
}

const char *vmio_config_backing_name(const struct vmio_cfg_pt_device *pt)
{
    return pt->backing ? pt->backing : "/dev/mem";
}

/* ---- freeing ---- */

void vmio_config_free(struct vmio_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->dir);
    free(cfg->arch_reason);
    free(cfg->name);
    free(cfg->phys_cpu_ids);
    free(cfg->phys_cpu_sets);
    free(cfg->image_location);
    free(cfg->kernel_path);
    free(cfg->bios_path);
    free(cfg->dtb_path);
    free(cfg->ramdisk_path);
    free(cfg->disk_path);
    free(cfg->uefi_firmware_path);
    free(cfg->boot_protocol);
    free(cfg->cmdline);
    free(cfg->mem);
    for (size_t i = 0; i < cfg->nemu; i++) {
        free(cfg->emu[i].name);
        free(cfg->emu[i].cfg_list);
    }
    free(cfg->emu);
    for (size_t i = 0; i < cfg->npt; i++) {
        free(cfg->pt[i].name);
        free(cfg->pt[i].backing);
    }
    free(cfg->pt);
    for (size_t i = 0; i < cfg->nexcluded; i++) {
        for (size_t j = 0; j < cfg->nexcluded_each[i]; j++)
            free(cfg->excluded[i][j]);
        free(cfg->excluded[i]);
    }
    free(cfg->excluded);
    free(cfg->nexcluded_each);
    free(cfg->passthrough_ports);
    vmio_memmap_free(cfg->memmap);
    free(cfg);
}

/* ---- typed getters ---- */

static const char *type_of(tv *v)
{
    return vmio_toml_type_name(vmio_toml_type(v));
}

static int get_u64(struct ctx *c, tv *v, const char *what, uint64_t *out)
{
    int64_t i;
    if (vmio_toml_get_int(v, &i) < 0)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: expected an integer, got %s", what,
                       type_of(v));
    if (i < 0)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: must not be negative (%" PRId64 ")", what,
                       i);
    *out = (uint64_t)i;
    return 0;
}

static int get_bool(struct ctx *c, tv *v, const char *what, bool *out)
{
    if (vmio_toml_get_bool(v, out) < 0)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: expected true or false, got %s", what,
                       type_of(v));
    return 0;
}

/* A string without NUL bytes, copied into *@out (freeing what was there). */
static int get_str(struct ctx *c, tv *v, const char *what, char **out)
{
    const char *s;
    size_t len;
    if (vmio_toml_get_string(v, &s, &len) < 0)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: expected a string, got %s", what,
                       type_of(v));
    if (strlen(s) != len)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: must not contain NUL characters", what);
    char *d = strdup(s);
    if (!d)
        return oom(c);
    free(*out);
    *out = d;
    return 0;
}

static int expect_array(struct ctx *c, tv *v, const char *what)
{
    if (vmio_toml_type(v) != VMIO_TOML_ARRAY)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: expected an array, got %s", what,
                       type_of(v));
    if (vmio_toml_array_len(v) > MAX_LIST)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: more than %d entries", what, MAX_LIST);
    return 0;
}

static int get_u64_list(struct ctx *c, tv *v, const char *what, uint64_t **out, size_t *n)
{
    int rc = expect_array(c, v, what);
    if (rc < 0)
        return rc;
    size_t len = vmio_toml_array_len(v);
    uint64_t *a = calloc(len ? len : 1, sizeof(*a));
    if (!a)
        return oom(c);
    for (size_t i = 0; i < len; i++) {
        char w[160];
        snprintf(w, sizeof(w), "%s[%zu]", what, i);
        rc = get_u64(c, vmio_toml_array_at(v, i), w, &a[i]);
        if (rc < 0) {
            free(a);
            return rc;
        }
    }
    free(*out);
    *out = a;
    *n = len;
    return 0;
}

/*
 * A relative path @p of the value @v must stay inside the config's folder
 * unless the caller allowed otherwise (vmio_config_options).
 */
static int check_inside(struct ctx *c, tv *v, const char *what, const char *p)
{
    if (c->opts.allow_outside_paths || !vmio_config_path_escapes(c->cfg->dir, p))
        return 0;
    return fail_at(c, vmio_toml_pos(v), -EPERM,
                   "%s: '%s' leads outside the config's folder %s; vmio refuses that unless "
                   "asked (vmio run/check --allow-outside-paths; docs/config.md, \"Config files "
                   "are privileged\")",
                   what, p, c->cfg->dir);
}

/* Resolve @p (relative to the config's directory) into a new string. */
static int resolve_path(struct ctx *c, tv *v, const char *what, char **out)
{
    char *p = NULL;
    int rc = get_str(c, v, what, &p);
    if (rc < 0)
        return rc;
    if (!*p) {
        free(p);
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: is empty", what);
    }
    if (p[0] != '/') {
        rc = check_inside(c, v, what, p);
        if (rc < 0) {
            free(p);
            return rc;
        }
        size_t l = strlen(c->cfg->dir) + strlen(p) + 2;
        char *abs = malloc(l);
        if (!abs) {
            free(p);
            return oom(c);
        }
        snprintf(abs, l, "%s/%s", c->cfg->dir, p);
        free(p);
        p = abs;
    }
    free(*out);
    *out = p;
    return 0;
}

/*
 * Walk @table: every key must be in @keys (NULL-terminated), else
 * "unknown key '<prefix>.<key>'". @found[i] receives the value of keys[i].
 */
static int walk_table(struct ctx *c, tv *table, const char *prefix, const char *const *keys,
                      tv **found)
{
    size_t nkeys = 0;
    while (keys[nkeys])
        found[nkeys++] = NULL;
    size_t n = vmio_toml_table_size(table);
    for (size_t i = 0; i < n; i++) {
        const struct vmio_toml_entry *e = vmio_toml_table_entry(table, i);
        size_t k = 0;
        while (k < nkeys &&
               !(strlen(keys[k]) == e->key_len && memcmp(keys[k], e->key, e->key_len) == 0))
            k++;
        if (k == nkeys)
            return fail_at(c, e->key_pos, -EINVAL, "unknown key '%s%s%s'", prefix,
                           *prefix ? "." : "", e->key);
        found[k] = e->value;
    }
    return 0;
}

static int expect_table(struct ctx *c, tv *v, const char *what)
{
    if (vmio_toml_type(v) != VMIO_TOML_TABLE)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: expected a table, got %s", what,
                       type_of(v));
    return 0;
}

/*
 * A record written either positionally ([a, b, c]) or as an inline table
 * ({ name = a, ... }): fills vals[i] for fields[i]; the first @nrequired
 * fields must be present. @what is e.g. "devices.emu_devices[2]".
 */
static int record(struct ctx *c, tv *v, const char *what, const char *const *fields, size_t nfields,
                  size_t nrequired, tv **vals)
{
    for (size_t i = 0; i < nfields; i++)
        vals[i] = NULL;
    if (vmio_toml_type(v) == VMIO_TOML_ARRAY) {
        size_t len = vmio_toml_array_len(v);
        if (len < nrequired || len > nfields) {
            char list[256] = "";
            size_t off = 0;
            for (size_t i = 0; i < nfields && off < sizeof(list); i++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                        fields[i]);
            if (nrequired == nfields)
                return fail_at(c, vmio_toml_pos(v), -EINVAL,
                               "%s: expected %zu elements [%s], got %zu", what, nfields, list, len);
            return fail_at(c, vmio_toml_pos(v), -EINVAL,
                           "%s: expected %zu to %zu elements [%s], got %zu", what, nrequired,
                           nfields, list, len);
        }
        for (size_t i = 0; i < len; i++)
            vals[i] = vmio_toml_array_at(v, i);
        return 0;
    }
    if (vmio_toml_type(v) == VMIO_TOML_TABLE) {
        const char *keys[16];
        tv *found[16];
        for (size_t i = 0; i < nfields; i++)
            keys[i] = fields[i];
        keys[nfields] = NULL;
        int rc = walk_table(c, v, what, keys, found);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < nfields; i++) {
            vals[i] = found[i];
            if (i < nrequired && !found[i])
                return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: missing '%s'", what, fields[i]);
        }
        return 0;
    }
    return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: expected an array or an inline table, got %s",
                   what, type_of(v));
}

/* ---- [base] ---- */

static int parse_arch_name(struct ctx *c, tv *v, enum vmio_arch *out)
{
    char *s = NULL;
    int rc = get_str(c, v, "base.arch", &s);
    if (rc < 0)
        return rc;
    static const enum vmio_arch arches[] = {VMIO_ARCH_X86_64, VMIO_ARCH_AARCH64, VMIO_ARCH_RISCV64};
    for (unsigned i = 0; i < 3; i++)
        if (strcmp(s, vmio_arch_name(arches[i])) == 0) {
            *out = arches[i];
            free(s);
            return 0;
        }
    rc = fail_at(c, vmio_toml_pos(v), -EINVAL,
                 "base.arch: '%s' is not one of \"x86_64\", \"aarch64\", \"riscv64\"", s);
    free(s);
    return rc;
}

static int parse_base(struct ctx *c, tv *t, tv **arch_value)
{
    static const char *const keys[] = {"id",           "name",          "vm_type", "cpu_num",
                                       "phys_cpu_ids", "phys_cpu_sets", "arch",    NULL};
    tv *v[8];
    struct vmio_config *cfg = c->cfg;
    int rc = expect_table(c, t, "base");
    if (rc == 0)
        rc = walk_table(c, t, "base", keys, v);
    if (rc == 0 && v[0])
        rc = get_u64(c, v[0], "base.id", &cfg->id);
    if (rc == 0 && v[1])
        rc = get_str(c, v[1], "base.name", &cfg->name);
    if (rc == 0 && v[2]) {
        rc = get_u64(c, v[2], "base.vm_type", &cfg->vm_type);
        if (rc == 0 && cfg->vm_type > 2)
            rc = fail_at(c, vmio_toml_pos(v[2]), -EINVAL,
                         "base.vm_type: %" PRIu64 " is not 0 (host VM), 1 (RTOS) or 2 (Linux)",
                         cfg->vm_type);
    }
    if (rc == 0 && v[3]) {
        rc = get_u64(c, v[3], "base.cpu_num", &cfg->cpu_num);
        if (rc == 0 && (cfg->cpu_num < 1 || cfg->cpu_num > MAX_VCPUS))
            rc = fail_at(c, vmio_toml_pos(v[3]), -EINVAL,
                         "base.cpu_num: %" PRIu64 " is outside 1..%d", cfg->cpu_num, MAX_VCPUS);
    }
    if (rc == 0 && v[4]) {
        rc = get_u64_list(c, v[4], "base.phys_cpu_ids", &cfg->phys_cpu_ids, &cfg->nphys_cpu_ids);
        if (rc == 0 && cfg->nphys_cpu_ids != cfg->cpu_num)
            rc = fail_at(c, vmio_toml_pos(v[4]), -EINVAL,
                         "base.phys_cpu_ids: %zu entries for %" PRIu64 " vCPUs (cpu_num)",
                         cfg->nphys_cpu_ids, cfg->cpu_num);
    }
    if (rc == 0 && v[5]) {
        rc = get_u64_list(c, v[5], "base.phys_cpu_sets", &cfg->phys_cpu_sets, &cfg->nphys_cpu_sets);
        if (rc == 0 && cfg->nphys_cpu_sets != cfg->cpu_num)
            rc = fail_at(c, vmio_toml_pos(v[5]), -EINVAL,
                         "base.phys_cpu_sets: %zu entries for %" PRIu64 " vCPUs (cpu_num)",
                         cfg->nphys_cpu_sets, cfg->cpu_num);
        for (size_t i = 0; rc == 0 && i < cfg->nphys_cpu_sets; i++)
            if (cfg->phys_cpu_sets[i] == 0)
                rc = fail_at(c, vmio_toml_pos(vmio_toml_array_at(v[5], i)), -EINVAL,
                             "base.phys_cpu_sets[%zu]: an empty CPU mask", i);
    }
    if (rc == 0 && v[6]) {
        rc = parse_arch_name(c, v[6], &cfg->arch);
        *arch_value = v[6];
    }
    return rc;
}

/* ---- [kernel] ---- */

static int parse_mem_region(struct ctx *c, tv *v, size_t i)
{
    static const char *const f[] = {"gpa", "size", "flags", "map_type"};
    tv *x[4];
    char w[64], wf[96];
    snprintf(w, sizeof(w), "kernel.memory_regions[%zu]", i);
    int rc = record(c, v, w, f, 4, 4, x);
    struct vmio_cfg_mem_region *m = &c->cfg->mem[i];
    uint64_t mt = 0;
    for (unsigned k = 0; rc == 0 && k < 4; k++) {
        snprintf(wf, sizeof(wf), "%s.%s", w, f[k]);
        uint64_t *dst[] = {&m->gpa, &m->size, &m->flags, &mt};
        rc = get_u64(c, x[k], wf, dst[k]);
    }
    if (rc < 0)
        return rc;
    m->line = vmio_toml_pos(v).line;
    m->column = vmio_toml_pos(v).column;
    uint64_t known = VMIO_MEM_READ | VMIO_MEM_WRITE | VMIO_MEM_EXECUTE | VMIO_MEM_USER |
                     VMIO_MEM_DEVICE | VMIO_MEM_UNCACHED;
    if (m->flags & ~known)
        return fail_at(c, vmio_toml_pos(x[2]), -EINVAL,
                       "%s: flags 0x%" PRIx64 " has unknown bits 0x%" PRIx64
                       " (known: READ 0x1, WRITE 0x2, EXECUTE 0x4, USER 0x8, DEVICE 0x10, "
                       "UNCACHED 0x20)",
                       w, m->flags, m->flags & ~known);
    if (!(m->flags & VMIO_MEM_READ))
        return fail_at(c, vmio_toml_pos(x[2]), -EINVAL,
                       "%s: flags 0x%" PRIx64 " lack READ (0x1); KVM cannot map memory the "
                       "guest cannot read",
                       w, m->flags);
    if (mt > 2)
        return fail_at(c, vmio_toml_pos(x[3]), -EINVAL,
                       "%s: map_type %" PRIu64 " is not 0 (alloc), 1 (identical) or 2 (reserved)",
                       w, mt);
    m->map_type = (enum vmio_map_type)mt;
    if (m->size == 0)
        return fail_at(c, vmio_toml_pos(x[1]), -EINVAL, "%s: size is 0", w);
    if (m->gpa + (m->size - 1) < m->gpa)
        return fail_at(c, vmio_toml_pos(x[1]), -EINVAL,
                       "%s: 0x%" PRIx64 " + 0x%" PRIx64 " runs past the end of the address space",
                       w, m->gpa, m->size);
    if (!(m->flags & VMIO_MEM_DEVICE) && ((m->gpa | m->size) & (VMIO_PAGE_SIZE - 1)))
        return fail_at(c, vmio_toml_pos(v), -EINVAL,
                       "%s: RAM at 0x%" PRIx64 " with size 0x%" PRIx64 " is not 4 KiB aligned", w,
                       m->gpa, m->size);
    return 0;
}

static int parse_kernel(struct ctx *c, tv *t)
{
    static const char *const keys[] = {"entry_point",
                                       "image_location",
                                       "kernel_path",
                                       "kernel_load_addr",
                                       "bios_path",
                                       "bios_load_addr",
                                       "dtb_path",
                                       "dtb_load_addr",
                                       "ramdisk_path",
                                       "ramdisk_load_addr",
                                       "cmdline",
                                       "disk_path",
                                       "memory_regions",
                                       "enable_bios",
                                       "boot_protocol",
                                       "uefi_firmware_path",
                                       NULL};
    tv *v[17];
    struct vmio_config *cfg = c->cfg;
    int rc = expect_table(c, t, "kernel");
    if (rc == 0)
        rc = walk_table(c, t, "kernel", keys, v);
    struct {
        int idx;
        uint64_t *dst;
        bool *has;
    } nums[] = {
        {0, &cfg->entry_point, &cfg->has_entry_point},
        {3, &cfg->kernel_load_addr, &cfg->has_kernel_load_addr},
        {5, &cfg->bios_load_addr, &cfg->has_bios_load_addr},
        {7, &cfg->dtb_load_addr, &cfg->has_dtb_load_addr},
        {9, &cfg->ramdisk_load_addr, &cfg->has_ramdisk_load_addr},
    };
    for (unsigned i = 0; rc == 0 && i < sizeof(nums) / sizeof(nums[0]); i++) {
        tv *x = v[nums[i].idx];
        if (!x)
            continue;
        char w[64];
        snprintf(w, sizeof(w), "kernel.%s", keys[nums[i].idx]);
        rc = get_u64(c, x, w, nums[i].dst);
        *nums[i].has = rc == 0;
    }
    struct {
        int idx;
        char **dst;
    } paths[] = {{2, &cfg->kernel_path},  {4, &cfg->bios_path},  {6, &cfg->dtb_path},
                 {8, &cfg->ramdisk_path}, {11, &cfg->disk_path}, {15, &cfg->uefi_firmware_path}};
    for (unsigned i = 0; rc == 0 && i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (!v[paths[i].idx])
            continue;
        char w[64];
        snprintf(w, sizeof(w), "kernel.%s", keys[paths[i].idx]);
        rc = resolve_path(c, v[paths[i].idx], w, paths[i].dst);
    }
    if (rc == 0 && v[1]) {
        rc = get_str(c, v[1], "kernel.image_location", &cfg->image_location);
        if (rc == 0 && strcmp(cfg->image_location, "fs") != 0 &&
            strcmp(cfg->image_location, "memory") != 0)
            rc = fail_at(c, vmio_toml_pos(v[1]), -EINVAL,
                         "kernel.image_location: '%s' is not \"fs\" or \"memory\"",
                         cfg->image_location);
    }
    if (rc == 0 && v[10])
        rc = get_str(c, v[10], "kernel.cmdline", &cfg->cmdline);
    if (rc == 0 && v[13])
        rc = get_bool(c, v[13], "kernel.enable_bios", &cfg->enable_bios);
    if (rc == 0 && v[14]) {
        rc = get_str(c, v[14], "kernel.boot_protocol", &cfg->boot_protocol);
        static const char *const ok[] = {"direct",    "kernel", "multiboot", "bios",
                                         "axvm-bios", "uefi",   "efi",       NULL};
        unsigned k = 0;
        while (rc == 0 && ok[k] && strcmp(ok[k], cfg->boot_protocol) != 0)
            k++;
        if (rc == 0 && !ok[k])
            rc = fail_at(c, vmio_toml_pos(v[14]), -EINVAL,
                         "kernel.boot_protocol: '%s' is not \"direct\", \"multiboot\" or "
                         "\"uefi\"",
                         cfg->boot_protocol);
    }
    if (rc == 0 && !v[2])
        rc = fail_at(c, vmio_toml_pos(t), -EINVAL, "[kernel] has no kernel_path");
    if (rc == 0 && !v[12])
        rc = fail_at(c, vmio_toml_pos(t), -EINVAL, "[kernel] has no memory_regions");
    if (rc == 0)
        rc = expect_array(c, v[12], "kernel.memory_regions");
    if (rc < 0)
        return rc;
    size_t n = vmio_toml_array_len(v[12]);
    cfg->mem = calloc(n ? n : 1, sizeof(*cfg->mem));
    if (!cfg->mem)
        return oom(c);
    cfg->nmem = n;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = parse_mem_region(c, vmio_toml_array_at(v[12], i), i);
    return rc;
}

/* ---- [devices] ---- */

/*
 * A device name: not empty, and short enough to appear in the memory map
 * (VMIO_MEMMAP_NAME_MAX) and in messages; @what is e.g. "devices.emu_devices[2]".
 */
static int check_name(struct ctx *c, tv *v, const char *what, const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: the name is empty", what);
    if (len > VMIO_MEMMAP_NAME_MAX)
        return fail_at(c, vmio_toml_pos(v), -EINVAL,
                       "%s: the name '%.32s...' is %zu bytes long (at most %d)", what, name, len,
                       VMIO_MEMMAP_NAME_MAX);
    return 0;
}

static int parse_emu(struct ctx *c, tv *v, size_t i)
{
    static const char *const f[] = {"name", "base_gpa", "length", "irq_id", "emu_type", "cfg_list"};
    tv *x[6];
    char w[64], wf[96];
    snprintf(w, sizeof(w), "devices.emu_devices[%zu]", i);
    struct vmio_cfg_emu_device *d = &c->cfg->emu[i];
    int rc = record(c, v, w, f, 6, 5, x);
    if (rc == 0) {
        snprintf(wf, sizeof(wf), "%s.name", w);
        rc = get_str(c, x[0], wf, &d->name);
    }
    uint64_t type = 0;
    uint64_t *dst[] = {NULL, &d->base_gpa, &d->length, &d->irq_id, &type};
    for (unsigned k = 1; rc == 0 && k < 5; k++) {
        snprintf(wf, sizeof(wf), "%s.%s", w, f[k]);
        rc = get_u64(c, x[k], wf, dst[k]);
    }
    if (rc == 0 && x[5]) {
        snprintf(wf, sizeof(wf), "%s.cfg_list", w);
        rc = get_u64_list(c, x[5], wf, &d->cfg_list, &d->ncfg);
    }
    if (rc < 0)
        return rc;
    d->line = vmio_toml_pos(v).line;
    d->column = vmio_toml_pos(v).column;
    if (type > 0xff || !vmio_emu_type_name((unsigned)type))
        return fail_at(c, vmio_toml_pos(x[4]), -EINVAL,
                       "%s '%s': emu_type 0x%" PRIx64 " is not an AxVM emulated device type", w,
                       d->name, type);
    d->emu_type = (unsigned)type;
    rc = check_name(c, x[0], w, d->name);
    if (rc < 0)
        return rc;
    if (d->length == 0)
        return fail_at(c, vmio_toml_pos(x[2]), -EINVAL, "%s '%s': length is 0", w, d->name);
    if (d->base_gpa + (d->length - 1) < d->base_gpa)
        return fail_at(c, vmio_toml_pos(x[2]), -EINVAL,
                       "%s '%s': 0x%" PRIx64 " + 0x%" PRIx64
                       " runs past the end of the address space",
                       w, d->name, d->base_gpa, d->length);
    return 0;
}

static int parse_pt(struct ctx *c, tv *v, size_t i, struct vmio_cfg_pt_device *d)
{
    static const char *const f[] = {"name", "base_gpa", "base_hpa", "length", "irq_id"};
    tv *x[5];
    char w[64], wf[96];
    snprintf(w, sizeof(w), "devices.passthrough_devices[%zu]", i);
    int rc = record(c, v, w, f, 5, 1, x);
    if (rc == 0) {
        snprintf(wf, sizeof(wf), "%s.name", w);
        rc = get_str(c, x[0], wf, &d->name);
    }
    uint64_t *dst[] = {NULL, &d->base_gpa, &d->base_hpa, &d->length, &d->irq_id};
    for (unsigned k = 1; rc == 0 && k < 5; k++) {
        if (!x[k])
            continue;
        snprintf(wf, sizeof(wf), "%s.%s", w, f[k]);
        rc = get_u64(c, x[k], wf, dst[k]);
    }
    if (rc < 0)
        return rc;
    d->line = vmio_toml_pos(v).line;
    d->column = vmio_toml_pos(v).column;
    rc = check_name(c, x[0], w, d->name);
    if (rc < 0)
        return rc;
    if (d->length && (d->base_gpa + (d->length - 1) < d->base_gpa ||
                      d->base_hpa + (d->length - 1) < d->base_hpa))
        return fail_at(c, vmio_toml_pos(v), -EINVAL,
                       "%s '%s': length 0x%" PRIx64 " runs past the end of the address space", w,
                       d->name, d->length);
    return 0;
}

static int parse_pt_address(struct ctx *c, tv *v, size_t i, struct vmio_cfg_pt_device *d)
{
    static const char *const f[] = {"base_gpa", "length"};
    tv *x[2];
    char w[64], wf[96];
    snprintf(w, sizeof(w), "devices.passthrough_addresses[%zu]", i);
    int rc = record(c, v, w, f, 2, 2, x);
    for (unsigned k = 0; rc == 0 && k < 2; k++) {
        snprintf(wf, sizeof(wf), "%s.%s", w, f[k]);
        rc = get_u64(c, x[k], wf, k ? &d->length : &d->base_gpa);
    }
    if (rc < 0)
        return rc;
    d->base_hpa = d->base_gpa; /* AxVM maps these identically */
    d->hpa_is_gpa = true;
    d->line = vmio_toml_pos(v).line;
    d->column = vmio_toml_pos(v).column;
    char name[48];
    snprintf(name, sizeof(name), "passthrough_addresses[%zu]", i);
    d->name = strdup(name);
    if (!d->name)
        return oom(c);
    if (d->length == 0)
        return fail_at(c, vmio_toml_pos(x[1]), -EINVAL, "%s: length is 0", w);
    if (d->base_gpa + (d->length - 1) < d->base_gpa)
        return fail_at(c, vmio_toml_pos(x[1]), -EINVAL,
                       "%s: 0x%" PRIx64 " + 0x%" PRIx64 " runs past the end of the address space",
                       w, d->base_gpa, d->length);
    return 0;
}

/* [[devices.passthrough_backing]]: { device = "name", backing = "file:PATH" | "shm:NAME" } */
static int parse_backing(struct ctx *c, tv *v, size_t i)
{
    static const char *const keys[] = {"device", "backing", NULL};
    tv *x[2];
    char w[64];
    snprintf(w, sizeof(w), "devices.passthrough_backing[%zu]", i);
    int rc = expect_table(c, v, w);
    if (rc == 0)
        rc = walk_table(c, v, w, keys, x);
    if (rc < 0)
        return rc;
    for (unsigned k = 0; k < 2; k++)
        if (!x[k])
            return fail_at(c, vmio_toml_pos(v), -EINVAL, "%s: missing '%s'", w, keys[k]);
    char *dev = NULL, *spec = NULL, *resolved = NULL;
    rc = get_str(c, x[0], "devices.passthrough_backing.device", &dev);
    if (rc == 0)
        rc = get_str(c, x[1], "devices.passthrough_backing.backing", &spec);
    if (rc == 0) {
        if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
            const char *p = spec + 5;
            size_t l = strlen(c->cfg->dir) + strlen(p) + 8;
            if (p[0] != '/')
                rc = check_inside(c, x[1], w, p);
            resolved = rc == 0 ? malloc(l) : NULL;
            if (rc == 0 && !resolved)
                rc = oom(c);
            else if (rc == 0 && p[0] == '/')
                snprintf(resolved, l, "file:%s", p);
            else if (rc == 0)
                snprintf(resolved, l, "file:%s/%s", c->cfg->dir, p);
        } else if (strncmp(spec, "shm:", 4) == 0 && spec[4] && !strchr(spec + 4, '/') &&
                   strlen(spec + 4) < NAME_MAX) {
            resolved = strdup(spec);
            if (!resolved)
                rc = oom(c);
        } else if (strcmp(spec, "devmem") == 0) {
            resolved = NULL;
        } else {
            rc = fail_at(c, vmio_toml_pos(x[1]), -EINVAL,
                         "%s.backing: '%s' is not \"file:PATH\", \"shm:NAME\" (no '/') or "
                         "\"devmem\"",
                         w, spec);
        }
    }
    bool matched = false;
    for (size_t k = 0; rc == 0 && k < c->cfg->npt; k++) {
        struct vmio_cfg_pt_device *d = &c->cfg->pt[k];
        if (strcmp(d->name, dev) != 0)
            continue;
        if (d->backing_set) {
            rc = fail_at(c, vmio_toml_pos(v), -EINVAL,
                         "%s: pass-through device '%s' already has a backing", w, dev);
            break;
        }
        matched = true;
        d->backing_set = true;
        free(d->backing);
        d->backing = resolved ? strdup(resolved) : NULL;
        if (d->hpa_is_gpa)
            d->base_hpa = resolved ? d->base_gpa & (VMIO_PAGE_SIZE - 1) : d->base_gpa;
        if (resolved && !d->backing)
            rc = oom(c);
    }
    if (rc == 0 && !matched)
        rc = fail_at(c, vmio_toml_pos(x[0]), -EINVAL,
                     "%s.device: no pass-through device is named '%s'", w, dev);
    free(dev);
    free(spec);
    free(resolved);
    return rc;
}

static int parse_irq_mode(struct ctx *c, tv *v)
{
    char *s = NULL;
    int rc = get_str(c, v, "devices.interrupt_mode", &s);
    if (rc < 0)
        return rc;
    static const struct {
        const char *name;
        enum vmio_irq_mode mode;
    } names[] = {{"no_irq", VMIO_IRQ_NONE},       {"no", VMIO_IRQ_NONE},
                 {"none", VMIO_IRQ_NONE},         {"emu", VMIO_IRQ_EMULATED},
                 {"emulated", VMIO_IRQ_EMULATED}, {"passthrough", VMIO_IRQ_PASSTHROUGH},
                 {"pt", VMIO_IRQ_PASSTHROUGH}};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0) {
            c->cfg->irq_mode = names[i].mode;
            free(s);
            return 0;
        }
    rc = fail_at(c, vmio_toml_pos(v), -EINVAL,
                 "devices.interrupt_mode: '%s' is not \"no_irq\", \"emu\" or \"passthrough\"", s);
    free(s);
    return rc;
}

static int parse_excluded(struct ctx *c, tv *v)
{
    int rc = expect_array(c, v, "devices.excluded_devices");
    if (rc < 0)
        return rc;
    struct vmio_config *cfg = c->cfg;
    size_t n = vmio_toml_array_len(v);
    cfg->excluded = calloc(n ? n : 1, sizeof(*cfg->excluded));
    cfg->nexcluded_each = calloc(n ? n : 1, sizeof(*cfg->nexcluded_each));
    if (!cfg->excluded || !cfg->nexcluded_each)
        return oom(c);
    for (size_t i = 0; i < n; i++) {
        tv *row = vmio_toml_array_at(v, i);
        char w[64];
        snprintf(w, sizeof(w), "devices.excluded_devices[%zu]", i);
        rc = expect_array(c, row, w);
        if (rc < 0)
            return rc;
        size_t m = vmio_toml_array_len(row);
        cfg->excluded[i] = calloc(m ? m : 1, sizeof(char *));
        if (!cfg->excluded[i])
            return oom(c);
        cfg->nexcluded = i + 1;
        for (size_t j = 0; j < m; j++) {
            char wj[96];
            snprintf(wj, sizeof(wj), "%s[%zu]", w, j);
            rc = get_str(c, vmio_toml_array_at(row, j), wj, &cfg->excluded[i][j]);
            if (rc < 0)
                return rc;
            cfg->nexcluded_each[i] = j + 1;
        }
    }
    return 0;
}

static int parse_ports(struct ctx *c, tv *v)
{
    int rc = expect_array(c, v, "devices.passthrough_ports");
    if (rc < 0)
        return rc;
    size_t n = vmio_toml_array_len(v);
    c->cfg->passthrough_ports = calloc(n ? n * 2 : 1, sizeof(uint64_t));
    if (!c->cfg->passthrough_ports)
        return oom(c);
    for (size_t i = 0; i < n; i++) {
        static const char *const f[] = {"base", "length"};
        tv *x[2];
        char w[64], wf[96];
        snprintf(w, sizeof(w), "devices.passthrough_ports[%zu]", i);
        rc = record(c, vmio_toml_array_at(v, i), w, f, 2, 2, x);
        for (unsigned k = 0; rc == 0 && k < 2; k++) {
            snprintf(wf, sizeof(wf), "%s.%s", w, f[k]);
            rc = get_u64(c, x[k], wf, &c->cfg->passthrough_ports[2 * i + k]);
            if (rc == 0 && c->cfg->passthrough_ports[2 * i + k] > 0xffff)
                rc = fail_at(c, vmio_toml_pos(x[k]), -EINVAL, "%s: 0x%" PRIx64 " is over 0xffff",
                             wf, c->cfg->passthrough_ports[2 * i + k]);
        }
        if (rc < 0)
            return rc;
        c->cfg->npassthrough_ports = i + 1;
    }
    return 0;
}

static int parse_devices(struct ctx *c, tv *t)
{
    static const char *const keys[] = {
        "emu_devices",    "passthrough_devices", "passthrough_addresses", "excluded_devices",
        "interrupt_mode", "passthrough_backing", "passthrough_ports",     NULL};
    tv *v[8];
    struct vmio_config *cfg = c->cfg;
    int rc = expect_table(c, t, "devices");
    if (rc == 0)
        rc = walk_table(c, t, "devices", keys, v);
    if (rc < 0)
        return rc;
    if (v[0]) {
        rc = expect_array(c, v[0], "devices.emu_devices");
        if (rc < 0)
            return rc;
        size_t n = vmio_toml_array_len(v[0]);
        cfg->emu = calloc(n ? n : 1, sizeof(*cfg->emu));
        if (!cfg->emu)
            return oom(c);
        cfg->nemu = n;
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = parse_emu(c, vmio_toml_array_at(v[0], i), i);
        if (rc < 0)
            return rc;
    }
    size_t npt = 0, naddr = 0;
    if (v[1]) {
        rc = expect_array(c, v[1], "devices.passthrough_devices");
        npt = vmio_toml_array_len(v[1]);
    }
    if (rc == 0 && v[2]) {
        rc = expect_array(c, v[2], "devices.passthrough_addresses");
        naddr = vmio_toml_array_len(v[2]);
    }
    if (rc < 0)
        return rc;
    /* memory_regions with the DEVICE flag are pass-through too (added later). */
    size_t ndevmem = 0;
    for (size_t i = 0; i < cfg->nmem; i++)
        ndevmem += (cfg->mem[i].flags & VMIO_MEM_DEVICE) != 0;
    cfg->pt = calloc(npt + naddr + ndevmem + 1, sizeof(*cfg->pt));
    if (!cfg->pt)
        return oom(c);
    for (size_t i = 0; rc == 0 && i < npt; i++) {
        rc = parse_pt(c, vmio_toml_array_at(v[1], i), i, &cfg->pt[cfg->npt]);
        cfg->npt++;
    }
    for (size_t i = 0; rc == 0 && i < naddr; i++) {
        rc = parse_pt_address(c, vmio_toml_array_at(v[2], i), i, &cfg->pt[cfg->npt]);
        cfg->npt++;
    }
    for (size_t i = 0; rc == 0 && i < cfg->nmem; i++) {
        const struct vmio_cfg_mem_region *m = &cfg->mem[i];
        if (!(m->flags & VMIO_MEM_DEVICE))
            continue;
        struct vmio_cfg_pt_device *d = &cfg->pt[cfg->npt++];
        char name[48];
        snprintf(name, sizeof(name), "memory_regions[%zu]", i);
        d->name = strdup(name);
        if (!d->name)
            return oom(c);
        d->base_gpa = d->base_hpa = m->gpa;
        d->length = m->size;
        d->line = m->line;
        d->column = m->column;
        d->from_memory_regions = true;
        d->hpa_is_gpa = true;
        d->readonly = !(m->flags & VMIO_MEM_WRITE);
    }
    if (rc == 0 && v[3])
        rc = parse_excluded(c, v[3]);
    if (rc == 0 && v[4])
        rc = parse_irq_mode(c, v[4]);
    if (rc == 0 && v[5]) {
        rc = expect_array(c, v[5], "devices.passthrough_backing");
        for (size_t i = 0; rc == 0 && i < vmio_toml_array_len(v[5]); i++)
            rc = parse_backing(c, vmio_toml_array_at(v[5], i), i);
    }
    if (rc == 0 && v[6])
        rc = parse_ports(c, v[6]);
    return rc;
}

/* ---- architecture and device models ---- */

static int set_reason(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_reason(struct ctx *c, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(c->cfg->arch_reason);
    c->cfg->arch_reason = strdup(buf);
    return c->cfg->arch_reason ? 0 : oom(c);
}

static int emu_arch(unsigned t, enum vmio_arch *out)
{
    if (t >= VMIO_EMU_GPPT_REDISTRIBUTOR && t <= VMIO_EMU_GPPT_ITS)
        *out = VMIO_ARCH_AARCH64;
    else if (t >= VMIO_EMU_X86_IOAPIC && t <= VMIO_EMU_X86_LOCAL_APIC)
        *out = VMIO_ARCH_X86_64;
    else if (t == VMIO_EMU_PPPT_GLOBAL)
        *out = VMIO_ARCH_RISCV64;
    else
        return 0;
    return 1;
}

/*
 * The architecture: base.arch when given; else an arch-specific emu_type;
 * else a name in the file's base name (axvisor names its configs like
 * "arceos-aarch64-qemu-smp1.toml"); else x86_64. Contradictions are errors.
 */
static int decide_arch(struct ctx *c, tv *arch_value)
{
    struct vmio_config *cfg = c->cfg;
    bool decided = arch_value != NULL;
    int rc = 0;
    if (decided)
        rc = set_reason(c, "base.arch at line %u", vmio_toml_pos(arch_value).line);
    for (size_t i = 0; rc == 0 && i < cfg->nemu; i++) {
        enum vmio_arch a;
        if (!emu_arch(cfg->emu[i].emu_type, &a))
            continue;
        if (!decided) {
            cfg->arch = a;
            decided = true;
            rc = set_reason(c, "emu_type 0x%x (%s) of '%s' at line %u", cfg->emu[i].emu_type,
                            vmio_emu_type_name(cfg->emu[i].emu_type), cfg->emu[i].name,
                            cfg->emu[i].line);
        } else if (a != cfg->arch) {
            return vmio_error_set(
                c->err, -EINVAL,
                "%s: line %u, column %u: emu_type 0x%x (%s) of '%s' is an %s device, but "
                "this is an %s VM (decided by %s)",
                c->path, cfg->emu[i].line, cfg->emu[i].column, cfg->emu[i].emu_type,
                vmio_emu_type_name(cfg->emu[i].emu_type), cfg->emu[i].name, vmio_arch_name(a),
                vmio_arch_name(cfg->arch), cfg->arch_reason);
        }
    }
    if (rc == 0 && !decided) {
        const char *base = strrchr(c->path, '/');
        base = base ? base + 1 : c->path;
        static const struct {
            const char *word;
            enum vmio_arch arch;
        } words[] = {{"aarch64", VMIO_ARCH_AARCH64},
                     {"arm64", VMIO_ARCH_AARCH64},
                     {"riscv64", VMIO_ARCH_RISCV64},
                     {"x86_64", VMIO_ARCH_X86_64}};
        for (unsigned i = 0; i < 4 && !decided; i++)
            if (strstr(base, words[i].word)) {
                cfg->arch = words[i].arch;
                decided = true;
                rc = set_reason(c, "the file name '%s'", base);
            }
    }
    if (rc == 0 && !decided) {
        cfg->arch = VMIO_ARCH_X86_64;
        rc = set_reason(c, "default: no base.arch, no arch-specific device, no arch in the file "
                           "name");
    }
    return rc;
}

/*
 * A VirtioNet entry: its name is the TAP interface (a name the kernel
 * accepts, one device per TAP) and cfg_list is empty or [MAC] (one integer,
 * 0x0200_0000_0001 for 02:00:00:00:00:01: unicast, not zero).
 */
static int check_net(struct ctx *c, const struct vmio_cfg_emu_device *d, size_t i)
{
    const struct vmio_config *cfg = c->cfg;
    struct vmio_error e = {0};
    if (vmio_tap_check_name(d->name, &e) < 0)
        return vmio_error_set(c->err, -EINVAL,
                              "%s: line %u, column %u: devices.emu_devices[%zu]: a VirtioNet "
                              "device's name is its TAP interface: %s",
                              c->path, d->line, d->column, i, e.msg);
    for (size_t j = 0; j < i; j++)
        if (cfg->emu[j].model == VMIO_MODEL_VIRTIO_NET && strcmp(cfg->emu[j].name, d->name) == 0)
            return vmio_error_set(c->err, -EINVAL,
                                  "%s: line %u, column %u: devices.emu_devices[%zu] '%s': TAP "
                                  "%s is already the VirtioNet device emu_devices[%zu]'s (a TAP "
                                  "takes one attachment)",
                                  c->path, d->line, d->column, i, d->name, d->name, j);
    if (d->ncfg > 1)
        return vmio_error_set(c->err, -EINVAL,
                              "%s: line %u, column %u: devices.emu_devices[%zu] '%s': a VirtioNet "
                              "cfg_list is [] or [MAC] (one integer), not %zu values",
                              c->path, d->line, d->column, i, d->name, d->ncfg);
    if (d->ncfg == 1) {
        uint64_t v = d->cfg_list[0];
        uint8_t mac[6];
        for (unsigned k = 0; k < 6; k++)
            mac[k] = (uint8_t)(v >> (8 * (5 - k)));
        if (v >> 48 || vmio_virtio_net_check_mac(mac) < 0)
            return vmio_error_set(c->err, -EINVAL,
                                  "%s: line %u, column %u: devices.emu_devices[%zu] '%s': MAC "
                                  "0x%" PRIx64 " is not a 48-bit unicast (first byte even), "
                                  "non-zero address such as 0x0200_0000_0001",
                                  c->path, d->line, d->column, i, d->name, v);
    }
    return 0;
}

/* Map each emulated device to a vmio model (x86_64 only; others stop at runnable()). */
static int assign_models(struct ctx *c)
{
    struct vmio_config *cfg = c->cfg;
    for (size_t i = 0; i < cfg->nemu; i++) {
        struct vmio_cfg_emu_device *d = &cfg->emu[i];
        uint64_t last = d->base_gpa + (d->length - 1); /* no wrap: checked */
        d->space =
            cfg->arch == VMIO_ARCH_X86_64 && last <= 0xffff ? VMIO_SPACE_PIO : VMIO_SPACE_MMIO;
        if (cfg->arch != VMIO_ARCH_X86_64)
            continue;
        const struct model_row *row = vmio_model_by_emu_type(d->emu_type);
        if (!row) {
            char list[256];
            vmio_model_list(list, sizeof(list));
            return vmio_error_set(
                c->err, -ENOTSUP,
                "%s: line %u, column %u: devices.emu_devices[%zu] '%s': emu_type 0x%x "
                "(%s) is not modelled by vmio (it models %s)",
                c->path, d->line, d->column, i, d->name, d->emu_type,
                vmio_emu_type_name(d->emu_type), list);
        }
        d->model = row->model;
        if (row->mmio_only && d->space != VMIO_SPACE_MMIO)
            return vmio_error_set(
                c->err, -EINVAL,
                "%s: line %u, column %u: devices.emu_devices[%zu] '%s': a virtio-mmio device "
                "needs an MMIO window (base_gpa + length above 0x10000), not ports",
                c->path, d->line, d->column, i, d->name);
        if (d->length < row->min_length)
            return vmio_error_set(
                c->err, -EINVAL,
                "%s: line %u, column %u: devices.emu_devices[%zu] '%s': a %s window needs "
                "at least 0x%" PRIx64 " bytes, not 0x%" PRIx64,
                c->path, d->line, d->column, i, d->name, row->name, row->min_length, d->length);
        if (d->model == VMIO_MODEL_VIRTIO_NET) {
            int rc = check_net(c, d, i);
            if (rc < 0)
                return rc;
        }
        if (row->port_length && d->space == VMIO_SPACE_PIO && d->length != row->port_length)
            return vmio_error_set(c->err, -EINVAL,
                                  "%s: line %u, column %u: devices.emu_devices[%zu] '%s': a %s "
                                  "occupies %" PRIu64 " ports, not 0x%" PRIx64,
                                  c->path, d->line, d->column, i, d->name, row->name,
                                  row->port_length, d->length);
    }
    return 0;
}

/* ---- memory map ---- */

int vmio_config_memmap(const struct vmio_config *cfg, struct vmio_memmap **out,
                       struct vmio_error *err)
{
    struct vmio_memmap *mm = NULL;
    if (vmio_memmap_new(&mm) < 0)
        return vmio_error_set(err, -ENOMEM, "%s: out of memory", cfg->path);
    struct vmio_error e = {0};
    int rc = 0;
    char owner[48];
    for (size_t i = 0; rc == 0 && i < cfg->nmem; i++) {
        const struct vmio_cfg_mem_region *m = &cfg->mem[i];
        if (m->flags & VMIO_MEM_DEVICE)
            continue; /* a pass-through entry */
        snprintf(owner, sizeof(owner), "memory_regions[%zu]", i);
        rc = vmio_memmap_add_ram(mm, m->gpa, m->size, !(m->flags & VMIO_MEM_WRITE), owner, &e);
    }
    for (size_t i = 0; rc == 0 && i < cfg->npt; i++) {
        const struct vmio_cfg_pt_device *p = &cfg->pt[i];
        if (p->length == 0)
            continue; /* a device-tree node reference: nothing to map here */
        rc = vmio_memmap_add_passthrough(mm, p->base_gpa, p->length, vmio_config_backing_name(p),
                                         p->base_hpa, p->readonly, p->name, &e);
    }
    for (size_t i = 0; rc == 0 && i < cfg->nemu; i++) {
        const struct vmio_cfg_emu_device *d = &cfg->emu[i];
        rc = vmio_memmap_add_device(mm, d->space, d->base_gpa, d->length, d->name, &e);
    }
    if (rc == 0)
        rc = vmio_memmap_build(mm, &e);
    if (rc < 0) {
        vmio_memmap_free(mm);
        return vmio_error_set(err, rc, "%s: %s", cfg->path, e.msg);
    }
    *out = mm;
    return 0;
}

/* ---- top level ---- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;
    if (!slash)
        d = strdup(".");
    else if (slash == path)
        d = strdup("/");
    else
        d = strndup(path, (size_t)(slash - path));
    if (!d)
        return NULL;
    char *real = realpath(d, NULL);
    if (real) {
        free(d);
        return real;
    }
    return d;
}

int vmio_config_parse(const char *buf, size_t len, const char *path, struct vmio_config **out,
                      struct vmio_error *err)
{
    return vmio_config_parse_with(buf, len, path, NULL, out, err);
}

int vmio_config_parse_with(const char *buf, size_t len, const char *path,
                           const struct vmio_config_options *opts, struct vmio_config **out,
                           struct vmio_error *err)
{
    *out = NULL;
    if (!path)
        path = "(config)";
    struct vmio_config *cfg = calloc(1, sizeof(*cfg));
    struct ctx c = {.path = path, .cfg = cfg, .err = err};
    if (opts)
        c.opts = *opts;
    if (!cfg)
        return oom(&c);
    cfg->cpu_num = 1;
    cfg->path = strdup(path);
    cfg->dir = dir_of(path);
    if (!cfg->path || !cfg->dir) {
        vmio_config_free(cfg);
        return oom(&c);
    }
    c.path = cfg->path;

    struct vmio_toml_value *root = NULL;
    struct vmio_error te = {0};
    int rc = vmio_toml_parse(buf, len, &root, &te);
    if (rc < 0) {
        rc = vmio_error_set(err, rc, "%s: %s", path, te.msg);
        goto out;
    }
    static const char *const keys[] = {"base", "kernel", "devices", NULL};
    tv *v[3];
    tv *arch_value = NULL;
    rc = walk_table(&c, root, "", keys, v);
    if (rc == 0 && !v[1])
        rc = vmio_error_set(err, -EINVAL, "%s: no [kernel] table", path);
    if (rc == 0 && v[0])
        rc = parse_base(&c, v[0], &arch_value);
    if (rc == 0)
        rc = parse_kernel(&c, v[1]);
    if (rc == 0 && v[2])
        rc = parse_devices(&c, v[2]);
    else if (rc == 0) {
        /* no [devices]: still turn DEVICE-flagged memory regions into pass-through */
        static const char empty_doc[] = "";
        struct vmio_toml_value *empty = NULL;
        rc = vmio_toml_parse(empty_doc, 0, &empty, &te);
        if (rc == 0)
            rc = parse_devices(&c, empty);
        vmio_toml_free(empty);
    }
    if (rc == 0)
        rc = decide_arch(&c, arch_value);
    if (rc == 0)
        rc = assign_models(&c);
    if (rc == 0)
        rc = vmio_config_memmap(cfg, &cfg->memmap, err);
out:
    vmio_toml_free(root);
    if (rc < 0) {
        vmio_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int vmio_config_load(const char *path, struct vmio_config **out, struct vmio_error *err)
{
    return vmio_config_load_with(path, NULL, out, err);
}

int vmio_config_load_with(const char *path, const struct vmio_config_options *opts,
                          struct vmio_config **out, struct vmio_error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    *out = NULL;
    int rc = vmio_read_file(path, MAX_CONFIG_SIZE, &data, &size, err);
    if (rc < 0)
        return rc;
    rc = vmio_config_parse_with((const char *)data, size, path, opts, out, err);
    free(data);
    return rc;
}

int vmio_config_runnable(const struct vmio_config *cfg, struct vmio_error *err)
{
    const char *p = cfg->path;
    if (cfg->arch != VMIO_ARCH_X86_64)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: this VM is for %s (decided by %s); this x86_64 host cannot run "
                              "it (the config is valid)",
                              p, vmio_arch_name(cfg->arch), cfg->arch_reason);
    if (cfg->cpu_num > 1 && cfg->irq_mode != VMIO_IRQ_EMULATED)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: cpu_num = %" PRIu64 " needs interrupt_mode = \"emulated\": "
                              "the other vCPUs are started with INIT/SIPI through the in-kernel "
                              "local APICs",
                              p, cfg->cpu_num);
    if (cfg->enable_bios || cfg->bios_path || cfg->uefi_firmware_path ||
        (cfg->boot_protocol && strcmp(cfg->boot_protocol, "direct") != 0 &&
         strcmp(cfg->boot_protocol, "kernel") != 0))
        return vmio_error_set(err, -ENOTSUP,
                              "%s: BIOS/UEFI boot (enable_bios, boot_protocol, bios_path, "
                              "uefi_firmware_path) is not supported: vmio loads Linux, multiboot "
                              "or raw kernels directly",
                              p);
    size_t nram = 0;
    for (size_t i = 0; i < cfg->nmem; i++)
        nram += !(cfg->mem[i].flags & VMIO_MEM_DEVICE);
    if (nram > VMIO_CONFIG_MAX_RAM)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: %zu RAM regions in kernel.memory_regions; vmio supports at "
                              "most %d",
                              p, nram, VMIO_CONFIG_MAX_RAM);
    unsigned disks = 0, virtio = 0;
    for (size_t i = 0; i < cfg->nemu; i++) {
        const struct vmio_cfg_emu_device *d = &cfg->emu[i];
        if (!vmio_config_is_virtio(d->model))
            continue;
        virtio++;
        disks += d->model == VMIO_MODEL_VIRTIO_BLK;
        if (cfg->irq_mode != VMIO_IRQ_EMULATED)
            return vmio_error_set(err, -ENOTSUP,
                                  "%s: line %u, column %u: the virtio device '%s' needs "
                                  "interrupt_mode = \"emulated\" (its interrupt is an IOAPIC pin)",
                                  p, d->line, d->column, d->name);
        if (d->irq_id < 16 || d->irq_id >= VMIO_IRQCHIP_GSIS)
            return vmio_error_set(
                err, -ENOTSUP,
                "%s: line %u, column %u: the virtio device '%s' has irq_id %" PRIu64
                "; virtio-mmio interrupts are level-triggered IOAPIC pins, GSIs "
                "16-%d",
                p, d->line, d->column, d->name, d->irq_id, VMIO_IRQCHIP_GSIS - 1);
        for (size_t j = 0; j < i; j++)
            if (vmio_config_is_virtio(cfg->emu[j].model) && cfg->emu[j].irq_id == d->irq_id)
                return vmio_error_set(err, -ENOTSUP,
                                      "%s: line %u, column %u: virtio devices '%s' and '%s' share "
                                      "irq_id %" PRIu64 "; each needs its own line",
                                      p, d->line, d->column, cfg->emu[j].name, d->name, d->irq_id);
    }
    if (disks > 1)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: %u VirtioBlk devices; vmio takes the image of the one disk "
                              "from kernel.disk_path",
                              p, disks);
    if (disks && !cfg->disk_path)
        return vmio_error_set(err, -EINVAL,
                              "%s: a VirtioBlk device needs kernel.disk_path (its raw image)", p);
    if (cfg->disk_path && !disks)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: kernel.disk_path needs a VirtioBlk device (emu_type 0xe1) in "
                              "devices.emu_devices to be the guest's disk",
                              p);
    if (virtio > 8)
        return vmio_error_set(err, -ENOTSUP, "%s: %u virtio devices; vmio takes at most 8", p,
                              virtio);
    if (cfg->irq_mode == VMIO_IRQ_PASSTHROUGH)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: interrupt_mode = \"passthrough\" needs host interrupt "
                              "forwarding, which vmio does not do",
                              p);
    if (cfg->irq_mode == VMIO_IRQ_EMULATED) {
        /* Each Console drives the GSI its irq_id names, one device per line. */
        for (size_t i = 0; i < cfg->nemu; i++) {
            const struct vmio_cfg_emu_device *d = &cfg->emu[i];
            if (d->model != VMIO_MODEL_UART16550)
                continue;
            if (d->irq_id >= VMIO_IRQCHIP_GSIS)
                return vmio_error_set(err, -ENOTSUP,
                                      "%s: line %u, column %u: device '%s': irq_id %" PRIu64
                                      " with interrupt_mode = \"emulated\": vmio's interrupt "
                                      "controllers (PIC + IOAPIC) have GSIs 0-%d",
                                      p, d->line, d->column, d->name, d->irq_id,
                                      VMIO_IRQCHIP_GSIS - 1);
            for (size_t j = 0; j < i; j++)
                if (cfg->emu[j].model == VMIO_MODEL_UART16550 && cfg->emu[j].irq_id == d->irq_id)
                    return vmio_error_set(err, -ENOTSUP,
                                          "%s: line %u, column %u: devices '%s' and '%s' share "
                                          "irq_id %" PRIu64 "; vmio wires one device per "
                                          "interrupt line",
                                          p, d->line, d->column, cfg->emu[j].name, d->name,
                                          d->irq_id);
        }
    }
    if (cfg->npassthrough_ports)
        return vmio_error_set(err, -ENOTSUP,
                              "%s: devices.passthrough_ports: vmio cannot pass host I/O ports "
                              "through",
                              p);
    for (size_t i = 0; i < cfg->npt; i++)
        if (cfg->pt[i].length == 0)
            return vmio_error_set(
                err, -ENOTSUP,
                "%s: line %u, column %u: pass-through device '%s' has no length (a "
                "device-tree node reference); x86_64 VMs have no device tree",
                p, cfg->pt[i].line, cfg->pt[i].column, cfg->pt[i].name);
    /* A ramdisk without an address is placed by the Linux boot protocol (bzImage kernels). */
    if (cfg->has_dtb_load_addr != (cfg->dtb_path != NULL) ||
        (cfg->has_ramdisk_load_addr && !cfg->ramdisk_path))
        return vmio_error_set(err, -EINVAL,
                              "%s: dtb_path/ramdisk_path and their *_load_addr go together", p);
    return 0;
}

void vmio_config_describe(const struct vmio_config *cfg, FILE *out)
{
    fprintf(out, "vm: %s (id %" PRIu64 ", vm_type %" PRIu64 ", %" PRIu64 " vCPU%s, %s, %s)\n",
            cfg->name ? cfg->name : "(unnamed)", cfg->id, cfg->vm_type, cfg->cpu_num,
            cfg->cpu_num == 1 ? "" : "s", vmio_arch_name(cfg->arch), cfg->arch_reason);
    fprintf(out, "kernel: %s", cfg->kernel_path);
    if (cfg->has_kernel_load_addr)
        fprintf(out, " at 0x%" PRIx64, cfg->kernel_load_addr);
    if (cfg->has_entry_point)
        fprintf(out, ", entry 0x%" PRIx64, cfg->entry_point);
    fprintf(out, "\n");
    if (cfg->cmdline)
        fprintf(out, "cmdline: %s\n", cfg->cmdline);
    if (cfg->dtb_path)
        fprintf(out, "dtb: %s at 0x%" PRIx64 "\n", cfg->dtb_path, cfg->dtb_load_addr);
    if (cfg->ramdisk_path)
        fprintf(out, "ramdisk: %s at 0x%" PRIx64 "\n", cfg->ramdisk_path, cfg->ramdisk_load_addr);
    fprintf(out, "interrupt_mode: %s\n", vmio_irq_mode_name(cfg->irq_mode));
    for (size_t i = 0; i < cfg->nemu; i++) {
        const struct vmio_cfg_emu_device *d = &cfg->emu[i];
        fprintf(out,
                "emu device %s: emu_type 0x%x (%s) -> %s, %s 0x%" PRIx64 "+0x%" PRIx64
                ", irq %" PRIu64 "\n",
                d->name, d->emu_type, vmio_emu_type_name(d->emu_type),
                cfg->arch == VMIO_ARCH_X86_64 && vmio_model_row_of(d->model)
                    ? vmio_model_row_of(d->model)->name
                    : "(not built on this host)",
                d->space == VMIO_SPACE_PIO ? "ports" : "mmio", d->base_gpa, d->length, d->irq_id);
    }
    for (size_t i = 0; i < cfg->npt; i++) {
        const struct vmio_cfg_pt_device *d = &cfg->pt[i];
        if (d->length == 0)
            fprintf(out, "pass-through %s: a device-tree node (nothing to map by address)\n",
                    d->name);
        else
            fprintf(out, "pass-through %s: gpa 0x%" PRIx64 "+0x%" PRIx64 " <- %s @ 0x%" PRIx64 "\n",
                    d->name, d->base_gpa, d->length, vmio_config_backing_name(d), d->base_hpa);
    }
    for (size_t i = 0; i < cfg->nexcluded; i++)
        for (size_t j = 0; j < cfg->nexcluded_each[i]; j++)
            fprintf(out, "excluded: %s\n", cfg->excluded[i][j]);
}
