/*
 * Host character backends ("chardevs"): where a serial port's output goes and
 * where its input comes from.
 *
 * Backends, selected by a spec string exactly like the `--serial` option:
 *   "stdio"      output to stdout, input from stdin (the default: spec NULL)
 *   "file:PATH"  output to PATH (created or truncated, mode 0666 & ~umask): a
 *                regular file or a character device (/dev/null); a FIFO,
 *                socket or directory is refused (opening never blocks);
 *                no input
 *   "none"       output dropped; no input
 * and, for tests, a memory backend (vmio_chardev_open_memory()) that captures
 * output and serves input from a buffer the test fills.
 *
 * Output: vmio_chardev_write() writes every byte (retrying on partial writes) or
 * returns an error; it never aborts, and it never blocks without bound: a
 * write waits for the output in poll(2) and gives up, dropping the bytes it
 * could not write, when a signal interrupts the wait (a vCPU kick:
 * vmio_vm_stop() reaches a vCPU stuck writing to a pipe nobody reads) or
 * when the output took no byte for 5 s on the chardev's clock (a stalled
 * reader); after such a stall later writes do not wait until the output
 * drains. Dropped bytes are counted (vmio_chardev_output_dropped()), the first
 * drop is reported on stderr and the total at vmio_chardev_close(). Output to a
 * terminal is written through unbuffered (so prompts and echoed keystrokes
 * appear at once). Output to anything else (file, pipe) goes through a
 * 4 KiB buffer that is flushed at each newline, when full, by an input poll
 * once the oldest buffered byte is 10 ms old (so a prompt shows while the
 * guest waits for an answer, without one write per byte for a guest that
 * polls between bytes), by vmio_chardev_flush(), by vmio_chardev_close(), and at exit()
 * (atexit handler). Output still buffered when the process dies
 * from a signal is lost; everything up to the last newline is not.
 * The first write error on a chardev is reported once on stderr; later ones
 * are only returned.
 *
 * Input: vmio_chardev_read_nonblock() returns the bytes available now (poll with
 * a zero timeout), never blocks, and remembers end of file. A poll that
 * finds nothing defers the next one by 200 us, so a guest that polls its
 * UART between every byte it prints does not pay a system call per exit;
 * while input flows, every call polls.
 *
 * Time: the 10 ms flush age, the 200 us poll deferral and the 5 s write
 * stall are measured on the chardev's clock, the system's monotonic clock unless
 * vmio_chardev_set_clock() gives another (tests use a struct vmio_manual_clock and advance it).
 *
 * Terminal: when a stdio chardev's input is a terminal, the terminal is put
 * in raw mode while the chardev is open: no echo, no canonical (line) mode,
 * no input CR/NL translation, no XON/XOFF, 8-bit characters. ISIG is KEPT, as
 * with QEMU's `-serial stdio`: Ctrl-C, Ctrl-\ and Ctrl-Z act on vmio (SIGINT,
 * SIGQUIT, SIGTSTP), they are not passed to the guest. Output post-processing
 * (OPOST, so "\n" still returns the carriage) is left as it was. The
 * original settings are restored on every exit path:
 *   - vmio_chardev_close() of the last chardev using the terminal;
 *   - exit() (an atexit handler);
 *   - SIGINT, SIGTERM, SIGHUP and SIGQUIT (only if the program asked with
 *     vmio_chardev_terminal_signals(true): a library installs no process-wide
 *     handler by itself): a handler, installed with raw mode
 *     for every signal that is not ignored, restores the terminal and then
 *     either calls the handler that was installed before it or, if that was
 *     the default action, re-raises the signal with the default action (so
 *     the exit status still says "killed by SIGINT");
 *   - SIGTSTP (Ctrl-Z; also only when asked): the terminal is restored, the process stops, and raw
 *     mode is re-entered when it is continued;
 *   - any other path (a crash handler, a fatal error in another module):
 *     call vmio_chardev_terminal_restore(), which is async-signal-safe.
 * A program that installs its own handler for one of these signals after
 * opening a stdio chardev replaces vmio's and must call
 * vmio_chardev_terminal_restore() itself. Only one terminal is put in raw mode per
 * process (the first one opened); other terminals are used as they are.
 *
 * Concurrency: every function on one chardev may be called from several
 * threads (an internal mutex serialises them). vmio_chardev_close() must not race
 * with any other call on the same chardev.
 */
