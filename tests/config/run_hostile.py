#!/usr/bin/env python3
# Hostile inputs through the vmio command: usage run_hostile.py VMIO
#
# No KVM needed: every case is refused (or checked) before vmio opens
# /dev/kvm. Each must end with the status and message below, never block:
#   - a FIFO nobody writes as the config (vmio check, vmio run), as the image
#     (vmio run), as a config's kernel_path (check and run, same message) and
#     as --serial file:PATH;
#   - a relative path leading outside the config's folder: refused, and
#     accepted with --allow-outside-paths;
#   - a config at every cap (4096 entries in each list that feeds the memory
#     map, 550 KB) checks (valid; not runnable: more than 4 RAM regions), and
#     its map lists 16384 entries.
# A hang is caught by the per-command timeout. Invariants: exits 0 pass, 1
# fail; temporary files only.
import os
import subprocess
import sys
import tempfile

TIMEOUT = 30


def run(cmd):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "timed out (blocked?)"
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def expect(what, result, status, needle):
    rc, out, err = result
    good = rc == status and needle in (out + err)
    print("%s %s: status %s" % ("ok  " if good else "FAIL", what, rc))
    if not good:
        print("  wanted status %d and %r in:\n%s%s" % (status, needle, out[-2000:], err[-2000:]))
    return good


def caps_config(path, cap=4096):
    lines = ['[kernel]', 'kernel_path = "k.elf"', 'memory_regions = [']
    lines += ['[0x%x, 0x1000, 3, 0],' % (i * 0x2000) for i in range(cap)]
    lines += [']', '[devices]', 'passthrough_devices = [']
    lines += ['["pt%d", 0x%x, 0x%x, 0x2000],' % (i, 0x100000000 + i * 0x2000,
                                                 0x100000000 + i * 0x2000) for i in range(cap)]
    lines += [']', 'emu_devices = [']
    lines += ['["td%d", 0x%x, 0x50, 0, 0xf0],' % (i, 0x100001000 + i * 0x2000) for i in range(cap)]
    lines += [']', 'passthrough_addresses = [']
    lines += ['[0x%x, 0x800],' % (0x200000000 + i * 0x2000) for i in range(cap)]
    lines += [']']
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    vmio = os.path.abspath(sys.argv[1])
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "fifo.toml")
        os.mkfifo(fifo)
        ok &= expect("vmio check on a FIFO", run([vmio, "check", fifo]), 2, "a FIFO, not a regular")
        ok &= expect("vmio run on a FIFO config", run([vmio, "run", fifo]), 2,
                     "a FIFO, not a regular")
        img = os.path.join(tmp, "fifo.elf")
        os.mkfifo(img)
        ok &= expect("vmio run on a FIFO image", run([vmio, "run", "--serial", "none", img]), 2,
                     "a FIFO, not a regular")
        ok &= expect("--serial file:FIFO", run([vmio, "run", "--serial", "file:" + img]), 2,
                     "is a FIFO: file:PATH takes a regular file")
        cfg = os.path.join(tmp, "kfifo.toml")
        with open(cfg, "w") as f:
            f.write('[kernel]\nkernel_path = "fifo.elf"\nmemory_regions = [[0, 0x100_0000, 7, 0]]\n')
        reason = "kernel.kernel_path: %s: a FIFO, not a regular file" % img
        ok &= expect("vmio check, kernel_path a FIFO", run([vmio, "check", cfg]), 0,
                     "valid; not runnable here: " + reason)
        ok &= expect("vmio run, kernel_path a FIFO", run([vmio, "run", cfg]), 2,
                     "vmio: %s: %s" % (cfg, reason))

        sub = os.path.join(tmp, "sub")
        os.mkdir(sub)
        with open(os.path.join(tmp, "k.elf"), "w") as f:
            f.write("not a kernel\n")
        out = os.path.join(sub, "out.toml")
        with open(out, "w") as f:
            f.write('[kernel]\nkernel_path = "../k.elf"\nmemory_regions = [[0, 0x100_0000, 7, 0]]\n')
        ok &= expect("a path outside the config's folder", run([vmio, "check", out]), 2,
                     "leads outside the config's folder")
        ok &= expect("... allowed by --allow-outside-paths",
                     run([vmio, "check", "--allow-outside-paths", out]), 0,
                     "valid; runnable on this host")
        ok &= expect("vmio run refuses it too", run([vmio, "run", out]), 2,
                     "leads outside the config's folder")

        caps = os.path.join(tmp, "caps.toml")
        caps_config(caps)
        with open(os.path.join(tmp, "k.elf"), "a"):
            pass
        r = run([vmio, "check", caps])
        ok &= expect("a config at every cap", r, 0,
                     "%s: valid; not runnable here: 4096 RAM regions" % caps)
        entries = sum(1 for l in r[1].splitlines() if l.startswith("  0x0"))
        good = entries == 16384
        print("%s the map of the config at the caps lists %d entries" %
              ("ok  " if good else "FAIL", entries))
        ok &= good
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
