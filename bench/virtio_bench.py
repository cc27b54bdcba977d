#!/usr/bin/env python3
"""virtio-blk benchmark: vmio and QEMU microvm side by side, same kernel,
initramfs and image, in the same (nested or native) KVM.

Usage: virtio_bench.py [--kvm-exec PATH] [--reps N] [--mib M] [--ops N]
                       VMIO INITRAMFS

INITRAMFS is make_virtio_initramfs.py's with bench/virtio_blkbench.c inside
(meson builds it: build/bench/virtio-bench-initramfs.cpio.gz). The guest
(Debian's linux-image-cloud-amd64, 2 vCPUs, 256 MiB) times, with O_DIRECT
on /dev/vda: M MiB (default 64) of sequential 1 MiB reads, and N (default
2000) random 4 KiB reads. The image is random bytes, copied to tmpfs
(/dev/shm) first so that both VMMs read it from memory: what is measured is
the VMM, not a disk. vmio runs with ioeventfd and irqfd (its defaults);
QEMU microvm with `-device virtio-blk-device` and
`-global virtio-mmio.force-legacy=false`, its default cache and AIO.

For each VMM and phase, between the guest's start and end markers:
  guest ms          the guest's own timing (CLOCK_MONOTONIC in the guest)
  MB/s or IOPS      from it
  requests          virtio requests (the guest's /sys/block/vda/stat)
  user exits/req    KVM exits to the VMM in user space for MMIO
                    (KVM's mmio_exits in debugfs, all VMs: run nothing else)
  kvm exits/req     all VM exits, handled in the kernel or not (KVM's exits)
  host CPU us/req   CPU time of all the VMM's threads (/proc/PID/task/*/schedstat)
It prints a table and one JSON object ({"mib": ..., "vmio": {"seq": {...},
"rand": {...}}, "vmio-noirqfd": ..., "vmio-exits": ..., "qemu": ...}); with
VMIO_BENCH_JSON set (run_benches.py) the JSON also goes to that file. Never
passes or fails: it exits non-zero only when something could not run.

The measuring half runs where KVM works (`--inner`, through vmio-kvm-exec:
natively or inside the nested KVM VM, docs/testing.md), so the host-side
counters are those of the KVM the guests run on.
"""
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
sys.path.insert(0, os.path.join(HERE, "..", "tests", "nested"))
import nested  # noqa: E402

KERNEL_PACKAGE = "linux-image-cloud-amd64"
# vmio's other notification paths, measured too: (name suffix, options).
VARIANTS = [("-noirqfd", ["--no-irqfd"]), ("-exits", ["--no-ioeventfd", "--no-irqfd"])]
TIMEOUT = 600
DEBUGFS = "/sys/kernel/debug/kvm"


def kernel():
    vmlinuz, _ = nested.fetch_kernel(nested.cache_dir(), KERNEL_PACKAGE)
    return vmlinuz


# ---- the measuring half (runs where KVM is) ----

def kvm_counters():
    """KVM's global exit counters (all VMs), or {} when debugfs is not readable."""
    if not os.path.isdir(DEBUGFS):
        subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = {}
    for name in ["exits", "mmio_exits", "io_exits"]:
        try:
            with open(os.path.join(DEBUGFS, name)) as f:
                out[name] = int(f.read())
        except (OSError, ValueError):
            pass
    return out


