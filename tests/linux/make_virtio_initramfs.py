#!/usr/bin/env python3
"""Build the virtio tests' initramfs: usage make_virtio_initramfs.py OUTPUT.cpio.gz [BLKBENCH]

The Linux boot test's initramfs (make_initramfs.py: busybox, the /init that
prints VMIO-INIT markers and powers off) plus the virtio modules of the same
kernel package the tests boot (Debian's linux-image-cloud-amd64:
virtio_mmio, virtio_blk, virtio_rng, virtio_console, virtio_net and what
they depend on, read from each module's .modinfo) and /init.d/virtio.sh, which loads
them and runs the checks the kernel command line asks for:

  vmio.test=a,b,...   any of
    disk      mount /dev/vda (ext4), print the SHA-256 of /input.bin, write
              /output.bin (random, vmio.out_kib KiB, default 1024), print
              its SHA-256, sync, unmount
    ro        /dev/vdb is read-only: the kernel says so, a write to it fails,
              a read-only mount reads /input.bin (its SHA-256 printed)
    rng       /dev/hwrng is virtio_rng and gives 4096 bytes
    console   write a line to /dev/hvc0; with vmio.hvc_in=1 also read one
              line from it and write it back
    net       the interface whose MAC is vmio.net_mac gets vmio.net_ip/24;
              ping vmio.net_peer (3 echoes), then over TCP (busybox nc):
              send vmio.net_kib KiB of random bytes to the peer's port 5001
              (their SHA-256 printed; the peer prints what it received) and
              receive what the peer's port 5002 sends (its SHA-256 and size
              printed)
    netbench  the same interface setup, then vmio.bench_mib MiB (default 8)
              of zeros to the peer's port 5001 and whatever its port 5002
              sends, each between VMIO-BENCH start and end lines, for
              bench/virtio_net_bench.py (which times them on the host)
    bench     /bin/vmio-blkbench (BLKBENCH, bench/virtio_blkbench.c: timed
              O_DIRECT reads of /dev/vda, vmio.bench_mib MiB sequential and
              vmio.bench_ops random 4 KiB ones; VMIO-BENCH lines), for
              bench/virtio_bench.py

Every result is a line "VMIO-TEST: ..." on the console (COM1 unless the
command line says otherwise); run_virtio.py checks them.
Deterministic: the same inputs give the same bytes.
"""
import gzip
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
sys.path.insert(0, HERE)
import cpio  # noqa: E402
import make_initramfs  # noqa: E402
import nested  # noqa: E402

KERNEL_PACKAGE = "linux-image-cloud-amd64"
MODULES = ["virtio_mmio", "virtio_blk", "virtio_rng", "virtio_console", "virtio_net"]
EXTRA_APPLETS = ["insmod", "blockdev", "cut", "time", "seq", "printf", "date", "stat", "awk",
                 "cmp", "expr", "basename", "readlink", "tail"]

