/*
 * What `vmio run` tells about a run, the same on every architecture
 * (cmd_run.c for x86-64, cmd_run_arm64.c for AArch64): the exit statistics
 * at its end (--stats to stderr, --stats-json to a file checked before the
 * run starts) and the stall watchdog while it runs (--stall-timeout,
 * --on-stall).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run_observe.h"
#include "vmio/chardev.h"
#include "vmio/stats.h"
#include "vmio/watchdog.h"

/*
 * --stats-json PATH: written at the end of the run, so checked now: an
 * existing regular file we may write, or a new file in a folder we may
 * write. Anything else (a FIFO would block the final open) is a usage error.
 */
int cli_check_output_file(const char *opt, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "vmio run: %s %s: not a regular file\n", opt, path);
            return -EINVAL;
        }
        if (access(path, W_OK) != 0) {
            fprintf(stderr, "vmio run: %s %s: %s\n", opt, path, strerror(errno));
            return -EINVAL;
        }
        return 0;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "vmio run: %s %s: %s\n", opt, path, strerror(errno));
        return -EINVAL;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof(dir)) {
        fprintf(stderr, "vmio run: %s: path too long\n", opt);
        return -EINVAL;
    }
    if (!slash)
        strcpy(dir, ".");
    else if (n == 0)
        strcpy(dir, "/");
    else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    const char *why = NULL;
    if (stat(dir, &st) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a folder";
    else if (access(dir, W_OK) != 0)
        why = strerror(errno);
    if (why) {
        fprintf(stderr, "vmio run: %s %s: cannot create it in %s: %s\n", opt, path, dir, why);
        return -EINVAL;
    }
    return 0;
}

void cli_write_stats(struct vmio_vm *vm, bool print, const char *json_path)
{
    if (!print && !json_path)
        return;
    struct vmio_stats *s = calloc(1, sizeof(*s));
    if (!s) {
        fprintf(stderr, "vmio: no statistics: out of memory\n");
        return;
    }
    vmio_vm_stats(vm, s);
    if (print)
        vmio_stats_print(vm, s, stderr);
    if (json_path) {
        /* Non-blocking: what was checked at the start may have become a FIFO. */
        int fd = open(json_path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0644);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f && fd >= 0)
            close(fd);
        if (f) {
            vmio_stats_write_json(vm, s, f);
            fclose(f);
        } else {
            fprintf(stderr, "vmio: cannot write %s: %s\n", json_path, strerror(errno));
        }
    }
    free(s);
}

int cli_parse_stall_timeout(const char *arg, uint64_t *ns)
{
    char *end;
    errno = 0;
    unsigned long long ms = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || ms > 3600000) {
        fprintf(stderr, "vmio run: --stall-timeout '%s': expected milliseconds, 0-3600000\n", arg);
        return -EINVAL;
    }
    *ns = ms * 1000000ULL;
    return 0;
}

int cli_parse_on_stall(const char *arg, bool *exit_on_stall)
{
    if (strcmp(arg, "log") != 0 && strcmp(arg, "exit") != 0) {
        fprintf(stderr, "vmio run: --on-stall '%s': expected log or exit\n", arg);
        return -EINVAL;
    }
    *exit_on_stall = strcmp(arg, "exit") == 0;
    return 0;
}

/*
 * --on-stall exit: report the stall and end the process. The stuck vCPU
 * cannot be stopped (it is inside the device), so nothing is joined or
 * freed; the terminal is restored. Serial output still buffered is lost.
 */
static void stall_exit(void *ctx, const struct vmio_stall *s)
{
    vmio_stall_log(ctx, s);
    fprintf(ctx, "vmio: stopping: a device handler stalled (--on-stall exit)\n");
    fflush(NULL);
    vmio_chardev_terminal_restore();
    _exit(VMIO_STATUS_STALLED);
}

void cli_watchdog_start(struct vmio_vm *vm, uint64_t stall_ns, bool exit_on_stall)
{
    if (!stall_ns)
        return;
    struct vmio_watchdog_options wo = {.timeout_ns = stall_ns,
                                       .on_stall = exit_on_stall ? stall_exit : vmio_stall_log,
                                       .ctx = stderr};
    struct vmio_error err = {0};
    if (vmio_vm_watchdog_start(vm, &wo, &err) < 0)
        fprintf(stderr, "vmio: no stall watchdog: %s\n", err.msg);
}
