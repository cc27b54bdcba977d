#!/usr/bin/env python3
"""AArch64 guest and Linux tests: vmio built for AArch64 (in the nested AArch64
KVM VM, through vmio-kvm-exec-aarch64) and QEMU's virt board (TCG, on the host).

Usage: run_arm64.py MODE ARGS, MODE one of
  vmio NAME ELF VMIO RUNNER      RUNNER VMIO run ELF: serial == expected/NAME.out,
                                 exit status as expected (STATUS)
  strict NAME ELF VMIO RUNNER    the same with --unhandled strict: status 4 and
                                 "unclaimed" on stderr (the unclaimed guest)
  stall NAME ELF VMIO RUNNER     the stall guest (one 300 ms testdev store): with the
                                 default watchdog (100 ms) exactly one stderr line
                                 names testdev and the access, serial and status as
                                 usual; with --on-stall exit, status 10 and the serial
                                 output stops before the slow store returns
  stats NAME ELF VMIO RUNNER     the widths guest with --stats-json FILE: as in the
                                 vmio mode, and the JSON counts the MMIO reads and
                                 writes on testdev and the PL011's writes, with
                                 handling times, and the exits add up
  many-virtio NAME ELF VMIO RUNNER
                                 the guest with 12 virtio-blk disks (more than x86's 8
                                 slots: SPIs 16-27): status as usual, and every
                                 transport up with ioeventfd and irqfd
  qemu NAME ELF                  qemu-system-aarch64 -M virt -cpu max (semihosting
                                 for the exit status): serial == expected/NAME.qemu.out
  linux VMIO RUNNER INITRAMFS    Debian's arm64 kernel (linux-image-arm64, fetched by
                                 tests/nested/nested.py) with 2 vCPUs to the busybox
                                 init and PSCI power-off: status 0, milestones in order,
                                 no panic/oops/warning lines
  linux-qemu INITRAMFS           the same kernel and initramfs under QEMU's virt board
  linux-virtio VMIO RUNNER INITRAMFS
                                 the kernel with virtio devices (make_virtio_initramfs.py):
                                 --disk (ext4, rw) --disk (ext4, ro) --rng; the guest's
                                 SHA-256 of a host file, a file it writes (read back with
                                 debugfs), the read-only disk refusing writes, virtio_rng
  linux-virtio-console VMIO RUNNER INITRAMFS
                                 the kernel with --console virtio: the guest writes a
                                 line to hvc0 and reads one the host types (stdin),
                                 virtio-console counts exactly those bytes received
Exits 0 pass, 1 fail; never skips. VMIO_REGEN=1 rewrites the expected files
from what was observed (then review the diff). Every run has a timeout; no
file is left behind. Every vmio run must have its vCPU threads under vmio's
system-call filters (vmio/seccomp.h) with no call refused.
"""
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
import nested  # noqa: E402

EXPECTED = os.path.join(HERE, "expected")
TIMEOUT = 120
LINUX_TIMEOUT = 500
STATUS = {"exitcode": (0x2A << 1) | 1}
DEFAULT_STATUS = 1  # test_summary() 0 through debug-exit: (0 << 1) | 1
STRICT_STATUS = 4
STALLED_STATUS = 10
STALL_LINE = re.compile(r"^vmio: watchdog: vCPU 0 has been in device testdev for \d+ ms: "
                        r"mmio write of 4 bytes at 0xb000050$")
CMDLINE = "console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1"
QEMU = ["qemu-system-aarch64", "-M", "virt", "-cpu", "max", "-m", "256M", "-display", "none",
        "-monitor", "none", "-nodefaults", "-serial", "stdio"]

MILESTONES = [
    ("kernel starts", r"Linux version \S+"),
    ("PSCI found", r"psci: PSCIv\d+\.\d+ detected"),
    ("GIC found", r"GICv[23]: "),
    ("timer runs", r"arch_timer: cp15 timer"),
    ("both CPUs up", r"smp: Brought up 1 node, 2 CPUs"),
    ("PL011 found", r"ttyAMA0 at MMIO 0x9000000 .* is a PL011"),
    ("init runs", r"Run /init as init process"),
    ("init marker", r"(?m)^VMIO-INIT: up"),
    ("init sees 2 CPUs", r"(?m)^VMIO-INIT: cpus=2$"),
    ("init powers off", r"(?m)^VMIO-INIT: powering off"),
    ("kernel powers off", r"reboot: Power down"),
]
BAD = re.compile(r"Kernel panic|Call trace|WARNING:|BUG:|Oops|Internal error")


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace"), "timeout after %d s" % timeout
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def compare(name, suffix, out):
    path = os.path.join(EXPECTED, name + suffix)
    if os.environ.get("VMIO_REGEN") == "1":
        with open(path, "w") as f:
            f.write(out)
        print("regenerated %s" % path)
        return True
    try:
        with open(path) as f:
            want = f.read()
    except FileNotFoundError:
        print("FAIL no expected output %s (VMIO_REGEN=1 writes it)" % path)
        return False
    if out == want:
        print("ok   serial output == %s" % os.path.relpath(path, HERE))
        return True
    print("FAIL serial output differs from %s:" % path)
    import difflib
    sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), out.splitlines(True),
                                               "expected", "observed"))
    return False


