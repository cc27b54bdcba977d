/*
 * Host character backends: stdio, file:PATH, none, and memory (tests).
 *
 * Invariants:
 *   - obuf holds output not yet written; it only exists for buffered
 *     backends (output not a terminal) and is written out at each newline,
 *     when full, by input polls once 10 ms old, on flush/close and at exit.
 *   - At most one terminal is in raw mode (tty_fd). tty_users counts the open
 *     chardevs that hold it; the original settings are restored when it drops
 *     to 0, and by vmio_chardev_terminal_restore() from any path (signals, atexit).
 *     tty_is_raw is 1 exactly while the terminal may be in raw mode; it is
 *     set before tcsetattr(raw) so a signal in between still restores.
 *   - Every open chardev is on the registry list so the atexit handler can
 *     flush it.
 *   - Time (the 10 ms flush age, the 200 us idle-poll delay, the write
 *     stall limit) is only read through the chardev's clock
 *     (vmio_chardev_set_clock(); NULL = the system's monotonic clock), under the
 *     chardev's lock.
 *   - Output never blocks a thread without bound: a write waits for room in
 *     poll(2) (in slices of VMIO_CHARDEV_WAIT_SLICE_MS), and gives up, dropping
 *     the bytes it could not write (counted in `dropped`), when a signal
 *     interrupts the wait (a vCPU kick: vmio is stopping; poll(2) is never
 *     restarted by SA_RESTART) or when the output made no progress for
 *     VMIO_CHARDEV_WRITE_STALL_NS. After a stall, writes do not wait at all until
 *     the output takes bytes again (`stalled`). A vCPU writing to a pipe
 *     nobody reads therefore still stops when asked. Descriptors vmio does
 *     not own (stdout) stay blocking (their flags are shared with other
 *     processes); on those a write is issued only when poll(2) says there is
 *     room, at most PIPE_BUF bytes at a time, which a pipe takes whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "vmio/chardev.h"

#define VMIO_CHARDEV_OBUF_SIZE 4096
/* Buffered output older than this is flushed by the next input poll. */
#define VMIO_CHARDEV_PROMPT_FLUSH_NS 10000000ull
/*
 * After a poll that found no input, the next one waits this long. A guest
 * polls LSR before every byte it prints: without this, each of those exits
 * would pay a poll() system call. 200 us is far below what a person typing
 * notices and still admits 16 bytes per 200 us (80 KB/s) of pasted input;
 * while input is flowing, polls are not throttled at all.
 */
#define VMIO_CHARDEV_IDLE_POLL_NS 200000ull
/*
 * Output that takes no byte for this long is dropped: the reader stalled. A
 * guest then runs on without its console instead of freezing, and a VM whose
 * vCPU is stuck writing still stops (a kick interrupts the wait at once; this
 * bounds the rare kick that lands just before the wait begins).
 */
#define VMIO_CHARDEV_WRITE_STALL_NS 5000000000ull
#define VMIO_CHARDEV_WAIT_SLICE_MS 20

struct vmio_chardev {
    enum vmio_chardev_kind kind;
    pthread_mutex_t lock;
    int in_fd;          /* -1: no input */
    int out_fd;         /* -1: output dropped */
    bool own_out_fd;    /* file:PATH: we opened it, we close it */
    bool in_eof;        /* input ended (EOF or read error) */
    bool tty_ref;       /* holds a reference on the raw-mode terminal */
    bool reported;      /* first output error already printed */
    bool out_regular;   /* output is a regular file: writes never wait for a reader */
    bool stalled;       /* the output took nothing for VMIO_CHARDEV_WRITE_STALL_NS: do not wait */
    bool drop_reported; /* the first dropped output already printed */
    uint64_t dropped;   /* output bytes given up (stalled or interrupted writes) */
    char desc[80];      /* "stdout", "file 'x'": for messages */

    uint8_t *obuf; /* NULL: unbuffered */
    size_t olen;
    uint64_t obuf_since; /* clock ns when obuf became non-empty */
    uint64_t next_poll;  /* no input poll before this time (ns): see VMIO_CHARDEV_IDLE_POLL_NS */
    const struct vmio_clock *clock; /* NULL: the system clock */

    /* memory backend */
    uint8_t *mout;
    size_t mout_len, mout_cap;
    uint8_t *min;
    size_t min_head, min_len, min_cap;