def cpu_ns(pid):
    """CPU time of every thread of @pid so far (ns)."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return total


def snapshot(pid):
    s = kvm_counters()
    s["cpu_ns"] = cpu_ns(pid)
    return s


def measure(name, cmd):
    """Run @cmd (a VMM booting the bench guest); per phase the guest's numbers
    and the host counters between its markers."""
    print("run %s: %s" % (name, " ".join(cmd)), flush=True)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    phases, start, out = {}, {}, []
    for raw in p.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        out.append(line)
        m = re.search(r"VMIO-BENCH: (seq|rand)-start", line)
        if m:
            start[m.group(1)] = snapshot(p.pid)
            continue
        m = re.search(r"VMIO-BENCH: (seq|rand)-end ns=(\d+) (?:bytes|ops)=(\d+) requests=(\d+)",
                      line)
        if m:
            end = snapshot(p.pid)
            ph, s = m.group(1), start.get(m.group(1), {})
            r = {"guest_ns": int(m.group(2)), "amount": int(m.group(3)),
                 "requests": int(m.group(4))}
            for k in end:
                if k in s:
                    r[k] = end[k] - s[k]
            phases[ph] = r
    status = p.wait()
    timer.cancel()
    if status != 0 or set(phases) != {"seq", "rand"}:
        sys.stdout.write("\n".join(out[-60:]) + "\n")
        raise RuntimeError("%s: exit status %d, phases measured: %s" % (name, status,
                                                                         sorted(phases)))
    return phases


def per_req(r, key, scale=1.0):
    if key not in r or not r["requests"]:
        return None
    return r[key] / r["requests"] * scale


def row(vmm, phase, r):
    secs = r["guest_ns"] / 1e9
    rate = ("%8.1f MB/s" % (r["amount"] / secs / 1e6)) if phase == "seq" else \
        ("%8.0f IOPS" % (r["amount"] / secs))
    cols = [per_req(r, "mmio_exits"), per_req(r, "exits"), per_req(r, "cpu_ns", 1e-3)]
    fmt = ["%6.2f", "%7.1f", "%8.1f"]
    cells = [(f % c) if c is not None else "     ?" for f, c in zip(fmt, cols)]
    print("  %-13s %-5s %10.1f %13s %8d %12.1f %s %s %s" % (
        vmm, phase, secs * 1e3, rate, r["requests"], secs * 1e6 / max(r["requests"], 1),
        cells[0], cells[1], cells[2]))


def summarize(r, phase):
    secs = r["guest_ns"] / 1e9
    d = {"guest_ms": round(secs * 1e3, 2), "requests": r["requests"],
         "guest_us_per_request": round(secs * 1e6 / max(r["requests"], 1), 2)}
    if phase == "seq":
        d["mb_per_s"] = round(r["amount"] / secs / 1e6, 2)
        d["bytes"] = r["amount"]
    else:
        d["iops"] = round(r["amount"] / secs, 1)
        d["ops"] = r["amount"]
    for key, name, scale in [("mmio_exits", "user_exits_per_request", 1.0),
                             ("exits", "kvm_exits_per_request", 1.0),
                             ("cpu_ns", "host_cpu_us_per_request", 1e-3)]:
        v = per_req(r, key, scale)
        if v is not None:
            d[name] = round(v, 3)
    return d


def best(runs, phase):
    """The run with the shortest guest time for @phase (least disturbed by the host)."""
    return min((r[phase] for r in runs), key=lambda x: x["guest_ns"])


HALT_POLL = "/sys/module/kvm/parameters/halt_poll_ns"


def set_halt_poll(value):
    """Set KVM's halt_poll_ns (root only); returns the old value, or None."""
    try:
        with open(HALT_POLL) as f:
            old = f.read().strip()
        with open(HALT_POLL, "w") as f:
            f.write(str(value))
        return old
    except OSError:
        return None


def inner(vmio, initrd, image, reps, mib, ops):
    # On a KVM host with one CPU (the nested VM), a halted vCPU that polls
    # takes that CPU from the thread that would wake it (the I/O thread, the
    # VMM's main loop): halt polling then only measures the scheduler. It is
    # turned off for the run there, for both VMMs alike.
    old_poll = set_halt_poll(0) if os.cpu_count() == 1 else None
    try:
        return inner_run(vmio, initrd, image, reps, mib, ops, old_poll is not None)
    finally:
        if old_poll is not None:
            set_halt_poll(old_poll)


