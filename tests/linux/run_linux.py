#!/usr/bin/env python3
"""Linux boot tests: Debian's stock cloud kernel, unmodified, under vmio and QEMU.

Usage: run_linux.py MODE [args], MODE one of
  vmio VMIO INITRAMFS [END]      `vmio run --cpus 2 --mem 256M --initrd INITRAMFS
                                 --cmdline "console=ttyS0 panic=-1 [vmio.end=END]" KERNEL`
  qemu INITRAMFS                 the same kernel and initramfs under QEMU microvm
  compare VMIO INITRAMFS         both; the milestone lines must agree
  config VMIO INITRAMFS          a VM config (kernel_path, ramdisk_path, cpu_num = 2,
                                 the cmdline extension) instead of options
END: poweroff (default), reboot or panic (see make_initramfs.py). KERNEL is
Debian's current linux-image-cloud-amd64, fetched (apt-get download, cached;
tests/nested/nested.py) at test time. Checks, per run: exit status 0, the
init markers (init ran, 2 CPUs, the requested end), the kernel's milestones
(its ACPI tables, 2 CPUs brought up, COM1 found), and no "Kernel panic",
"Call Trace", "WARNING:", "BUG:" or "Oops" line (but the panic a panic test
asks for). Every VMM runs through the KVM wrapper (tests/nested/kvm.py):
natively or in the nested KVM VM, never skipped. Exits 0 pass, 1 fail.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
import nested  # noqa: E402
from kvm import kvm  # noqa: E402

TIMEOUT = 240
CPUS = 2
MEM = "256M"
CMDLINE = "console=ttyS0 panic=-1"

# (name, regex): what a healthy boot prints, in this order.
MILESTONES = [
    ("kernel starts", re.compile(r"Linux version \S+")),
    ("ACPI tables found", re.compile(r"ACPI: RSDP 0x")),
    ("MADT lists the CPUs", re.compile(r"smpboot: Allowing %d CPUs" % CPUS)),
    ("all CPUs up", re.compile(r"smp: Brought up 1 node, %d CPUs" % CPUS)),
    ("COM1 found", re.compile(r"ttyS0 at I/O 0x3f8 .* is a 16550A")),
    ("init runs", re.compile(r"Run /init as init process")),
    ("init marker", re.compile(r"^VMIO-INIT: up", re.M)),
    ("init sees the CPUs", re.compile(r"^VMIO-INIT: cpus=%d$" % CPUS, re.M)),
]
END_MILESTONES = {
    "poweroff": [("init powers off", re.compile(r"^VMIO-INIT: powering off", re.M)),
                 ("kernel powers off", re.compile(r"reboot: Power down"))],
    "reboot": [("init reboots", re.compile(r"^VMIO-INIT: rebooting", re.M)),
               ("kernel restarts", re.compile(r"reboot: Restarting system")),
               ("vmio sees the reset", re.compile(r"vmio: the guest asked for a reset"))],
    # panic=-1: the kernel resets at once, through the reset vector.
    "panic": [("init panics", re.compile(r"^VMIO-INIT: panicking", re.M)),
              ("kernel panics", re.compile(r"Kernel panic - not syncing: sysrq triggered crash")),
              ("vmio sees the reset", re.compile(r"vmio: the guest asked for a reset"))],
}
BAD = re.compile(r"Kernel panic|Call Trace|WARNING:|BUG:|Oops|seccomp: refused")

CONFIG = '''[base]
id = 1
name = "linux"
vm_type = 1
cpu_num = {cpus}
arch = "x86_64"

[kernel]
kernel_path = "{kernel}"
ramdisk_path = "{initrd}"
cmdline = "{cmdline}"
memory_regions = [[0x0, 0x1000_0000, 0x7, 0]]

[devices]
emu_devices = []
interrupt_mode = "emulated"
'''


def kernel():
    vmlinuz, _ = nested.fetch_kernel(nested.cache_dir(), "linux-image-cloud-amd64")
    return vmlinuz


def run(cmd):
    """(status, output, seconds) of @cmd through the KVM wrapper, or None on a timeout."""
    print("run: " + " ".join(cmd))
    t0 = time.monotonic()
    try:
        p = subprocess.run(kvm(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        print("FAIL timed out after %d s; output so far:\n%s" % (TIMEOUT, out[-4000:]))
        return None
    out = p.stdout.decode("utf-8", "replace").replace("\r\n", "\n")
    return p.returncode, out, time.monotonic() - t0


def milestones(out, end):
    """The names of the milestones @out reaches, in order, and whether all came in order."""
    seen, pos, ok = [], 0, True
    for name, rx in MILESTONES + END_MILESTONES[end]:
        m = rx.search(out, pos)
        if m:
            seen.append(name)
            pos = m.end()
        else:
            ok = False
            anywhere = rx.search(out)
            print("FAIL milestone '%s' %s" % (name, "out of order" if anywhere else "missing"))
    return seen, ok


def check(what, r, end="poweroff"):
    if r is None:
        return False, []
    status, out, secs = r
    seen, ok = milestones(out, end)
    if status != 0:
        print("FAIL %s: exit status %d, expected 0" % (what, status))
        ok = False
    bad = [l for l in out.splitlines() if BAD.search(l)]
    if what.startswith("qemu") and any("soft lockup" in l for l in bad):
        # The reference VMM on an emulated CPU under load: its soft-lockup report
        # (and that report's trace) is the machine's slowness, not a finding.
        print("INFO %s reported a soft lockup (load on the emulated CPU): tolerated "
              "for the reference" % what)
        bad = [l for l in bad if "soft lockup" not in l and "Call Trace" not in l]
    if end == "panic":
        bad = [l for l in bad if "sysrq triggered crash" not in l and "Call Trace" not in l and
               not l.strip().startswith("[")]
    if bad:
        print("FAIL %s printed:\n  %s" % (what, "\n  ".join(bad[:10])))
        ok = False
    init = re.search(r"^\[\s*([0-9.]+)\] Run /init", out, re.M)
    print("%s %s: status %d, %d milestones, init at %s s of guest time, %.1f s wall"
          % ("ok  " if ok else "FAIL", what, status, len(seen),
             init.group(1) if init else "?", secs))
    if not ok:
        print("---- output ----\n" + out[-6000:])
    return ok, seen


def vmio_cmd(vmio, initrd, end):
    cmdline = CMDLINE + ("" if end == "poweroff" else " vmio.end=" + end)
    return [vmio, "run", "--cpus", str(CPUS), "--mem", MEM, "--initrd", initrd,
            "--cmdline", cmdline, kernel()]


def qemu_cmd(initrd):
    return ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "microvm",
            "-smp", str(CPUS), "-m", MEM, "-nodefaults", "-no-reboot", "-display", "none",
            "-serial", "stdio", "-kernel", kernel(), "-initrd", initrd, "-append", CMDLINE]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    mode = argv[1]
    args = [os.path.abspath(a) if os.path.exists(a) else a for a in argv[2:]]
    if mode == "vmio":
        vmio, initrd = args[0], args[1]
        end = args[2] if len(args) > 2 else "poweroff"
        ok, _ = check("vmio (%s)" % end, run(vmio_cmd(vmio, initrd, end)), end)
    elif mode == "qemu":
        ok, _ = check("qemu microvm", run(qemu_cmd(args[0])))
    elif mode == "compare":
        vmio, initrd = args
        ok_v, seen_v = check("vmio", run(vmio_cmd(vmio, initrd, "poweroff")))
        ok_q, seen_q = check("qemu microvm", run(qemu_cmd(initrd)))
        ok = ok_v and ok_q and seen_v == seen_q
        if seen_v != seen_q:
            print("FAIL milestones differ:\n  vmio: %s\n  qemu: %s" % (seen_v, seen_q))
        elif ok:
            print("ok   vmio and QEMU microvm reach the same %d milestones" % len(seen_v))
    elif mode == "config":
        vmio, initrd = args
        with tempfile.TemporaryDirectory(prefix="vmio-linux-") as tmp:
            cfg = os.path.join(tmp, "linux.toml")
            with open(cfg, "w") as f:
                f.write(CONFIG.format(cpus=CPUS, kernel=kernel(), initrd=initrd, cmdline=CMDLINE))
            ok, _ = check("vmio config", run([vmio, "run", cfg]))
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
