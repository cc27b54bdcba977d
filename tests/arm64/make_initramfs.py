#!/usr/bin/env python3
"""The AArch64 Linux test's initramfs: usage make_initramfs.py OUTPUT.cpio.gz

The same /init as the x86 Linux test (tests/linux/make_initramfs.py: the
VMIO-INIT milestones, then poweroff -f, which becomes PSCI SYSTEM_OFF on
arm64) with Debian's arm64 static busybox (busybox-static:arm64, downloaded
and unpacked by tests/nested/nested.py, never installed). Deterministic.
"""
import gzip
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
sys.path.insert(0, os.path.join(HERE, "..", "linux"))
import cpio  # noqa: E402
import make_initramfs as x86  # noqa: E402  (its INIT and APPLETS)
import nested  # noqa: E402


def main():
    out = sys.argv[1]
    nested.ARCH = "aarch64"
    a = cpio.Archive()
    for d in ["bin", "dev", "proc", "sys", "tmp", "mnt", "init.d"]:
        a.add_dir(d)
    a.add_file("bin/busybox", nested.static_busybox(nested.cache_dir()), 0o755)
    for applet in x86.APPLETS:
        a.add_symlink("bin/" + applet, "busybox")
    a.add_file("init", x86.INIT, 0o755)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as z:
        z.write(a.finish())
    with open(out, "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
