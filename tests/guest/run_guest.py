#!/usr/bin/env python3
# Guest test runner: boots one test guest (guest/tests/*.c, built as
# guest_<name>.elf) under vmio and/or QEMU and checks its COM1 output, its
# debug-console output and its exit status against tests/guest/expected/.
#
# Modes (first argument):
#   vmio    NAME ELF VMIO      serial == expected/NAME.out, status as expected,
#                              debugcon == expected/NAME.debugcon when present
#   demo    VMIO               `vmio run` with no image == expected/demo.out
#   qemu    NAME ELF           the same checks under QEMU, against
#                              expected/NAME.qemu.out (.qemu.debugcon)
#   compare NAME ELF VMIO      vmio's serial output == QEMU's after removing
#                              the documented differences (docs/guests.md)
#   strict  NAME ELF VMIO      `--unhandled strict`: status 4, "unclaimed" on
#                              stderr with the decoded instruction, serial
#                              output stops at the announced first unclaimed
#                              access
#   log     NAME ELF VMIO      `--unhandled log`: runs to the end as with
#                              ignore (same serial output and status), and
#                              stderr reports the unclaimed MMIO and port
#                              accesses (MMIO reads with their instruction)
#   trace   NAME ELF VMIO      `--trace`: runs as in the vmio mode, and every
#                              MMIO trace line names its instruction: reads
#                              the decoded one (never `insn ?`), whose memory
#                              width equals the exit's (or a fragment of it at
#                              a page boundary), writes `insn -`;
#                              TRACE_EXPECT lists accesses (address, insn
#                              regex) that must appear; the last line per
#                              vCPU gives the decode cache's counters
#   stall   NAME ELF VMIO      the stall guest (one 300 ms testdev write): with the
#                              default watchdog (100 ms) exactly one stderr line
#                              names testdev-pio and the access, status as usual;
#                              with --on-stall exit, status 10 and the serial
#                              output stops before the slow write returns
#   msr-policies NAME ELF VMIO the msr guest's unknown MSR under --unhandled log
#                              (one line per access, #GP, the guest completes)
#                              and strict (status 4, the stop names the MSR)
#   coalesce NAME ELF VMIO     the coalesce guest with --stats-json: as in the
#                              vmio mode, and the statistics count at least
#                              COALESCED_MIN buffered writes; with --coalesce
#                              off, none, every hash check still passes and
#                              only the "all 64 buffered" check fails
#   signals NAME ELF VMIO      the signals guest (run this runner itself through
#                              vmio-kvm-exec: signals go to the vmio it starts),
#                              with --irqchip and with --cpus 2: before each
#                              byte the guest waits for, vmio is stopped and
#                              continued (SIGSTOP/SIGCONT, SIGTSTP/SIGCONT)
#                              and every thread is attached and detached by
#                              ptrace; the run must end normally with every
#                              phase passed (phase 3 needs the second CPU)
#                              and no watchdog line on stderr
#   epipe   NAME ELF VMIO      `vmio run ... | head -c 16` (run this runner through
#                              vmio-kvm-exec: the pipe must be vmio's own): vmio
#                              reports the broken pipe, is not killed by SIGPIPE,
#                              and the guest runs to its normal exit status
#   doorbell NAME ELF VMIO     the doorbell guest with --stats-json, with and
#                              without --no-ioeventfd: the same output, and
#                              1000 MMIO rings cost under 50 MMIO write exits
#                              with the ioeventfd, at least 1000 without
#   config  NAME ELF VMIO      the guest on a VM config written for it
#                              (com1 with irq_id 4, debug-exit, debugcon,
#                              interrupt_mode = "emulated"; config_extra() adds
#                              base keys and devices per guest) against
#                              expected/NAME.config.out
# Per guest: VMIO_ARGS adds `vmio run` options (uart_irq: --irqchip; smp:
# --cpus 2), QEMU_ARGS adds QEMU options (smp: -smp 2), and
# SERIAL_INPUT bytes sent on the serial line; such a guest's serial goes
# through stdio (vmio --serial stdio, QEMU -chardev stdio) with the bytes on
# stdin, so it must not use the debug console (vmio writes it to stdout).
# Invariants: exits 0 pass, 1 fail (never skips: every VMM command goes through
# the KVM wrapper, tests/nested/kvm.py, which finds a working /dev/kvm natively
# or in the nested KVM VM; a missing QEMU is a failure); never leaves files
# behind (temporary directory); every VMM run has a timeout. Set VMIO_REGEN=1 to rewrite the expected files from
# the observed output instead of comparing (then inspect the diff!).
import ctypes
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "nested"))
from kvm import kvm  # noqa: E402

