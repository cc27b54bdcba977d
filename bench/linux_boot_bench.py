#!/usr/bin/env python3
"""linux_boot_bench: Debian's stock cloud kernel to its init, vmio against QEMU microvm.

Usage: linux_boot_bench.py VMIO INITRAMFS RUSAGE_EXEC [--runs N]

For each VMM, N times (interleaved), the same kernel (linux-image-cloud-amd64,
as tests/linux), initramfs (tests/linux/make_initramfs.py: /init prints
markers and powers off), 2 vCPUs and 256 MiB: the wall time from starting
the VMM to the init marker ("VMIO-INIT: up" read on the host) and to the VMM's
exit after the guest's poweroff, the guest's own clock at "Run /init", and
the VMM's peak RSS and CPU time (rusage-exec: wait4 where the VMM runs). Both
run through vmio-kvm-exec: natively where KVM can run a kernel, else in the
same nested KVM VM, so the ratio is what counts. Prints a table; writes JSON
to $VMIO_BENCH_JSON. Never pass/fail (exits non-zero only if a run breaks).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "nested"))
import nested  # noqa: E402
from kvm import kvm  # noqa: E402

CMDLINE = "console=ttyS0 panic=-1"
MARKER = b"VMIO-INIT: up"
GUEST_INIT = re.compile(rb"\[\s*([0-9.]+)\] Run /init")


def one(cmd, rusage_exec, tmp):
    out = os.path.join(tmp, "rusage")
    t0 = time.monotonic()
    p = subprocess.Popen(kvm([rusage_exec, out] + cmd), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf, t_init = b"", None
    for chunk in iter(lambda: p.stdout.read1(65536), b""):
        buf += chunk
        if t_init is None and MARKER in buf:
            t_init = time.monotonic() - t0
    rc = p.wait()
    t_exit = time.monotonic() - t0
    with open(out) as f:
        ru = dict(kv.split("=") for kv in f.read().split())
    g = GUEST_INIT.search(buf)
    if rc != 0 or t_init is None:
        sys.stderr.write(buf.decode(errors="replace")[-3000:])
        raise SystemExit("linux_boot_bench: %s failed (status %d)" % (cmd[0], rc))
    return {"to_init_s": t_init, "to_exit_s": t_exit,
            "guest_init_s": float(g.group(1)) if g else None,
            "maxrss_mib": int(ru["maxrss_kib"]) / 1024.0,
            "cpu_s": float(ru["user_s"]) + float(ru["sys_s"])}


def main(argv):
    args = argv[1:]
    runs = 3
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    vmio, initrd, rusage_exec = [os.path.abspath(a) for a in args]
    kernel, _ = nested.fetch_kernel(nested.cache_dir(), "linux-image-cloud-amd64")
    vmms = {
        "vmio": [vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initrd,
                 "--cmdline", CMDLINE, kernel],
        "qemu-microvm": ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "microvm",
                         "-smp", "2", "-m", "256M", "-nodefaults", "-no-reboot", "-display",
                         "none", "-serial", "stdio", "-kernel", kernel, "-initrd", initrd,
                         "-append", CMDLINE],
    }
    results = {name: [] for name in vmms}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for name, cmd in vmms.items():
                results[name].append(one(cmd, rusage_exec, tmp))
    keys = ["to_init_s", "to_exit_s", "guest_init_s", "maxrss_mib", "cpu_s"]
    med = {n: {k: statistics.median(r[k] for r in rs if r[k] is not None) for k in keys}
           for n, rs in results.items()}
    print("Linux boot (Debian cloud kernel, 2 vCPUs, 256 MiB), median of %d runs" % runs)
    print("%-14s %12s %12s %14s %12s %10s" % ("VMM", "to init (s)", "to exit (s)",
                                             "guest init(s)", "peak RSS MiB", "CPU (s)"))
    for n in vmms:
        m = med[n]
        print("%-14s %12.2f %12.2f %14.2f %12.1f %10.2f" % (n, m["to_init_s"], m["to_exit_s"],
                                                         m["guest_init_s"], m["maxrss_mib"],
                                                         m["cpu_s"]))
    ratio = {k: med["vmio"][k] / med["qemu-microvm"][k] for k in keys if med["qemu-microvm"][k]}
    print("vmio / qemu: " + ", ".join("%s %.2f" % (k, v) for k, v in ratio.items()))
    doc = {"runs": runs, "kernel": os.path.basename(kernel), "median": med, "ratio_vmio_qemu": ratio,
           "all": results}
    path = os.environ.get("VMIO_BENCH_JSON")
    if path:
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
