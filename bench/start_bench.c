/*
 * start_bench: process start to exit of the vmio command, and its peak RSS.
 *
 * Spawns (posix_spawn, output to /dev/null) and waits for (wait4):
 *   floor      /bin/true: what any process start costs on this machine;
 *   start      vmio run --serial none GUEST: create the VM, load the
 *              multiboot guest, boot it to long mode, exit at once;
 *   loop       vmio run --serial none --cmdline exits=N GUEST: the same
 *              plus N port writes, so (loop - start) / N is the per-exit
 *              cost through the whole command (64-bit guest, every standard
 *              device registered, timing on).
 * Each is repeated (interleaved) and reported as the median wall time from
 * spawn to reaped exit, the child's user+system CPU, and its peak RSS
 * (ru_maxrss from wait4; getrusage(RUSAGE_CHILDREN) gives the maximum over
 * all children and is reported too). The guest is bench_loop
 * (guest/tests/bench_loop.c), which exits with code 0: vmio's status 1.
 *
 * Usage: start_bench VMIO GUEST [--runs N] [--exits N] [--json PATH]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

extern char **environ;

#define MAX_RUNS 200

enum what { W_FLOOR, W_START, W_LOOP, NWHAT };
static const char *const what_names[] = {"floor (/bin/true)", "vmio start-to-exit",
                                         "vmio + N exits"};
static const char *const what_keys[] = {"spawn_floor", "vmio_start", "vmio_loop"};

struct run {
    double wall_ms, cpu_ms, maxrss_kib;
    int status; /* exit status, or -signal */
};

static int spawn_once(char *const argv[], struct run *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    uint64_t t0 = bench_now_ns();
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "start_bench: cannot spawn %s: %s\n", argv[0], strerror(rc));
        return -rc;
    }
    int st;
    struct rusage ru;
    pid_t w;
    do
        w = wait4(pid, &st, 0, &ru);
    while (w < 0 && errno == EINTR);
    uint64_t t1 = bench_now_ns();
    if (w < 0) {
        fprintf(stderr, "start_bench: wait4: %s\n", strerror(errno));
        return -errno;
    }
    out->wall_ms = (double)(t1 - t0) / 1e6;
    out->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    out->maxrss_kib = (double)ru.ru_maxrss;
    out->status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    return 0;
}

static struct run runs[NWHAT][MAX_RUNS];
static int nruns[NWHAT];

struct summary {
    double wall_ms, wall_min, wall_max, cpu_ms, maxrss_kib;
    int status;
};

static struct summary summarize(enum what w)
{
    double wall[MAX_RUNS], cpu[MAX_RUNS], rss[MAX_RUNS];
    int n = nruns[w];
    struct summary s = {0};
    for (int i = 0; i < n; i++) {
        wall[i] = runs[w][i].wall_ms;
        cpu[i] = runs[w][i].cpu_ms;
        rss[i] = runs[w][i].maxrss_kib;
        if (runs[w][i].status != runs[w][0].status)
            s.status = 1000; /* inconsistent: shown as such */
    }
    s.wall_min = bench_min(wall, (size_t)n);
    s.wall_max = bench_max(wall, (size_t)n);
    s.wall_ms = bench_median(wall, (size_t)n);
    s.cpu_ms = bench_median(cpu, (size_t)n);
    s.maxrss_kib = bench_median(rss, (size_t)n);
    if (s.status == 0 && n)
        s.status = runs[w][0].status;
    return s;
}

