/*
 * Per-thread seccomp filters (vmio/seccomp.h), built with libseccomp.
 *
 * Invariants: a refused call traps (SCMP_ACT_TRAP) into one SIGSYS handler
 * that makes it return -EPERM (x86-64: RAX, AArch64: X0 of the signal context) and writes
 * one line with only async-signal-safe calls; the allow lists name what the
 * code in vmio's threads calls (glibc's wrappers included: pthread's futex,
 * malloc's mmap/brk/madvise, a signal handler's tcsetattr/kill/raise on any
 * thread), with ioctl limited by request number. Names a target lacks
 * (AArch64 has no poll or epoll_wait, only ppoll and epoll_pwait, which the
 * lists also name) are pseudo-calls libseccomp leaves out of that filter.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "vmio/seccomp.h"

/*
 * Sanitizer runtimes (ASan, TSan) make their own system calls from any
 * thread (sigaltstack, opening /proc files for reports and leak checks):
 * under them the filters would refuse the runtime, not vmio. Such builds
 * have no filters (vmio_seccomp_install() says so: -ENOTSUP).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VMIO_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define VMIO_SANITIZED 1
#endif
#endif

#if defined(VMIO_HAVE_SECCOMP) && (defined(__x86_64__) || defined(__aarch64__)) &&                 \
    !defined(VMIO_SANITIZED)
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>

static atomic_uint_fast64_t refused;

/* Decimal @v at @p (at most 20 digits); returns the end. */
static char *put_u(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    int saved = errno;
    atomic_fetch_add(&refused, 1);
    ucontext_t *uc = uctx;
#ifdef __x86_64__
    uc->uc_mcontext.gregs[REG_RAX] = -EPERM; /* the call "returns" -EPERM */
#else
    uc->uc_mcontext.regs[0] = (uint64_t)-EPERM; /* X0: the call "returns" -EPERM */
#endif
    char line[128], *p = line;
    static const char a[] = "vmio: seccomp: refused system call ";
    memcpy(p, a, sizeof(a) - 1);
    p += sizeof(a) - 1;
    p = put_u(p, (uint64_t)si->si_syscall);
    static const char b[] = " in thread ";
    memcpy(p, b, sizeof(b) - 1);
    p += sizeof(b) - 1;
    p = put_u(p, (uint64_t)syscall(SYS_gettid));
    static const char c[] = " (ausyscall NUMBER names it)\n";
    memcpy(p, c, sizeof(c) - 1);
    p += sizeof(c) - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)(p - line));
    (void)w;
    errno = saved;
}

/* Make on_sigsys the SIGSYS handler, unless it is already (someone may have replaced it). */
static int install_handler(struct vmio_error *err)
{
    struct sigaction cur;
    if (sigaction(SIGSYS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sigsys)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return vmio_error_set(err, -errno, "seccomp: cannot install the SIGSYS handler: %s",
                              strerror(errno));
    return 0;
}

/* What every vmio thread may do: memory, locks, time, signals, exit. */
static const int common_calls[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(futex),
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(sched_yield),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(madvise),
    SCMP_SYS(mprotect),
    SCMP_SYS(brk),
    SCMP_SYS(mremap),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(tgkill),
    SCMP_SYS(tkill),
    SCMP_SYS(kill),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(lseek),
    SCMP_SYS(close),
};

/* ioctl requests every thread may make: the terminal (signal handlers restore it). */
static const unsigned long common_ioctls[] = {TCGETS, TCSETS, TCSETSW, TCSETSF};

static const unsigned long vcpu_ioctls[] = {
    KVM_RUN,       KVM_IRQ_LINE,  KVM_IRQ_LINE_STATUS, KVM_GET_REGS,     KVM_SET_REGS,
    KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_MP_STATE,    KVM_SET_MP_STATE,
#ifdef __aarch64__
    /* AArch64 registers, one at a time: the ISV=0 emulation (core/arm64_nisv.c) on the vCPU. */
    KVM_GET_ONE_REG, KVM_SET_ONE_REG,
#endif
};

/*
 * What device models may do on whichever thread runs them: a vCPU thread runs them in its exit
 * path (virtio fallbacks without ioeventfd, a console re-arming its input watch), the I/O thread
 * runs them for eventfds. Disk I/O, the I/O thread's watch set, entropy.
 */
static const int device_calls[] = {
    SCMP_SYS(epoll_ctl), SCMP_SYS(pread64),   SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),    SCMP_SYS(pwritev),   SCMP_SYS(fdatasync),
    SCMP_SYS(fsync),     SCMP_SYS(fallocate), SCMP_SYS(getrandom),
};