    struct vmio_chardev *next; /* registry */
};

/* ---- registry (atexit flushing) ---- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmio_chardev *reg_head;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

/* ---- raw-mode terminal ---- */

static pthread_mutex_t tty_lock = PTHREAD_MUTEX_INITIALIZER;
static int tty_users;
static atomic_int tty_fd = -1;
static atomic_int tty_is_raw;
static struct termios tty_saved;
static struct termios tty_raw;

/*
 * Signals that end the process: the terminal is restored first. The last
 * five are faults and abort(): vmio crashing must not leave the user's
 * terminal raw either (restore is async-signal-safe: one tcsetattr).
 */
static const int term_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
                                   SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define N_TERM_SIGNALS (sizeof(term_signals) / sizeof(term_signals[0]))
static struct sigaction old_term_act[N_TERM_SIGNALS];
static bool term_installed[N_TERM_SIGNALS];
static struct sigaction old_tstp_act;
static bool tstp_installed;

static int flush_locked(struct vmio_chardev *cd);

static void vmio_chardev_atexit(void)
{
    if (pthread_mutex_trylock(&reg_lock) == 0) {
        for (struct vmio_chardev *cd = reg_head; cd; cd = cd->next) {
            /* A thread may be stuck inside a write holding the lock: skip it. */
            if (pthread_mutex_trylock(&cd->lock) == 0) {
                (void)flush_locked(cd);
                pthread_mutex_unlock(&cd->lock);
            }
        }
        pthread_mutex_unlock(&reg_lock);
    }
    vmio_chardev_terminal_restore();
}

static void register_atexit(void)
{
    atexit(vmio_chardev_atexit);
}

void vmio_chardev_terminal_restore(void)
{
    if (atomic_exchange(&tty_is_raw, 0)) {
        int saved_errno = errno;
        (void)tcsetattr(atomic_load(&tty_fd), TCSANOW, &tty_saved);
        errno = saved_errno;
    }
}

static int term_signal_index(int sig)
{
    for (unsigned i = 0; i < N_TERM_SIGNALS; i++)
        if (term_signals[i] == sig)
            return (int)i;
    return -1;
}

/*
 * term_signals: restore, then behave as before we came (a handler that was
 * there, e.g. a sanitizer's, runs; the default action is re-raised). A fault
 * re-raised this way is delivered when the handler returns, or the faulting
 * instruction runs again and faults with the default action in place.
 */
static void on_term_signal(int sig, siginfo_t *info, void *ctx)
{
    int saved_errno = errno;
    vmio_chardev_terminal_restore();
    int i = term_signal_index(sig);
    if (i >= 0) {
        const struct sigaction *old = &old_term_act[i];
        if (old->sa_flags & SA_SIGINFO) {
            if (old->sa_sigaction)
                old->sa_sigaction(sig, info, ctx);
        } else if (old->sa_handler == SIG_DFL) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof(dfl));
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            (void)sigaction(sig, &dfl, NULL);
            /* Blocked while we run: delivered, with the default action, on return. */
            (void)raise(sig);
        } else if (old->sa_handler != SIG_IGN) {
            old->sa_handler(sig);
        }
    }
    errno = saved_errno;
}

/* SIGTSTP (Ctrl-Z): cooked terminal while stopped, raw again when continued. */
static void on_tstp(int sig)
{
    int saved_errno = errno;
    (void)sig;
    int was_raw = atomic_load(&tty_is_raw);
    vmio_chardev_terminal_restore();
    (void)kill(getpid(), SIGSTOP);
    /* Continued. (If in the background, tcsetattr stops us again until fg.) */
    if (was_raw) {
        atomic_store(&tty_is_raw, 1);
        if (tcsetattr(atomic_load(&tty_fd), TCSANOW, &tty_raw) != 0)
            atomic_store(&tty_is_raw, 0);
    }
    errno = saved_errno;
}

/* Off unless the program asks (vmio_chardev_terminal_signals()): a library installs no
 * process-wide handler by itself. */
static atomic_bool signals_wanted;

void vmio_chardev_terminal_signals(bool on)
{
    atomic_store(&signals_wanted, on);
}

