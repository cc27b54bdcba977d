/*
 * Host character backend unit tests (no KVM): spec parsing and its errors,
 * the none and memory backends, file output (truncation, buffering, flush at
 * newline/close/exit), pipes (buffered output flushed before input polls
 * once 10 ms old, the 200 us idle-poll deferral, EOF, EPIPE reported, EAGAIN
 * retried), and the terminal: raw mode on a pty (posix_openpt) and
 * restoration on close, on vmio_chardev_terminal_restore(), on SIGTERM (default
 * and chained handlers), at exit() and across SIGTSTP. Children are forked
 * for the paths that end the process.
 * Time is an input: the flush age and the poll deferral are driven by a
 * manual clock (vmio_chardev_set_clock()), never by sleeping, and waiting for
 * input uses vmio_chardev_wait_input(), so nothing depends on how fast the
 * machine is.
 * Hostile outputs: file: refuses a FIFO (without hanging in open), a
 * directory and a socket; a write to a pipe nobody reads gives up when the
 * manual clock passes the 5 s stall limit (then later writes do not wait
 * until the pipe drains), and when a signal interrupts it (a vCPU kick).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "vmio/chardev.h"
#include "vmio/clock.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmio-chardev-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t slurp(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return (size_t)-1;
    size_t n = fread(buf, 1, size, fp);
    fclose(fp);
    return n;
}

static void test_spec_errors(void **state)
{
    (void)state;
    struct vmio_chardev *cd = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_chardev_open("bogus", &cd, &err), -EINVAL);
    assert_null(cd);
    assert_non_null(strstr(err.msg, "'bogus'"));
    assert_non_null(strstr(err.msg, "stdio"));
    assert_int_equal(vmio_chardev_open("", &cd, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "''"));
    assert_int_equal(vmio_chardev_open("file:", &cd, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "file:PATH"));
    assert_int_equal(vmio_chardev_open("stdio:", &cd, &err), -EINVAL);
    assert_int_equal(vmio_chardev_open("File:/tmp/x", &cd, &err), -EINVAL);
    assert_int_equal(vmio_chardev_open("none ", &cd, NULL), -EINVAL);
    assert_int_equal(vmio_chardev_open("file:/nonexistent-vmio-dir/out", &cd, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent-vmio-dir/out"));
    assert_int_equal(vmio_chardev_open("none", NULL, &err), -EINVAL);
    assert_null(cd);
}

static void test_none(void **state)
{
    (void)state;
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open("none", &cd, NULL), 0);
    assert_int_equal(vmio_chardev_kind(cd), VMIO_CHARDEV_NONE);
    assert_int_equal(vmio_chardev_write(cd, "dropped\n", 8), 0);
    char buf[8];
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_int_equal(vmio_chardev_has_input(cd), 0);
    assert_int_equal(vmio_chardev_flush(cd), 0);
    assert_int_equal(vmio_chardev_memory_take_output(cd, buf, sizeof(buf)), 0);
    assert_int_equal(vmio_chardev_memory_feed(cd, "x", 1), -EINVAL);
    vmio_chardev_close(cd);
    vmio_chardev_close(NULL);
}

static void test_memory(void **state)
{
    (void)state;
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_memory("in", 2, &cd, NULL), 0);
    assert_int_equal(vmio_chardev_kind(cd), VMIO_CHARDEV_MEMORY);
    assert_true(vmio_chardev_has_input(cd));
    char buf[16];
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, 1), 1);
    assert_int_equal(buf[0], 'i');
    assert_int_equal(vmio_chardev_memory_feed(cd, "put", 3), 0);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "nput", 4);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_false(vmio_chardev_has_input(cd));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vmio_chardev_write(cd, "0123456789", 10), 0);
    size_t total = 0;
    size_t n;
    while ((n = vmio_chardev_memory_take_output(cd, buf, sizeof(buf))) > 0) {
        for (size_t i = 0; i < n; i++)
            assert_int_equal(buf[i], '0' + (int)((total + i) % 10));
        total += n;
    }
    assert_int_equal(total, 10000);
    vmio_chardev_close(cd);
}

static void test_file_output(void **state)
{
    (void)state;
    char path[128], spec[140], buf[20000];
    snprintf(path, sizeof(path), "%s/serial.log", tmpdir);
    snprintf(spec, sizeof(spec), "file:%s", path);
    /* Created or truncated. */
    FILE *fp = fopen(path, "w");
    fputs("old contents that must disappear\n", fp);
    fclose(fp);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open(spec, &cd, NULL), 0);
    assert_int_equal(vmio_chardev_kind(cd), VMIO_CHARDEV_FILE);
    assert_int_equal(slurp(path, buf, sizeof(buf)), 0);
    /* Buffered until a newline. */
    assert_int_equal(vmio_chardev_write(cd, "abc", 3), 0);
    assert_int_equal(slurp(path, buf, sizeof(buf)), 0);
    assert_int_equal(vmio_chardev_write(cd, "\n", 1), 0);
    assert_int_equal(slurp(path, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "abc\n", 4);
    /* No input from a file backend. */
    assert_false(vmio_chardev_has_input(cd));
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, 4), 0);
    /* Large writes (beyond the buffer) and a flush. */
    char big[10000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(vmio_chardev_write(cd, big, 3000), 0);
    assert_int_equal(vmio_chardev_write(cd, big + 3000, 7000), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(vmio_chardev_write(cd, "x", 1), 0);
    assert_int_equal(vmio_chardev_flush(cd), 0);
    assert_int_equal(slurp(path, buf, sizeof(buf)), 4 + 10000 + 100);
    assert_memory_equal(buf + 4, big, sizeof(big));
    /* Close flushes. */
    assert_int_equal(vmio_chardev_write(cd, "tail", 4), 0);
    vmio_chardev_close(cd);
    assert_int_equal(slurp(path, buf, sizeof(buf)), 4 + 10000 + 100 + 4);
    assert_memory_equal(buf + 10104, "tail", 4);
}

static void test_file_flushed_at_exit(void **state)
{
    (void)state;
    char path[128], spec[140], buf[64];
    snprintf(path, sizeof(path), "%s/atexit.log", tmpdir);
    snprintf(spec, sizeof(spec), "file:%s", path);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct vmio_chardev *cd;
        if (vmio_chardev_open(spec, &cd, NULL) != 0 ||
            vmio_chardev_write(cd, "no newline", 10) != 0)
            _exit(1);
        exit(0); /* never closed: the atexit handler flushes */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(slurp(path, buf, sizeof(buf)), 10);
    assert_memory_equal(buf, "no newline", 10);
}

static void test_pipes(void **state)
{
    (void)state;
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(in[0], out[1], &cd, NULL), 0);
    assert_int_equal(vmio_chardev_kind(cd), VMIO_CHARDEV_STDIO);
    struct vmio_manual_clock clk;
    vmio_manual_clock_init(&clk, 5000000000ULL, 0);
    vmio_chardev_set_clock(cd, &clk.clock);
    char buf[64];
    /* A prompt without newline stays buffered (output is not a terminal)... */
    assert_int_equal(vmio_chardev_write(cd, "login: ", 7), 0);
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* ...while it is younger than 10 ms, even when the guest polls for input... */
    vmio_manual_clock_advance(&clk, 10000000 - 1);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* ...and is written out by the first input poll once it is 10 ms old. */
    vmio_manual_clock_advance(&clk, 1);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_int_equal(poll(&pfd, 1, 0), 1); /* written now, not "soon" */
    assert_int_equal(read(out[0], buf, sizeof(buf)), 7);
    assert_memory_equal(buf, "login: ", 7);
    /*
     * Input. The poll 1 ns ago found none, so the next one waits until 200 us
     * after it (VMIO_CHARDEV_IDLE_POLL_NS): reads before then do not see the bytes.
     */
    assert_int_equal(write(in[1], "root\r", 5), 5);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0); /* throttled */
    vmio_manual_clock_advance(&clk, 200000 - 2);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0); /* 1 ns early */
    vmio_manual_clock_advance(&clk, 1);
    assert_true(vmio_chardev_has_input(cd));
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, 2), 2);
    assert_memory_equal(buf, "ro", 2);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "ot\r", 3);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0); /* polled: none */
    assert_true(vmio_chardev_has_input(cd));
    /* EOF is seen by the first poll after the idle-poll delay, and remembered. */
    close(in[1]);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_true(vmio_chardev_has_input(cd)); /* not polled yet */
    vmio_manual_clock_advance(&clk, 200000);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_false(vmio_chardev_has_input(cd));
    vmio_chardev_close(cd);
    close(in[0]);
    close(out[0]);
    close(out[1]);
}

