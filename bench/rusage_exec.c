/*
 * rusage-exec: run a command and report its peak RSS and CPU time.
 *
 *   rusage-exec OUT COMMAND [ARG...]
 *
 * Runs COMMAND (stdio inherited), waits for it with wait4() and writes one
 * line to the file OUT: "maxrss_kib=N user_s=X sys_s=Y status=S". Exits with
 * the command's status (128 + signal when killed). Benchmarks run it through
 * vmio-kvm-exec so the measurement is taken where the VMM runs (natively or
 * inside the nested KVM VM), with nothing but the VMM between it and the
 * kernel's accounting.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rusage-exec OUT COMMAND [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("rusage-exec: fork");
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rusage-exec: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            return 127;
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    FILE *f = fopen(argv[1], "w");
    if (f) {
        fprintf(f, "maxrss_kib=%ld user_s=%.3f sys_s=%.3f status=%d\n", ru.ru_maxrss,
                (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
                (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, status);
        fclose(f);
    }
    return status;
}
