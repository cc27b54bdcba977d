/*
 * `vmio check CONFIG.toml`: load and validate a VM config without running
 * it (no KVM; besides the config only the first 4 KiB of its kernel are
 * read, to know whether it is a Linux kernel) and print what it describes: a
 * summary, the guest-physical memory map (RAM, pass-through mappings after
 * alignment and merging, device windows, with sizes and owners, in address
 * order) and the port map, then whether this host can run it. The verdict is
 * vmio_config_check_run(), the validation `vmio run` makes before it builds
 * anything, so "runnable" here means run accepts the config, and "not
 * runnable here: ..." carries run's message.
 *
 * Exit status: 0 valid (whether or not this host can run it: the last line
 * says), 2 bad arguments or an invalid config (the message says what and
 * where).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vmio/config.h"
#include "vmio/memmap.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: vmio check [--allow-outside-paths] CONFIG.toml\n"
                 "Validate a VM config (AxVM schema, see docs/config.md) and print its memory\n"
                 "and port map without running it.\n"
                 "  --allow-outside-paths   let the config's relative paths lead outside its\n"
                 "                          folder\n");
}

int cli_check(int argc, char **argv)
{
    const char *path = NULL;
    struct vmio_config_options co = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            check_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--allow-outside-paths") == 0) {
            co.allow_outside_paths = true;
            continue;
        }
        if (argv[i][0] == '-' || path) {
            fprintf(stderr, "vmio check: unexpected argument '%s'\n", argv[i]);
            check_usage(stderr);
            return VMIO_STATUS_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        check_usage(stderr);
        return VMIO_STATUS_USAGE;
    }
    struct vmio_error err = {0};
    struct vmio_config *cfg = NULL;
    if (vmio_config_load_with(path, &co, &cfg, &err) < 0) {
        fprintf(stderr, "vmio: %s\n", err.msg);
        return VMIO_STATUS_USAGE;
    }
    vmio_config_describe(cfg, stdout);
    vmio_memmap_print(cfg->memmap, stdout); /* the map the load built */
    vmio_error_clear(&err);
    if (vmio_config_check_run(cfg, NULL, &err) == 0)
        printf("%s: valid; runnable on this host\n", path);
    else {
        size_t l = strlen(path);
        const char *why = strncmp(err.msg, path, l) == 0 && strncmp(err.msg + l, ": ", 2) == 0
                              ? err.msg + l + 2
                              : err.msg;
        printf("%s: valid; not runnable here: %s\n", path, why);
    }
    vmio_config_free(cfg);
    return 0;
}
