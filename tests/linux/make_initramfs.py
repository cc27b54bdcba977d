#!/usr/bin/env python3
"""Build the Linux boot test's initramfs: usage make_initramfs.py OUTPUT.cpio.gz

A static busybox (Debian's busybox-static) and an /init that prints the
milestones the test checks, then powers the machine off:
  VMIO-INIT: up                 init runs
  VMIO-INIT: cpus=N             processors the kernel brought up
  VMIO-INIT: <extra lines>      from /init.d/*.sh when present
then ends the way the kernel command line says: vmio.end=reboot (reboot -f:
ACPI reset register), vmio.end=panic (a kernel crash through sysrq: with
panic=-1 the kernel reboots), or by default poweroff -f (ACPI S5 through the
FADT's sleep control register). Each must end the VMM with status 0. The
second before a reboot or a crash lets the serial line drain the marker:
the kernel's own messages would otherwise cut into it.
Deterministic: the same busybox gives the same bytes.
"""
import gzip
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
import cpio  # noqa: E402
import nested  # noqa: E402

INIT = b"""#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "VMIO-INIT: up"
echo "VMIO-INIT: cpus=$(grep -c ^processor /proc/cpuinfo)"
for f in /init.d/*.sh; do [ -e "$f" ] && . "$f"; done
case " $(cat /proc/cmdline) " in
*" vmio.end=reboot "*) echo "VMIO-INIT: rebooting"; sleep 1; reboot -f ;;
*" vmio.end=panic "*) echo "VMIO-INIT: panicking"; sleep 1; echo c > /proc/sysrq-trigger ;;
esac
echo "VMIO-INIT: powering off"
poweroff -f
"""

APPLETS = ["sh", "mount", "poweroff", "reboot", "cat", "echo", "grep", "ls", "sync", "sleep",
           "sha256sum", "dd", "mkdir", "umount", "ip", "ping", "nc", "wc", "head", "tr"]


def main():
    out = sys.argv[1]
    a = cpio.Archive()
    for d in ["bin", "dev", "proc", "sys", "tmp", "mnt", "init.d"]:
        a.add_dir(d)
    a.add_file("bin/busybox", nested.static_busybox(), 0o755)
    for applet in APPLETS:
        a.add_symlink("bin/" + applet, "busybox")
    a.add_file("init", INIT, 0o755)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as z:
        z.write(a.finish())
    with open(out, "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
