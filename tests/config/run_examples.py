#!/usr/bin/env python3
# Example configs: usage run_examples.py VMIO CONFIGS_DIR [NAME ELF]...
#
#   - `vmio check --allow-outside-paths` accepts every CONFIGS_DIR/*.toml and
#     says it is runnable on this host (no KVM needed; the examples point at
#     the guests in ../build, outside their folder, hence the option);
#   - for each NAME with a CONFIGS_DIR/NAME.toml, the config (its kernel_path
#     pointed at ELF, the guest as built in this build directory) runs the
#     guest exactly as `vmio run ELF` does: same serial output, same debug
#     console output, same exit status;
#   - a pair "raw:exitcode BIN" (objcopy -O binary of the exitcode guest)
#     boots from configs/exitcode.toml with kernel_load_addr / entry_point
#     taken from the guest's ELF (the ELF given for "exitcode"): status 85.
# Invariants: exits 0 pass, 1 fail; boots go through the KVM wrapper
# (tests/nested/kvm.py: native or in the nested KVM VM, never skipped); every
# run has a timeout; temporary files only.
import glob
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nested"))
from kvm import kvm  # noqa: E402

TIMEOUT = 60


def run(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    return p


def elf32_layout(path):
    """(entry, lowest PT_LOAD physical address) of an ELF32 file."""
    with open(path, "rb") as f:
        data = f.read()
    entry, phoff = struct.unpack_from("<II", data, 24)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    loads = []
    for i in range(phnum):
        p_type, _, _, p_paddr, p_filesz = struct.unpack_from("<IIIII", data, phoff + i * phentsize)
        if p_type == 1 and p_filesz:
            loads.append(p_paddr)
    return entry, min(loads)


def raw_boot(vmio, configs, name, binary, elf, tmp):
    if not elf:
        print("FAIL raw %s: no ELF given for %s" % (binary, name))
        return False
    entry, load = elf32_layout(elf)
    text = open(os.path.join(configs, name + ".toml")).read()
    text = re.sub(r'kernel_path = "[^"]*"',
                  'kernel_path = "%s"\nkernel_load_addr = 0x%x\nentry_point = 0x%x'
                  % (os.path.abspath(binary), load, entry), text)
    cfg = os.path.join(tmp, "raw.toml")
    with open(cfg, "w") as f:
        f.write(text)
    p = run(kvm([vmio, "run", "--serial", "none", cfg]))
    good = p is not None and p.returncode == 85 and b"hello from the debug console" in p.stdout
    print("%s raw binary at 0x%x, entry 0x%x: status %s" % ("ok  " if good else "FAIL", load, entry,
                                                          p.returncode if p else "timeout"))
    if p is not None and not good:
        print(p.stderr.decode(errors="replace"))
    return good


def main():
    vmio, configs = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pairs = sys.argv[3:]
    ok = True
    examples = sorted(glob.glob(os.path.join(configs, "*.toml")))
    if not examples:
        print("FAIL: no example config in %s" % configs)
        ok = False
    for cfg in examples:
        p = run([vmio, "check", "--allow-outside-paths", cfg])
        good = p is not None and p.returncode == 0 and b"runnable on this host" in p.stdout
        print("%s check %s" % ("ok  " if good else "FAIL", os.path.basename(cfg)))
        if not good:
            print(p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace") if p else
                  "timed out")
        ok &= good
    elfs = dict(zip(pairs[0::2], pairs[1::2]))
    with tempfile.TemporaryDirectory() as tmp:
        for name, elf in zip(pairs[0::2], pairs[1::2]):
            if name.startswith("raw:"):
                ok &= raw_boot(vmio, configs, name[4:], elf, elfs.get(name[4:]), tmp)
                continue
            cfg = os.path.join(configs, name + ".toml")
            if not os.path.exists(cfg):
                continue
            text = open(cfg).read()
            text = re.sub(r'kernel_path = "[^"]*"', 'kernel_path = "%s"' % os.path.abspath(elf),
                          text)
            mine = os.path.join(tmp, name + ".toml")
            with open(mine, "w") as f:
                f.write(text)
            a_out, b_out = os.path.join(tmp, name + ".cfg"), os.path.join(tmp, name + ".img")
            a = run(kvm([vmio, "run", "--serial", "file:" + a_out, mine]))
            b = run(kvm([vmio, "run", "--serial", "file:" + b_out, elf]))
            if a is None or b is None:
                print("FAIL %s: timed out" % name)
                ok = False
                continue
            same = (a.returncode == b.returncode and a.stdout == b.stdout and
                    open(a_out, "rb").read() == open(b_out, "rb").read())
            print("%s run configs/%s.toml == vmio run %s (status %d)"
                  % ("ok  " if same else "FAIL", name, os.path.basename(elf), a.returncode))
            if not same:
                print("config: status %d stderr %s" % (a.returncode, a.stderr.decode(errors="replace")))
                print("image:  status %d stderr %s" % (b.returncode, b.stderr.decode(errors="replace")))
            ok &= same
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