static void test_write_error(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(-1, p[1], &cd, NULL), 0);
    assert_int_equal(vmio_chardev_write(cd, "x\n", 2), -EPIPE);
    assert_int_equal(vmio_chardev_write(cd, "y\n", 2), -EPIPE); /* reported once on stderr */
    assert_int_equal(vmio_chardev_write(cd, "z", 1), 0);        /* buffered */
    assert_int_equal(vmio_chardev_flush(cd), -EPIPE);
    assert_int_equal(vmio_chardev_flush(cd), 0);          /* discarded */
    assert_int_equal(vmio_chardev_output_dropped(cd), 5); /* a broken pipe drops, counted */
    vmio_chardev_close(cd);
    close(p[1]);
    signal(SIGPIPE, old);
}

struct drain {
    int fd;
    size_t total;
};

static void *drain_thread(void *arg)
{
    struct drain *d = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(d->fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (char)('A' + (d->total + (size_t)i) % 23))
                return NULL;
        d->total += (size_t)n;
        usleep(100);
    }
    return NULL;
}

static void test_nonblocking_partial_writes(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    struct drain d = {.fd = p[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_thread, &d), 0);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(-1, p[1], &cd, NULL), 0);
    static char big[300000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('A' + i % 23);
    assert_int_equal(vmio_chardev_write(cd, big, sizeof(big)), 0);
    vmio_chardev_close(cd);
    close(p[1]);
    pthread_join(t, NULL);
    close(p[0]);
    assert_int_equal(d.total, sizeof(big));
}