static const int iothread_calls[] = {SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait)};

static const unsigned long iothread_ioctls[] = {KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS};

static int add_calls(scmp_filter_ctx f, const int *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, calls[i], 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int add_ioctls(scmp_filter_ctx f, const unsigned long *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* Spelled out: SCMP_A1() leaves datum_b to a partial initializer clang refuses. */
        const struct scmp_arg_cmp cmp = {
            .arg = 1, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)reqs[i], .datum_b = 0};
        int rc = seccomp_rule_add_array(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &cmp);
        if (rc < 0)
            return rc;
    }
    return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int vmio_seccomp_install(enum vmio_seccomp_profile profile, struct vmio_error *err)
{
    if (profile != VMIO_SECCOMP_VCPU && profile != VMIO_SECCOMP_IOTHREAD)
        return vmio_error_set(err, -EINVAL, "seccomp: unknown profile %d", (int)profile);
    int rc = install_handler(err);
    if (rc < 0)
        return rc;
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
    if (!f)
        return vmio_error_set(err, -ENOMEM, "seccomp: out of memory");
    /* Per thread: no TSYNC; the kernel needs NO_NEW_PRIVS (libseccomp sets it). */
    rc = add_calls(f, common_calls, N(common_calls));
    if (rc == 0)
        rc = add_ioctls(f, common_ioctls, N(common_ioctls));
    if (rc == 0)
        rc = add_calls(f, device_calls, N(device_calls));
    if (rc == 0 && profile == VMIO_SECCOMP_VCPU)
        rc = add_ioctls(f, vcpu_ioctls, N(vcpu_ioctls));
    if (rc == 0 && profile == VMIO_SECCOMP_IOTHREAD)
        rc = add_calls(f, iothread_calls, N(iothread_calls));
    if (rc == 0 && profile == VMIO_SECCOMP_IOTHREAD)
        rc = add_ioctls(f, iothread_ioctls, N(iothread_ioctls));
    if (rc == 0)
        rc = seccomp_load(f);
    seccomp_release(f);
    if (rc < 0)
        return vmio_error_set(err, rc, "seccomp: cannot load the %s filter: %s",
                              profile == VMIO_SECCOMP_VCPU ? "vCPU" : "I/O thread", strerror(-rc));
    return 0;
}

uint64_t vmio_seccomp_refused(void)
{
    return atomic_load(&refused);
}

#else /* no libseccomp, neither x86-64 nor AArch64 (the handler's register fix-up), or sanitized */

int vmio_seccomp_install(enum vmio_seccomp_profile profile, struct vmio_error *err)
{
    if (profile != VMIO_SECCOMP_VCPU && profile != VMIO_SECCOMP_IOTHREAD)
        return vmio_error_set(err, -EINVAL, "seccomp: unknown profile %d", (int)profile);
#ifdef VMIO_SANITIZED
    return vmio_error_set(err, -ENOTSUP,
                          "seccomp: not in a sanitizer build (its runtime's own system calls "
                          "would be refused)");
#else
    return vmio_error_set(err, -ENOTSUP, "seccomp: this vmio was built without libseccomp");
#endif
}

uint64_t vmio_seccomp_refused(void)
{
    return 0;
}

#endif
