/*
 * vmio_x86_cpuid_for_vcpu(): the topology a vCPU reports (src/backend/x86_cpuid.h)
 * on Intel- and AMD-shaped supported sets, with no KVM: APIC IDs in leaves 1,
 * 0xB, 0x1F and 0x8000001E, core counts in 1, 4, 0xB and 0x80000008, the
 * hypervisor and HTT bits, bits outside those fields and unknown leaves left
 * alone, and out-of-range arguments clamped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend/x86_cpuid.h"

/* "GenuineIntel" / "AuthenticAMD" in EBX, EDX, ECX of leaf 0. */
static const struct x86_cpuid_entry intel_leaf0 = {0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69};
static const struct x86_cpuid_entry amd_leaf0 = {0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65};

static struct x86_cpuid_entry *find(struct x86_cpuid_entry *e, unsigned n, uint32_t f, uint32_t i)
{
    for (unsigned k = 0; k < n; k++)
        if (e[k].function == f && e[k].index == i)
            return &e[k];
    fail_msg("leaf 0x%x.%u missing", f, i);
    return NULL;
}

static void test_apic_id_bits(void **state)
{
    (void)state;
    assert_int_equal(vmio_x86_cpuid_apic_id_bits(1), 0);
    assert_int_equal(vmio_x86_cpuid_apic_id_bits(2), 1);
    assert_int_equal(vmio_x86_cpuid_apic_id_bits(3), 2);
    assert_int_equal(vmio_x86_cpuid_apic_id_bits(4), 2);
    assert_int_equal(vmio_x86_cpuid_apic_id_bits(5), 3);
    assert_int_equal(vmio_x86_cpuid_apic_id_bits(64), 6);
}

static void test_intel(void **state)
{
    (void)state;
    struct x86_cpuid_entry e[] = {
        intel_leaf0,
        {1, 0, 0x906ea, 0x00ff0800, 0x7ffafbff, 0xbfebfbff}, /* host: 255 IDs, APIC ID 0 */
        {4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0},             /* L1d */
        {4, 3, 0x1c03c163, 0x03c0003f, 0x3fff, 6},           /* L3, shared by 16 */
        {4, 4, 0, 0, 0, 0},                                  /* no more caches */
        {0xb, 0, 1, 2, 0x100, 7},
        {0xb, 1, 4, 12, 0x201, 7},
        {0xb, 2, 0, 0, 2, 7},
        {0x1f, 1, 4, 12, 0x201, 7},
        {0x80000008, 0, 0x3027, 0, 0x1234, 0}, /* AMD-only fields: Intel leaves them alone */
        {0x40000001, 0, 0x1234, 0, 0, 0},      /* unknown to it: untouched */
    };
    unsigned n = sizeof(e) / sizeof(e[0]);
    vmio_x86_cpuid_for_vcpu(e, n, 2, 3);
    struct x86_cpuid_entry *l1 = find(e, n, 1, 0);
    assert_int_equal(l1->ebx, 0x02030800);               /* APIC ID 2, 3 logical, CLFLUSH kept */
    assert_int_equal(l1->ecx, 0x7ffafbffu | (1u << 31)); /* hypervisor */
    assert_int_equal(l1->edx, 0xbfebfbff);               /* HTT stays on: 3 CPUs */
    assert_int_equal(find(e, n, 4, 0)->eax, (0x1c004121u & 0x3fff) | (2u << 26));
    assert_int_equal(find(e, n, 4, 3)->eax, (0x1c03c163u & 0x3fff) | (2u << 14) | (2u << 26));
    assert_int_equal(find(e, n, 4, 4)->eax, 0); /* the terminator stays */
    struct x86_cpuid_entry *smt = find(e, n, 0xb, 0), *core = find(e, n, 0xb, 1);
    assert_int_equal(smt->eax, 0);
    assert_int_equal(smt->ebx, 1);
    assert_int_equal(smt->ecx, 0x100);
    assert_int_equal(smt->edx, 2);
    assert_int_equal(core->eax, 2);
    assert_int_equal(core->ebx, 3);
    assert_int_equal(core->ecx, 0x201);
    assert_int_equal(core->edx, 2);
    struct x86_cpuid_entry *end = find(e, n, 0xb, 2);
    assert_int_equal(end->ebx, 0);
    assert_int_equal(end->ecx, 2);
    assert_int_equal(end->edx, 2);
    assert_int_equal(find(e, n, 0x1f, 1)->ebx, 3);
    assert_int_equal(find(e, n, 0x1f, 1)->edx, 2);
    assert_int_equal(find(e, n, 0x40000001, 0)->eax, 0x1234);
}

