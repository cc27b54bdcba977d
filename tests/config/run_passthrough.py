#!/usr/bin/env python3
# Pass-through end to end: usage run_passthrough.py VMIO GUEST_ELF EXAMPLE_CONFIG
#
# Builds configs from configs/passthrough.toml (same map; the kernel path and
# the backing replaced) in a temporary directory and checks:
#   1. file backing, one VM: the guest sees what the host wrote into the
#      file, the host reads back the guest's header and pattern page from the
#      file, and --stats-json counts exactly the three testdev MMIO exits of
#      the carved window and no unclaimed access: none of the guest's
#      thousands of pass-through accesses exited;
#   2. control: the same guest without the mapping (`vmio run ELF`) makes
#      over a thousand unclaimed exits, so the stats would show any leak;
#   3. shm backing, two VMs at once sharing one object: a handshake through
#      it completes in both, and the run counter both increment reads 2.
# Invariants: exits 0 pass, 1 fail; needs /dev/kvm (meson runs the whole
# script through the KVM wrapper, tests/nested: natively or inside the nested
# KVM VM, so that the shm object the VMs share is the one this script reads);
# every VM run has a timeout; leaves no file and no shm object behind.
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

TIMEOUT = 60
GUEST_MAGIC = 0x4B4F545345554721
HOST_MAGIC = b"12!Hosto"
OK_STATUS = 1  # guest_exit(0) -> (0 << 1) | 1


def fill_value(i):
    return ((0x0101010101010101 * (i & 0xFF)) ^ (i << 32)) & 0xFFFFFFFFFFFFFFFF


def make_config(example, kernel, backing, path):
    text = open(example).read()
    text = re.sub(r'kernel_path = "[^"]*"', 'kernel_path = "%s"' % kernel, text)
    text = re.sub(r'backing = "[^"]*"', 'backing = "%s"' % backing, text)
    with open(path, "w") as f:
        f.write(text)


def stats_ok(path, what):
    with open(path) as f:
        s = json.load(f)["by_kind"]
    got = {k: s[k]["exits"] for k in ("mmio_read", "mmio_write", "unclaimed_read",
                                      "unclaimed_write")}
    want = {"mmio_read": 2, "mmio_write": 1, "unclaimed_read": 0, "unclaimed_write": 0}
    if got != want:
        print("FAIL %s: MMIO exits %s, expected %s (a pass-through access exited?)"
              % (what, got, want))
        return False
    print("ok   %s: MMIO exits %s: no pass-through access exited" % (what, got))
    return True


def start(vmio, cfg, tmp, tag, role=None):
    out = os.path.join(tmp, tag + ".serial")
    stats = os.path.join(tmp, tag + ".json")
    cmd = [vmio, "run", "--serial", "file:" + out, "--stats-json", stats]
    if role:
        cmd += ["--cmdline", "role=" + role]
    cmd.append(cfg)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, out, stats


def finish(p, out, stats, what):
    try:
        _, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        print("FAIL %s: timed out" % what)
        return False
    serial = open(out, errors="replace").read() if os.path.exists(out) else ""
    ok = p.returncode == OK_STATUS and "FAIL" not in serial and "0 failed" in serial
    print("%s %s: status %d" % ("ok  " if ok else "FAIL", what, p.returncode))
    if not ok:
        print("---- serial ----\n" + serial + "---- stderr ----\n" + err.decode(errors="replace"))
        return False
    return stats_ok(stats, what)


def check_object(data, runs, what):
    ok = True
    magic, counter = struct.unpack_from("<QQ", data, 0)
    if magic != GUEST_MAGIC or counter != runs:
        print("FAIL %s: header magic 0x%x counter %d, expected 0x%x and %d"
              % (what, magic, counter, GUEST_MAGIC, runs))
        ok = False
    page = struct.unpack_from("<512Q", data, 0x2000)
    bad = [i for i in range(512) if page[i] != fill_value(i)]
    if bad:
        print("FAIL %s: %d words of the pattern page differ (first at %d)" % (what, len(bad), bad[0]))
        ok = False
    if data[0x1000:0x2000] != bytes(0x1000):
        print("FAIL %s: the carved page of the object was written" % what)
        ok = False
    if ok:
        print("ok   %s: the host reads the guest's writes back from the object" % what)
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__ or "usage: run_passthrough.py VMIO GUEST_ELF EXAMPLE_CONFIG")
        return 1
    vmio, elf, example = [os.path.abspath(a) for a in sys.argv[1:]]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("FAIL: /dev/kvm is not usable here: run this through tests/nested/vmio-kvm-exec")
        return 1
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # 1. a file backing, one VM (relative path: resolved against the config)
        obj = os.path.join(tmp, "pt.bin")
        with open(obj, "wb") as f:
            f.write(bytes(0x3000) + HOST_MAGIC + bytes(0x1000 - len(HOST_MAGIC)))
        cfg = os.path.join(tmp, "file.toml")
        make_config(example, elf, "file:pt.bin", cfg)
        p, out, stats = start(vmio, cfg, tmp, "file")
        ok &= finish(p, out, stats, "file backing, one VM")
        with open(obj, "rb") as f:
            ok &= check_object(f.read(), 1, "file backing")

        # Control: the same guest with nothing mapped there (`vmio run ELF`):
        # every one of those accesses exits and is counted, so the zero above
        # means something.
        stats = os.path.join(tmp, "control.json")
        subprocess.run([vmio, "run", "--serial", "none", "--stats-json", stats, elf],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
        with open(stats) as f:
            k = json.load(f)["by_kind"]
        unclaimed = k["unclaimed_read"]["exits"] + k["unclaimed_write"]["exits"]
        if unclaimed < 1024:
            print("FAIL control: only %d unclaimed exits without pass-through" % unclaimed)
            ok = False
        else:
            print("ok   control: without pass-through the same accesses cause %d exits"
                  % unclaimed)

        # 2. a shm backing shared by two VMs running at once
        name = "vmio-test-pt-%d" % os.getpid()
        shm = "/dev/shm/" + name
        try:
            with open(shm, "wb") as f:
                f.write(bytes(0x3000) + HOST_MAGIC + bytes(0x1000 - len(HOST_MAGIC)))
            cfg = os.path.join(tmp, "shm.toml")
            make_config(example, elf, "shm:" + name, cfg)
            a = start(vmio, cfg, tmp, "a", "a")
            b = start(vmio, cfg, tmp, "b", "b")
            ok &= finish(*a, "shm backing, VM a")
            ok &= finish(*b, "shm backing, VM b")
            with open(shm, "rb") as f:
                data = f.read()
            ok &= check_object(data, 2, "shm backing shared by two VMs")
            flag = struct.unpack_from("<Q", data, 16)[0]
            if flag != 2:
                print("FAIL handshake flag %d, expected 2" % flag)
                ok = False
        finally:
            if os.path.exists(shm):
                os.unlink(shm)
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