def check_status(rc, want, err):
    if rc == want:
        print("ok   exit status %d" % rc)
        return True
    print("FAIL exit status %r, expected %d; stderr:\n%s" % (rc, want, err))
    return False


def checked(checks, ok, dump):
    """Print each (what, good) of @checks; @ok and all of them; on failure print @dump."""
    for what, good in checks:
        print(("ok   " if good else "FAIL ") + what)
        ok = ok and good
    if not ok:
        print(dump)
    return ok


def linux_dump(out, err):
    return "---- serial output (last 60 lines)\n%s\n---- stderr\n%s" % (
        "\n".join(out.splitlines()[-60:]), err)


def bad_guest_line(line):
    """Whether @line is a failed guest check or a kernel error (printed when it is)."""
    if (line.startswith("VMIO-TEST") and "FAIL" in line) or BAD.search(line):
        print("FAIL guest line: " + line)
        return True
    return False


def confined(err):
    """vmio's vCPU threads ran under their system-call filters and none was refused."""
    bad = [l for l in err.splitlines()
           if "seccomp: refused" in l or "no system-call filters" in l]
    if bad:
        print("FAIL vmio's system-call filters: %s" % "\n  ".join(bad[:5]))
        return False
    return True


def guest(mode, args):
    if mode == "qemu":
        name, elf = args
        cmd = QEMU + ["-semihosting-config", "enable=on,target=native", "-kernel", elf]
        rc, out, err = run(cmd, TIMEOUT)
        ok = check_status(rc, STATUS.get(name, DEFAULT_STATUS), err)
        return compare(name, ".qemu.out", out) and ok
    name, elf, vmio, runner = args
    extra = ["--unhandled", "strict"] if mode == "strict" else []
    rc, out, err = run([runner, vmio, "run"] + extra + [elf], TIMEOUT)
    if not confined(err):
        return False
    if mode == "strict":
        ok = check_status(rc, STRICT_STATUS, err)
        if "unclaimed" not in err:
            print("FAIL no 'unclaimed' report on stderr:\n" + err)
            ok = False
        first = out.splitlines()[-1] if out else ""
        if not first.startswith("unclaimed: accesses"):
            print("FAIL the serial output goes on past the first unclaimed access:\n" + out)
            ok = False
        return ok
    ok = check_status(rc, STATUS.get(name, DEFAULT_STATUS), err)
    return compare(name, ".out", out) and ok


def stall(args):
    name, elf, vmio, runner = args
    rc, out, err = run([runner, vmio, "run", elf], TIMEOUT)
    ok = confined(err) and check_status(rc, DEFAULT_STATUS, err) and compare(name, ".out", out)
    lines = [l for l in err.splitlines() if STALL_LINE.match(l)]
    if len(lines) == 1:
        print("ok   one watchdog line: " + lines[0])
    else:
        ok = False
        print("FAIL expected one watchdog line, got %d:\n%s" % (len(lines), err))
    rc, out, err = run([runner, vmio, "run", "--on-stall", "exit", elf], TIMEOUT)
    ok &= check_status(rc, STALLED_STATUS, err)
    if "stopping: a device handler stalled" in err and any(STALL_LINE.match(l)
                                                           for l in err.splitlines()):
        print("ok   --on-stall exit names the device and says why it stopped")
    else:
        ok = False
        print("FAIL --on-stall exit stderr:\n" + err)
    if "the store returned" not in out:
        print("ok   the run ended inside the slow store")
    else:
        ok = False
        print("FAIL the guest got past the slow store:\n" + out)
    return ok


