/*
 * vmio-nested-agent: runs inside the nested KVM VM (see docs/testing.md) as
 * the VM's init process, chrooted into the host's root (mounted over 9p), and
 * runs the commands that vmio-kvm-exec sends from the host, one TCP
 * connection per command (protocol: proto.h).
 *
 * Each connection is served by its own forked process, which forks the
 * command in a new session (so a kill reaches all its processes), with
 * pipes for stdin, stdout and stderr, and relays them until the command
 * exits; then it sends the exit status exactly as waitpid() reported it.
 * Invariants:
 *   - a command whose connection closes before it exits is killed (SIGKILL
 *     to its process group): a test harness that times out leaves nothing
 *     running in the VM;
 *   - as PID 1 the agent reaps every orphan, and it never exits: it powers
 *     the VM off on a SHUTDOWN request, or after --idle seconds with no
 *     connection and no command running (0 = never);
 *   - output is relayed in order per stream; stdout and stderr stay separate.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static void die(const char *what)
{
    fprintf(stderr, "vmio-nested-agent: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Split a REQUEST payload into cwd, argv and envp (pointers into @p). NULL on malformed input. */
struct request {
    char *cwd;
    char **argv;
    char **envp;
};

static char *next_string(char **cur, char *end)
{
    char *s = *cur;
    char *nul = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;
    if (!nul)
        return NULL;
    *cur = nul + 1;
    return s;
}

static char **read_vector(char **cur, char *end)
{
    char *count = next_string(cur, end);
    if (!count)
        return NULL;
    char *stop;
    unsigned long n = strtoul(count, &stop, 10);
    if (*stop || n > 100000)
        return NULL;
    char **v = calloc(n + 1, sizeof(*v));
    if (!v)
        return NULL;
    for (unsigned long i = 0; i < n; i++) {
        v[i] = next_string(cur, end);
        if (!v[i]) {
            free(v);
            return NULL;
        }
    }
    return v;
}

static int parse_request(char *p, uint32_t len, struct request *r)
{
    char *cur = p, *end = p + len;
    char *version = next_string(&cur, end);
    if (!version || strcmp(version, PROTO_VERSION) != 0)
        return -1;
    r->cwd = next_string(&cur, end);
    r->argv = r->cwd ? read_vector(&cur, end) : NULL;
    r->envp = r->argv ? read_vector(&cur, end) : NULL;
    return r->envp && r->argv[0] ? 0 : -1;
}

/* The command's side of the fork: never returns. */
static void exec_command(const struct request *r, int in, int out, int err)
{
    setsid();
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir(r->cwd) < 0) {
        dprintf(2, "vmio-nested-agent: cannot enter %s: %s\n", r->cwd, strerror(errno));
        _exit(127);
    }
    extern char **environ;
    environ = r->envp; /* execvp searches the command's own PATH */
    execvp(r->argv[0], r->argv);
    dprintf(2, "vmio-nested-agent: cannot run %s: %s\n", r->argv[0], strerror(errno));
    _exit(127);
}

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Relay one pipe's available bytes as @type frames; returns false at end of file. */
static bool relay_output(int conn, int fd, uint8_t type)
{
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    proto_send(conn, type, buf, (uint32_t)n); /* a lost client is noticed on its socket */
    return true;
}