def inner_run(vmio, initrd, image, reps, mib, ops, no_poll):
    shm = tempfile.mkdtemp(prefix="vmio-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                           else None)
    try:
        img = os.path.join(shm, "bench.img")
        shutil.copyfile(image, img)
        cmdline = "console=ttyS0 panic=-1 vmio.test=bench vmio.bench_mib=%d vmio.bench_ops=%d" % (
            mib, ops)
        k = kernel()
        cmds = {
            "vmio": [vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initrd,
                     "--cmdline", cmdline, "--disk", img + ",ro", k],
            "qemu": ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "microvm",
                     "-smp", "2", "-m", "256M", "-nodefaults", "-no-reboot", "-display", "none",
                     "-serial", "stdio", "-kernel", k, "-initrd", initrd, "-append", cmdline,
                     "-global", "virtio-mmio.force-legacy=false",
                     "-drive", "id=d0,file=%s,format=raw,if=none,readonly=on" % img,
                     "-device", "virtio-blk-device,drive=d0"],
        }
        for extra in VARIANTS:
            cmds["vmio" + extra[0]] = cmds["vmio"][:2] + extra[1] + cmds["vmio"][2:]
        order = ["vmio"] + ["vmio" + v[0] for v in VARIANTS] + ["qemu"]
        runs = {vmm: [] for vmm in order}
        for i in range(reps):
            for vmm in order:
                runs[vmm].append(measure(vmm, cmds[vmm]))
        print("\nvirtio-blk, %d MiB sequential (1 MiB reads) and %d random 4 KiB reads, O_DIRECT "
              "in the guest; best of %d run(s) each" % (mib, ops, reps))
        print("  %-13s %-5s %10s %13s %8s %12s %6s %7s %8s" % (
            "vmm", "phase", "guest ms", "rate", "requests", "us/request", "u-exit", "kvm-exit",
            "cpu us"))
        print("  %-13s %-5s %10s %13s %8s %12s %6s %7s %8s" % (
            "", "", "", "", "", "(guest)", "/req", "/req", "/req"))
        result = {"mib": mib, "ops": ops, "reps": reps, "kvm_cpus": os.cpu_count(),
                  "halt_poll_off": no_poll,
                  "counters": "KVM debugfs (all VMs)" if kvm_counters() else "unavailable"}
        print("  (KVM host: %d CPU(s)%s)" % (os.cpu_count(),
                                           ", halt polling off" if no_poll else ""))
        for vmm in order:
            result[vmm] = {}
            for phase in ["seq", "rand"]:
                b = best(runs[vmm], phase)
                row(vmm, phase, b)
                result[vmm][phase] = summarize(b, phase)
        return result
    finally:
        shutil.rmtree(shm, ignore_errors=True)


# ---- the host half ----

def forward_result(p):
    """Show the inner run's output; its last JSON line goes to $VMIO_BENCH_JSON. Its status."""
    text = p.stdout.decode("utf-8", "replace")
    sys.stdout.write(text)
    result = None
    for line in text.splitlines():
        if line.startswith("{"):
            result = line
    if result and os.environ.get("VMIO_BENCH_JSON"):
        with open(os.environ["VMIO_BENCH_JSON"], "w") as f:
            f.write(result + "\n")
    return p.returncode


def main(argv):
    args, opts = [], {"--kvm-exec": None, "--reps": "1", "--mib": "64", "--ops": "2000",
                      "--inner": None}
    i = 1
    while i < len(argv):
        if argv[i] in opts:
            if argv[i] == "--inner":
                opts["--inner"] = argv[i + 1]
            else:
                opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    vmio, initrd = os.path.abspath(args[0]), os.path.abspath(args[1])
    reps, mib, ops = int(opts["--reps"]), int(opts["--mib"]), int(opts["--ops"])
    if opts["--inner"]:
        try:
            result = inner(vmio, initrd, opts["--inner"], reps, mib, ops)
        except RuntimeError as e:
            print("virtio_bench: %s" % e)
            return 1
        print(json.dumps(result))
        return 0
    if opts["--kvm-exec"]:
        os.environ["VMIO_KVM_EXEC"] = opts["--kvm-exec"]
    from kvm import kvm  # tests/nested/kvm.py
    kernel()  # fetch it on the host before going into the VM
    with tempfile.TemporaryDirectory(prefix="vmio-bench-") as tmp:
        image = os.path.join(tmp, "bench.img")
        with open(image, "wb") as f:
            for _ in range(mib + 16):
                f.write(os.urandom(1 << 20))
        cmd = kvm([sys.executable, os.path.abspath(__file__), "--inner", image, "--reps",
                   str(reps), "--mib", str(mib), "--ops", str(ops), vmio, initrd])
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return forward_result(p)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