def stats(args):
    name, elf, vmio, runner = args
    # The nested VM sees the host's files but has its own /tmp: write next to the guest.
    work = tempfile.mkdtemp(prefix="stats-", dir=os.path.dirname(os.path.abspath(elf)))
    try:
        path = os.path.join(work, "stats.json")
        rc, out, err = run([runner, vmio, "run", "--stats-json", path, elf], TIMEOUT)
        ok = confined(err) and check_status(rc, DEFAULT_STATUS, err) and compare(name, ".out", out)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print("FAIL --stats-json %s: %s" % (path, e))
            return False
        kinds = doc.get("by_kind", {})
        devices = {d.get("name"): d.get("stats", {}) for d in doc.get("by_device", [])}
        td, uart = devices.get("testdev", {}), devices.get("pl011", {})
        checks = [
            ("MMIO reads and writes counted", kinds.get("mmio_read", {}).get("exits", 0) > 50
             and kinds.get("mmio_write", {}).get("exits", 0) > 50),
            # widths makes 87 accesses to testdev (the PL011's polling makes the bulk)
            ("testdev's accesses counted, with handling times",
             td.get("exits", 0) > 50 and td.get("total_ns", 0) > 0 and td.get("max_ns", 0) > 0
             and td.get("p50_ns", 0) > 0),
            ("the PL011's output counted", uart.get("exits", 0) >= len(out)),
            ("the exits add up", doc.get("total_exits") == sum(k.get("exits", 0)
                                                               for k in kinds.values())),
        ]
        return checked(checks, ok, "---- JSON\n" + json.dumps(doc, indent=1)[:4000])
    finally:
        shutil.rmtree(work, ignore_errors=True)


MANY_DISKS = 12


def many_virtio(args):
    name, elf, vmio, runner = args
    # The nested VM sees the host's files but has its own /tmp: work next to the guest.
    work = tempfile.mkdtemp(prefix="many-", dir=os.path.dirname(os.path.abspath(elf)))
    try:
        disks = []
        for i in range(MANY_DISKS):
            path = os.path.join(work, "d%d.img" % i)
            with open(path, "wb") as f:
                f.truncate(64 * 1024)
            disks += ["--disk", path]
        rc, out, err = run([runner, vmio, "run", "--stats"] + disks + [elf], TIMEOUT)
        ok = confined(err) and check_status(rc, STATUS.get(name, DEFAULT_STATUS), err)
        ok = compare(name, ".out", out) and ok
        up = re.findall(r"^virtio virtio-blk vd[a-z]: ioeventfd=on irqfd=on", err, re.M)
        return checked([("%d disks, each with ioeventfd and irqfd (%d seen)"
                         % (MANY_DISKS, len(up)), len(up) == MANY_DISKS)], ok,
                       "---- stderr\n" + err)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def kernel():
    nested.ARCH = "aarch64"
    vmlinuz, _ = nested.fetch_kernel(nested.cache_dir(), nested.ARCHES["aarch64"]["meta"])
    return vmlinuz


def linux(mode, args):
    if mode == "linux-qemu":
        (initramfs,) = args
        cmd = QEMU + ["-smp", "2", "-kernel", kernel(), "-initrd", initramfs, "-append", CMDLINE,
                      "-no-reboot"]
        cmd[cmd.index("virt")] = "virt,gic-version=3"  # the GIC vmio's backend prefers
    else:
        vmio, runner, initramfs = args
        cmd = [runner, vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initramfs,
               "--cmdline", CMDLINE, kernel()]
    rc, out, err = run(cmd, LINUX_TIMEOUT)
    out = out.replace("\r\n", "\n")  # the tty's line endings
    ok = check_status(rc, 0, err)
    if mode != "linux-qemu" and not confined(err):
        ok = False
    pos = 0
    for what, rx in MILESTONES:
        m = re.compile(rx).search(out, pos)
        if m:
            print("ok   %s" % what)
            pos = m.end()
        else:
            print("FAIL %s: /%s/ not found (in order)" % (what, rx))
            ok = False
    for line in out.splitlines():
        if BAD.search(line):
            print("FAIL bad line: " + line)
            ok = False
    if not ok:
        print("---- serial output (last 60 lines)\n" + "\n".join(out.splitlines()[-60:]))
    return ok


def ext4_image(path, files):
    """An 8 MiB ext4 image at @path holding @files (name -> bytes), made with mke2fs -d."""
    src = path + ".d"
    os.mkdir(src)
    for name, data in files.items():
        with open(os.path.join(src, name), "wb") as f:
            f.write(data)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", src, path, "8M"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(src)


