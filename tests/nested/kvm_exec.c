/*
 * vmio-kvm-exec: run one command where a fully working /dev/kvm exists.
 *
 *   vmio-kvm-exec COMMAND [ARG...]
 *
 * Every test that needs KVM runs through this wrapper (meson wraps the C
 * tests; the Python runners put it in front of each vmio or QEMU command).
 * The mode comes from VMIO_KVM_MODE:
 *   native  exec the command here (zero overhead);
 *   nested  run it inside the nested KVM VM (KVM inside QEMU TCG; see
 *           docs/testing.md), booting that VM first if it is not running;
 *   unset   ask kvm-probe (next to this program) whether this host's KVM
 *           runs SSE and XSAVE at CPL0: native if it does, nested if not.
 * In nested mode the command runs with the same argv, environment (plus
 * VMIO_KVM_MODE=native, so wrappers inside do not recurse) and working
 * directory, on the host's root filesystem; stdin is forwarded, stdout and
 * stderr come back on the same streams, and the exit status is reproduced
 * exactly (a command killed by signal N kills this process with N).
 * Built a second time with NESTED_ARCH="aarch64" as vmio-kvm-exec-aarch64:
 * the command (an arm64 binary) runs in the nested AArch64 KVM VM (state in
 * state-aarch64 next to this program), natively only on an AArch64 host whose
 * /dev/kvm opens; VMIO_KVM_MODE and kvm-probe concern the x86 VM only.
 * Invariants: never reports a status the command did not produce: a lost VM
 * gives status 125 with a message naming the VM's console log; SIGINT,
 * SIGTERM and SIGHUP are forwarded to the command (a second one gives up).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"

#define LOST_STATUS 125

extern char **environ;

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char s = (unsigned char)sig;
    if (write(sig_pipe[1], &s, 1) < 0) {
        /* nothing to do: the pipe is full of signals already */
    }
    errno = saved;
}

/* The directory this program lives in (kvm-probe and the default state dir are there). */
static void self_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        snprintf(buf, size, ".");
        return;
    }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
}

/*
 * The VM's state folder: $VMIO_NESTED_STATE for the x86 VM, or
 * $VMIO_NESTED_STATE_<ARCH> for another architecture's (never the x86 one's:
 * make check runs both VMs at once, and an AArch64 binary sent to the x86
 * agent fails with ENOEXEC); else the state folder beside this program.
 */
static const char *state_dir(void)
{
    static char dir[PATH_MAX + 16];
#ifdef NESTED_ARCH
    char var[64];
    snprintf(var, sizeof(var), "VMIO_NESTED_STATE_%s", NESTED_ARCH);
    for (char *c = var; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    const char *env = getenv(var);
#else
    const char *env = getenv("VMIO_NESTED_STATE");
#endif
    if (env && *env)
        return env;
    char self[PATH_MAX];
    self_dir(self, sizeof(self));
#ifdef NESTED_ARCH
    snprintf(dir, sizeof(dir), "%s/state-%s", self, NESTED_ARCH);
#else
    snprintf(dir, sizeof(dir), "%s/state", self);
#endif
    return dir;
}

/* Run a helper program and return its exit status (-1 when it could not run). */
static int run_helper(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "vmio-kvm-exec: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* native or nested, from VMIO_KVM_MODE or the probe. */
static bool want_nested(void)
{
#ifdef NESTED_ARCH
#if defined(__aarch64__)
    return access("/dev/kvm", R_OK | W_OK) != 0; /* an AArch64 host with KVM runs it natively */
#else
    return true; /* another architecture's binaries always run in its nested VM */
#endif
#endif
    const char *mode = getenv("VMIO_KVM_MODE");
    if (mode && strcmp(mode, "native") == 0)
        return false;
    if (mode && strcmp(mode, "nested") == 0)
        return true;
    if (mode && *mode)
        fprintf(stderr, "vmio-kvm-exec: VMIO_KVM_MODE=%s is neither native nor nested; probing\n",
                mode);
    char self[PATH_MAX], probe[PATH_MAX + 16];
    self_dir(self, sizeof(self));
    snprintf(probe, sizeof(probe), "%s/kvm-probe", self);
    char *argv[] = {probe, "--quiet", NULL};
    return run_helper(argv) != 0;
}

static int connect_agent(const char *state)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/port", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned port = 0;
    int ok = fscanf(f, "%u", &port) == 1 && port > 0 && port < 65536;
    fclose(f);
    if (!ok)
        return -1;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(s);
        return -1;
    }
    return s;
}

/* Boot the nested VM (nested.py start is idempotent and locked). */
static int start_vm(const char *state)
{
#ifdef NESTED_ARCH
    char *argv[] = {"python3", NESTED_PY,   "start",  "--state", (char *)state,
                    "--arch",  NESTED_ARCH, "--idle", "600",     NULL};
#else
    char *argv[] = {"python3", NESTED_PY, "start", "--state", (char *)state, "--idle", "600", NULL};
#endif
    return run_helper(argv) == 0 ? 0 : -1;
}

