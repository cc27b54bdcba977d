#!/usr/bin/env python3
"""The AArch64 virtio test's initramfs: usage make_virtio_initramfs.py OUTPUT.cpio.gz

What tests/linux/make_virtio_initramfs.py builds for x86 (the same /init and
/init.d/virtio.sh, whose vmio.test=disk,ro,rng checks print "VMIO-TEST:"
lines), with Debian's arm64 pieces: the static busybox of busybox-static:arm64
and, from linux-image-arm64 (the kernel the AArch64 Linux test boots), the
virtio modules (virtio_mmio, virtio_blk, virtio_rng, virtio_console and what
they depend on)
and ext4 with crc32c_generic (modules there, built in on the x86 cloud kernel).
Both are downloaded and unpacked by tests/nested/nested.py, never installed.
Deterministic: the same inputs give the same bytes.
"""
import gzip
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
sys.path.insert(0, os.path.join(HERE, "..", "linux"))
import cpio  # noqa: E402
import make_initramfs  # noqa: E402  (INIT, APPLETS)
import make_virtio_initramfs as x86  # noqa: E402  (VIRTIO_SH, EXTRA_APPLETS)
import nested  # noqa: E402

MODULES = ["virtio_mmio", "virtio_blk", "virtio_rng", "virtio_console", "crc32c_generic",
           "ext4"]


def main():
    out = sys.argv[1]
    nested.ARCH = "aarch64"
    cache = nested.cache_dir()
    _, moddir = nested.fetch_kernel(cache, nested.ARCHES["aarch64"]["meta"])
    mods = nested.module_order(moddir, MODULES)
    a = cpio.Archive()
    for d in ["bin", "dev", "proc", "sys", "tmp", "mnt", "init.d", "lib", "lib/vmio-modules"]:
        a.add_dir(d)
    a.add_file("bin/busybox", nested.static_busybox(cache), 0o755)
    for applet in sorted(set(make_initramfs.APPLETS + x86.EXTRA_APPLETS)):
        a.add_symlink("bin/" + applet, "busybox")
    names = []
    for rel in mods:
        name = os.path.basename(rel)
        with open(os.path.join(moddir, rel), "rb") as f:
            a.add_file("lib/vmio-modules/" + name, f.read(), 0o644)
        names.append(name)
    a.add_file("lib/vmio-modules/order", ("\n".join(names) + "\n").encode(), 0o644)
    a.add_file("init.d/virtio.sh", x86.VIRTIO_SH.encode(), 0o644)
    a.add_file("init", make_initramfs.INIT, 0o755)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as z:
        z.write(a.finish())
    with open(out, "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