VIRTIO_SH = r"""
arg() { tr ' ' '\n' < /proc/cmdline | grep "^vmio.$1=" | head -n 1 | cut -d= -f2; }
for m in $(cat /lib/vmio-modules/order); do
    insmod /lib/vmio-modules/$m || echo "VMIO-TEST: insmod $m FAIL"
done
tests=$(arg test | tr ',' ' ')
# net_up: the interface whose MAC is vmio.net_mac gets vmio.net_ip/24, up; sets dev and peer.
net_up() {
    mac=$(arg net_mac); ip4=$(arg net_ip); peer=$(arg net_peer)
    dev=
    for d in /sys/class/net/*; do
        [ "$(cat $d/address)" = "$mac" ] && dev=$(basename $d)
    done
    if [ -z "$dev" ]; then
        echo "VMIO-TEST: net FAIL: no interface has the MAC $mac: $(cat /sys/class/net/*/address)"
        return 1
    fi
    echo "VMIO-TEST: net dev=$dev driver=$(basename $(readlink /sys/class/net/$dev/device/driver))"
    ip link set lo up
    ip addr add $ip4/24 dev $dev
    ip link set $dev up
}
echo "VMIO-TEST: modules loaded; tests: $tests"
# The result lines share the console with the kernel's messages, and a message
# printed while a line still drains cuts it in two (seen once: an ext4 unmount
# notice inside a SHA-256). From here on only warnings and worse reach the
# console (console_loglevel 5): the checks' mounts stay quiet, and the
# runners still see every WARNING, BUG, Oops and panic.
echo 5 > /proc/sys/kernel/printk
for t in $tests; do
    case $t in
    disk)
        mkdir -p /mnt/vda
        if mount -t ext4 /dev/vda /mnt/vda; then
            echo "VMIO-TEST: input-sha256=$(sha256sum /mnt/vda/input.bin | cut -d' ' -f1)"
            kib=$(arg out_kib); [ -n "$kib" ] || kib=1024
            dd if=/dev/urandom of=/mnt/vda/output.bin bs=1024 count=$kib 2>/dev/null
            echo "VMIO-TEST: output-sha256=$(sha256sum /mnt/vda/output.bin | cut -d' ' -f1)"
            sync
            umount /mnt/vda && echo "VMIO-TEST: disk unmounted"
        else
            echo "VMIO-TEST: disk FAIL: cannot mount /dev/vda"
        fi ;;
    ro)
        echo "VMIO-TEST: vdb ro=$(cat /sys/block/vdb/ro)"
        if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 2>/dev/null; then
            echo "VMIO-TEST: ro FAIL: a write to /dev/vdb succeeded"
        else
            echo "VMIO-TEST: ro write refused"
        fi
        mkdir -p /mnt/vdb
        if mount -t ext4 -o ro /dev/vdb /mnt/vdb; then
            echo "VMIO-TEST: ro-sha256=$(sha256sum /mnt/vdb/input.bin | cut -d' ' -f1)"
            umount /mnt/vdb
        else
            echo "VMIO-TEST: ro FAIL: cannot mount /dev/vdb read-only"
        fi ;;
    rng)
        echo "VMIO-TEST: rng_current=$(cat /sys/class/misc/hw_random/rng_current)"
        echo "VMIO-TEST: hwrng bytes=$(head -c 4096 /dev/hwrng | wc -c)" ;;
    console)
        exec 3<>/dev/hvc0
        echo "VMIO-HVC: hello from hvc0" >&3
        if [ "$(arg hvc_in)" = 1 ]; then
            if read -r -t 60 line <&3; then
                echo "VMIO-HVC: got '$line'" >&3
            else
                echo "VMIO-TEST: console FAIL: nothing read from hvc0"
            fi
        fi
        exec 3>&- ;;
    net)
        kib=$(arg net_kib); [ -n "$kib" ] || kib=2048
        if net_up; then
            if ping -c 3 -w 60 $peer > /tmp/ping.out 2>&1; then
                echo "VMIO-TEST: ping ok: $(grep 'packets transmitted' /tmp/ping.out)"
            else
                echo "VMIO-TEST: net FAIL: ping $peer: $(tail -n 3 /tmp/ping.out | tr '\n' ' ')"
            fi
            dd if=/dev/urandom of=/tmp/up.bin bs=1024 count=$kib 2>/dev/null
            echo "VMIO-TEST: net-up-sha256=$(sha256sum /tmp/up.bin | cut -d' ' -f1)"
            nc $peer 5001 < /tmp/up.bin || echo "VMIO-TEST: net FAIL: nc to port 5001"
            nc $peer 5002 < /dev/null > /tmp/down.bin || echo "VMIO-TEST: net FAIL: nc to port 5002"
            echo "VMIO-TEST: net-down-sha256=$(sha256sum /tmp/down.bin | cut -d' ' -f1) bytes=$(wc -c < /tmp/down.bin)"
        fi ;;
    netbench)
        mib=$(arg bench_mib); [ -n "$mib" ] || mib=8
        if net_up; then
            ping -c 1 -w 60 $peer > /dev/null 2>&1
            echo "VMIO-BENCH: net-up-start"
            dd if=/dev/zero bs=65536 count=$((mib * 16)) 2>/dev/null | nc $peer 5001
            echo "VMIO-BENCH: net-up-end"
            echo "VMIO-BENCH: net-down-start"
            nc $peer 5002 < /dev/null | wc -c > /tmp/down.n
            echo "VMIO-BENCH: net-down-end bytes=$(cat /tmp/down.n)"
        fi ;;
    bench)
        mib=$(arg bench_mib); [ -n "$mib" ] || mib=64
        ops=$(arg bench_ops); [ -n "$ops" ] || ops=2000
        /bin/vmio-blkbench /dev/vda $mib $ops ;;
    esac
done
echo "VMIO-TEST: done"
"""


def main():
    out = sys.argv[1]
    _, moddir = nested.fetch_kernel(nested.cache_dir(), KERNEL_PACKAGE)
    mods = nested.module_order(moddir, MODULES)
    a = cpio.Archive()
    for d in ["bin", "dev", "proc", "sys", "tmp", "mnt", "init.d", "lib", "lib/vmio-modules"]:
        a.add_dir(d)
    a.add_file("bin/busybox", nested.static_busybox(), 0o755)
    for applet in sorted(set(make_initramfs.APPLETS + EXTRA_APPLETS)):
        a.add_symlink("bin/" + applet, "busybox")
    bench = sys.argv[2] if len(sys.argv) > 2 else None
    if bench:
        with open(bench, "rb") as f:
            a.add_file("bin/vmio-blkbench", f.read(), 0o755)
    names = []
    for rel in mods:
        name = os.path.basename(rel)
        with open(os.path.join(moddir, rel), "rb") as f:
            a.add_file("lib/vmio-modules/" + name, f.read(), 0o644)
        names.append(name)
    a.add_file("lib/vmio-modules/order", ("\n".join(names) + "\n").encode(), 0o644)
    a.add_file("init.d/virtio.sh", VIRTIO_SH.encode(), 0o644)
    a.add_file("init", make_initramfs.INIT, 0o755)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as z:
        z.write(a.finish())
    with open(out, "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
