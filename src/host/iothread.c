/*
 * The I/O thread (see vmio/iothread.h): epoll over registered descriptors,
 * one callback at a time on one host thread.
 *
 * Invariants:
 *   - `lock` guards the handler table, `running` and `state`; it is never held
 *     while a callback runs, so callbacks may register and remove
 *     descriptors (their own included).
 *   - Each registration gets an id that is never reused; epoll carries the id,
 *     not a pointer, so an event that was already fetched for a descriptor
 *     removed since finds no handler and is dropped: a removed callback
 *     never runs again, and nothing points at freed memory.
 *   - `running` is the id whose callback is executing (0: none); a remover on
 *     another thread waits on `idle` until it is not its id.
 *   - A disarmed descriptor (events 0) is not in the epoll set at all (epoll
 *     reports EPOLLHUP/EPOLLERR even for an empty mask, which would spin the
 *     thread on, say, a console whose writer went away).
 *   - Id WAKE_ID is the internal eventfd that stop() writes to end the wait.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmio/iothread.h"

#define WAKE_ID 1ULL
#define MAX_EVENTS 32

struct handler {
    uint64_t id;
    int fd;
    uint32_t events; /* 0: disarmed, not in the epoll set */
    vmio_iothread_fn fn;
    void *ctx;
};

struct vmio_iothread {
    char name[16];
    int epfd;
    int wake_fd;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct handler *h;
    unsigned n, cap;
    uint64_t next_id;
    uint64_t running;
    bool started;  /* pthread_create succeeded and not joined yet */
    bool stopping; /* stop() asked the thread to return */
    pthread_t thread;
    /* vmio_iothread_set_init(): run first on the thread; start() waits for its result. */
    int (*init)(void *ctx, struct vmio_error *err);
    void *init_ctx;
    bool init_done;
    int init_rc;
    struct vmio_error init_err;
};

int vmio_iothread_create(const char *name, struct vmio_iothread **out, struct vmio_error *err)
{
    struct vmio_iothread *io = calloc(1, sizeof(*io));
    if (!io)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    snprintf(io->name, sizeof(io->name), "%s", name ? name : "vmio-io");
    io->next_id = WAKE_ID + 1;
    io->wake_fd = -1;
    io->epfd = epoll_create1(EPOLL_CLOEXEC);
    int rc = 0;
    if (io->epfd < 0)
        rc = vmio_error_set(err, -errno, "I/O thread %s: epoll_create1: %s", io->name,
                            strerror(errno));
    if (rc == 0 && (io->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        rc = vmio_error_set(err, -errno, "I/O thread %s: eventfd: %s", io->name, strerror(errno));
    if (rc == 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_ID};
        if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->wake_fd, &ev) < 0)
            rc = vmio_error_set(err, -errno, "I/O thread %s: epoll_ctl: %s", io->name,
                                strerror(errno));
    }
    if (rc < 0) {
        if (io->wake_fd >= 0)
            close(io->wake_fd);
        if (io->epfd >= 0)
            close(io->epfd);
        free(io);
        return rc;
    }
    pthread_mutex_init(&io->lock, NULL);
    pthread_cond_init(&io->idle, NULL);
    *out = io;
    return 0;
}

/* The index of @fd's handler, or io->n. Lock held. */
static unsigned find_fd(const struct vmio_iothread *io, int fd)
{
    unsigned i = 0;
    while (i < io->n && io->h[i].fd != fd)
        i++;
    return i;
}

/* epoll_ctl for handler @h going from @old to h->events. Lock held. */
static int apply_events(struct vmio_iothread *io, const struct handler *h, uint32_t old)
{
    struct epoll_event ev = {.events = h->events, .data.u64 = h->id};
    int rc = 0;
    if (old == 0 && h->events != 0)
        rc = epoll_ctl(io->epfd, EPOLL_CTL_ADD, h->fd, &ev);
    else if (old != 0 && h->events == 0)
        rc = epoll_ctl(io->epfd, EPOLL_CTL_DEL, h->fd, &ev);
    else if (old != 0)
        rc = epoll_ctl(io->epfd, EPOLL_CTL_MOD, h->fd, &ev);
    return rc < 0 ? -errno : 0;
}

int vmio_iothread_add(struct vmio_iothread *io, int fd, uint32_t events, vmio_iothread_fn fn,
                      void *ctx, struct vmio_error *err)
{
    if (fd < 0 || !fn)
        return vmio_error_set(err, -EINVAL, "I/O thread %s: no descriptor or no callback",
                              io->name);
    pthread_mutex_lock(&io->lock);
    int rc = 0;
    if (find_fd(io, fd) < io->n) {
        rc = vmio_error_set(err, -EEXIST, "I/O thread %s: descriptor %d is already watched",
                            io->name, fd);
    } else if (io->n == io->cap) {
        unsigned cap = io->cap ? io->cap * 2 : 8;
        struct handler *h = realloc(io->h, cap * sizeof(*h));
        if (!h)
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
        else {
            io->h = h;
            io->cap = cap;
        }
    }
    if (rc == 0) {
        struct handler h = {.id = io->next_id, .fd = fd, .events = events, .fn = fn, .ctx = ctx};
        rc = apply_events(io, &h, 0);
        if (rc < 0)
            vmio_error_set(err, rc, "I/O thread %s: cannot watch descriptor %d: %s", io->name, fd,
                           strerror(-rc));
        else {
            io->next_id++;
            io->h[io->n++] = h;
        }
    }
    pthread_mutex_unlock(&io->lock);
    return rc;
}