/* Called with tty_lock held. */
static void install_handlers(void)
{
    if (!atomic_load(&signals_wanted))
        return;
    for (unsigned i = 0; i < N_TERM_SIGNALS; i++) {
        struct sigaction old, act;
        if (sigaction(term_signals[i], NULL, &old) != 0)
            continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
            continue; /* e.g. SIGHUP under nohup: leave it ignored */
        memset(&act, 0, sizeof(act));
        act.sa_sigaction = on_term_signal;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&act.sa_mask);
        if (sigaction(term_signals[i], &act, &old_term_act[i]) == 0)
            term_installed[i] = true;
    }
    struct sigaction old, act;
    if (sigaction(SIGTSTP, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL) {
        memset(&act, 0, sizeof(act));
        act.sa_handler = on_tstp;
        act.sa_flags = SA_RESTART;
        sigemptyset(&act.sa_mask);
        if (sigaction(SIGTSTP, &act, &old_tstp_act) == 0)
            tstp_installed = true;
    }
}

/* Called with tty_lock held. Puts back what we replaced, unless replaced since. */
static void uninstall_handlers(void)
{
    for (unsigned i = 0; i < N_TERM_SIGNALS; i++) {
        struct sigaction cur;
        if (!term_installed[i])
            continue;
        term_installed[i] = false;
        if (sigaction(term_signals[i], NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
            cur.sa_sigaction == on_term_signal)
            (void)sigaction(term_signals[i], &old_term_act[i], NULL);
    }
    if (tstp_installed) {
        struct sigaction cur;
        tstp_installed = false;
        if (sigaction(SIGTSTP, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
            cur.sa_handler == on_tstp)
            (void)sigaction(SIGTSTP, &old_tstp_act, NULL);
    }
}

/*
 * Take a reference on raw mode for terminal @fd. Returns 1 when the chardev
 * holds a reference, 0 when another terminal is already raw (this one is used
 * as it is), or -errno.
 */
static int tty_acquire(int fd, struct vmio_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&tty_lock);
    if (tty_users > 0) {
        if (atomic_load(&tty_fd) == fd) {
            tty_users++;
            rc = 1;
        }
        goto out;
    }
    struct termios saved;
    if (tcgetattr(fd, &saved) != 0) {
        rc = vmio_error_set(err, -errno, "serial: cannot read terminal settings of fd %d: %s", fd,
                            strerror(errno));
        goto out;
    }
    struct termios raw = saved;
    raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
    raw.c_lflag |= ISIG; /* Ctrl-C stays a signal to vmio, as with QEMU -serial stdio */
    raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tty_saved = saved;
    tty_raw = raw;
    atomic_store(&tty_fd, fd);
    pthread_once(&atexit_once, register_atexit);
    install_handlers();
    atomic_store(&tty_is_raw, 1);
    if (tcsetattr(fd, TCSANOW, &raw) != 0) {
        int e = errno;
        atomic_store(&tty_is_raw, 0);
        (void)tcsetattr(fd, TCSANOW, &saved);
        uninstall_handlers();
        atomic_store(&tty_fd, -1);
        rc = vmio_error_set(err, -e, "serial: cannot put terminal fd %d in raw mode: %s", fd,
                            strerror(e));
        goto out;
    }
    tty_users = 1;
    rc = 1;
out:
    pthread_mutex_unlock(&tty_lock);
    return rc;
}

static void tty_release(void)
{
    pthread_mutex_lock(&tty_lock);
    if (tty_users > 0 && --tty_users == 0) {
        vmio_chardev_terminal_restore();
        uninstall_handlers();
        atomic_store(&tty_fd, -1);
    }
    pthread_mutex_unlock(&tty_lock);
}

/* ---- output ---- */

/* The chardev's time now (lock held). */
static uint64_t now_ns(const struct vmio_chardev *cd)
{
    return vmio_clock_now(cd->clock);
}

static void report_error(struct vmio_chardev *cd, int code)
{
    if (!cd->reported) {
        cd->reported = true;
        fprintf(stderr, "vmio: serial output to %s failed: %s (further errors not reported)\n",
                cd->desc, strerror(-code));
    }
}

/*
 * Give up the @n bytes a write could not deliver; @why says why: -EINTR (a
 * kick while the reader was not reading), -EAGAIN (stalled), -EPIPE (the
 * reader went away, e.g. `vmio run ... | head`: vmio ignores SIGPIPE).
 */
static int drop_output(struct vmio_chardev *cd, size_t n, int why)
{
    cd->dropped += n;
    if (!cd->drop_reported) {
        cd->drop_reported = true;
        fprintf(stderr,
                "vmio: serial output to %s %s: dropping output (the count comes at the end)\n",
                cd->desc,
                why == -EINTR   ? "was interrupted while its reader was not reading"
                : why == -EPIPE ? "has no reader any more (broken pipe)"
                                : "took no byte for 5 s (its reader stalled)");
    }
    return why;
}

/*
 * Wait until the output can take bytes. Returns 0; -EINTR when a signal (a
 * vCPU kick) interrupted the wait; -EAGAIN when the output stalled, now or
 * earlier and it is still full; -errno of poll(2).
 */
static int wait_writable(struct vmio_chardev *cd)
{
    uint64_t start = now_ns(cd);
    for (;;) {
        struct pollfd pfd = {.fd = cd->out_fd, .events = POLLOUT};
        int pr = poll(&pfd, 1, cd->stalled ? 0 : VMIO_CHARDEV_WAIT_SLICE_MS);
        if (pr > 0) {
            cd->stalled = false;
            return 0; /* writable, or an error the write will report */
        }
        if (pr < 0)
            return errno == EINTR ? -EINTR : -errno;
        if (cd->stalled)
            return -EAGAIN;
        if (now_ns(cd) - start >= VMIO_CHARDEV_WRITE_STALL_NS) {
            cd->stalled = true;
            return -EAGAIN;
        }
    }
}

static int write_all(struct vmio_chardev *cd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (!cd->out_regular) {
            int rc = wait_writable(cd);
            if (rc == -EINTR || rc == -EAGAIN)
                return drop_output(cd, n, rc);
            if (rc < 0) {
                report_error(cd, rc);
                return rc;
            }
        }
        /* After POLLOUT, a pipe takes PIPE_BUF bytes without blocking. */
        size_t chunk = !cd->out_regular && n > PIPE_BUF ? PIPE_BUF : n;
        ssize_t w = write(cd->out_fd, p, chunk);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue; /* wait again (a regular file does not return these) */
        int e = w < 0 ? -errno : -EIO;
        if (e == -EPIPE) /* the guest runs on without its console, as with a stalled reader */
            return drop_output(cd, n, e);
        report_error(cd, e);
        return e;
    }
    return 0;
}