EXPECTED = os.path.join(HERE, "expected")
TIMEOUT = 60

# Expected exit status per guest: (v << 1) | 1 for debug-exit value v.
STATUS = {"exitcode": (0x2A << 1) | 1}
DEFAULT_STATUS = 1
STRICT_STATUS = 4  # VMIO_STATUS_UNCLAIMED (src/cli/cli.h)
STALLED_STATUS = 10  # VMIO_STATUS_STALLED
# The coalesce guest makes 2175 write-buffer writes; a few exit when KVM's ring is full.
COALESCED_MIN = 2100
STALL_LINE = re.compile(r"^vmio: watchdog: vCPU 0 has been in device testdev-pio for \d+ ms: "
                        r"pio write of 4 bytes at 0x7050$")
STRICT_LAST_LINE = "unclaimed: first unclaimed access: read MMIO 0xe0000000"

# Extra `vmio run` options, and bytes the host sends on the serial line.
VMIO_ARGS = {"uart_irq": ["--irqchip"], "smp": ["--cpus", "2"], "signals": ["--cpus", "2"]}
QEMU_ARGS = {"smp": ["-smp", "2"], "signals": ["-smp", "2"]}
# A list sends its chunks in turn: a (marker, bytes) pair waits until the
# guest has printed the marker. uart_irq announces that it is about to sleep
# in HLT before the last byte is sent, so that byte cannot race the HLT.
SERIAL_INPUT = {"uart_irq": [b"IRQ-RX", (b"RX: waiting in HLT", b"!")],
                "signals": [(b"phase 1, spinning", b"1"), (b"phase 2, halted", b"2"),
                            (b"phase 3, halted", b"3")]}

# The VM config of the config mode: {elf} is the absolute image path.
CONFIG_TEMPLATE = '''[base]
id = 1
name = "{name}"
vm_type = 1
cpu_num = {cpus}
arch = "x86_64"
{base_extra}

[kernel]
kernel_path = "{elf}"
memory_regions = [[0x0, 0x400_0000, 0x7, 0]]

[devices]
emu_devices = [
    ["com1", 0x3f8, 0x8, 4, 0x2, []],
    ["debug-exit", 0xf4, 0x1, 0, 0xf1, []],
    ["debugcon", 0xe9, 0x1, 0, 0xf2, []],{devices_extra}
]
interrupt_mode = "emulated"
'''



def config_extra(name):
    """Per-guest config settings: smp gets 2 vCPUs, each pinned (phys_cpu_sets) to the
    host CPUs this process may use, and testdev."""
    if name != "smp":
        return {"cpus": 1, "base_extra": "", "devices_extra": ""}
    mask = sum(1 << c for c in os.sched_getaffinity(0) if c < 64)
    return {"cpus": 2, "base_extra": "phys_cpu_sets = [%#x, %#x]" % (mask, mask),
            "devices_extra": '\n    ["testdev", 0xd000_0000, 0x1000, 0, 0xf0, []],'
                             '\n    ["testdev-pio", 0x7000, 0x100, 0, 0xf0, []],'}


# The trace mode: per guest, MMIO reads that must appear with their decoded
# instruction (address, regex over the quoted text). widths' rax_rules()
# makes these with fixed destination registers in inline asm (the address
# register is the compiler's choice).
PATTERN = 0xd0000008  # VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_PATTERN
TRACE_EXPECT = {"widths": [
    (PATTERN + 7, r"mov al, byte \[r\w+\]"),
    (PATTERN + 6, r"mov ax, word \[r\w+\]"),
    (PATTERN + 4, r"mov eax, dword \[r\w+\]"),
    (PATTERN + 7, r"movzx eax, byte \[r\w+\]"),
    (PATTERN + 7, r"movsx rax, byte \[r\w+\]"),
    (PATTERN + 6, r"movsx rax, word \[r\w+\]"),
    (PATTERN, r"mov r\w+, qword \[r\w+\]"),
], "unclaimed": [
    (0xe0000000, r"mov \w+, byte \[r\w+\]"),
    (0xe0000008, r"mov \w+, word \[r\w+\]"),
    (0xe0000010, r"mov \w+, dword \[r\w+\]"),
    (0xe0000018, r"mov \w+, qword \[r\w+\]"),
    # An 8-byte load across the end of testdev's page: KVM splits it into two
    # 4-byte exits (0xd0000ffc claimed, 0xd0001000 not), each the same qword load.
    (0xd0000ffc, r"mov \w+, qword \[r\w+\]"),
    (0xd0001000, r"mov \w+, qword \[r\w+\]"),
]}
TRACE_LINE = re.compile(r"^vmio-trace: cpu\d+ #\d+ mmio (read|write) (0x[0-9a-f]+) w(\d) x\d+ "
                        r"val 0x[0-9a-f]+ dev \S+ rip 0x[0-9a-f]+ insn (.*)$")
