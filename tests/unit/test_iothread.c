/*
 * I/O thread tests (vmio/iothread.h): callbacks run on the thread for ready
 * descriptors; a disarmed descriptor is never reported; removal is a barrier
 * (never returns while the callback runs, and the callback never runs again),
 * also from the callback itself; stop joins, is idempotent, refuses the I/O
 * thread itself, and the thread can be started again; registration errors.
 *
 * No test waits on time: each waits for an event it knows will come
 * (blocking reads of eventfds the callbacks write), so a hang is the test
 * harness's timeout.
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
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmio/iothread.h"

static void sig(int fd)
{
    uint64_t one = 1;
    assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

/* Block until eventfd @fd (blocking) is signalled; returns its count. */
static uint64_t wait_fd(int fd)
{
    uint64_t v = 0;
    ssize_t n;
    do {
        n = read(fd, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
    assert_int_equal(n, sizeof(v));
    return v;
}

static void drain(int fd)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n;
}

struct counter {
    struct vmio_iothread *io;
    int done; /* blocking eventfd the callback signals after each call */
    atomic_int calls;
    atomic_bool on_thread;
    bool remove_self;
};

static void count_cb(void *ctx, int fd, uint32_t events)
{
    struct counter *c = ctx;
    drain(fd);
    atomic_store(&c->on_thread, vmio_iothread_on_thread(c->io));
    if (events & EPOLLIN)
        atomic_fetch_add(&c->calls, 1);
    if (c->remove_self)
        assert_int_equal(vmio_iothread_remove(c->io, fd), 0); /* must not wait for itself */
    sig(c->done);
}

static void test_callbacks_run_on_the_thread(void **state)
{
    (void)state;
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-basic", &io, NULL), 0);
    int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
    struct counter ca = {.io = io, .done = eventfd(0, 0)};
    struct counter cb = {.io = io, .done = eventfd(0, 0)};
    /* Registered before the start, signalled before it too: runs once started. */
    assert_int_equal(vmio_iothread_add(io, a, EPOLLIN, count_cb, &ca, NULL), 0);
    sig(a);
    assert_false(vmio_iothread_running(io));
    assert_int_equal(vmio_iothread_start(io, NULL), 0);
    assert_true(vmio_iothread_running(io));
    assert_false(vmio_iothread_on_thread(io));
    wait_fd(ca.done);
    assert_int_equal(atomic_load(&ca.calls), 1);
    assert_true(atomic_load(&ca.on_thread));
    /* Registered while it runs. */
    assert_int_equal(vmio_iothread_add(io, b, EPOLLIN, count_cb, &cb, NULL), 0);
    sig(b);
    wait_fd(cb.done);
    sig(a);
    wait_fd(ca.done);
    assert_int_equal(atomic_load(&ca.calls), 2);
    assert_int_equal(atomic_load(&cb.calls), 1);

    struct vmio_error err = {0};
    assert_int_equal(vmio_iothread_add(io, a, EPOLLIN, count_cb, &ca, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "already watched"));
    assert_int_equal(vmio_iothread_add(io, -1, EPOLLIN, count_cb, &ca, NULL), -EINVAL);
    assert_int_equal(vmio_iothread_add(io, b + 100, EPOLLIN, NULL, &ca, NULL), -EINVAL);
    assert_int_equal(vmio_iothread_start(io, NULL), -EBUSY);

    assert_int_equal(vmio_iothread_remove(io, a), 0);
    assert_int_equal(vmio_iothread_remove(io, a), -ENOENT);
    assert_int_equal(vmio_iothread_set_events(io, a, EPOLLIN), -ENOENT);
    vmio_iothread_destroy(io); /* stops the thread; b is forgotten, not closed */
    assert_int_equal(fcntl(b, F_GETFD), 0);
    close(a);
    close(b);
    close(ca.done);
    close(cb.done);
}

static void test_regular_file_refused(void **state)
{
    (void)state;
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-file", &io, NULL), 0);
    char path[] = "/tmp/vmio-iothread-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    struct vmio_error err = {0};
    struct counter c = {0};
    assert_int_equal(vmio_iothread_add(io, fd, EPOLLIN, count_cb, &c, &err), -EPERM);
    assert_non_null(strstr(err.msg, "cannot watch descriptor"));
    /* Disarmed registration does not touch epoll, so it is accepted. */
    assert_int_equal(vmio_iothread_add(io, fd, 0, count_cb, &c, NULL), 0);
    assert_int_equal(vmio_iothread_set_events(io, fd, EPOLLIN), -EPERM);
    assert_int_equal(vmio_iothread_remove(io, fd), 0);
    close(fd);
    vmio_iothread_destroy(io);
}

static void test_disarmed_is_never_reported(void **state)
{
    (void)state;
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-disarm", &io, NULL), 0);
    int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
    struct counter ca = {.io = io, .done = eventfd(0, 0)};
    struct counter cb = {.io = io, .done = eventfd(0, 0)};
    assert_int_equal(vmio_iothread_add(io, a, 0, count_cb, &ca, NULL), 0); /* disarmed */
    assert_int_equal(vmio_iothread_add(io, b, EPOLLIN, count_cb, &cb, NULL), 0);
    assert_int_equal(vmio_iothread_start(io, NULL), 0);
    sig(a);
    sig(b);
    /* b's callback ran after an epoll_wait that began after a was signalled. */
    wait_fd(cb.done);
    sig(b);
    wait_fd(cb.done);
    assert_int_equal(atomic_load(&ca.calls), 0);
    /* Armed: the pending count is seen at once. */
    assert_int_equal(vmio_iothread_set_events(io, a, EPOLLIN), 0);
    wait_fd(ca.done);
    assert_int_equal(atomic_load(&ca.calls), 1);
    /* Disarmed again while idle, then armed: the same. */
    assert_int_equal(vmio_iothread_set_events(io, a, 0), 0);
    assert_int_equal(vmio_iothread_set_events(io, a, 0), 0);
    sig(a);
    sig(b);
    wait_fd(cb.done);
    assert_int_equal(atomic_load(&ca.calls), 1);
    assert_int_equal(vmio_iothread_set_events(io, a, EPOLLIN), 0);
    wait_fd(ca.done);
    assert_int_equal(atomic_load(&ca.calls), 2);
    vmio_iothread_destroy(io);
    close(a);
    close(b);
    close(ca.done);
    close(cb.done);
}

/* A callback held inside until the test opens the gate. */
struct gated {
    struct vmio_iothread *io;
    int fd;
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool inside, open;
    atomic_int calls;
    atomic_bool removed;        /* the remover's vmio_iothread_remove() returned */
    atomic_bool removed_inside; /* ... while the callback was still running: a failure */
    atomic_bool remover_started;
};

static void gated_cb(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct gated *g = ctx;
    drain(fd);
    atomic_fetch_add(&g->calls, 1);
    pthread_mutex_lock(&g->m);
    g->inside = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->m);
    pthread_mutex_unlock(&g->m);
    if (atomic_load(&g->removed))
        atomic_store(&g->removed_inside, true);
}

