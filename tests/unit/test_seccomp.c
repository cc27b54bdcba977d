/*
 * Per-thread seccomp filters (vmio/seccomp.h): in a confined thread the
 * calls its profile lists work, every other call fails with EPERM (not a
 * kill) and is counted and reported, and other threads stay unconfined.
 * Each profile runs in its own thread, since a filter is permanent.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmio/seccomp.h"

struct outcome {
    int installed;
    int open_errno, socket_errno, kvm_ioctl_errno, tty_ioctl_errno, fork_errno;
    int pipe_write_ok, sleep_ok, getpid_ok, pread_ok, getrandom_ok, epoll_wait_errno;
    int pfd[2];
    int file;
    int epfd;
};

static void *confined(void *arg, enum vmio_seccomp_profile profile)
{
    struct outcome *o = arg;
    struct vmio_error err = {0};
    o->installed = vmio_seccomp_install(profile, &err);
    if (o->installed < 0)
        return NULL;
    errno = 0;
    o->open_errno = open("/dev/null", O_RDONLY) < 0 ? errno : 0;
    errno = 0;
    o->socket_errno = socket(AF_UNIX, SOCK_STREAM, 0) < 0 ? errno : 0;
    errno = 0;
    o->kvm_ioctl_errno = ioctl(o->pfd[0], KVM_CREATE_VM, 0) < 0 ? errno : 0;
    struct termios t;
    errno = 0;
    o->tty_ioctl_errno = tcgetattr(o->pfd[0], &t) < 0 ? errno : 0; /* allowed: ENOTTY */
    o->pipe_write_ok = write(o->pfd[1], "x", 1) == 1;
    struct timespec ts = {0, 1000};
    o->sleep_ok = nanosleep(&ts, NULL) == 0;
    o->getpid_ok = getpid() > 0;
    char c;
    o->pread_ok = pread(o->file, &c, 1, 0) == 1;
    uint8_t r[8];
    o->getrandom_ok = getrandom(r, sizeof(r), 0) == (ssize_t)sizeof(r);
    struct epoll_event ev;
    errno = 0;
    o->epoll_wait_errno = epoll_wait(o->epfd, &ev, 1, 0) < 0 ? errno : 0;
    return NULL;
}

static void *vcpu_thread(void *arg)
{
    return confined(arg, VMIO_SECCOMP_VCPU);
}

static void *io_thread(void *arg)
{
    return confined(arg, VMIO_SECCOMP_IOTHREAD);
}

static void run(void *(*fn)(void *), struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(pipe(o->pfd), 0);
    char path[] = "/tmp/vmio-seccomp-XXXXXX";
    o->file = mkstemp(path);
    assert_true(o->file >= 0);
    assert_int_equal(write(o->file, "y", 1), 1);
    unlink(path);
    o->epfd = epoll_create1(0);
    assert_true(o->epfd >= 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, o), 0);
    pthread_join(t, NULL);
    if (o->installed == -ENOTSUP)
        skip(); /* built without libseccomp: the CLI says so at run time too */
    assert_int_equal(o->installed, 0);
    close(o->pfd[0]);
    close(o->pfd[1]);
    close(o->file);
    close(o->epfd);
}

static void test_vcpu_profile(void **state)
{
    (void)state;
    uint64_t before = vmio_seccomp_refused();
    struct outcome o;
    run(vcpu_thread, &o);
    assert_int_equal(o.open_errno, EPERM);
    assert_int_equal(o.socket_errno, EPERM);
    assert_int_equal(o.kvm_ioctl_errno, EPERM); /* only the run loop's KVM ioctls */
    assert_int_equal(o.tty_ioctl_errno, ENOTTY); /* the terminal ioctls pass (on a pipe: ENOTTY) */
    assert_true(o.pipe_write_ok);
    assert_true(o.sleep_ok);
    assert_true(o.getpid_ok);
    assert_true(o.pread_ok);     /* device models run on vCPU threads too: disk I/O */
    assert_true(o.getrandom_ok); /* and entropy */
    assert_int_equal(o.epoll_wait_errno, EPERM); /* waiting on the watch set is the I/O thread's */
    assert_int_equal(vmio_seccomp_refused() - before, 4);
    /* This thread was never confined. */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    close(fd);
}

static void test_iothread_profile(void **state)
{
    (void)state;
    uint64_t before = vmio_seccomp_refused();
    struct outcome o;
    run(io_thread, &o);
    assert_int_equal(o.open_errno, EPERM);
    assert_int_equal(o.socket_errno, EPERM);
    assert_int_equal(o.kvm_ioctl_errno, EPERM);
    assert_true(o.pipe_write_ok);
    assert_true(o.pread_ok);
    assert_true(o.getrandom_ok);
    assert_int_equal(o.epoll_wait_errno, 0);
    assert_int_equal(vmio_seccomp_refused() - before, 3);
}

static void test_bad_profile(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    assert_int_equal(vmio_seccomp_install((enum vmio_seccomp_profile)7, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vcpu_profile),
        cmocka_unit_test(test_iothread_profile),
        cmocka_unit_test(test_bad_profile),
    };
    return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