/* Serve one command on @conn after its REQUEST frame; never returns. */
static void serve_command(int conn, char *payload, uint32_t len)
{
    struct request r;
    if (parse_request(payload, len, &r) < 0) {
        const char msg[] = "malformed request (or protocol version mismatch)";
        proto_send(conn, PROTO_FAILED, msg, sizeof(msg) - 1);
        _exit(1);
    }
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        exec_command(&r, in[0], out[1], err[1]);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    int pidfd = pidfd_open_(pid);
    if (pidfd < 0)
        die("pidfd_open");
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    int stdin_fd = in[1];
    bool out_open = true, err_open = true, exited = false, conn_open = true;
    int status = 0;
    /* Run until the command has exited and its pipes are drained (or closed by it). */
    while (!exited || out_open || err_open) {
        struct pollfd p[4] = {
            {.fd = conn_open ? conn : -1, .events = POLLIN},
            {.fd = out_open ? out[0] : -1, .events = POLLIN},
            {.fd = err_open ? err[0] : -1, .events = POLLIN},
            {.fd = exited ? -1 : pidfd, .events = POLLIN},
        };
        /* Once the command has exited, a grandchild may keep a pipe open: drain, then stop. */
        int n = poll(p, 4, exited ? 0 : -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && exited)
            break;
        if (p[0].revents) {
            uint8_t type;
            uint32_t flen;
            char *data = NULL;
            int rc = proto_recv_header(conn, &type, &flen);
            if (rc == 0 && flen) {
                data = malloc(flen);
                rc = data ? proto_read_all(conn, data, flen) : -ENOMEM;
            }
            if (rc < 0) { /* the client is gone: nobody wants this command any more */
                conn_open = false;
                kill(-pid, SIGKILL);
            } else if (type == PROTO_STDIN && stdin_fd >= 0) {
                if (proto_write_all(stdin_fd, data, flen) < 0) {
                    close(stdin_fd); /* the command closed its stdin: drop the rest */
                    stdin_fd = -1;
                }
            } else if (type == PROTO_STDIN_EOF && stdin_fd >= 0) {
                close(stdin_fd);
                stdin_fd = -1;
            } else if (type == PROTO_KILL && flen == 4) {
                const uint8_t *b = (const uint8_t *)data;
                uint32_t sig = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
                kill(-pid, sig > 0 && sig < 65 ? (int)sig : SIGKILL);
            }
            free(data);
        }
        if (p[1].revents && !relay_output(conn, out[0], PROTO_STDOUT))
            out_open = false;
        if (p[2].revents && !relay_output(conn, err[0], PROTO_STDERR))
            err_open = false;
        if (p[3].revents) {
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            exited = true;
        }
    }
    if (!conn_open)
        _exit(0);
    uint8_t x[5];
    uint32_t v = WIFSIGNALED(status) ? (uint32_t)WTERMSIG(status) : (uint32_t)WEXITSTATUS(status);
    x[0] = WIFSIGNALED(status) ? 1 : 0;
    x[1] = (uint8_t)v;
    x[2] = (uint8_t)(v >> 8);
    x[3] = (uint8_t)(v >> 16);
    x[4] = (uint8_t)(v >> 24);
    proto_send(conn, PROTO_EXIT, x, sizeof(x));
    shutdown(conn, SHUT_WR);
    _exit(0);
}

static void power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    _exit(0); /* not PID 1 (a test run by hand): just stop */
}

/* Serve one connection (in a forked process); never returns. */
static void serve(int conn)
{
    uint8_t type;
    uint32_t len;
    if (proto_recv_header(conn, &type, &len) < 0)
        _exit(1);
    char *payload = malloc(len + 1u);
    if (!payload || proto_read_all(conn, payload, len) < 0)
        _exit(1);
    switch (type) {
    case PROTO_PING:
        proto_send(conn, PROTO_PING, PROTO_VERSION, sizeof(PROTO_VERSION) - 1);
        _exit(0);
    case PROTO_SHUTDOWN:
        power_off();
        break;
    case PROTO_REQUEST:
        serve_command(conn, payload, len);
        break;
    }
    _exit(1);
}

static uint64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

int main(int argc, char **argv)
{
    unsigned long idle = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc)
            idle = strtoul(argv[++i], NULL, 10);
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PROTO_AGENT_PORT)};
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 64) < 0)
        die("bind/listen");
    fprintf(stderr, "vmio-nested-agent: listening on port %d (idle limit %lu s)\n",
            PROTO_AGENT_PORT, idle);
    pid_t handlers[256]; /* connection handlers still running */
    unsigned active = 0;
    uint64_t last = now_s();
    for (;;) {
        struct pollfd p = {.fd = ls, .events = POLLIN};
        int n = poll(&p, 1, 1000);
        pid_t dead;
        int st;
        while ((dead = waitpid(-1, &st, WNOHANG)) > 0) { /* handlers and reparented orphans */
            for (unsigned i = 0; i < active; i++)
                if (handlers[i] == dead)
                    handlers[i] = handlers[--active];
        }
        if (n > 0) {
            int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
            if (conn < 0)
                continue;
            if (active == sizeof(handlers) / sizeof(handlers[0])) {
                close(conn); /* the client reports the lost connection */
                continue;
            }
            pid_t pid = fork();
            if (pid == 0) {
                close(ls);
                serve(conn);
            }
            close(conn);
            if (pid > 0)
                handlers[active++] = pid;
            last = now_s();
        }
        if (active)
            last = now_s();
        if (idle && now_s() - last >= idle) {
            fprintf(stderr, "vmio-nested-agent: idle for %lu s, powering off\n", idle);
            power_off();
        }
    }
}