static void *remover(void *arg)
{
    struct gated *g = arg;
    atomic_store(&g->remover_started, true);
    assert_int_equal(vmio_iothread_remove(g->io, g->fd), 0);
    atomic_store(&g->removed, true);
    return NULL;
}

static void test_remove_waits_for_the_callback(void **state)
{
    (void)state;
    struct gated g = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    assert_int_equal(vmio_iothread_create("t-remove", &g.io, NULL), 0);
    g.fd = eventfd(0, EFD_NONBLOCK);
    assert_int_equal(vmio_iothread_add(g.io, g.fd, EPOLLIN, gated_cb, &g, NULL), 0);
    assert_int_equal(vmio_iothread_start(g.io, NULL), 0);
    sig(g.fd);
    pthread_mutex_lock(&g.m);
    while (!g.inside)
        pthread_cond_wait(&g.cv, &g.m);
    pthread_mutex_unlock(&g.m);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, remover, &g), 0);
    while (!atomic_load(&g.remover_started))
        sched_yield();
    for (int i = 0; i < 2000; i++) /* give the remover every chance to get into remove() */
        sched_yield();
    assert_false(atomic_load(&g.removed)); /* it must be waiting for the callback */
    sig(g.fd);                             /* pending when the callback ends: must not run */
    pthread_mutex_lock(&g.m);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.m);
    pthread_join(t, NULL);
    assert_true(atomic_load(&g.removed));
    assert_false(atomic_load(&g.removed_inside));
    vmio_iothread_stop(g.io); /* joined: anything still queued would have run by now */
    assert_int_equal(atomic_load(&g.calls), 1);
    vmio_iothread_destroy(g.io);
    close(g.fd);
}

static void test_remove_from_own_callback(void **state)
{
    (void)state;
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-self", &io, NULL), 0);
    int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
    struct counter ca = {.io = io, .done = eventfd(0, 0), .remove_self = true};
    struct counter cb = {.io = io, .done = eventfd(0, 0)};
    assert_int_equal(vmio_iothread_add(io, a, EPOLLIN, count_cb, &ca, NULL), 0);
    assert_int_equal(vmio_iothread_add(io, b, EPOLLIN, count_cb, &cb, NULL), 0);
    assert_int_equal(vmio_iothread_start(io, NULL), 0);
    sig(a);
    wait_fd(ca.done);
    sig(a); /* removed: never reported again */
    sig(b);
    wait_fd(cb.done);
    assert_int_equal(atomic_load(&ca.calls), 1);
    assert_int_equal(vmio_iothread_remove(io, a), -ENOENT);
    vmio_iothread_destroy(io);
    close(a);
    close(b);
    close(ca.done);
    close(cb.done);
}

struct stopper {
    struct vmio_iothread *io;
    int done;
    atomic_int rc;
};

static void stop_cb(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct stopper *s = ctx;
    drain(fd);
    atomic_store(&s->rc, vmio_iothread_stop(s->io));
    sig(s->done);
}

static void test_stop_and_restart(void **state)
{
    (void)state;
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("a-name-longer-than-fifteen", &io, NULL), 0);
    assert_int_equal(vmio_iothread_stop(io), 0); /* never started: nothing to do */
    int a = eventfd(0, EFD_NONBLOCK);
    struct stopper s = {.io = io, .done = eventfd(0, 0)};
    assert_int_equal(vmio_iothread_add(io, a, EPOLLIN, stop_cb, &s, NULL), 0);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(vmio_iothread_start(io, NULL), 0);
        sig(a);
        wait_fd(s.done);
        assert_int_equal(atomic_load(&s.rc), -EDEADLK); /* not from the thread itself */
        assert_true(vmio_iothread_running(io));
        assert_int_equal(vmio_iothread_stop(io), 0);
        assert_false(vmio_iothread_running(io));
        assert_int_equal(vmio_iothread_stop(io), 0); /* idempotent */
    }
    vmio_iothread_destroy(io);
    vmio_iothread_destroy(NULL);
    close(a);
    close(s.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callbacks_run_on_the_thread),
        cmocka_unit_test(test_regular_file_refused),
        cmocka_unit_test(test_disarmed_is_never_reported),
        cmocka_unit_test(test_remove_waits_for_the_callback),
        cmocka_unit_test(test_remove_from_own_callback),
        cmocka_unit_test(test_stop_and_restart),
    };
    return cmocka_run_group_tests_name("iothread", tests, NULL, NULL);
}