static int flush_locked(struct vmio_chardev *cd)
{
    if (!cd->obuf || cd->olen == 0)
        return 0;
    int rc = write_all(cd, cd->obuf, cd->olen);
    cd->olen = 0; /* written, or discarded on error */
    return rc;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -ENOMEM;
        ncap *= 2;
    }
    uint8_t *nb = realloc(*buf, ncap);
    if (!nb)
        return -ENOMEM;
    *buf = nb;
    *cap = ncap;
    return 0;
}

int vmio_chardev_write(struct vmio_chardev *cd, const void *buf, size_t n)
{
    int rc = 0;
    if (!cd || n == 0)
        return 0;
    pthread_mutex_lock(&cd->lock);
    if (cd->kind == VMIO_CHARDEV_MEMORY) {
        rc = grow(&cd->mout, &cd->mout_cap, cd->mout_len + n);
        if (rc == 0) {
            memcpy(cd->mout + cd->mout_len, buf, n);
            cd->mout_len += n;
        }
    } else if (cd->out_fd < 0) {
        rc = 0; /* none: dropped */
    } else if (!cd->obuf) {
        rc = write_all(cd, buf, n);
    } else {
        if (n > VMIO_CHARDEV_OBUF_SIZE - cd->olen)
            rc = flush_locked(cd);
        if (n >= VMIO_CHARDEV_OBUF_SIZE) {
            int r2 = write_all(cd, buf, n);
            rc = rc ? rc : r2;
        } else {
            if (cd->olen == 0)
                cd->obuf_since = now_ns(cd);
            memcpy(cd->obuf + cd->olen, buf, n);
            cd->olen += n;
            if (memchr(buf, '\n', n) || cd->olen == VMIO_CHARDEV_OBUF_SIZE) {
                int r2 = flush_locked(cd);
                rc = rc ? rc : r2;
            }
        }
    }
    pthread_mutex_unlock(&cd->lock);
    return rc;
}

