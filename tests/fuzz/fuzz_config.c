/*
 * libFuzzer target: a VM config from arbitrary bytes through the whole
 * front half of `vmio check`: TOML, the schema, the memory map (alignment,
 * merging, carving) and the runnable checks. No KVM, no files are opened
 * (kernel paths are only resolved, never read, before a run).
 */
#include <stdint.h>

#include "vmio/config.h"
#include "vmio/memmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vmio_config *cfg = NULL;
    struct vmio_error err;
    if (vmio_config_parse((const char *)data, size, "/nonexistent/fuzz.toml", &cfg, &err) < 0)
        return 0;
    struct vmio_memmap *mm = NULL;
    if (vmio_config_memmap(cfg, &mm, &err) == 0)
        vmio_memmap_free(mm);
    vmio_config_runnable(cfg, &err);
    vmio_config_free(cfg);
    return 0;
}