#ifndef VMIO_CHARDEV_H
#define VMIO_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmio/clock.h"
#include "vmio/error.h"

struct vmio_chardev;

enum vmio_chardev_kind {
    VMIO_CHARDEV_NONE = 0,
    VMIO_CHARDEV_STDIO = 1,
    VMIO_CHARDEV_FILE = 2,
    VMIO_CHARDEV_MEMORY = 3,
};

/*
 * vmio_chardev_open - open the backend named by @spec.
 * @spec: "stdio", "file:PATH", "none", or NULL for the default ("stdio").
 * @out:  receives the new chardev on success; untouched on error.
 * @err:  optional message on error.
 * Errors: -EINVAL for an unknown or malformed spec (the message quotes it),
 * -errno from open(2) for file:PATH (the message names the path), -ENOMEM.
 * Ownership: the caller owns *@out and frees it with vmio_chardev_close(). A stdio
 * chardev uses file descriptors 0 and 1 but does not own them.
 */
int vmio_chardev_open(const char *spec, struct vmio_chardev **out, struct vmio_error *err);

/*
 * vmio_chardev_open_stdio_fds - a stdio-kind chardev on arbitrary descriptors
 * (used by vmio_chardev_open("stdio") with 0 and 1, and by tests with a pty).
 * @in_fd:  input descriptor, or -1 for no input; put in raw mode if it is a
 *          terminal (see the file comment).
 * @out_fd: output descriptor, or -1 to drop output.
 * Errors: -ENOMEM; -errno if the terminal's settings cannot be changed.
 * Ownership: the chardev does not own or close the descriptors; they must
 * stay open until vmio_chardev_close().
 */
int vmio_chardev_open_stdio_fds(int in_fd, int out_fd, struct vmio_chardev **out,
                                struct vmio_error *err);

/*
 * vmio_chardev_open_memory - a memory backend for tests: output is captured in a
 * growable buffer (read it with vmio_chardev_memory_take_output()), input is served
 * from a queue filled by vmio_chardev_memory_feed().
 * @input/@len: initial input (copied); @input may be NULL when @len is 0.
 * Errors: -ENOMEM. The caller owns *@out (vmio_chardev_close()).
 */
int vmio_chardev_open_memory(const void *input, size_t len, struct vmio_chardev **out,
                             struct vmio_error *err);

/*
 * vmio_chardev_memory_feed - append @n bytes of @buf to a memory chardev's input.
 * Errors: -EINVAL if @cd is not a memory chardev, -ENOMEM.
 */
int vmio_chardev_memory_feed(struct vmio_chardev *cd, const void *buf, size_t n);

/*
 * vmio_chardev_memory_take_output - move up to @size bytes of captured output (the
 * oldest first) into @buf and forget them. Returns the number of bytes moved
 * (0 if @cd is not a memory chardev or nothing was written).
 */
size_t vmio_chardev_memory_take_output(struct vmio_chardev *cd, void *buf, size_t size);

/*
 * vmio_chardev_write - send @n bytes of @buf to @cd's output.
 * Returns 0 when every byte was written or buffered (or dropped by a backend
 * without output), or -errno from write(2) (the unwritten bytes are
 * discarded; the first failure is also reported on stderr). On EAGAIN (a
 * non-blocking descriptor) it waits for the descriptor to become writable,
 * so like a blocking write it can wait as long as the reader does not read.
 */
int vmio_chardev_write(struct vmio_chardev *cd, const void *buf, size_t n);

