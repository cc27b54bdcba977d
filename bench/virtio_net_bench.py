#!/usr/bin/env python3
"""virtio-net benchmark: TCP over a TAP, vmio and QEMU microvm side by side,
same kernel and initramfs, in the same (nested or native) KVM.

Usage: virtio_net_bench.py [--kvm-exec PATH] [--reps N] [--mib M] VMIO INITRAMFS

INITRAMFS is make_virtio_initramfs.py's (its `netbench` test). The measuring
half runs where KVM works (`--inner`, through vmio-kvm-exec: natively or in
the nested KVM VM, docs/testing.md), inside a network namespace of its own
(`unshare --net`): a TAP vmbench0 with 10.77.0.1/24 and two TCP servers. The
guest (Debian's linux-image-cloud-amd64, 2 vCPUs, 256 MiB, 10.77.0.2/24)
sends M MiB (default 8) of zeros to port 5001 with busybox nc (up: guest to
host) and then reads M MiB from port 5002 (down: host to guest). The host
times each transfer, from its first byte to the guest closing the
connection, and counts between those points the CPU time of all the VMM's
threads (/proc/PID/task/*/schedstat) and KVM's exits (debugfs, all VMs: run
nothing else).

VMMs: vmio (--net tap=vmbench0: no offloads), QEMU microvm with
`-device virtio-net-device` on `-netdev tap` (vhost off, QEMU's defaults:
checksum and segmentation offloads on through the TAP's vnet header), and
the same QEMU with every offload turned off (like for like with vmio). It
prints a table and one JSON object ({"mib": ..., "vmio": {"up": {...},
"down": {...}}, "qemu": ..., "qemu-nooffload": ...}); with VMIO_BENCH_JSON
set (run_benches.py) the JSON also goes to that file. Never passes or fails:
it exits non-zero only when something could not run.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "nested"))
import nested  # noqa: E402

sys.path.insert(0, HERE)
# The same kernel, KVM exit counters, CPU time, halt polling and JSON as the block benchmark.
from virtio_bench import (  # noqa: E402
    cpu_ns, forward_result, kernel, kvm_counters, set_halt_poll)

TAP = "vmbench0"
HOST_IP, GUEST_IP = "10.77.0.1", "10.77.0.2"
MAC = "02:76:6d:69:6f:b0"
TIMEOUT = 900
QEMU_NO_OFFLOAD = ("csum=off,guest_csum=off,gso=off,guest_tso4=off,guest_tso6=off,"
                   "guest_ecn=off,guest_ufo=off,host_tso4=off,host_tso6=off,host_ecn=off,"
                   "host_ufo=off")


# ---- the measuring half (runs where KVM is, in its own network namespace) ----

class Transfer(threading.Thread):
    """One connection on @sock: receive until EOF (up) or send @nbytes (down); records the
    bytes, the time from the first byte to the guest's close, and the VMM's counters."""

    def __init__(self, sock, nbytes, pid_box):
        super().__init__(daemon=True)
        self.sock, self.nbytes, self.pid_box = sock, nbytes, pid_box
        self.n, self.secs, self.delta, self.err = 0, None, {}, None

    def snap(self):
        s = kvm_counters()
        s["cpu_ns"] = cpu_ns(self.pid_box[0])
        return s

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                if self.nbytes is None:  # up: the guest sends
                    b = conn.recv(1 << 16)
                    t0, s0 = time.monotonic(), self.snap()
                    while b:
                        self.n += len(b)
                        b = conn.recv(1 << 16)
                else:  # down: the guest receives
                    t0, s0 = time.monotonic(), self.snap()
                    chunk = bytes(1 << 16)
                    left = self.nbytes
                    while left > 0:
                        k = conn.send(chunk[:min(left, len(chunk))])
                        left -= k
                        self.n += k
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(4096):
                        pass
                self.secs = time.monotonic() - t0
                s1 = self.snap()
                self.delta = {k: s1[k] - s0[k] for k in s1 if k in s0}
        except OSError as e:
            self.err = str(e)


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST_IP, port))
    s.listen(1)
    return s


def measure(name, cmd, mib, up_sock, down_sock):
    print("run %s: %s" % (name, " ".join(cmd)), flush=True)
    pid_box = [0]
    up = Transfer(up_sock, None, pid_box)
    down = Transfer(down_sock, mib << 20, pid_box)
    up.start()
    down.start()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    pid_box[0] = p.pid
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    out = [raw.decode("utf-8", "replace").rstrip("\r\n") for raw in p.stdout]
    status = p.wait()
    timer.cancel()
    up.join(10)
    down.join(10)
    if status != 0 or up.secs is None or down.secs is None or up.n != mib << 20:
        sys.stdout.write("\n".join(out[-60:]) + "\n")
        raise RuntimeError("%s: exit status %d, up %s bytes (%s), down %s bytes (%s)" % (
            name, status, up.n, up.err, down.n, down.err))
    got = re.search(r"VMIO-BENCH: net-down-end bytes=\s*(\d+)", "\n".join(out))
    if not got or int(got.group(1)) != mib << 20:
        raise RuntimeError("%s: the guest received %s bytes" % (name, got and got.group(1)))
    return {d: {"bytes": t.n, "secs": t.secs, **t.delta} for d, t in (("up", up), ("down", down))}


def summarize(r):
    d = {"mbit_per_s": round(r["bytes"] * 8 / r["secs"] / 1e6, 1), "ms": round(r["secs"] * 1e3, 1)}
    mib = r["bytes"] / (1 << 20)
    if "cpu_ns" in r:
        d["host_cpu_ms_per_mib"] = round(r["cpu_ns"] / 1e6 / mib, 2)
    for k in ["exits", "mmio_exits"]:
        if k in r:
            d[k + "_per_mib"] = round(r[k] / mib, 1)
    return d


def sh(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def inner(vmio, initrd, reps, mib):
    # As in virtio_bench.py: on a KVM host with one CPU (the nested VM) a halted vCPU that
    # polls takes the CPU from the thread that would wake it; polling is off for both VMMs.
    old_poll = set_halt_poll(0) if os.cpu_count() == 1 else None
    try:
        result = inner_run(vmio, initrd, reps, mib)
        result["halt_poll_off"] = old_poll is not None
        return result
    finally:
        if old_poll is not None:
            set_halt_poll(old_poll)


def inner_run(vmio, initrd, reps, mib):
    sh(["ip", "link", "set", "lo", "up"])
    sh(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"])
    sh(["ip", "addr", "add", HOST_IP + "/24", "dev", TAP])
    sh(["ip", "link", "set", TAP, "up"])
    up_sock, down_sock = listener(5001), listener(5002)
    cmdline = ("console=ttyS0 panic=-1 vmio.test=netbench vmio.net_mac=%s vmio.net_ip=%s "
               "vmio.net_peer=%s vmio.bench_mib=%d" % (MAC, GUEST_IP, HOST_IP, mib))
    k = kernel()
    qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "microvm", "-smp", "2",
            "-m", "256M", "-nodefaults", "-no-reboot", "-display", "none", "-serial", "stdio",
            "-kernel", k, "-initrd", initrd, "-append", cmdline,
            "-global", "virtio-mmio.force-legacy=false",
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP]
    cmds = {
        "vmio": [vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initrd, "--cmdline",
                 cmdline, "--net", "tap=%s,mac=%s" % (TAP, MAC), k],
        "qemu": qemu + ["-device", "virtio-net-device,netdev=n0,mac=" + MAC],
        "qemu-nooffload": qemu + ["-device", "virtio-net-device,netdev=n0,mac=%s,%s"
                                  % (MAC, QEMU_NO_OFFLOAD)],
    }
    order = ["vmio", "qemu-nooffload", "qemu"]
    runs = {v: [] for v in order}
    for _ in range(reps):
        for v in order:
            runs[v].append(measure(v, cmds[v], mib, up_sock, down_sock))
    result = {"mib": mib, "reps": reps, "kvm_cpus": os.cpu_count(),
              "counters": "KVM debugfs (all VMs)" if kvm_counters() else "unavailable"}
    print("\nvirtio-net over a TAP: %d MiB each way over TCP (busybox nc), timed by the host; "
          "best of %d run(s) each (KVM host: %d CPU(s))" % (mib, reps, os.cpu_count()))
    print("  %-15s %-5s %10s %9s %12s %10s %10s" % ("vmm", "dir", "Mbit/s", "ms", "cpu ms/MiB",
                                                   "exits/MiB", "mmio/MiB"))
    for v in order:
        result[v] = {}
        for d in ["up", "down"]:
            best = max((r[d] for r in runs[v]), key=lambda r: r["bytes"] / r["secs"])
            s = summarize(best)
            result[v][d] = s
            print("  %-15s %-5s %10.1f %9.1f %12s %10s %10s" % (
                v, d, s["mbit_per_s"], s["ms"], s.get("host_cpu_ms_per_mib", "?"),
                s.get("exits_per_mib", "?"), s.get("mmio_exits_per_mib", "?")))
    return result


# ---- the host half ----

def main(argv):
    args, opts = [], {"--kvm-exec": None, "--reps": "1", "--mib": "8", "--inner": False}
    i = 1
    while i < len(argv):
        if argv[i] == "--inner":
            opts["--inner"] = True
            i += 1
        elif argv[i] in opts:
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    vmio, initrd = os.path.abspath(args[0]), os.path.abspath(args[1])
    reps, mib = int(opts["--reps"]), int(opts["--mib"])
    if opts["--inner"]:
        try:
            result = inner(vmio, initrd, reps, mib)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            print("virtio_net_bench: %s" % e)
            return 1
        print(json.dumps(result))
        return 0
    if opts["--kvm-exec"]:
        os.environ["VMIO_KVM_EXEC"] = opts["--kvm-exec"]
    from kvm import kvm  # tests/nested/kvm.py
    kernel()  # fetch it on the host before going into the VM
    ns = ["unshare", "--net"] if os.geteuid() == 0 else \
        ["unshare", "--user", "--map-root-user", "--net"]
    cmd = kvm(ns + ["--", sys.executable, os.path.abspath(__file__), "--inner", "--reps",
                    str(reps), "--mib", str(mib), vmio, initrd])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return forward_result(p)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
