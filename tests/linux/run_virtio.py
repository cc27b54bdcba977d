#!/usr/bin/env python3
"""virtio tests: Debian's stock cloud kernel under vmio with virtio-mmio devices.

Usage: run_virtio.py MODE VMIO INITRAMFS, MODE one of
  disk       --disk disk.img --disk ro.img,ro --rng (ioeventfd and irqfd on)
  fallback   the same with --no-ioeventfd --no-irqfd (notifications exit)
  console    --console virtio: the guest writes to hvc0 and reads a line the
             host sends on vmio's standard input
  config     a VM config (VirtioBlk, VmioVirtioRng) instead of options
  net        --net tap=...: inside a network namespace the test creates
             (net_host.py), the guest pings the host side of a TAP and moves
             files both ways over TCP; checksums must match on both sides
  net-config the same with a VirtioNet device in a VM config
INITRAMFS comes from make_virtio_initramfs.py (its /init.d/virtio.sh runs
the checks named by vmio.test=...).

The disk test: an ext4 image made with `mke2fs -d` holds input.bin (random
bytes); the guest prints its SHA-256 (must be the host's), writes
output.bin, prints its SHA-256, syncs, unmounts and powers off; the host then
reads output.bin back out of the image with `debugfs` and its SHA-256 must be
what the guest printed. The read-only disk must be seen as read-only, refuse
a write, mount read-only with the right checksum, and be unchanged on the
host afterwards. /dev/hwrng must be virtio_rng and give bytes. --stats must
show the paths used: by default no queue notification exits to vmio
(notify_exits=0: ioeventfd), nor any register read (a read-only view) or
InterruptACK (eventfds), so the transport's MMIO exits stay at the driver's
setup writes whatever the I/O; with --no-ioeventfd --no-irqfd notifications
exit and each interrupt costs its InterruptStatus read and InterruptACK
write.

The net test: `unshare --net` (util-linux) starts net_host.py in a new,
empty network namespace, where it makes the TAP vmtap0 with 10.76.0.1/24,
listens on ports 5001 and 5002 and runs vmio with --net tap=vmtap0 (so the
namespace, the TAP and every address exist only for the test, whichever
host or nested VM runs it). The guest finds its interface by the MAC given
on the command line, takes 10.76.0.2/24, pings 10.76.0.1, sends 2 MiB of
random bytes to port 5001 (the SHA-256 the host computed must be the one
the guest printed) and receives 1 MiB from port 5002 (the SHA-256 the guest
printed must be the file's). --stats: no notification exits (ioeventfd),
frames both ways, nothing dropped, the transport's MMIO exits at the
driver's setup.

Every VMM runs through the KVM wrapper (tests/nested/kvm.py). Exits 0 pass,
1 fail. Needs e2fsprogs (mke2fs, debugfs), and for net util-linux's unshare
and iproute2's ip, with root (or user namespaces) where vmio runs.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
import nested  # noqa: E402
from kvm import kvm  # noqa: E402

TIMEOUT = 300
KERNEL_PACKAGE = "linux-image-cloud-amd64"
BAD = re.compile(r"Kernel panic|Call Trace|WARNING:|BUG:|Oops|seccomp: refused")
INPUT_BYTES = 3 * 1024 * 1024 + 1234
# MMIO exits of a transport with its fast paths (reads from the register
# view, notifications and ACKs to eventfds): only the driver's setup writes
# (status, features, selectors, queue registers), about 20 for one queue,
# however much I/O follows.
SETUP_EXITS = 40


def tool(name):
    for d in [None, "/usr/sbin", "/sbin"]:
        p = shutil.which(name) if d is None else os.path.join(d, name)
        if p and os.path.exists(p):
            return p
    sys.exit("FAIL %s not found: install Debian's e2fsprogs" % name)


def kernel():
    vmlinuz, _ = nested.fetch_kernel(nested.cache_dir(), KERNEL_PACKAGE)
    return vmlinuz


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_image(tmp, name):
    """An ext4 image holding input.bin (random); returns (image path, input's SHA-256)."""
    root = os.path.join(tmp, name + ".root")
    os.makedirs(root)
    data = os.urandom(INPUT_BYTES)
    with open(os.path.join(root, "input.bin"), "wb") as f:
        f.write(data)
    img = os.path.join(tmp, name)
    r = subprocess.run([tool("mke2fs"), "-q", "-F", "-t", "ext4", "-d", root, img, "32M"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit("FAIL mke2fs: %s" % r.stdout.decode(errors="replace"))
    return img, hashlib.sha256(data).hexdigest()


def run(cmd, answer=None):
    """(status, output) of @cmd through the KVM wrapper, or None on a timeout.
    @answer: (prompt, bytes): once a line of the output contains prompt, the
    bytes are written to the command's standard input (then closed), as a
    person at the console would answer it."""
    print("run: " + " ".join(cmd))
    t0 = time.monotonic()
    p = subprocess.Popen(kvm(cmd), stdin=subprocess.PIPE if answer else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    lines = []
    for raw in p.stdout:
        lines.append(raw)
        if answer and answer[0].encode() in raw:
            p.stdin.write(answer[1])
            p.stdin.close()
            answer = None
    status = p.wait()
    timed_out = not timer.is_alive()
    timer.cancel()
    out = b"".join(lines).decode("utf-8", "replace").replace("\r\n", "\n")
    if timed_out:
        print("FAIL timed out after %d s; output so far:\n%s" % (TIMEOUT, out[-4000:]))
        return None
    print("vmio exited with %d after %.1f s" % (status, time.monotonic() - t0))
    return status, out


class Checks:
    def __init__(self, out):
        self.out = out
        self.ok = True

    def fail(self, msg):
        print("FAIL " + msg)
        self.ok = False

    def line(self, rx, what):
        m = re.search(rx, self.out, re.M)
        if not m:
            self.fail("%s: no line matching %r" % (what, rx))
        return m

    def equal(self, got, want, what):
        if got != want:
            self.fail("%s: %r, expected %r" % (what, got, want))
        else:
            print("ok   %s" % what)


def virtio_stats(out):
    """{device name: {key: value}} from vmio's --stats virtio lines."""
    stats = {}
    for m in re.finditer(r"^virtio (virtio-[^:]+): (.*)$", out, re.M):
        stats[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split() if "=" in kv)
    return stats


def device_exits(stats_json, name):
    with open(stats_json) as f:
        j = json.load(f)
    for d in j["by_device"]:
        if d["name"] == name:
            return d["stats"]["exits"]
    return None


def common_checks(c, status):
    if status != 0:
        c.fail("exit status %d, expected 0" % status)
    bad = [l for l in c.out.splitlines() if BAD.search(l)]
    if bad:
        c.fail("the kernel printed:\n  " + "\n  ".join(bad[:10]))
    c.line(r"^VMIO-TEST: done", "the checks ran to the end")
    c.line(r"reboot: Power down", "the guest powered off")
    fails = re.findall(r"^VMIO-TEST: .*FAIL.*$", c.out, re.M)
    for f in fails:
        c.fail("guest: " + f)


def disk_checks(c, tmp, disk, input_sha):
    m = c.line(r"^VMIO-TEST: input-sha256=([0-9a-f]{64})", "guest read input.bin")
    if m:
        c.equal(m.group(1), input_sha, "input.bin read by the guest has the host's SHA-256")
    m = c.line(r"^VMIO-TEST: output-sha256=([0-9a-f]{64})", "guest wrote output.bin")
    c.line(r"^VMIO-TEST: disk unmounted", "guest unmounted the disk")
    if m:
        dumped = os.path.join(tmp, "output.dumped")
        r = subprocess.run([tool("debugfs"), "-R", "dump /output.bin " + dumped, disk],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0 or not os.path.exists(dumped):
            c.fail("debugfs could not read output.bin: %s" % r.stdout.decode(errors="replace"))
        else:
            c.equal(sha256_file(dumped), m.group(1),
                    "output.bin read back from the image by debugfs has the guest's SHA-256")


def rng_checks(c):
    c.line(r"^VMIO-TEST: rng_current=virtio_rng", "/dev/hwrng is virtio_rng")
    c.line(r"^VMIO-TEST: hwrng bytes=4096$", "/dev/hwrng gives bytes")


def path_checks(c, stats_json, fast):
    st = virtio_stats(c.out)
    vda = st.get("virtio-blk vda")
    if not vda:
        c.fail("no --stats line for virtio-blk vda")
        return
    want = ("on",) * 4 if fast else ("off",) * 4
    c.equal(tuple(vda.get(k) for k in ["ioeventfd", "irqfd", "regview", "ackfd"]), want,
            "ioeventfd, irqfd, register view, ACK eventfds")
    kicks, exits_n = int(vda["kicks"]), int(vda["notify_exits"])
    reqs, irqs = int(vda["requests"]), int(vda["interrupts"])
    mmio = device_exits(stats_json, "virtio-blk vda")
    print("info vda: %d requests, %d kicks, %d notification exits, %d interrupts, %s MMIO exits "
          "in all (%.2f per request)" % (reqs, kicks, exits_n, irqs, mmio,
                                          (mmio or 0) / max(reqs, 1)))
    if reqs == 0 or kicks == 0:
        c.fail("the disk did no work")
    if fast:
        c.equal(exits_n, 0, "no queue notification exits to vmio (ioeventfd)")
        if mmio is None or mmio > SETUP_EXITS:
            c.fail("%s MMIO exits for %d requests and %d interrupts: more than the driver's "
                   "setup (%d)" % (mmio, reqs, irqs, SETUP_EXITS))
        else:
            print("ok   MMIO exits stay at the driver's setup: none per request or interrupt")
    elif mmio is None or mmio < 2 * irqs:
        c.fail("without the fast paths each interrupt must cost 2 exits (%s for %d)"
               % (mmio, irqs))
    elif exits_n == 0:
        c.fail("without ioeventfd, notifications must exit (notify_exits=0)")
    else:
        print("ok   notifications exit without ioeventfd (%d)" % exits_n)


def mode_disk(vmio, initrd, fast):
    with tempfile.TemporaryDirectory(prefix="vmio-virtio-") as tmp:
        disk, input_sha = make_image(tmp, "disk.img")
        ro, _ = make_image(tmp, "ro.img")
        ro_sha = sha256_file(ro)
        # ro.img got its own random input.bin: read its hash from the image
        ro_input = os.path.join(tmp, "ro.input")
        subprocess.run([tool("debugfs"), "-R", "dump /input.bin " + ro_input, ro],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stats_json = os.path.join(tmp, "stats.json")
        cmd = [vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initrd, "--cmdline",
               "console=ttyS0 panic=-1 vmio.test=disk,ro,rng", "--disk", disk, "--disk",
               ro + ",ro", "--rng", "--stats", "--stats-json", stats_json]
        if not fast:
            cmd += ["--no-ioeventfd", "--no-irqfd"]
        r = run(cmd + [kernel()])
        if r is None:
            return False
        c = Checks(r[1])
        common_checks(c, r[0])
        disk_checks(c, tmp, disk, input_sha)
        c.line(r"^VMIO-TEST: vdb ro=1$", "the kernel sees vdb read-only")
        c.line(r"^VMIO-TEST: ro write refused$", "a write to the read-only disk fails")
        m = c.line(r"^VMIO-TEST: ro-sha256=([0-9a-f]{64})", "read-only mount")
        if m:
            c.equal(m.group(1), sha256_file(ro_input), "input.bin on the read-only disk")
        c.equal(sha256_file(ro), ro_sha, "the read-only image is unchanged")
        rng_checks(c)
        path_checks(c, stats_json, fast)
        if not c.ok:
            print("---- output ----\n" + c.out[-8000:])
        return c.ok


def mode_console(vmio, initrd):
    cmd = [vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initrd, "--cmdline",
           "console=ttyS0 panic=-1 vmio.test=console vmio.hvc_in=1", "--console", "virtio",
           "--stats", kernel()]
    # Typed once the guest has hvc0 open (input that arrives before the port is
    # connected is dropped by Linux's virtio_console, as on any VMM).
    r = run(cmd, answer=("VMIO-HVC: hello from hvc0", b"ping-from-host\n"))
    if r is None:
        return False
    c = Checks(r[1])
    common_checks(c, r[0])
    c.line(r"^VMIO-HVC: hello from hvc0$", "the guest's hvc0 output reaches the host")
    c.line(r"^VMIO-HVC: got 'ping-from-host'$", "host input reaches the guest's hvc0")
    st = virtio_stats(c.out).get("virtio-console", {})
    if int(st.get("rx_bytes", 0)) != len("ping-from-host\n"):
        c.fail("virtio-console rx_bytes=%s, expected %d" % (st.get("rx_bytes"),
                                                            len("ping-from-host\n")))
    if not c.ok:
        print("---- output ----\n" + c.out[-8000:])
    return c.ok


CONFIG = '''[base]
id = 1
name = "linux-virtio"
vm_type = 1
cpu_num = 2
arch = "x86_64"

[kernel]
kernel_path = "{kernel}"
ramdisk_path = "{initrd}"
disk_path = "{disk}"
cmdline = "console=ttyS0 panic=-1 vmio.test=disk,rng"
memory_regions = [[0x0, 0x1000_0000, 0x7, 0]]

[devices]
interrupt_mode = "emulated"
emu_devices = [
    ["vda", 0xd000_4000, 0x200, 20, 0xe1, []],
    ["rng", 0xd000_5000, 0x1000, 21, 0xf3, []],
]
'''


def mode_config(vmio, initrd):
    with tempfile.TemporaryDirectory(prefix="vmio-virtio-") as tmp:
        disk, input_sha = make_image(tmp, "disk.img")
        cfg = os.path.join(tmp, "linux.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(kernel=kernel(), initrd=initrd, disk=disk))
        r = run([vmio, "run", "--stats", cfg])
        if r is None:
            return False
        c = Checks(r[1])
        common_checks(c, r[0])
        disk_checks(c, tmp, disk, input_sha)
        rng_checks(c)
        if not c.ok:
            print("---- output ----\n" + c.out[-8000:])
        return c.ok


NET_TAP = "vmtap0"
NET_HOST_IP = "10.76.0.1"
NET_GUEST_IP = "10.76.0.2"
NET_MAC = "02:76:6d:69:6f:2a"
NET_UP_KIB = 2048
NET_DOWN_BYTES = 1024 * 1024 + 4321
# The transport's MMIO exits with every fast path: the setup writes of two queues.
NET_SETUP_EXITS = 60


def net_checks(c, stats_json, down_sha):
    m = c.line(r"^VMIO-TEST: net dev=(\S+) driver=(\S+)", "the guest has an interface with our MAC")
    if m:
        c.equal(m.group(2), "virtio_net", "its driver")
    c.line(r"^VMIO-TEST: ping ok: 3 packets transmitted, 3 packets received",
           "the guest pings the host side of the TAP")
    up = c.line(r"^VMIO-TEST: net-up-sha256=([0-9a-f]{64})", "the guest sent a file")
    host = c.line(r"^VMIO-HOST: up bytes=(\d+) sha256=([0-9a-f]{64})", "the host received it")
    if up and host:
        c.equal(int(host.group(1)), NET_UP_KIB * 1024, "bytes the host received over TCP")
        c.equal(host.group(2), up.group(1), "the host's SHA-256 of them is the guest's")
    down = c.line(r"^VMIO-TEST: net-down-sha256=([0-9a-f]{64}) bytes=\s*(\d+)",
                  "the guest received a file")
    if down:
        c.equal(int(down.group(2)), NET_DOWN_BYTES, "bytes the guest received over TCP")
        c.equal(down.group(1), down_sha, "the guest's SHA-256 of them is the file's")
    c.line(r"^VMIO-HOST: down bytes=%d$" % NET_DOWN_BYTES, "the host sent the file")
    rate = re.search(r"^VMIO-HOST: up-mbps=(\S+)", c.out, re.M)
    name = "virtio-net " + NET_TAP
    st = virtio_stats(c.out).get(name)
    if not st:
        c.fail("no --stats line for " + name)
        return
    c.equal(tuple(st.get(k) for k in ["ioeventfd", "irqfd", "regview", "ackfd"]), ("on",) * 4,
            "ioeventfd, irqfd, register view, ACK eventfds")
    c.equal(st.get("notify_exits"), "0", "no queue notification exits to vmio (ioeventfd)")
    for k in ["rx_dropped", "tx_dropped", "tx_errors"]:
        c.equal(st.get(k), "0", k)
    if int(st.get("rx_frames", 0)) == 0 or int(st.get("tx_frames", 0)) == 0:
        c.fail("frames both ways: rx_frames=%s tx_frames=%s" % (st.get("rx_frames"),
                                                                st.get("tx_frames")))
    for line in c.out.splitlines():
        if line.startswith("virtio " + name + ":"):
            print("info " + line)
    mmio = device_exits(stats_json, name)
    print("info %s: rx %s frames %s bytes, tx %s frames %s bytes, rx_waits %s, tx_waits %s, "
          "kicks %s, interrupts %s, %s MMIO exits, upload %s Mbit/s as the host saw it"
          % (name, st.get("rx_frames"), st.get("rx_bytes"), st.get("tx_frames"),
             st.get("tx_bytes"), st.get("rx_waits"), st.get("tx_waits"), st.get("kicks"),
             st.get("interrupts"), mmio, rate.group(1) if rate else "?"))
    if mmio is None or mmio > NET_SETUP_EXITS:
        c.fail("%s MMIO exits: more than the driver's setup (%d)" % (mmio, NET_SETUP_EXITS))


NET_CONFIG = '''[base]
id = 1
name = "linux-virtio-net"
vm_type = 1
cpu_num = 2
arch = "x86_64"

[kernel]
kernel_path = "{kernel}"
ramdisk_path = "{initrd}"
cmdline = "{cmdline}"
memory_regions = [[0x0, 0x1000_0000, 0x7, 0]]

[devices]
interrupt_mode = "emulated"
emu_devices = [
    ["{tap}", 0xd000_6000, 0x200, 22, 0xe2, [0x{mac}]],
]
'''


def mode_net(vmio, initrd, config=False):
    with tempfile.TemporaryDirectory(prefix="vmio-virtio-") as tmp:
        down = os.urandom(NET_DOWN_BYTES)
        down_path = os.path.join(tmp, "down.bin")
        with open(down_path, "wb") as f:
            f.write(down)
        stats_json = os.path.join(tmp, "stats.json")
        # A network namespace of our own: root makes one directly; anyone else in a user
        # namespace where they are root.
        ns = ["unshare", "--net"] if os.geteuid() == 0 else \
            ["unshare", "--user", "--map-root-user", "--net"]
        cmdline = ("console=ttyS0 panic=-1 vmio.test=net vmio.net_mac=%s vmio.net_ip=%s "
                   "vmio.net_peer=%s vmio.net_kib=%d"
                   % (NET_MAC, NET_GUEST_IP, NET_HOST_IP, NET_UP_KIB))
        if config:
            cfg = os.path.join(tmp, "net.toml")
            with open(cfg, "w") as f:
                f.write(NET_CONFIG.format(kernel=kernel(), initrd=initrd, cmdline=cmdline,
                                          tap=NET_TAP, mac=NET_MAC.replace(":", "")))
            run_vmm = [vmio, "run", "--stats", "--stats-json", stats_json, cfg]
        else:
            run_vmm = [vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initrd,
                       "--cmdline", cmdline, "--net", "tap=%s,mac=%s" % (NET_TAP, NET_MAC),
                       "--stats", "--stats-json", stats_json, kernel()]
        cmd = ns + ["--", sys.executable, os.path.join(HERE, "net_host.py"), NET_TAP,
                    NET_HOST_IP, str(NET_UP_KIB * 1024), down_path, "--"] + run_vmm
        r = run(cmd)
        if r is None:
            return False
        c = Checks(r[1])
        common_checks(c, r[0])
        fails = re.findall(r"^VMIO-HOST: .*FAIL.*$", c.out, re.M)
        for f in fails:
            c.fail("host side: " + f)
        net_checks(c, stats_json, hashlib.sha256(down).hexdigest())
        if not c.ok:
            print("---- output ----\n" + c.out[-8000:])
        return c.ok


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    mode, vmio, initrd = argv[1], os.path.abspath(argv[2]), os.path.abspath(argv[3])
    if mode == "disk":
        ok = mode_disk(vmio, initrd, True)
    elif mode == "fallback":
        ok = mode_disk(vmio, initrd, False)
    elif mode == "console":
        ok = mode_console(vmio, initrd)
    elif mode == "config":
        ok = mode_config(vmio, initrd)
    elif mode == "net":
        ok = mode_net(vmio, initrd)
    elif mode == "net-config":
        ok = mode_net(vmio, initrd, config=True)
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
