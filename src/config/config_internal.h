/*
 * Shared between the files of src/config only: the layout half of
 * vmio_config_check_run(), which vmio_config_build_vm() repeats so that
 * library callers building a VM from a config get the same refusals; and the
 * test of whether a relative path leaves the config's folder.
 */
#ifndef VMIO_CONFIG_INTERNAL_H
#define VMIO_CONFIG_INTERNAL_H

#include <stdbool.h>

#include "vmio/config.h"

/*
 * vmio_config_check_layout - vmio_config_check_run() without reading the
 * kernel: @linux_kernel says whether it is a Linux bzImage. Pure.
 * Errors: as vmio_config_check_run().
 */
int vmio_config_check_layout(const struct vmio_config *cfg, bool linux_kernel,
                             struct vmio_error *err);

/*
 * vmio_config_path_escapes - whether the relative path @rel, taken from the
 * folder @dir, leads outside it: a ".." that climbs above @dir, or (for the
 * part of the path that exists) a symbolic link that resolves outside it.
 * See config_paths.c.
 */
bool vmio_config_path_escapes(const char *dir, const char *rel);

#endif
