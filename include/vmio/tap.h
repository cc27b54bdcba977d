/*
 * TAP interfaces: a host network interface whose other end is a file
 * descriptor, one Ethernet frame per read(2) and per write(2). virtio-net
 * (vmio/virtio_net.h) puts the guest's frames on it.
 *
 * vmio opens a TAP the plain way, with offloads off: IFF_TAP | IFF_NO_PI (no
 * packet-information prefix), no IFF_VNET_HDR, and TUNSETOFFLOAD 0, so every
 * frame read is a whole, checksummed Ethernet frame of at most the
 * interface's MTU plus its headers (a persistent TAP keeps the offloads a
 * previous user turned on; they are turned off again here). The descriptor
 * is non-blocking and close-on-exec.
 *
 * An interface that does not exist is created for the run when the process
 * may (CAP_NET_ADMIN in the interface's network namespace); it then has no
 * address and goes away when the descriptor is closed. Usually the TAP is
 * made beforehand (`ip tuntap add dev NAME mode tap [user USER]`), addressed
 * and brought up by the host's administrator; vmio only attaches to it.
 *
 * Errors say which interface and why, with the remedy: /dev/net/tun missing
 * (the tun module), no permission, an interface of that name that is not a
 * TAP, a TAP already attached to another process.
 */
#ifndef VMIO_TAP_H
#define VMIO_TAP_H

#include <stdbool.h>

#include "vmio/error.h"

#define VMIO_TAP_NAME_MAX 15 /* IFNAMSIZ - 1 */
#define VMIO_TAP_DEFAULT_TUN "/dev/net/tun"

/*
 * vmio_tap_check_name - whether @name can name a network interface: 1 to
 * VMIO_TAP_NAME_MAX characters, none of them '/', ':', '%' or white space,
 * not "." or "..". Pure (nothing is opened).
 * Errors: -EINVAL, described in @err.
 */
int vmio_tap_check_name(const char *name, struct vmio_error *err);

/*
 * vmio_tap_open - attach to the TAP interface @name (checked with
 * vmio_tap_check_name()) through the clone device @tun_path (NULL:
 * VMIO_TAP_DEFAULT_TUN; tests give another path) as the file comment says.
 * *@created (may be NULL) tells whether the interface did not exist and was
 * made for this descriptor.
 * Returns the descriptor (>= 0; the caller owns it) or -errno: -EINVAL for a
 * bad name, an interface of that name that is not a TAP, or a @tun_path that
 * is not the tun driver; -ENOENT when the clone device is missing (the tun
 * module is not loaded, or a container without /dev/net/tun); -EPERM or
 * -EACCES without permission; -EBUSY for a TAP another process holds; other
 * -errno of open(2)/ioctl(2). Every error is described in @err, naming the
 * interface.
 */
int vmio_tap_open(const char *name, const char *tun_path, bool *created, struct vmio_error *err);

#endif
