/*
 * TAP interfaces (see vmio/tap.h): open the tun clone device, attach it to
 * an interface by name, offloads off.
 *
 * Invariants:
 *   - A name reaches the kernel only after vmio_tap_check_name() accepted it,
 *     so it fits in ifr_name with its NUL and has no '%' (the kernel would
 *     treat "%d" as "pick a number" and attach somewhere else).
 *   - On any failure the descriptor is closed: the caller gets a working
 *     TAP or nothing.
 *   - Every message names the interface and, for the clone device, its path.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmio/tap.h"

int vmio_tap_check_name(const char *name, struct vmio_error *err)
{
    if (!name || !*name)
        return vmio_error_set(err, -EINVAL, "a TAP interface needs a name");
    size_t len = strlen(name);
    if (len > VMIO_TAP_NAME_MAX)
        return vmio_error_set(err, -EINVAL,
                              "TAP interface name '%.32s%s' is longer than %d characters", name,
                              len > 32 ? "..." : "", VMIO_TAP_NAME_MAX);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return vmio_error_set(err, -EINVAL, "'%s' cannot name a network interface", name);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c == ':' || c == '%' || isspace(c) || !isprint(c))
            return vmio_error_set(err, -EINVAL,
                                  "TAP interface name '%s' has a character a network interface "
                                  "name cannot have ('/', ':', '%%', white space or a control "
                                  "character)",
                                  name);
    }
    return 0;
}

/* The message for a failed TUNSETIFF on @name (@existed: an interface of that name was there). */
static int setiff_error(const char *name, const char *tun, bool existed, int e,
                        struct vmio_error *err)
{
    switch (e) {
    case EPERM:
    case EACCES:
        if (existed)
            return vmio_error_set(err, -e,
                                  "TAP %s: attaching is not allowed (TUNSETIFF: %s): the TAP "
                                  "belongs to another user or group (make it with `ip tuntap add "
                                  "dev %s mode tap user USER`) or vmio needs CAP_NET_ADMIN",
                                  name, strerror(e), name);
        return vmio_error_set(err, -e,
                              "TAP %s does not exist and vmio may not create it (TUNSETIFF: %s): "
                              "create it first (`ip tuntap add dev %s mode tap user USER`, then "
                              "give it an address and bring it up) or run with CAP_NET_ADMIN",
                              name, strerror(e), name);
    case EBUSY:
        return vmio_error_set(err, -e,
                              "TAP %s is already attached to another process (TUNSETIFF: %s): "
                              "a TAP without multi_queue takes one; use another TAP",
                              name, strerror(e));
    case EINVAL:
        return vmio_error_set(err, -e,
                              "%s is not a TAP interface vmio can attach to (TUNSETIFF: %s): "
                              "an interface of that name exists and is not a TAP (a TUN, or "
                              "another kind), or it was made with multi_queue",
                              name, strerror(e));
    case ENOTTY:
        return vmio_error_set(err, -EINVAL,
                              "TAP %s: %s is not the tun driver's clone device (TUNSETIFF: %s)",
                              name, tun, strerror(e));
    default:
        return vmio_error_set(err, -e, "TAP %s: TUNSETIFF on %s: %s", name, tun, strerror(e));
    }
}

int vmio_tap_open(const char *name, const char *tun_path, bool *created, struct vmio_error *err)
{
    int rc = vmio_tap_check_name(name, err);
    if (rc < 0)
        return rc;
    const char *tun = tun_path ? tun_path : VMIO_TAP_DEFAULT_TUN;
    bool existed = if_nametoindex(name) != 0;
    int fd = open(tun, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return vmio_error_set(err, -e,
                                  "TAP %s: cannot open %s: %s: the tun driver is missing (load "
                                  "it: modprobe tun; a container needs the device passed in)",
                                  name, tun, strerror(e));
        if (e == EACCES || e == EPERM)
            return vmio_error_set(err, -e,
                                  "TAP %s: cannot open %s: %s: vmio needs read and write access "
                                  "to it",
                                  name, tun, strerror(e));
        return vmio_error_set(err, -e, "TAP %s: cannot open %s: %s", name, tun, strerror(e));
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name, strlen(name)); /* checked: at most IFNAMSIZ - 1 */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return setiff_error(name, tun, existed, e, err);
    }
    /* A persistent TAP keeps the offloads its last user set: no checksum or segmentation
     * offload may reach a descriptor without the virtio-net header. */
    if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
        int e = errno;
        close(fd);
        return vmio_error_set(err, -e, "TAP %s: cannot turn its offloads off (TUNSETOFFLOAD): %s",
                              name, strerror(e));
    }
    if (created)
        *created = !existed;
    return fd;
}