int vmio_chardev_flush(struct vmio_chardev *cd)
{
    if (!cd)
        return 0;
    pthread_mutex_lock(&cd->lock);
    int rc = flush_locked(cd);
    pthread_mutex_unlock(&cd->lock);
    return rc;
}

/* ---- input ---- */

ssize_t vmio_chardev_read_nonblock(struct vmio_chardev *cd, void *buf, size_t n)
{
    ssize_t rc = 0;
    if (!cd || n == 0)
        return 0;
    pthread_mutex_lock(&cd->lock);
    if (cd->kind == VMIO_CHARDEV_MEMORY) {
        size_t k = cd->min_len < n ? cd->min_len : n;
        if (k == 0)
            goto out;
        memcpy(buf, cd->min + cd->min_head, k);
        cd->min_head += k;
        cd->min_len -= k;
        if (cd->min_len == 0)
            cd->min_head = 0;
        rc = (ssize_t)k;
        goto out;
    }
    if (cd->in_fd < 0 || cd->in_eof)
        goto out;
    /*
     * A prompt must become visible while the guest waits for its answer, but
     * a guest that polls LSR between every byte it prints must not turn the
     * buffer into one write per byte: flush output that has waited 10 ms.
     */
    uint64_t now = now_ns(cd);
    if (cd->olen > 0 && now - cd->obuf_since >= VMIO_CHARDEV_PROMPT_FLUSH_NS)
        (void)flush_locked(cd);
    if (now < cd->next_poll)
        goto out;
    struct pollfd pfd = {.fd = cd->in_fd, .events = POLLIN};
    int pr;
    do {
        pr = poll(&pfd, 1, 0);
    } while (pr < 0 && errno == EINTR);
    if (pr == 0)
        cd->next_poll = now + VMIO_CHARDEV_IDLE_POLL_NS;
    if (pr < 0) {
        rc = -errno;
        cd->in_eof = true;
        goto out;
    }
    if (pr == 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
        goto out;
    if (pfd.revents & POLLNVAL) {
        rc = -EBADF;
        cd->in_eof = true;
        goto out;
    }
    ssize_t r;
    do {
        r = read(cd->in_fd, buf, n);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
        rc = r;
    } else if (r == 0) {
        cd->in_eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        rc = -errno;
        cd->in_eof = true;
    }
out:
    pthread_mutex_unlock(&cd->lock);
    return rc;
}

int vmio_chardev_wait_input(struct vmio_chardev *cd, int timeout_ms)
{
    if (!cd)
        return 0;
    pthread_mutex_lock(&cd->lock);
    int fd = cd->kind == VMIO_CHARDEV_MEMORY || cd->in_eof ? -1 : cd->in_fd;
    int ready = cd->kind == VMIO_CHARDEV_MEMORY ? cd->min_len > 0 : cd->in_eof;
    pthread_mutex_unlock(&cd->lock);
    if (ready || fd < 0)
        return ready;
    /* Poll without the lock: vCPU threads keep writing output meanwhile. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr < 0)
        return errno == EINTR ? 0 : -errno;
    if (pr == 0)
        return 0;
    pthread_mutex_lock(&cd->lock);
    cd->next_poll = 0;
    pthread_mutex_unlock(&cd->lock);
    return 1;
}

int vmio_chardev_has_input(struct vmio_chardev *cd)
{
    if (!cd)
        return 0;
    pthread_mutex_lock(&cd->lock);
    int r = cd->kind == VMIO_CHARDEV_MEMORY ? cd->min_len > 0 : (cd->in_fd >= 0 && !cd->in_eof);
    pthread_mutex_unlock(&cd->lock);
    return r;
}

int vmio_chardev_input_fd(struct vmio_chardev *cd)
{
    if (!cd)
        return -1;
    pthread_mutex_lock(&cd->lock);
    int fd = cd->kind == VMIO_CHARDEV_MEMORY || cd->in_eof ? -1 : cd->in_fd;
    pthread_mutex_unlock(&cd->lock);
    return fd;
}

/* ---- memory backend ---- */

int vmio_chardev_memory_feed(struct vmio_chardev *cd, const void *buf, size_t n)
{
    if (!cd || cd->kind != VMIO_CHARDEV_MEMORY)
        return -EINVAL;
    if (n == 0)
        return 0;
    pthread_mutex_lock(&cd->lock);
    int rc = grow(&cd->min, &cd->min_cap, cd->min_head + cd->min_len + n);
    if (rc == 0) {
        memcpy(cd->min + cd->min_head + cd->min_len, buf, n);
        cd->min_len += n;
    }
    pthread_mutex_unlock(&cd->lock);
    return rc;
}

size_t vmio_chardev_memory_take_output(struct vmio_chardev *cd, void *buf, size_t size)
{
    if (!cd || cd->kind != VMIO_CHARDEV_MEMORY)
        return 0;
    pthread_mutex_lock(&cd->lock);
    size_t k = cd->mout_len < size ? cd->mout_len : size;
    if (k == 0) {
        pthread_mutex_unlock(&cd->lock);
        return 0;
    }
    memcpy(buf, cd->mout, k);
    memmove(cd->mout, cd->mout + k, cd->mout_len - k);
    cd->mout_len -= k;
    pthread_mutex_unlock(&cd->lock);
    return k;
}

/* ---- open / close ---- */

static struct vmio_chardev *vmio_chardev_alloc(enum vmio_chardev_kind kind)
{
    struct vmio_chardev *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return NULL;
    cd->kind = kind;
    cd->in_fd = -1;
    cd->out_fd = -1;
    pthread_mutex_init(&cd->lock, NULL);
    return cd;
}

static void vmio_chardev_register(struct vmio_chardev *cd)
{
    pthread_once(&atexit_once, register_atexit);
    pthread_mutex_lock(&reg_lock);
    cd->next = reg_head;
    reg_head = cd;
    pthread_mutex_unlock(&reg_lock);
}

static int make_buffered(struct vmio_chardev *cd)
{
    cd->obuf = malloc(VMIO_CHARDEV_OBUF_SIZE);
    return cd->obuf ? 0 : -ENOMEM;
}

int vmio_chardev_open_stdio_fds(int in_fd, int out_fd, struct vmio_chardev **out,
                                struct vmio_error *err)
{
    struct vmio_chardev *cd = vmio_chardev_alloc(VMIO_CHARDEV_STDIO);
    if (!cd)
        return vmio_error_set(err, -ENOMEM, "serial: out of memory");
    cd->in_fd = in_fd;
    cd->out_fd = out_fd;
    struct stat st;
    cd->out_regular = out_fd >= 0 && fstat(out_fd, &st) == 0 && S_ISREG(st.st_mode);
    if (out_fd >= 0)
        snprintf(cd->desc, sizeof(cd->desc), out_fd == 1 ? "stdout" : "fd %d", out_fd);
    else
        snprintf(cd->desc, sizeof(cd->desc), "nowhere");
    if (out_fd >= 0 && !isatty(out_fd) && make_buffered(cd) != 0) {
        vmio_chardev_close(cd);
        return vmio_error_set(err, -ENOMEM, "serial: out of memory");
    }
    if (in_fd >= 0 && isatty(in_fd)) {
        int r = tty_acquire(in_fd, err);
        if (r < 0) {
            vmio_chardev_close(cd);
            return r;
        }
        cd->tty_ref = r == 1;
    }
    vmio_chardev_register(cd);
    *out = cd;
    return 0;
}

int vmio_chardev_open_memory(const void *input, size_t len, struct vmio_chardev **out,
                             struct vmio_error *err)
{
    struct vmio_chardev *cd = vmio_chardev_alloc(VMIO_CHARDEV_MEMORY);
    if (!cd)
        return vmio_error_set(err, -ENOMEM, "serial: out of memory");
    snprintf(cd->desc, sizeof(cd->desc), "memory");
    if (len > 0 && vmio_chardev_memory_feed(cd, input, len) != 0) {
        vmio_chardev_close(cd);
        return vmio_error_set(err, -ENOMEM, "serial: out of memory");
    }
    vmio_chardev_register(cd);
    *out = cd;
    return 0;
}

int vmio_chardev_open(const char *spec, struct vmio_chardev **out, struct vmio_error *err)
{
    if (!out)
        return vmio_error_set(err, -EINVAL, "serial: vmio_chardev_open needs an output pointer");
    if (!spec || strcmp(spec, "stdio") == 0)
        return vmio_chardev_open_stdio_fds(STDIN_FILENO, STDOUT_FILENO, out, err);
    if (strcmp(spec, "none") == 0) {
        struct vmio_chardev *cd = vmio_chardev_alloc(VMIO_CHARDEV_NONE);
        if (!cd)
            return vmio_error_set(err, -ENOMEM, "serial: out of memory");
        snprintf(cd->desc, sizeof(cd->desc), "none");
        vmio_chardev_register(cd);
        *out = cd;
        return 0;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        const char *path = spec + 5;
        if (*path == '\0')
            return vmio_error_set(err, -EINVAL, "serial: '%s' names no file (expected file:PATH)",
                                  spec);
        struct vmio_chardev *cd = vmio_chardev_alloc(VMIO_CHARDEV_FILE);
        if (!cd)
            return vmio_error_set(err, -ENOMEM, "serial: out of memory");
        snprintf(cd->desc, sizeof(cd->desc), "file '%.64s'", path);
        if (make_buffered(cd) != 0) {
            vmio_chardev_close(cd);
            return vmio_error_set(err, -ENOMEM, "serial: out of memory");
        }
        /*
         * Never block in open: a FIFO with no reader would wait forever (with
         * O_NONBLOCK the open fails at once). Only regular files and
         * character devices (/dev/null, a terminal) are outputs; O_NONBLOCK
         * stays on, so a terminal's writes wait in poll(2) like a pipe's.
         */
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
            vmio_chardev_close(cd);
            return vmio_error_set(err, -EINVAL,
                                  "serial: '%s' is %s: file:PATH takes a regular file or a "
                                  "character device such as /dev/null (for a pipe, use stdio "
                                  "and redirect it)",
                                  path,
                                  S_ISFIFO(st.st_mode)  ? "a FIFO"
                                  : S_ISDIR(st.st_mode) ? "a directory"
                                                        : "not a regular file");
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0666);
        if (fd < 0) {
            int e = errno;
            vmio_chardev_close(cd);
            return vmio_error_set(err, -e, "serial: cannot open '%s' for writing: %s", path,
                                  strerror(e));
        }
        if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))) {
            close(fd); /* replaced between the check and the open */
            vmio_chardev_close(cd);
            return vmio_error_set(err, -EINVAL, "serial: '%s' is not a regular file", path);
        }
        cd->out_fd = fd;
        cd->own_out_fd = true;
        cd->out_regular = S_ISREG(st.st_mode);
        vmio_chardev_register(cd);
        *out = cd;
        return 0;
    }
    return vmio_error_set(err, -EINVAL,
                          "serial: unknown backend '%s' (expected stdio, file:PATH or none)", spec);
}