int main(int argc, char **argv)
{
    FILE *json = bench_json_open(&argc, argv);
    if (!json)
        return 1;
    int nrun = 21, loop_runs = 5;
    unsigned exits = 20000;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            nrun = atoi(argv[++i]);
        else if (strcmp(argv[i], "--exits") == 0 && i + 1 < argc)
            exits = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (npos < 2)
            pos[npos++] = argv[i];
    }
    if (npos != 2 || nrun < 1 || nrun > MAX_RUNS) {
        fprintf(stderr, "usage: start_bench VMIO GUEST [--runs 1..%d] [--exits N] [--json PATH]\n",
                MAX_RUNS);
        return 2;
    }
    if (loop_runs > nrun)
        loop_runs = nrun;
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        printf("\n== Process start to exit: skipped (no accessible /dev/kvm) ==\n");
        fprintf(json, "{\"benchmark\": \"process_start\", \"skipped\": \"no accessible "
                      "/dev/kvm\"}\n");
        bench_json_close(json);
        return 0;
    }

    char cmdline[64];
    snprintf(cmdline, sizeof(cmdline), "exits=%u", exits);
    char *floor_argv[] = {"/bin/true", NULL};
    char *start_argv[] = {(char *)pos[0], "run", "--serial", "none", (char *)pos[1], NULL};
    char *loop_argv[] = {(char *)pos[0], "run",   "--serial",     "none",
                         "--cmdline",    cmdline, (char *)pos[1], NULL};
    bool have_true = access(floor_argv[0], X_OK) == 0;

    struct run warm;
    if (spawn_once(start_argv, &warm) < 0) /* warm the page cache */
        return 1;
    for (int r = 0; r < nrun; r++) {
        if (have_true && spawn_once(floor_argv, &runs[W_FLOOR][nruns[W_FLOOR]++]) < 0)
            return 1;
        if (spawn_once(start_argv, &runs[W_START][nruns[W_START]++]) < 0)
            return 1;
        if (r < loop_runs && spawn_once(loop_argv, &runs[W_LOOP][nruns[W_LOOP]++]) < 0)
            return 1;
    }
    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);

    struct summary s[NWHAT];
    for (int w = 0; w < NWHAT; w++)
        s[w] = summarize((enum what)w);
    double per_exit_us = (s[W_LOOP].wall_ms - s[W_START].wall_ms) * 1e3 / exits;
    double per_exit_cpu_us = (s[W_LOOP].cpu_ms - s[W_START].cpu_ms) * 1e3 / exits;

    printf("\n== Process start to exit (posix_spawn .. wait4), median of N runs ==\n");
    printf("%-20s %4s %10s %18s %9s %11s %7s\n", "what", "N", "wall ms", "(min..max)", "cpu ms",
           "maxrss KiB", "status");
    for (int w = 0; w < NWHAT; w++) {
        if (!nruns[w])
            continue;
        char range[40];
        snprintf(range, sizeof(range), "%.2f..%.2f", s[w].wall_min, s[w].wall_max);
        printf("%-20s %4d %10.2f %18s %9.2f %11.0f %7d\n", what_names[w], nruns[w], s[w].wall_ms,
               range, s[w].cpu_ms, s[w].maxrss_kib, s[w].status);
    }
    printf("N exits = %u (guest bench_loop, exits=N); through the vmio command: %.2f us wall,\n"
           "%.2f us CPU per exit. Peak RSS over all children (RUSAGE_CHILDREN): %ld KiB.\n"
           "cpu ms: the child's user+system CPU; expected vmio exit status 1.\n",
           exits, per_exit_us, per_exit_cpu_us, children.ru_maxrss);

    fprintf(json,
            "{\"benchmark\": \"process_start\", \"guest\": \"bench_loop\", "
            "\"loop_exits\": %u, \"runs\": {",
            exits);
    int first = 1;
    for (int w = 0; w < NWHAT; w++) {
        if (!nruns[w])
            continue;
        double wall[MAX_RUNS];
        for (int i = 0; i < nruns[w]; i++)
            wall[i] = runs[w][i].wall_ms;
        fprintf(json, "%s\n  \"%s\": {\"n\": %d, \"wall_ms\": ", first ? "" : ",", what_keys[w],
                nruns[w]);
        first = 0;
        bench_json_number(json, s[w].wall_ms);
        fputs(", \"wall_ms_samples\": ", json);
        bench_json_doubles(json, wall, (size_t)nruns[w]);
        fputs(", \"cpu_ms\": ", json);
        bench_json_number(json, s[w].cpu_ms);
        fprintf(json, ", \"maxrss_kib\": %.0f, \"exit_status\": %d}", s[w].maxrss_kib, s[w].status);
    }
    fputs("},\n \"per_exit_us_through_cli\": ", json);
    bench_json_number(json, per_exit_us);
    fputs(", \"per_exit_cpu_us_through_cli\": ", json);
    bench_json_number(json, per_exit_cpu_us);
    fprintf(json, ", \"children_maxrss_kib\": %ld}\n", children.ru_maxrss);
    bench_json_close(json);
    return 0;
}