/* ---- terminals ---- */

struct pty {
    int master, slave;
    struct termios orig;
};

static int open_pty(struct pty *p)
{
    p->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (p->master < 0 || grantpt(p->master) != 0 || unlockpt(p->master) != 0)
        return -1;
    p->slave = open(ptsname(p->master), O_RDWR | O_NOCTTY);
    if (p->slave < 0)
        return -1;
    return tcgetattr(p->slave, &p->orig);
}

static void close_pty(struct pty *p)
{
    close(p->slave);
    close(p->master);
}

static int same_termios(const struct termios *a, const struct termios *b)
{
    return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
           a->c_lflag == b->c_lflag && memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) == 0;
}

static int is_raw(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return -1;
    return !(t.c_lflag & (ICANON | ECHO | IEXTEN)) && (t.c_lflag & ISIG) &&
           !(t.c_iflag & (ICRNL | IXON | INLCR | IGNCR)) && (t.c_cflag & CSIZE) == CS8;
}

static int restored(const struct pty *p)
{
    struct termios t;
    return tcgetattr(p->slave, &t) == 0 && same_termios(&t, &p->orig);
}

static void test_tty_raw_and_close(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip();                           /* no pseudo-terminals in this environment */
    assert_int_equal(is_raw(p.slave), 0); /* a fresh pty is cooked */
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(p.slave, p.slave, &cd, NULL), 0);
    assert_int_equal(is_raw(p.slave), 1);
    /* Keys arrive one by one, untranslated, without echo. */
    assert_int_equal(write(p.master, "k\r", 2), 2);
    char buf[16];
    ssize_t n = 0;
    while (n < 2) { /* the pty delivers when it likes: wait for it, do not time it */
        assert_int_equal(vmio_chardev_wait_input(cd, -1), 1);
        ssize_t r = vmio_chardev_read_nonblock(cd, buf + n, sizeof(buf) - (size_t)n);
        assert_true(r >= 0);
        n += r;
    }
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "k\r", 2);
    struct pollfd pfd = {.fd = p.master, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 20), 0); /* nothing echoed */
    /* Output to a terminal is unbuffered: a prompt shows at once. */
    assert_int_equal(vmio_chardev_write(cd, "$ ", 2), 0);
    assert_int_equal(poll(&pfd, 1, -1), 1); /* unbuffered: no flush needed; no time limit */
    assert_int_equal(read(p.master, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, "$ ", 2);
    /* A second user of the same terminal: raw until the last one closes. */
    struct vmio_chardev *cd2 = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(p.slave, -1, &cd2, NULL), 0);
    vmio_chardev_close(cd);
    assert_int_equal(is_raw(p.slave), 1);
    vmio_chardev_close(cd2);
    assert_true(restored(&p));
    /* The signal handlers were removed again. */
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    assert_true(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL);
    close_pty(&p);
}