static void test_amd_single(void **state)
{
    (void)state;
    struct x86_cpuid_entry e[] = {
        amd_leaf0,
        {1, 0, 0x800f12, 0x00040800, 0x7ed8320b, 0x178bfbff},
        {4, 0, 0x121, 0, 0, 0},                 /* not Intel: leaf 4 untouched */
        {0x80000008, 0, 0x3030, 0, 0x3700f, 0}, /* PerfTscSize (17:16) kept */
        {0x8000001e, 0, 9, 0x10107, 0x0303, 0},
    };
    unsigned n = sizeof(e) / sizeof(e[0]);
    vmio_x86_cpuid_for_vcpu(e, n, 0, 1);
    struct x86_cpuid_entry *l1 = find(e, n, 1, 0);
    assert_int_equal(l1->ebx, 0x00010800);
    assert_int_equal(l1->edx, 0x178bfbffu & ~(1u << 28)); /* one CPU: no HTT */
    assert_int_equal(find(e, n, 4, 0)->eax, 0x121);
    assert_int_equal(find(e, n, 0x80000008, 0)->ecx, 0x30000); /* NC 0, ApicIdSize 0 */
    struct x86_cpuid_entry *ext = find(e, n, 0x8000001e, 0);
    assert_int_equal(ext->eax, 0);
    assert_int_equal(ext->ebx, 0x10000); /* core 0, one thread; bits 16+ kept */
    assert_int_equal(ext->ecx, 0);
}

static void test_amd_four(void **state)
{
    (void)state;
    struct x86_cpuid_entry e[] = {
        amd_leaf0,
        {1, 0, 0x800f12, 0x00040800, 0, 0},
        {0x80000008, 0, 0x3030, 0, 0x0, 0},
        {0x8000001e, 0, 0, 0, 0, 0},
    };
    unsigned n = sizeof(e) / sizeof(e[0]);
    vmio_x86_cpuid_for_vcpu(e, n, 3, 4);
    assert_int_equal(find(e, n, 1, 0)->ebx, 0x03040800);
    assert_int_equal(find(e, n, 1, 0)->edx, 1u << 28);
    assert_int_equal(find(e, n, 0x80000008, 0)->ecx, (2u << 12) | 3);
    assert_int_equal(find(e, n, 0x8000001e, 0)->eax, 3);
    assert_int_equal(find(e, n, 0x8000001e, 0)->ebx, 3);
}

/* Out-of-range arguments still give a consistent topology. */
static void test_clamped(void **state)
{
    (void)state;
    struct x86_cpuid_entry e[] = {amd_leaf0, {1, 0, 0, 0, 0, 0}};
    vmio_x86_cpuid_for_vcpu(e, 2, 5, 0); /* count 0 means 1; the index becomes 0 */
    assert_int_equal(e[1].ebx, 0x00010000);
    vmio_x86_cpuid_for_vcpu(e, 2, 300, 1000); /* at most 255 xAPIC IDs */
    assert_int_equal(e[1].ebx, 0xfeff0000);
    vmio_x86_cpuid_for_vcpu(NULL, 0, 0, 1); /* nothing to do */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apic_id_bits), cmocka_unit_test(test_intel),
        cmocka_unit_test(test_amd_single),   cmocka_unit_test(test_amd_four),
        cmocka_unit_test(test_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
