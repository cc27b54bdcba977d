/*
 * libFuzzer target: the exit path's fast path (the exit cache) against its
 * general path. The input is a script of accesses, ES_STEP_BYTES each
 * (tests/unit/exit_script.h, es_step(): MMIO and ports on two adjacent
 * recording devices, widths 1-8, string port I/O, accesses across and past
 * the windows); byte 0 of the input turns timing off when its low bit is set.
 * The script runs on two VMs of the fake backend: warm, all of it in one
 * vmio_vcpu_run() (repeated accesses take the fast path), and cold, one
 * access per run (each run starts with an empty cache). Property checked (a
 * difference traps; `make check` replays the corpus): the devices saw the
 * same calls, the guest got the same bytes, and the statistics agree to the
 * histogram bucket (es_differs()). No KVM.
 */
#include <stdint.h>
#include <stdio.h>

#include "../unit/exit_script.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_STEPS 512

struct vm_side {
    struct vmio_fake *fake;
    struct vmio_vm *vm;
    struct vmio_manual_clock clk;
    struct es_side side;
};

static FILE *null_log(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

static void side_init(struct vm_side *s, bool timing)
{
    memset(s, 0, sizeof(*s));
    struct vmio_error err = {0};
    CHECK(vmio_fake_create(&s->fake, &err) == 0);
    vmio_manual_clock_init(&s->clk, 1000000, 0);
    struct vmio_vm_options o = {.mem_size = 2u << 20,
                                .unclaimed = VMIO_UNCLAIMED_IGNORE,
                                .log = null_log(),
                                .backend = vmio_fake_backend(s->fake),
                                .clock = &s->clk.clock};
    CHECK(vmio_vm_create(&o, &s->vm, &err) == 0);
    vmio_vm_set_timing(s->vm, timing);
    CHECK(es_add_devices(s->vm, &s->clk, &s->side.a, &s->side.b, &err) == 0);
    CHECK(vmio_vcpu_create(s->vm, 0, &s->side.vcpu, &err) == 0);
    s->side.fake = s->fake;
}

static void side_fini(struct vm_side *s)
{
    vmio_vcpu_destroy(s->side.vcpu);
    vmio_vm_destroy(s->vm); /* the recorders have no destroy: freed here */
    vmio_fake_destroy(s->fake);
    free(s->side.a);
    free(s->side.b);
}

/* One vmio_vcpu_run() to the script's end. */
static void run_to_end(struct vm_side *s)
{
    struct vmio_exit e;
    memset(&e, 0, sizeof(e));
    CHECK(vmio_vcpu_run(s->side.vcpu, &e) == 0);
    CHECK(e.reason == VMIO_EXIT_UNKNOWN && e.code == VMIO_FAKE_SCRIPT_END);
    s->side.runs++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + ES_STEP_BYTES)
        return 0;
    bool timing = !(data[0] & 1);
    unsigned steps = (unsigned)((size - 1) / ES_STEP_BYTES);
    if (steps > MAX_STEPS)
        steps = MAX_STEPS;
    static struct vm_side warm, cold;
    side_init(&warm, timing);
    side_init(&cold, timing);
    uint8_t elems[32];
    for (unsigned i = 0; i < steps; i++) {
        struct vmio_fake_step st = es_step(data + 1 + (size_t)i * ES_STEP_BYTES, elems);
        CHECK(vmio_fake_push(warm.fake, 0, &st) >= 0);
        CHECK(vmio_fake_push(cold.fake, 0, &st) >= 0);
        run_to_end(&cold);
    }
    run_to_end(&warm);
    CHECK(es_differs(&warm.side, &cold.side, steps) == 0);
    side_fini(&warm);
    side_fini(&cold);
    return 0;
}