/* A library user that did not ask keeps its own signal dispositions. */
static void test_tty_no_handlers_unless_asked(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip();
    vmio_chardev_terminal_signals(false);
    /* cmocka has handlers of its own on some: they must be the ones left in place. */
    const int sigs[] = {SIGINT, SIGTERM, SIGSEGV, SIGTSTP};
    enum { NSIGS = sizeof(sigs) / sizeof(sigs[0]) };
    struct sigaction before[NSIGS];
    for (unsigned i = 0; i < NSIGS; i++)
        sigaction(sigs[i], NULL, &before[i]);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(p.slave, p.slave, &cd, NULL), 0);
    assert_int_equal(is_raw(p.slave), 1);
    bool same = true;
    for (unsigned i = 0; i < NSIGS; i++) {
        struct sigaction sa;
        sigaction(sigs[i], NULL, &sa);
        same = same && sa.sa_flags == before[i].sa_flags &&
               (void *)sa.sa_handler == (void *)before[i].sa_handler;
    }
    vmio_chardev_close(cd);
    assert_true(same);
    assert_true(restored(&p));
    vmio_chardev_terminal_signals(true);
    close_pty(&p);
}

static void test_tty_restore_call(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip(); /* no pseudo-terminals in this environment */
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(p.slave, p.slave, &cd, NULL), 0);
    assert_int_equal(is_raw(p.slave), 1);
    vmio_chardev_terminal_restore();
    assert_true(restored(&p));
    vmio_chardev_terminal_restore(); /* idempotent */
    assert_true(restored(&p));
    assert_int_equal(vmio_chardev_write(cd, "still works\n", 12), 0);
    vmio_chardev_close(cd);
    assert_true(restored(&p));
    close_pty(&p);
}

/* Run @child in a forked process; return its wait status. */
static int run_child(void (*child)(struct pty *), struct pty *p, int stop_then_cont)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        child(p);
        _exit(99);
    }
    int status;
    if (stop_then_cont) {
        if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status))
            return -2;
        if (!restored(p)) /* cooked while stopped */
            return -3;
        kill(pid, SIGCONT);
    }
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static void child_sigterm(struct pty *p)
{
    struct vmio_chardev *cd;
    if (vmio_chardev_open_stdio_fds(p->slave, p->slave, &cd, NULL) != 0 || is_raw(p->slave) != 1)
        _exit(1);
    raise(SIGTERM);
    _exit(2); /* not reached: the default action kills us */
}