void vmio_chardev_set_clock(struct vmio_chardev *cd, const struct vmio_clock *clock)
{
    if (!cd)
        return;
    pthread_mutex_lock(&cd->lock);
    cd->clock = clock;
    cd->obuf_since = vmio_clock_now(clock); /* times taken on another clock mean nothing here */
    cd->next_poll = 0;
    pthread_mutex_unlock(&cd->lock);
}

uint64_t vmio_chardev_output_dropped(struct vmio_chardev *cd)
{
    if (!cd)
        return 0;
    pthread_mutex_lock(&cd->lock);
    uint64_t n = cd->dropped;
    pthread_mutex_unlock(&cd->lock);
    return n;
}

enum vmio_chardev_kind vmio_chardev_kind(const struct vmio_chardev *cd)
{
    return cd ? cd->kind : VMIO_CHARDEV_NONE;
}

void vmio_chardev_close(struct vmio_chardev *cd)
{
    if (!cd)
        return;
    pthread_mutex_lock(&reg_lock);
    for (struct vmio_chardev **pp = &reg_head; *pp; pp = &(*pp)->next) {
        if (*pp == cd) {
            *pp = cd->next;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_lock(&cd->lock);
    (void)flush_locked(cd);
    pthread_mutex_unlock(&cd->lock);
    if (cd->dropped)
        fprintf(stderr, "vmio: serial output to %s: %llu bytes dropped\n", cd->desc,
                (unsigned long long)cd->dropped);
    if (cd->tty_ref)
        tty_release();
    if (cd->own_out_fd && cd->out_fd >= 0)
        close(cd->out_fd);
    pthread_mutex_destroy(&cd->lock);
    free(cd->obuf);
    free(cd->mout);
    free(cd->min);
    free(cd);
}
