/*
 * The I/O thread: one host thread that sleeps in epoll_wait(2) and calls a
 * callback for each registered file descriptor that becomes ready. Work that
 * is not a vCPU's runs here (virtqueue processing after a queue notification,
 * disk I/O, host console input, interrupt resampling), so vCPU threads only
 * run the guest and dispatch the accesses it makes.
 *
 *     struct vmio_iothread *io;
 *     vmio_iothread_create("virtio", &io, &err);
 *     vmio_iothread_add(io, fd, EPOLLIN, on_ready, ctx, &err);  // any thread, any time
 *     vmio_iothread_start(io, &err);
 *     ...                                                      // callbacks run on the thread
 *     vmio_iothread_stop(io);                                  // wakes it, joins it
 *     vmio_iothread_remove(io, fd);
 *     vmio_iothread_destroy(io);
 *
 * Invariants:
 *   - Callbacks run on the I/O thread only, one at a time, in no particular
 *     order between descriptors; a descriptor stays registered until it is
 *     removed (level-triggered: a callback that leaves its descriptor ready
 *     is called again).
 *   - vmio_iothread_remove() is a barrier: when it returns, the callback of
 *     that descriptor is not running and never runs again, so the caller may
 *     free its context at once. Called from a callback (on the I/O thread) it
 *     does not wait for itself.
 *   - Registration (add, remove, set_events) is thread-safe and allowed
 *     before start, while the thread runs (also from its own callbacks) and
 *     after stop. The I/O thread holds no lock of its own while a callback
 *     runs. One rule for callers: do not remove a descriptor while holding a
 *     lock that its callback takes (the removal waits for the callback,
 *     which waits for the lock).
 *   - vmio_iothread_stop() returns once the thread has exited: no callback
 *     runs after it (until a new start). Stopping a thread that was never
 *     started does nothing.
 *
 * The descriptors are borrowed: the I/O thread never closes them. Remove a
 * descriptor before closing it (epoll would otherwise keep watching the open
 * file behind it while any duplicate of it lives).
 */
#ifndef VMIO_IOTHREAD_H
#define VMIO_IOTHREAD_H

#include <stdint.h>

#include "vmio/error.h"

struct vmio_iothread;

/*
 * A readiness callback: @fd (as registered) is ready with the epoll @events
 * (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR, ...), @ctx as registered. Runs on
 * the I/O thread.
 */
typedef void (*vmio_iothread_fn)(void *ctx, int fd, uint32_t events);

/*
 * vmio_iothread_create - an I/O thread named @name (copied; shown as the
 * thread's name, at most 15 characters are kept) in *@out, not started.
 * Errors: -errno of epoll_create1()/eventfd(), described; -ENOMEM.
 * Ownership: the caller owns *@out (vmio_iothread_destroy()).
 */
int vmio_iothread_create(const char *name, struct vmio_iothread **out, struct vmio_error *err);

/*
 * vmio_iothread_add - watch @fd for @events (EPOLLIN, EPOLLOUT; 0 registers
 * it disarmed: see vmio_iothread_set_events()) and call @fn(@ctx, fd,
 * events) when it is ready.
 * Errors: -EINVAL for a negative @fd or a NULL @fn; -EEXIST when @fd is
 * already registered; -errno of epoll_ctl() (-EPERM: the descriptor does not
 * support polling, e.g. a regular file or /dev/null), described; -ENOMEM.
 */
int vmio_iothread_add(struct vmio_iothread *io, int fd, uint32_t events, vmio_iothread_fn fn,
                      void *ctx, struct vmio_error *err);

/*
 * vmio_iothread_set_events - change what @fd is watched for; 0 disarms it
 * (it stays registered, its callback is not called) until armed again.
 * Errors: -ENOENT when @fd is not registered; -errno of epoll_ctl().
 */
int vmio_iothread_set_events(struct vmio_iothread *io, int fd, uint32_t events);

/*
 * vmio_iothread_remove - stop watching @fd and wait until its callback is not
 * running (unless called from that callback itself). See the invariants.
 * Errors: -ENOENT when @fd is not registered.
 */
int vmio_iothread_remove(struct vmio_iothread *io, int fd);

/*
 * vmio_iothread_set_init - run @fn(@ctx, err) first on the thread each time
 * it starts (name it, pin it, confine it: vmio/seccomp.h), before any
 * callback; vmio_iothread_start() waits for it and fails with its error
 * (the thread then does not run). NULL: nothing. Before start.
 */
void vmio_iothread_set_init(struct vmio_iothread *io, int (*fn)(void *ctx, struct vmio_error *err),
                            void *ctx);

/*
 * vmio_iothread_start - start the thread (callbacks of ready descriptors
 * begin at once). Errors: -EBUSY when it runs already; -errno of
 * pthread_create(), described.
 */
int vmio_iothread_start(struct vmio_iothread *io, struct vmio_error *err);

/*
 * vmio_iothread_stop - make the thread return and join it. Idempotent. Must
 * not be called from the I/O thread itself (-EDEADLK, nothing done). Returns
 * 0 (also when it was not running).
 */
int vmio_iothread_stop(struct vmio_iothread *io);

/* vmio_iothread_running - whether the thread has been started and not stopped. */
int vmio_iothread_running(struct vmio_iothread *io);

/* vmio_iothread_on_thread - whether the caller is the I/O thread (inside a callback). */
int vmio_iothread_on_thread(struct vmio_iothread *io);

/*
 * vmio_iothread_destroy - stop @io (if running) and free it (may be NULL).
 * Descriptors still registered are forgotten, not closed.
 */
void vmio_iothread_destroy(struct vmio_iothread *io);

#endif