static void test_tty_restored_on_sigterm(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip(); /* no pseudo-terminals in this environment */
    int status = run_child(child_sigterm, &p, 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_true(restored(&p));
    close_pty(&p);
}

static volatile sig_atomic_t own_handler_ran;

static void own_handler(int sig)
{
    (void)sig;
    own_handler_ran = 1;
}

static void child_chained(struct pty *p)
{
    struct vmio_chardev *cd;
    signal(SIGINT, own_handler); /* installed before the chardev: chained */
    if (vmio_chardev_open_stdio_fds(p->slave, p->slave, &cd, NULL) != 0 || is_raw(p->slave) != 1)
        _exit(1);
    raise(SIGINT);
    if (!own_handler_ran)
        _exit(3);
    if (is_raw(p->slave) != 0)
        _exit(4); /* the terminal was restored before the program's handler ran */
    vmio_chardev_close(cd);
    _exit(42);
}

/* A crash (fault or abort) restores the terminal before the process dies by its signal. */
static int fatal_sig;

static void child_fatal(struct pty *p)
{
    struct vmio_chardev *cd;
    signal(fatal_sig, SIG_DFL); /* cmocka catches faults in tests: not in this child */
    if (vmio_chardev_open_stdio_fds(p->slave, p->slave, &cd, NULL) != 0 || is_raw(p->slave) != 1)
        _exit(1);
    if (fatal_sig == SIGSEGV) {
        volatile uintptr_t bad = 8; /* a real fault, not only the signal */
        *(volatile int *)bad = 1;
    } else
        raise(fatal_sig);
    _exit(2); /* not reached */
}

static void test_tty_restored_on_crash(void **state)
{
    (void)state;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct pty p;
        if (open_pty(&p) != 0)
            skip(); /* no pseudo-terminals in this environment */
        fatal_sig = sigs[i];
        int status = run_child(child_fatal, &p, 0);
        if (!WIFSIGNALED(status))
            fail_msg("signal %d: the child was not killed by a signal (status 0x%x)", sigs[i],
                     status);
        assert_int_equal(WTERMSIG(status), sigs[i]);
        assert_true(restored(&p));
        close_pty(&p);
    }
}

static void test_tty_signal_chains(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip(); /* no pseudo-terminals in this environment */
    int status = run_child(child_chained, &p, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);
    assert_true(restored(&p));
    close_pty(&p);
}

static void child_exit(struct pty *p)
{
    struct vmio_chardev *cd;
    if (vmio_chardev_open_stdio_fds(p->slave, p->slave, &cd, NULL) != 0 || is_raw(p->slave) != 1)
        _exit(1);
    exit(0); /* never closed: the atexit handler restores */
}

static void test_tty_restored_at_exit(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip(); /* no pseudo-terminals in this environment */
    int status = run_child(child_exit, &p, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(restored(&p));
    close_pty(&p);
}

static void child_tstp(struct pty *p)
{
    struct vmio_chardev *cd;
    if (vmio_chardev_open_stdio_fds(p->slave, p->slave, &cd, NULL) != 0 || is_raw(p->slave) != 1)
        _exit(1);
    raise(SIGTSTP); /* parent sees us stopped with a cooked terminal, then continues us */
    if (is_raw(p->slave) != 1)
        _exit(5); /* raw again after SIGCONT */
    vmio_chardev_close(cd);
    _exit(43);
}

static void test_tty_suspend_resume(void **state)
{
    (void)state;
    struct pty p;
    if (open_pty(&p) != 0)
        skip(); /* no pseudo-terminals in this environment */
    int status = run_child(child_tstp, &p, 1);
    assert_true(status >= 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 43);
    assert_true(restored(&p));
    close_pty(&p);
}

static void test_not_a_tty_untouched(void **state)
{
    (void)state;
    /* /dev/null input: not a terminal, read gives EOF at once. */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(fd, -1, &cd, NULL), 0);
    char buf[4];
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_false(vmio_chardev_has_input(cd));
    assert_int_equal(vmio_chardev_write(cd, "x", 1), 0); /* no output: dropped */
    vmio_chardev_close(cd);
    close(fd);
}

/* vmio_chardev_wait_input: blocks until input, times out, reports EOF, lifts the idle delay. */
static void test_wait_input(void **state)
{
    (void)state;
    int in[2];
    assert_int_equal(pipe(in), 0);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(in[0], -1, &cd, NULL), 0);
    char buf[8];
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0); /* idle: delay armed */
    assert_int_equal(vmio_chardev_wait_input(cd, 10), 0);                  /* timeout */
    assert_int_equal(write(in[1], "k", 1), 1);
    assert_int_equal(vmio_chardev_wait_input(cd, -1), 1);
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 1); /* no 200 us wait */
    assert_int_equal(buf[0], 'k');
    close(in[1]);
    assert_int_equal(vmio_chardev_wait_input(cd, -1), 1); /* EOF is "ready" */
    assert_int_equal(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)), 0);
    assert_false(vmio_chardev_has_input(cd));
    assert_int_equal(vmio_chardev_wait_input(cd, -1), 1); /* and stays so, without blocking */
    vmio_chardev_close(cd);
    close(in[0]);

    struct vmio_chardev *none = NULL;
    assert_int_equal(vmio_chardev_open("none", &none, NULL), 0);
    assert_int_equal(vmio_chardev_wait_input(none, -1), 0); /* no input backend: never blocks */
    vmio_chardev_close(none);
}