/* Append a NUL-terminated string to a growing buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_add(struct buf *b, const char *s)
{
    size_t n = strlen(s) + 1;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int send_request(int s, char **argv)
{
    struct buf b = {0};
    char cwd[PATH_MAX], num[32];
    if (!getcwd(cwd, sizeof(cwd)))
        return -1;
    int rc = buf_add(&b, PROTO_VERSION) | buf_add(&b, cwd);
    int argc = 0;
    while (argv[argc])
        argc++;
    snprintf(num, sizeof(num), "%d", argc);
    rc |= buf_add(&b, num);
    for (int i = 0; i < argc; i++)
        rc |= buf_add(&b, argv[i]);
    int envc = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "VMIO_KVM_MODE=", 14) != 0)
            envc++;
    snprintf(num, sizeof(num), "%d", envc + 2);
    rc |= buf_add(&b, num);
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "VMIO_KVM_MODE=", 14) != 0)
            rc |= buf_add(&b, *e);
    rc |= buf_add(&b, "VMIO_KVM_MODE=native") | buf_add(&b, "VMIO_NESTED_INSIDE=1");
    if (rc == 0 && b.len > PROTO_MAX_PAYLOAD)
        rc = -1;
    if (rc == 0)
        rc = proto_send(s, PROTO_REQUEST, b.p, (uint32_t)b.len);
    free(b.p);
    return rc;
}

/* Reproduce the command's end: its exit status, or death by the same signal. */
static void reproduce_exit(const uint8_t *x)
{
    uint32_t v = x[1] | (uint32_t)x[2] << 8 | (uint32_t)x[3] << 16 | (uint32_t)x[4] << 24;
    if (x[0] == 0)
        exit((int)(v & 0xff));
    fflush(NULL);
    signal((int)v, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, (int)v);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise((int)v);
    exit(128 + (int)v); /* a signal whose default action is not to die */
}

static int relay(int s, const char *what)
{
    bool stdin_open = true;
    int signals = 0;
    for (;;) {
        struct pollfd p[3] = {
            {.fd = s, .events = POLLIN},
            {.fd = stdin_open ? 0 : -1, .events = POLLIN},
            {.fd = sig_pipe[0], .events = POLLIN},
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return LOST_STATUS;
        }
        if (p[2].revents) {
            unsigned char sig;
            if (read(sig_pipe[0], &sig, 1) == 1) {
                if (++signals > 1)
                    return 128 + sig;
                uint8_t b[4] = {sig, 0, 0, 0};
                proto_send(s, PROTO_KILL, b, sizeof(b));
            }
        }
        if (p[1].revents) {
            char data[65536];
            ssize_t n = read(0, data, sizeof(data));
            if (n < 0 && errno == EINTR)
                continue;
            if (n > 0) {
                proto_send(s, PROTO_STDIN, data, (uint32_t)n);
            } else {
                proto_send(s, PROTO_STDIN_EOF, NULL, 0);
                stdin_open = false;
            }
        }
        if (p[0].revents) {
            uint8_t type;
            uint32_t len;
            int rc = proto_recv_header(s, &type, &len);
            char *data = NULL;
            if (rc == 0 && len) {
                data = malloc(len);
                rc = data ? proto_read_all(s, data, len) : -ENOMEM;
            }
            if (rc < 0) {
                fprintf(stderr,
                        "vmio-kvm-exec: lost the nested VM before %s finished (%s); its console "
                        "log is %s/console.log\n",
                        what, strerror(-rc), state_dir());
                return LOST_STATUS;
            }
            if (type == PROTO_STDOUT)
                proto_write_all(1, data, len);
            else if (type == PROTO_STDERR)
                proto_write_all(2, data, len);
            else if (type == PROTO_EXIT && len == 5)
                reproduce_exit((const uint8_t *)data);
            else if (type == PROTO_FAILED) {
                fprintf(stderr, "vmio-kvm-exec: the nested VM refused %s: %.*s\n", what, (int)len,
                        data);
                return LOST_STATUS;
            }
            free(data);
        }
    }
}

static int run_nested(char **argv)
{
    const char *state = state_dir();
    int s = connect_agent(state);
    if (s < 0) {
        if (start_vm(state) < 0) {
            fprintf(stderr,
                    "vmio-kvm-exec: the nested KVM VM did not start; see %s/console.log and "
                    "docs/testing.md\n",
                    state);
            return LOST_STATUS;
        }
        s = connect_agent(state);
    }
    if (s < 0) {
        fprintf(stderr, "vmio-kvm-exec: cannot connect to the nested VM (%s): %s\n", state,
                strerror(errno));
        return LOST_STATUS;
    }
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return LOST_STATUS;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (send_request(s, argv) < 0) {
        fprintf(stderr, "vmio-kvm-exec: cannot send %s to the nested VM\n", argv[0]);
        return LOST_STATUS;
    }
    return relay(s, argv[0]);
}

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--") == 0)
        first = 2;
    if (first >= argc) {
        fprintf(stderr, "usage: vmio-kvm-exec COMMAND [ARG...]   (see docs/testing.md)\n");
        return 2;
    }
    if (!want_nested()) {
        execvp(argv[first], argv + first);
        fprintf(stderr, "vmio-kvm-exec: cannot run %s: %s\n", argv[first], strerror(errno));
        return 127;
    }
    return run_nested(argv + first);
}