int vmio_iothread_set_events(struct vmio_iothread *io, int fd, uint32_t events)
{
    pthread_mutex_lock(&io->lock);
    unsigned i = find_fd(io, fd);
    int rc = -ENOENT;
    if (i < io->n) {
        uint32_t old = io->h[i].events;
        io->h[i].events = events;
        rc = apply_events(io, &io->h[i], old);
        if (rc < 0)
            io->h[i].events = old;
    }
    pthread_mutex_unlock(&io->lock);
    return rc;
}

int vmio_iothread_on_thread(struct vmio_iothread *io)
{
    pthread_mutex_lock(&io->lock);
    bool on = io->started && pthread_equal(io->thread, pthread_self());
    pthread_mutex_unlock(&io->lock);
    return on;
}

int vmio_iothread_remove(struct vmio_iothread *io, int fd)
{
    pthread_mutex_lock(&io->lock);
    unsigned i = find_fd(io, fd);
    if (i == io->n) {
        pthread_mutex_unlock(&io->lock);
        return -ENOENT;
    }
    struct handler h = io->h[i];
    if (h.events)
        (void)epoll_ctl(io->epfd, EPOLL_CTL_DEL, fd,
                        NULL); /* an fd closed too early: gone anyway */
    io->h[i] = io->h[--io->n];
    bool self = io->started && pthread_equal(io->thread, pthread_self());
    while (!self && io->running == h.id)
        pthread_cond_wait(&io->idle, &io->lock);
    pthread_mutex_unlock(&io->lock);
    return 0;
}

/* Run the callback registered as @id for @events, unless it was removed. */
static void dispatch(struct vmio_iothread *io, uint64_t id, uint32_t events)
{
    pthread_mutex_lock(&io->lock);
    struct handler h = {0};
    for (unsigned i = 0; i < io->n; i++)
        if (io->h[i].id == id && io->h[i].events)
            h = io->h[i];
    if (h.id)
        io->running = id;
    pthread_mutex_unlock(&io->lock);
    if (!h.id)
        return;
    h.fn(h.ctx, h.fd, events);
    pthread_mutex_lock(&io->lock);
    io->running = 0;
    pthread_cond_broadcast(&io->idle);
    pthread_mutex_unlock(&io->lock);
}

static void *iothread_main(void *arg)
{
    struct vmio_iothread *io = arg;
    struct epoll_event evs[MAX_EVENTS];
    int rc = io->init ? io->init(io->init_ctx, &io->init_err) : 0;
    pthread_mutex_lock(&io->lock);
    io->init_rc = rc;
    io->init_done = true;
    pthread_cond_broadcast(&io->idle);
    pthread_mutex_unlock(&io->lock);
    if (rc < 0)
        return NULL; /* start() reports it and joins */
    for (;;) {
        pthread_mutex_lock(&io->lock);
        bool stop = io->stopping;
        pthread_mutex_unlock(&io->lock);
        if (stop)
            break;
        int n = epoll_wait(io->epfd, evs, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR)
            break; /* cannot happen with a valid epoll fd */
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == WAKE_ID) {
                uint64_t v;
                while (read(io->wake_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                    ;
                continue;
            }
            dispatch(io, evs[i].data.u64, evs[i].events);
        }
    }
    return NULL;
}

void vmio_iothread_set_init(struct vmio_iothread *io, int (*fn)(void *ctx, struct vmio_error *err),
                            void *ctx)
{
    pthread_mutex_lock(&io->lock);
    io->init = fn;
    io->init_ctx = ctx;
    pthread_mutex_unlock(&io->lock);
}

int vmio_iothread_start(struct vmio_iothread *io, struct vmio_error *err)
{
    pthread_mutex_lock(&io->lock);
    int rc = 0;
    if (io->started) {
        rc = vmio_error_set(err, -EBUSY, "I/O thread %s already runs", io->name);
    } else {
        io->stopping = false;
        io->init_done = false;
        int e = pthread_create(&io->thread, NULL, iothread_main, io);
        if (e)
            rc =
                vmio_error_set(err, -e, "I/O thread %s: pthread_create: %s", io->name, strerror(e));
        else {
            io->started = true;
            pthread_setname_np(io->thread, io->name);
            while (!io->init_done)
                pthread_cond_wait(&io->idle, &io->lock);
            if (io->init_rc < 0) {
                rc = io->init_rc;
                if (err)
                    *err = io->init_err;
                io->started = false;
                pthread_mutex_unlock(&io->lock);
                pthread_join(io->thread, NULL);
                return rc;
            }
        }
    }
    pthread_mutex_unlock(&io->lock);
    return rc;
}

int vmio_iothread_stop(struct vmio_iothread *io)
{
    pthread_mutex_lock(&io->lock);
    if (!io->started) {
        pthread_mutex_unlock(&io->lock);
        return 0;
    }
    if (pthread_equal(io->thread, pthread_self())) {
        pthread_mutex_unlock(&io->lock);
        return -EDEADLK;
    }
    io->stopping = true;
    pthread_t t = io->thread;
    pthread_mutex_unlock(&io->lock);
    uint64_t one = 1;
    while (write(io->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(t, NULL);
    pthread_mutex_lock(&io->lock);
    io->started = false;
    io->stopping = false;
    pthread_mutex_unlock(&io->lock);
    return 0;
}

int vmio_iothread_running(struct vmio_iothread *io)
{
    pthread_mutex_lock(&io->lock);
    bool r = io->started;
    pthread_mutex_unlock(&io->lock);
    return r;
}

void vmio_iothread_destroy(struct vmio_iothread *io)
{
    if (!io)
        return;
    vmio_iothread_stop(io);
    close(io->wake_fd);
    close(io->epfd);
    free(io->h);
    pthread_cond_destroy(&io->idle);
    pthread_mutex_destroy(&io->lock);
    free(io);
}