def linux_virtio(args):
    vmio, runner, initramfs = args
    # The nested VM sees the host's files but has its own /tmp: work next to the initramfs.
    work = tempfile.mkdtemp(prefix="virtio-", dir=os.path.dirname(os.path.abspath(initramfs)))
    try:
        data = random.Random(12).randbytes(65536)
        want = hashlib.sha256(data).hexdigest()
        disk, ro = os.path.join(work, "disk.img"), os.path.join(work, "ro.img")
        ext4_image(disk, {"input.bin": data})
        ext4_image(ro, {"input.bin": data})
        cmd = [runner, vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initramfs,
               "--cmdline", CMDLINE + " vmio.test=disk,ro,rng vmio.out_kib=256",
               "--disk", disk, "--disk", ro + ",ro", "--rng", "--stats", kernel()]
        rc, out, err = run(cmd, LINUX_TIMEOUT)
        out = out.replace("\r\n", "\n")
        ok = check_status(rc, 0, err) and confined(err)
        got = {}
        for line in out.splitlines():
            m = re.match(r"^VMIO-TEST: ([a-z0-9_-]+)=(\S+)", line)
            if m:
                got[m.group(1)] = m.group(2)
            if bad_guest_line(line):
                ok = False
        written = subprocess.run(["debugfs", "-R", "cat /output.bin", disk], capture_output=True)
        checks = [
            ("the guest reads the host's file from vda", got.get("input-sha256") == want),
            ("the guest's file on vda reaches the host",
             got.get("output-sha256") == hashlib.sha256(written.stdout).hexdigest()
             and len(written.stdout) == 256 * 1024),
            ("vdb is read-only", "VMIO-TEST: vdb ro=1\n" in out
             and "VMIO-TEST: ro write refused\n" in out),
            ("the guest reads the host's file from vdb", got.get("ro-sha256") == want),
            ("/dev/hwrng is virtio_rng", got.get("rng_current", "").startswith("virtio_rng")),
            ("/dev/hwrng gives bytes", "VMIO-TEST: hwrng bytes=4096\n" in out),
            ("the checks ran to the end", "VMIO-TEST: done" in out),
            ("notifications by ioeventfd, interrupts by irqfd, register reads mapped", all(
                re.search(r"^virtio %s: ioeventfd=on irqfd=on regview=on" % d, err, re.M)
                for d in ("virtio-blk vda", "virtio-blk vdb", "virtio-rng"))),
        ]
        return checked(checks, ok, linux_dump(out, err))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_answering(cmd, timeout, prompt, answer):
    """(status, stdout, stderr) of @cmd; @answer is written to its stdin (then closed) once a
    line of its output contains @prompt, as a person at the console would. None on timeout."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()))
    reader.start()
    lines = []
    for raw in p.stdout:
        lines.append(raw)
        if answer is not None and prompt.encode() in raw:
            p.stdin.write(answer)
            p.stdin.close()
            answer = None
    status = p.wait()
    reader.join()
    timed_out = not timer.is_alive()
    timer.cancel()
    out = b"".join(lines).decode("utf-8", "replace").replace("\r\n", "\n")
    if timed_out:
        print("FAIL timed out after %d s; output so far:\n%s" % (timeout, out[-4000:]))
        return None
    return status, out, (err[0] if err else b"").decode("utf-8", "replace")


def linux_virtio_console(args):
    vmio, runner, initramfs = args
    cmd = [runner, vmio, "run", "--cpus", "2", "--mem", "256M", "--initrd", initramfs,
           "--cmdline", CMDLINE + " vmio.test=console vmio.hvc_in=1", "--console", "virtio",
           "--stats", kernel()]
    # Typed once the guest has hvc0 open (input that arrives before the port is connected is
    # dropped by Linux's virtio_console, as on any VMM).
    r = run_answering(cmd, LINUX_TIMEOUT, "VMIO-HVC: hello from hvc0", b"ping-from-host\n")
    if r is None:
        return False
    rc, out, err = r
    ok = check_status(rc, 0, err) and confined(err)
    m = re.search(r"^virtio virtio-console: .*\brx_bytes=(\d+)", err, re.M)
    checks = [
        ("the guest's hvc0 output reaches the host",
         re.search(r"^VMIO-HVC: hello from hvc0$", out, re.M) is not None),
        ("host input reaches the guest's hvc0",
         re.search(r"^VMIO-HVC: got 'ping-from-host'$", out, re.M) is not None),
        ("virtio-console received exactly the typed bytes",
         m is not None and int(m.group(1)) == len("ping-from-host\n")),
        ("the kernel's own console (the PL011) still reaches stdout",
         re.search(r"Linux version \S+", out) is not None),
    ]
    if any([bad_guest_line(line) for line in out.splitlines()]):  # a list: print every one
        ok = False
    return checked(checks, ok, linux_dump(out, err))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    mode, args = argv[1], argv[2:]
    if mode in ("vmio", "strict", "qemu"):
        ok = guest(mode, args)
    elif mode in ("linux", "linux-qemu"):
        ok = linux(mode, args)
    elif mode == "linux-virtio":
        ok = linux_virtio(args)
    elif mode == "linux-virtio-console":
        ok = linux_virtio_console(args)
    elif mode == "stall":
        ok = stall(args)
    elif mode == "stats":
        ok = stats(args)
    elif mode == "many-virtio":
        ok = many_virtio(args)
    else:
        sys.stderr.write(__doc__)
        return 2
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
