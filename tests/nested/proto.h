/*
 * The wire protocol between vmio-kvm-exec (on the host) and
 * vmio-nested-agent (inside the nested KVM VM), over one TCP connection per
 * command (QEMU user networking forwards a host loopback port to the agent).
 *
 * Every message is a frame: 1 byte type, 4 bytes little-endian payload
 * length (at most PROTO_MAX_PAYLOAD), then the payload. One connection
 * carries exactly one of:
 *   ping:     client PING            -> agent PING (then close)
 *   shutdown: client SHUTDOWN        -> agent syncs and powers the VM off
 *   command:  client REQUEST, then any number of STDIN, one STDIN_EOF,
 *             and KILL frames;  agent STDOUT/STDERR frames, then exactly one
 *             EXIT (or FAILED when the command could not be started).
 * A connection that closes before EXIT means the command is killed (agent
 * side) or lost (client side: a clear error, never a made-up status).
 *
 * REQUEST payload: NUL-terminated strings: PROTO_VERSION, cwd, argc (decimal),
 * argv[0..argc-1], envc (decimal), env[0..envc-1].
 * EXIT payload: 1 byte (0 exited, 1 killed by a signal), 4 bytes LE value
 * (the exit status or the signal number).
 */
#ifndef VMIO_NESTED_PROTO_H
#define VMIO_NESTED_PROTO_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define PROTO_VERSION "vmio-nested-1"
#define PROTO_MAX_PAYLOAD (1u << 20)
#define PROTO_AGENT_PORT 7000

enum proto_type {
    PROTO_PING = 'P',
    PROTO_SHUTDOWN = 'S',
    PROTO_REQUEST = 'R',
    PROTO_STDIN = 'I',
    PROTO_STDIN_EOF = 'i',
    PROTO_KILL = 'K',
    PROTO_STDOUT = 'O',
    PROTO_STDERR = 'E',
    PROTO_EXIT = 'X',
    PROTO_FAILED = 'F',
};

/* Write all @len bytes of @buf to @fd (retrying EINTR and short writes). 0 or -errno. */
static inline int proto_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read exactly @len bytes. 0, -EPIPE on end of file, or -errno. */
static inline int proto_read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Send one frame. 0 or -errno. */
static inline int proto_send(int fd, uint8_t type, const void *payload, uint32_t len)
{
    uint8_t hdr[5] = {type, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                      (uint8_t)(len >> 24)};
    int rc = proto_write_all(fd, hdr, sizeof(hdr));
    return rc == 0 && len ? proto_write_all(fd, payload, len) : rc;
}

/*
 * Receive one frame header: its type and payload length. -EPROTO for a
 * length over PROTO_MAX_PAYLOAD. The caller then reads the payload.
 */
static inline int proto_recv_header(int fd, uint8_t *type, uint32_t *len)
{
    uint8_t hdr[5];
    int rc = proto_read_all(fd, hdr, sizeof(hdr));
    if (rc < 0)
        return rc;
    *type = hdr[0];
    *len = (uint32_t)hdr[1] | (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3] << 16 |
           (uint32_t)hdr[4] << 24;
    return *len > PROTO_MAX_PAYLOAD ? -EPROTO : 0;
}

#endif