/*
 * vmio_chardev_read_nonblock - read up to @n bytes that are available now.
 * Returns the number of bytes stored in @buf (> 0), 0 when nothing is
 * available, the input has ended (EOF), or the backend has no input; or
 * -errno on a read error (the input is then treated as ended). Flushes
 * buffered output first if it has waited 10 ms or more. Never blocks.
 */
ssize_t vmio_chardev_read_nonblock(struct vmio_chardev *cd, void *buf, size_t n);

/*
 * vmio_chardev_wait_input - block until @cd has input to read (or end of file),
 * for at most @timeout_ms milliseconds (-1: no limit). For threads that feed
 * a device without a guest asking (the input pump). Also lifts the idle-poll
 * delay, so the next vmio_chardev_read_nonblock() polls at once.
 * Returns 1 when input (or EOF) is ready, 0 on timeout or for a backend
 * without input, -errno when poll(2) fails.
 */
int vmio_chardev_wait_input(struct vmio_chardev *cd, int timeout_ms);

/*
 * vmio_chardev_has_input - whether @cd may still produce input (false for none,
 * file, stdio without input, and after end of input). Lets callers skip polls.
 */
int vmio_chardev_has_input(struct vmio_chardev *cd);

/*
 * vmio_chardev_input_fd - the descriptor @cd takes its input from, for a caller
 * that waits for input in its own poll or epoll loop (the virtio console on
 * the I/O thread), or -1: no input (none, file, stdio without input), a
 * memory chardev, or the input has ended. Borrowed: wait on it, but read
 * through vmio_chardev_wait_input(cd, 0) and vmio_chardev_read_nonblock(), and never
 * close it.
 */
int vmio_chardev_input_fd(struct vmio_chardev *cd);

/*
 * vmio_chardev_flush - write out buffered output. Returns 0 or -errno (the
 * buffered bytes are then discarded).
 */
int vmio_chardev_flush(struct vmio_chardev *cd);

/*
 * vmio_chardev_set_clock - measure @cd's time (output flush age, input-poll
 * deferral) on @clock (borrowed: it must outlive @cd; NULL = the system's
 * monotonic clock, the default). Restarts both timers on the new clock:
 * buffered output counts as written now and the next input read polls.
 * A NULL @cd does nothing. Thread-safe, like every call on a chardev.
 */
void vmio_chardev_set_clock(struct vmio_chardev *cd, const struct vmio_clock *clock);

/*
 * vmio_chardev_output_dropped - output bytes @cd gave up so far because its
 * output stalled, a signal interrupted a wait for it, or its reader went
 * away (a broken pipe: the program must ignore SIGPIPE; see "Output").
 */
uint64_t vmio_chardev_output_dropped(struct vmio_chardev *cd);

/* vmio_chardev_kind - the backend of @cd. */
enum vmio_chardev_kind vmio_chardev_kind(const struct vmio_chardev *cd);

/*
 * vmio_chardev_close - flush, restore the terminal if this was the last chardev
 * using it in raw mode, close what the chardev opened (the file of file:PATH)
 * and free @cd. @cd may be NULL.
 */
void vmio_chardev_close(struct vmio_chardev *cd);

/*
 * vmio_chardev_terminal_restore - put the raw-mode terminal (if any) back to the
 * settings it had before vmio changed them. Idempotent and async-signal-safe
 * (one tcsetattr() call): safe from signal handlers, crash paths and atexit.
 * chardevs that are still open keep working, but the terminal stays cooked.
 */
void vmio_chardev_terminal_restore(void);

/*
 * vmio_chardev_terminal_signals - whether putting a terminal in raw mode also
 * installs the process-wide signal handlers that restore it (SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL; SIGTSTP stops and
 * resumes raw mode). Off by default: a program that embeds libvmio keeps its
 * own signal dispositions and calls vmio_chardev_terminal_restore() from its own
 * handlers; the vmio command turns it on. Takes effect at the next raw-mode
 * entry; handlers already installed stay until the terminal is released.
 */
void vmio_chardev_terminal_signals(bool on);

#endif