/* vmio_chardev_set_clock(): the new clock restarts the flush age; NULL goes back to the system
 * clock. */
static void test_set_clock(void **state)
{
    (void)state;
    int out[2];
    assert_int_equal(pipe(out), 0);
    struct vmio_chardev *cd = NULL;
    int in = open("/dev/zero", O_RDONLY); /* always readable: every read polls */
    assert_true(in >= 0);
    assert_int_equal(vmio_chardev_open_stdio_fds(in, out[1], &cd, NULL), 0);
    struct vmio_manual_clock clk;
    vmio_manual_clock_init(&clk, 0, 0);
    assert_int_equal(vmio_chardev_write(cd, "x", 1), 0); /* stamped on the system clock */
    vmio_chardev_set_clock(cd, &clk.clock);              /* restamped at manual time 0 */
    char buf[8];
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    assert_true(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)) > 0);
    assert_int_equal(poll(&pfd, 1, 0), 0); /* 0 ns old: kept */
    vmio_manual_clock_advance(&clk, 10000000);
    assert_true(vmio_chardev_read_nonblock(cd, buf, sizeof(buf)) > 0);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(read(out[0], buf, sizeof(buf)), 1);
    vmio_chardev_set_clock(cd, NULL);
    vmio_chardev_set_clock(NULL, &clk.clock); /* does nothing */
    vmio_chardev_close(cd);
    close(in);
    close(out[0]);
    close(out[1]);
}

/* ---- outputs that never take a byte ---- */