TRACE_INSN = re.compile(r'^"([^"]+)" \(([0-9a-f]{2}( [0-9a-f]{2})*)\)$')
TRACE_CACHE = re.compile(r"^vmio-trace: cpu\d+ insn-cache hits (\d+) misses (\d+) stale \d+ "
                         r"uncached \d+$")
WIDTH_WORDS = {"byte": 1, "word": 2, "dword": 4, "qword": 8}


def check_trace(name, err):
    """The MMIO lines of a --trace run's stderr (see the trace mode above)."""
    ok, reads, splits, found = True, 0, 0, set()
    expect = TRACE_EXPECT.get(name, [])
    cache = None
    for line in err.splitlines():
        c = TRACE_CACHE.match(line)
        if c:
            cache = (int(c.group(1)), int(c.group(2)))
            continue
        if not line.startswith("vmio-trace: ") or " mmio " not in line:
            continue
        m = TRACE_LINE.match(line)
        if not m:
            print("FAIL malformed MMIO trace line: " + line)
            ok = False
            continue
        direction, addr, width, insn = m.group(1), int(m.group(2), 16), int(m.group(3)), m.group(4)
        if direction == "write":
            if insn != "-":
                print("FAIL an MMIO write shows an instruction: " + line)
                ok = False
            continue
        reads += 1
        d = TRACE_INSN.match(insn)
        if not d:
            print("FAIL MMIO read without a decoded instruction: " + line)
            ok = False
            continue
        words = re.findall(r"\b(byte|word|dword|qword)\b", d.group(1))
        decoded = WIDTH_WORDS[words[0]] if words else 0
        # Equal, or one fragment of an access that KVM split at a page boundary.
        split = width < decoded and (addr % 4096 == 0 or (addr + width) % 4096 == 0)
        if decoded != width and not split:
            print("FAIL decoded width differs from the exit's w%d: %s" % (width, line))
            ok = False
        splits += split
        for i, (a, rx) in enumerate(expect):
            if a == addr and re.fullmatch(rx, d.group(1)):
                found.add(i)
    if reads:
        print("ok   %d MMIO reads traced, each with its decoded instruction of the same width "
              "(%d fragments of page-split accesses)" % (reads, splits))
    else:
        print("FAIL no MMIO read in the trace")
        ok = False
    for i, (a, rx) in enumerate(expect):
        if i in found:
            print("ok   read of 0x%x by %s" % (a, rx))
        else:
            print("FAIL no read of 0x%x by an instruction matching %s" % (a, rx))
            ok = False
    if cache and cache[0] > 0:
        print("ok   decode cache: %d hits, %d misses" % cache)
    else:
        print("FAIL no decode-cache line with hits (%r)" % (cache,))
        ok = False
    return ok


# Lines that legitimately differ between vmio and QEMU (docs/guests.md,
# "Differences from QEMU"): board-specific values printed as INFO lines.
DOCUMENTED_DIFFERENCES = [re.compile(r"^INFO ")]


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def same(what, got, expected_path):
    """Compare text with an expected file (or regenerate it); print a diff."""
    if os.environ.get("VMIO_REGEN"):
        with open(expected_path, "w") as f:
            f.write(got)
        print("regenerated %s" % expected_path)
        return True
    expected = read(expected_path)
    if expected is None:
        print("FAIL %s: missing expected file %s" % (what, expected_path))
        print("---- observed ----\n" + got)
        return False
    if got == expected:
        print("ok   %s" % what)
        return True
    print("FAIL %s differs from %s:" % (what, expected_path))
    sys.stdout.writelines(
        difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                             "expected", "observed"))
    return False