static void test_file_refuses_fifo_and_dirs(void **state)
{
    (void)state;
    char fifo[128], msg[400];
    snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char spec[160];
    snprintf(spec, sizeof(spec), "file:%s", fifo);
    struct vmio_chardev *cd = NULL;
    struct vmio_error err = {0};
    /* Nobody reads the FIFO: opening it for writing would block forever. */
    assert_int_equal(vmio_chardev_open(spec, &cd, &err), -EINVAL);
    snprintf(msg, sizeof(msg),
             "serial: '%s' is a FIFO: file:PATH takes a regular file or a character device such "
             "as /dev/null (for a pipe, use stdio and redirect it)",
             fifo);
    assert_string_equal(err.msg, msg);
    assert_null(cd);
    snprintf(spec, sizeof(spec), "file:%s", tmpdir);
    assert_int_equal(vmio_chardev_open(spec, &cd, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is a directory"));
    /* A character device is fine. */
    assert_int_equal(vmio_chardev_open("file:/dev/null", &cd, &err), 0);
    assert_int_equal(vmio_chardev_write(cd, "x\n", 2), 0);
    vmio_chardev_close(cd);
    unlink(fifo);
}

/* A pipe whose buffer is full and that nobody reads; both ends blocking. */
static void full_pipe(int p[2])
{
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    static char chunk[4096];
    while (write(p[1], chunk, sizeof(chunk)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    while (write(p[1], chunk, 1) > 0)
        ;
    assert_int_equal(fcntl(p[1], F_SETFL, 0), 0); /* blocking, like a shell's stdout pipe */
}

struct writer {
    struct vmio_chardev *cd;
    pthread_t thread;
    atomic_int done;
    int rc;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    w->rc = vmio_chardev_write(w->cd, "hello\n", 6); /* the newline flushes: the write waits */
    atomic_store(&w->done, 1);
    return NULL;
}

static void start_writer(struct writer *w, struct vmio_chardev *cd)
{
    w->cd = cd;
    atomic_init(&w->done, 0);
    assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void test_stalled_output_gives_up(void **state)
{
    (void)state;
    int p[2];
    full_pipe(p);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(-1, p[1], &cd, NULL), 0);
    struct vmio_manual_clock clk;
    vmio_manual_clock_init(&clk, 0, 0);
    vmio_chardev_set_clock(cd, &clk.clock);
    struct writer w;
    start_writer(&w, cd);
    /* The writer waits for room until 5 s pass on the chardev's clock, not before. */
    const struct timespec ms = {0, 1000000};
    for (unsigned i = 0; i < 4; i++) {
        nanosleep(&ms, NULL);
        assert_int_equal(atomic_load(&w.done), 0);
        vmio_manual_clock_advance(&clk, 1000000000ull);
    }
    while (!atomic_load(&w.done)) {
        vmio_manual_clock_advance(&clk, 1000000000ull);
        nanosleep(&ms, NULL);
    }
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, -EAGAIN);
    assert_int_equal(vmio_chardev_output_dropped(cd), 6);
    /* Stalled: the next write gives up at once (the clock does not move). */
    assert_int_equal(vmio_chardev_write(cd, "again\n", 6), -EAGAIN);
    assert_int_equal(vmio_chardev_output_dropped(cd), 12);
    /* Once the reader drains the pipe, output flows again. */
    char buf[4096];
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    while (read(p[0], buf, sizeof(buf)) > 0)
        ;
    assert_int_equal(vmio_chardev_write(cd, "back\n", 5), 0);
    assert_int_equal(read(p[0], buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "back\n", 5);
    assert_int_equal(vmio_chardev_output_dropped(cd), 12);
    vmio_chardev_close(cd);
    close(p[0]);
    close(p[1]);
}

static void on_usr1(int sig)
{
    (void)sig;
}

static void test_blocked_output_interrupted_by_signal(void **state)
{
    (void)state;
    /* The way vmio kicks a vCPU: a signal whose handler does nothing, SA_RESTART. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    int p[2];
    full_pipe(p);
    struct vmio_chardev *cd = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(-1, p[1], &cd, NULL), 0);
    struct vmio_manual_clock clk; /* never advanced: only the signal can end the wait */
    vmio_manual_clock_init(&clk, 0, 0);
    vmio_chardev_set_clock(cd, &clk.clock);
    struct writer w;
    start_writer(&w, cd);
    const struct timespec ms = {0, 1000000};
    /* Kicks do not queue and one may land before the wait: send until it returns. */
    while (!atomic_load(&w.done)) {
        pthread_kill(w.thread, SIGUSR1);
        nanosleep(&ms, NULL);
    }
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, -EINTR);
    assert_int_equal(vmio_chardev_output_dropped(cd), 6);
    vmio_chardev_close(cd);
    close(p[0]);
    close(p[1]);
    sigaction(SIGUSR1, &old, NULL);
}

int main(void)
{
    vmio_chardev_terminal_signals(true); /* as the vmio command does: the tests below need them */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_input),
        cmocka_unit_test(test_set_clock),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_file_output),
        cmocka_unit_test(test_file_flushed_at_exit),
        cmocka_unit_test(test_pipes),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_nonblocking_partial_writes),
        cmocka_unit_test(test_tty_raw_and_close),
        cmocka_unit_test(test_tty_no_handlers_unless_asked),
        cmocka_unit_test(test_tty_restore_call),
        cmocka_unit_test(test_tty_restored_on_sigterm),
        cmocka_unit_test(test_tty_signal_chains),
        cmocka_unit_test(test_tty_restored_at_exit),
        cmocka_unit_test(test_tty_suspend_resume),
        cmocka_unit_test(test_not_a_tty_untouched),
        cmocka_unit_test(test_file_refuses_fifo_and_dirs),
        cmocka_unit_test(test_stalled_output_gives_up),
        cmocka_unit_test(test_blocked_output_interrupted_by_signal),
        cmocka_unit_test(test_tty_restored_on_crash),
    };
    return cmocka_run_group_tests_name("chardev", tests, make_tmpdir, remove_tmpdir);
}