def ptrace_cycle(pid):
    """Attach to every thread of @pid as a debugger does (PTRACE_SEIZE, then
    PTRACE_INTERRUPT: each stops), hold them a moment, detach."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT, WALL = 17, 0x4206, 0x4207, 0x40000000
    tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    held = []
    for tid in tids:
        if libc.ptrace(PTRACE_SEIZE, tid, None, None) == 0:
            libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
            held.append(tid)
    for tid in held:
        os.waitpid(tid, WALL)
    time.sleep(0.3)
    for tid in held:
        libc.ptrace(PTRACE_DETACH, tid, None, None)
    if len(held) != len(tids):
        raise OSError("ptrace attached %d of %d threads" % (len(held), len(tids)))


def disturb(pid):
    """What a user and a debugger do to a running VMM; none of it may end the VM."""
    for stop in (signal.SIGSTOP, signal.SIGTSTP):
        os.kill(pid, stop)
        time.sleep(0.3)
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.1)
    ptrace_cycle(pid)
    time.sleep(0.1)


def run_interactive(cmd, tmp, steps):
    """Run a VMM feeding @steps (see SERIAL_INPUT) to its stdin as its stdout shows markers."""
    p = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = bytearray(), bytearray()
    seen = threading.Condition()

    def pump(stream, buf):
        for chunk in iter(lambda: stream.read1(4096), b""):
            with seen:
                buf.extend(chunk)
                seen.notify_all()

    readers = [threading.Thread(target=pump, args=(p.stdout, out), daemon=True),
               threading.Thread(target=pump, args=(p.stderr, err), daemon=True)]
    for t in readers:
        t.start()
    deadline = time.monotonic() + TIMEOUT
    try:
        for step in steps:
            marker, data = step[:2] if isinstance(step, tuple) else (None, step)
            with seen:
                while marker is not None and marker not in out:
                    left = deadline - time.monotonic()
                    if left <= 0 or p.poll() is not None:
                        break
                    seen.wait(min(left, 0.1))
            if isinstance(step, tuple) and len(step) > 2 and p.poll() is None:
                step[2](p.pid)  # an action on the running VMM (the signals mode)
            p.stdin.write(data)
            p.stdin.flush()
        p.stdin.close()
        p.wait(timeout=max(deadline - time.monotonic(), 1))
    except (subprocess.TimeoutExpired, BrokenPipeError):
        p.kill()
        p.wait()
        if p.returncode is None or time.monotonic() >= deadline:
            print("FAIL: timed out after %d s" % TIMEOUT)
            return None
    for t in readers:
        t.join()
    return p.returncode, bytes(out), bytes(err)


def run(cmd, tmp, data=None, quiet=False):
    """Run a VMM (with @data on stdin); returns (status, stdout, stderr) or None on timeout.
    @quiet: do not echo stderr (a --trace run's is thousands of lines)."""
    print("run: " + " ".join(cmd) + (" < %r" % data if data is not None else ""))
    if isinstance(data, list):
        r = run_interactive(cmd, tmp, data)
        if r is None:
            return None
        err = r[2].decode("utf-8", "replace")
        if err:
            sys.stdout.write("stderr:\n" + err)
        return r[0], r[1].decode("utf-8", "replace"), err
    stdin = {"input": data} if data is not None else {"stdin": subprocess.DEVNULL}
    try:
        p = subprocess.run(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT, **stdin)
    except subprocess.TimeoutExpired:
        print("FAIL: timed out after %d s" % TIMEOUT)
        return None
    err = p.stderr.decode("utf-8", "replace")
    if err and not quiet:
        sys.stdout.write("stderr:\n" + err)
    return p.returncode, p.stdout.decode("utf-8", "replace"), err


def run_vmio(vmio, elf, tmp, extra=(), data=None, quiet=False):
    """Returns (status, serial, debugcon, stderr) or None. With @data: serial on stdio."""
    serial = os.path.join(tmp, "vmio.serial")
    spec = "stdio" if data is not None else "file:" + serial
    cmd = [vmio, "run", "--serial", spec] + list(extra)
    if elf:
        cmd.append(elf)
    r = run(kvm(cmd), tmp, data, quiet)
    if r is None:
        return None
    if data is not None:
        return r[0], r[1], "", r[2]
    return r[0], read(serial) or "", r[1], r[2]


def qemu_binary():
    return shutil.which("qemu-system-x86_64")


def run_qemu(elf, tmp, data=None, extra=()):
    """Returns (status, serial, debugcon, stderr) or None. With @data: serial on stdio."""
    serial = os.path.join(tmp, "qemu.serial")
    dbg = os.path.join(tmp, "qemu.debugcon")
    com1 = "stdio,id=com1" if data is not None else "file,id=com1,path=" + serial
    cmd = [qemu_binary(), "-accel", "kvm", "-M", "microvm", "-nodefaults", "-no-reboot",
           "-display", "none", "-m", "64M",
           "-chardev", com1, "-serial", "chardev:com1",
           "-chardev", "file,id=dbg,path=" + dbg,
           "-device", "isa-debugcon,iobase=0xe9,chardev=dbg",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
           "-kernel", elf] + list(extra)
    r = run(kvm(cmd), tmp, data)
    if r is None:
        return None
    return r[0], r[1] if data is not None else read(serial) or "", read(dbg) or "", r[2]


def check_status(what, got, expected):
    if got == expected:
        print("ok   %s exit status %d" % (what, got))
        return True
    print("FAIL %s exit status %d, expected %d" % (what, got, expected))
    return False


def check_run(what, r, name, suffix):
    """Serial, debugcon and status of one run against expected/NAME<suffix>.*"""
    if r is None:
        return False
    status, serial, debugcon, err = r
    ok = check_status(what, status, STATUS.get(name, DEFAULT_STATUS))
    # vmio's threads run under its system-call filters: the suite must need nothing else.
    refused = [l for l in err.splitlines() if "seccomp: refused" in l]
    if refused:
        ok = False
        print("FAIL %s: a system call was refused by vmio's filters:\n  %s" %
              (what, "\n  ".join(refused[:5])))
    ok &= same(what + " serial", serial, os.path.join(EXPECTED, name + suffix + ".out"))
    dbg_path = os.path.join(EXPECTED, name + suffix + ".debugcon")
    if debugcon or os.path.exists(dbg_path):
        ok &= same(what + " debugcon", debugcon, dbg_path)
    return ok


def normalize(text):
    return "".join(line for line in text.splitlines(True)
                   if not any(rx.search(line) for rx in DOCUMENTED_DIFFERENCES))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__ if __doc__ else "see the header of run_guest.py\n")
        return 2
    mode = argv[1]
    # Paths become absolute: the VMMs run in a temporary directory.
    args = [os.path.abspath(a) if os.path.exists(a) else a for a in argv[2:]]
    if mode in ("qemu", "compare") and not qemu_binary():
        print("FAIL: qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
        return 1
    with tempfile.TemporaryDirectory(prefix="vmio-guest-") as tmp:
        if mode == "vmio":
            name, elf, vmio = args
            r = run_vmio(vmio, elf, tmp, VMIO_ARGS.get(name, []), SERIAL_INPUT.get(name))
            ok = check_run("vmio " + name, r, name, "")
        elif mode == "demo":
            (vmio,) = args
            ok = check_run("vmio (built-in demo)", run_vmio(vmio, None, tmp), "demo", "")
        elif mode == "qemu":
            name, elf = args
            ok = check_run("qemu " + name,
                           run_qemu(elf, tmp, SERIAL_INPUT.get(name), QEMU_ARGS.get(name, [])),
                           name, ".qemu")
        elif mode == "trace":
            name, elf, vmio = args
            r = run_vmio(vmio, elf, tmp, VMIO_ARGS.get(name, []) + ["--trace"],
                         SERIAL_INPUT.get(name), quiet=True)
            ok = check_run("vmio --trace " + name, r, name, "")
            if r is not None:
                ok &= check_trace(name, r[3])
        elif mode == "config":
            name, elf, vmio = args
            cfg = os.path.join(tmp, name + ".toml")
            with open(cfg, "w") as f:
                f.write(CONFIG_TEMPLATE.format(name=name, elf=elf, **config_extra(name)))
            r = run_vmio(vmio, cfg, tmp, [], SERIAL_INPUT.get(name, b""))
            ok = check_run("vmio config " + name, r, name, ".config")
        elif mode == "compare":
            name, elf, vmio = args
            v, q = run_vmio(vmio, elf, tmp), run_qemu(elf, tmp)
            if v is None or q is None:
                return 1
            ok = check_status("vmio vs qemu", v[0], q[0])
            a, b = normalize(v[1]), normalize(q[1])
            if a == b:
                print("ok   %s: vmio and QEMU serial output agree (INFO lines aside)" % name)
            else:
                ok = False
                print("FAIL %s: vmio and QEMU serial output differ:" % name)
                sys.stdout.writelines(difflib.unified_diff(
                    b.splitlines(True), a.splitlines(True), "qemu", "vmio"))
        elif mode == "stall":
            name, elf, vmio = args
            r = run_vmio(vmio, elf, tmp)
            ok = check_run("vmio " + name, r, name, "")
            if r is not None:
                lines = [l for l in r[3].splitlines() if STALL_LINE.match(l)]
                if len(lines) == 1:
                    print("ok   one watchdog line: " + lines[0])
                else:
                    ok = False
                    print("FAIL expected one watchdog line, got %d:\n%s" % (len(lines), r[3]))
            r = run_vmio(vmio, elf, tmp, ["--on-stall", "exit"])
            if r is None:
                return 1
            status, serial, _, err = r
            ok &= check_status("vmio --on-stall exit " + name, status, STALLED_STATUS)
            if "stopping: a device handler stalled" in err and any(
                    STALL_LINE.match(l) for l in err.splitlines()):
                print("ok   --on-stall exit names the device and says why it stopped")
            else:
                ok = False
                print("FAIL --on-stall exit stderr:\n" + err)
            if "the write returned" not in serial:
                print("ok   the run ended inside the slow write")
            else:
                ok = False
                print("FAIL the guest got past the slow write:\n" + serial)
        elif mode == "coalesce":
            name, elf, vmio = args
            ok = True
            for on in (True, False):
                js = os.path.join(tmp, "stats.json")
                extra = ["--stats-json", js] + ([] if on else ["--coalesce", "off"])
                r = run_vmio(vmio, elf, tmp, extra)
                if r is None:
                    return 1
                if on:
                    ok &= check_run("vmio " + name, r, name, "")
                else:
                    fails = [l for l in r[1].splitlines() if l.startswith("FAIL")]
                    good = len(fails) == 1 and "all 64 buffered" in fails[0]
                    ok &= good
                    print("%s --coalesce off: only the buffering check fails (%s)" %
                          ("ok  " if good else "FAIL", "; ".join(fails) or "none failed"))
                with open(js) as f:
                    kinds = json.load(f)["by_kind"]
                n = kinds["coalesced_write"]["accesses"]
                good = n >= COALESCED_MIN if on else n == 0
                ok &= good
                print("%s coalesce %s: %d buffered writes delivered (%s)" %
                      ("ok  " if good else "FAIL", "on" if on else "off", n,
                       ">= %d expected" % COALESCED_MIN if on else "0 expected"))
        elif mode == "signals":
            name, elf, vmio = args
            ok = True
            for extra, phases in ((["--irqchip"], 2), (["--cpus", "2"], 3)):
                steps = [(m, d, disturb) for m, d in SERIAL_INPUT[name][:phases]]
                r = run_vmio(vmio, elf, tmp, extra, steps)
                if r is None:
                    return 1
                status, serial, err = r[0], r[1], r[3]
                ok &= check_status("vmio %s %s under signals" % (" ".join(extra), name), status,
                                   DEFAULT_STATUS)
                # Time the process was held is no device's fault: no stall report.
                held = [l for l in err.splitlines() if "watchdog" in l]
                ok &= not held
                print("%s the watchdog blamed no device for the time vmio was held%s" %
                      ("ok  " if not held else "FAIL", "".join("\n  " + l for l in held)))
                passed = sum(l.startswith("PASS phase") for l in serial.splitlines())
                good = passed == phases and "0 failed" in serial
                ok &= good
                print("%s %d of %d phases passed through stop/continue and ptrace\n%s" %
                      ("ok  " if good else "FAIL", passed, phases, serial))
        elif mode == "epipe":
            name, elf, vmio = args
            # The reader takes 16 bytes of the serial output and goes away (`| head -c 16`).
            cmd = kvm([vmio, "run", "--serial", "stdio", elf])
            print("run: " + " ".join(cmd) + " | head -c 16")
            p = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            got = p.stdout.read(16)
            p.stdout.close()
            try:
                err = p.stderr.read().decode("utf-8", "replace")
                p.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                print("FAIL: timed out after %d s" % TIMEOUT)
                return 1
            ok = check_status("vmio %s | head -c 16" % name, p.returncode, DEFAULT_STATUS)
            good = len(got) == 16 and "has no reader any more (broken pipe)" in err
            ok &= good
            print("%s the reader got %d bytes; vmio reported the broken pipe once and ran on:\n%s"
                  % ("ok  " if good else "FAIL", len(got), err))
        elif mode == "doorbell":
            name, elf, vmio = args
            ok = True
            for exitless in (True, False):
                js = os.path.join(tmp, "stats.json")
                extra = ["--stats-json", js] + ([] if exitless else ["--no-ioeventfd"])
                r = run_vmio(vmio, elf, tmp, extra)
                if r is None:
                    return 1
                ok &= check_run("vmio %s%s" % (name, "" if exitless else " --no-ioeventfd"), r,
                                name, "")
                with open(js) as f:
                    writes = json.load(f)["by_kind"]["mmio_write"]["exits"]
                good = writes < 50 if exitless else writes >= 1000
                ok &= good
                print("%s %s: %d MMIO write exits for 1000 doorbell rings (%s)" %
                      ("ok  " if good else "FAIL", "ioeventfd" if exitless else "--no-ioeventfd",
                       writes, "< 50 expected" if exitless else ">= 1000 expected"))
        elif mode == "msr-policies":
            name, elf, vmio = args
            r = run_vmio(vmio, elf, tmp, ["--unhandled", "log"])
            ok = check_run("vmio --unhandled log " + name, r, name, "")
            if r is not None:
                for what in ("unclaimed sysreg read of 8 bytes at 0x564d4a00",
                             "unclaimed sysreg write of 8 bytes at 0x564d4a00 value 0x1"):
                    n = sum(what in l for l in r[3].splitlines())
                    ok &= n == 1
                    print("%s one log line: %s (%d)" % ("ok  " if n == 1 else "FAIL", what, n))
            r = run_vmio(vmio, elf, tmp, ["--unhandled", "strict"])
            if r is None:
                return 1
            ok &= check_status("vmio --unhandled strict " + name, r[0], STRICT_STATUS)
            if "stopped: unclaimed sysreg read of 8 bytes at 0x564d4a00" in r[3]:
                print("ok   the strict stop names the unknown MSR")
            else:
                ok = False
                print("FAIL strict stderr:\n" + r[3])
        elif mode == "strict":
            name, elf, vmio = args
            r = run_vmio(vmio, elf, tmp, ["--unhandled", "strict"])
            if r is None:
                return 1
            status, serial, _, err = r
            ok = check_status("vmio --unhandled strict " + name, status, STRICT_STATUS)
            if "unclaimed" in err:
                print("ok   stderr reports the unclaimed access")
            else:
                ok = False
                print("FAIL stderr does not mention 'unclaimed'")
            if re.search(r'unclaimed mmio read 0xe0000000 .* insn "mov \w+, byte \[r\w+\]"', err):
                print("ok   stderr names the instruction of the unclaimed read")
            else:
                ok = False
                print("FAIL stderr does not name the instruction of the unclaimed read")
            lines = serial.splitlines()
            if lines and lines[-1] == STRICT_LAST_LINE:
                print("ok   serial output stops at the first unclaimed access")
            else:
                ok = False
                print("FAIL serial output should end with %r; got:\n%s" %
                      (STRICT_LAST_LINE, serial))
        elif mode == "log":
            name, elf, vmio = args
            r = run_vmio(vmio, elf, tmp, ["--unhandled", "log"])
            ok = check_run("vmio --unhandled log " + name, r, name, "")
            if r is not None:
                reports = [l for l in r[3].splitlines() if "unclaimed" in l]
                for needle in ("0xe0000000", "0x7100"):
                    if any(needle in l for l in reports):
                        print("ok   stderr reports the unclaimed access at %s" % needle)
                    else:
                        ok = False
                        print("FAIL stderr has no 'unclaimed' report for %s" % needle)
                # MMIO reads name their instruction; writes and ports do not.
                rx = re.compile(r'mmio read of 1 bytes at 0xe0000000 .* insn "mov \w+, byte ')
                if any(rx.search(l) for l in reports):
                    print("ok   the unclaimed MMIO read's report names its instruction")
                else:
                    ok = False
                    print("FAIL no report of the MMIO read at 0xe0000000 with its instruction")
        else:
            sys.stderr.write("unknown mode %s\n" % mode)
            return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
