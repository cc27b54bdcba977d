#!/usr/bin/env python3
# `vmio run` option checking: usage run_options.py VMIO NO_KVM_PRELOAD.so
#
# Every usage mistake is refused with status 2 and a message naming the
# option, before vmio opens /dev/kvm or creates anything: each case runs
# with no_kvm_preload.so, which ends the process with status 99 the moment
# /dev/kvm is opened, so a check made too late fails here on every host.
# A valid command line is run the same way and must reach /dev/kvm (99):
# the shim works, and valid options are not refused. Temporary files only.
import os
import subprocess
import sys
import tempfile

USAGE, REACHED_KVM = 2, 99
TIMEOUT = 30


def main():
    vmio, shim = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    env = dict(os.environ, LD_PRELOAD=shim,
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        bz = os.path.join(tmp, "bzImage")
        with open(bz, "wb") as f:  # enough of a setup header to be detected as a bzImage
            hdr = bytearray(0x2000)
            hdr[0x1fe:0x200] = b"\x55\xaa"
            hdr[0x202:0x206] = b"HdrS"
            hdr[0x206:0x208] = (0x20f).to_bytes(2, "little")
            hdr[0x1f1] = 1
            hdr[0x211] = 1  # loadflags: LOADED_HIGH
            f.write(hdr)
        cases = [
            (["--mem", "0"], "--mem"),
            (["--mem", "1"], "--mem"),
            (["--mem", "3000"], "--mem"),
            (["--mem", "1M"], "--mem"),
            (["--mem", "2T"], "--mem"),
            (["--mem", "-5M"], "--mem"),
            (["--cpus", "0"], "--cpus"),
            (["--cpus", "65"], "--cpus"),
            (["--unhandled", "sometimes"], "--unhandled"),
            (["--serial", "tcp:1"], "serial"),
            (["--serial", "file:" + fifo], "FIFO"),
            (["--stall-timeout", "soon"], "--stall-timeout"),
            (["--on-stall", "panic"], "--on-stall"),
            (["--coalesce", "maybe"], "--coalesce"),
            (["--stats-json", fifo], "--stats-json"),
            (["--stats-json", tmp], "--stats-json"),
            (["--stats-json", os.path.join(tmp, "nodir", "s.json")], "--stats-json"),
            (["--initrd", fifo, bz], "--initrd"),
            (["--initrd", os.path.join(tmp, "missing"), bz], "--initrd"),
            (["--initrd", bz], "--initrd"),  # a multiboot image (the demo) takes none
            ([os.path.join(tmp, "missing.elf")], "missing.elf"),
            ([fifo], "FIFO"),
            (["--net", "tap="], "--net"),
            (["--net", "tap=a/b", bz], "--net 'tap=a/b'"),
            (["--net", "tap=a-name-longer-than-15"], "longer than 15"),
            (["--net", "mac=02:00:00:00:00:01", bz], "expected tap=NAME"),
            (["--net", "tap=t0,mac=01:00:00:00:00:01", bz], "MAC"),
            (["--net", "tap=t0,mac=02:00:00:00:00", bz], "MAC"),
            (["--net", "tap=t0,speed=10", bz], "unknown key 'speed'"),
            (["--net", "tap=t0", "--net", "tap=t0", bz], "already used by another --net"),
            (["--net", "tap=t0"], "--net, --rng and --console virtio: the demo guest is not"),
            ([a for i in range(9) for a in ("--net", "tap=t%d" % i)] + [bz], "at most 8"),
            (["--bogus"], "usage"),
            (["a.elf", "b.elf"], "unexpected argument"),
        ]
        for args, needle in cases:
            cmd = [vmio, "run", "--serial", "none"] + args if args[0] != "--serial" else \
                [vmio, "run"] + args
            try:
                p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=TIMEOUT)
                rc, err = p.returncode, p.stderr.decode(errors="replace")
            except subprocess.TimeoutExpired:
                rc, err = None, "timed out (blocked?)"
            good = rc == USAGE and needle in err and "no_kvm_preload" not in err
            ok &= good
            print("%s %s: status %s" % ("ok  " if good else "FAIL", " ".join(args), rc))
            if not good:
                print("  wanted status %d and %r before /dev/kvm, got:\n%s" % (USAGE, needle, err))
        # The control: valid options reach /dev/kvm (and so does the stats file check).
        stats = os.path.join(tmp, "stats.json")
        p = subprocess.run([vmio, "run", "--serial", "none", "--mem", "2M", "--stats-json", stats],
                           env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        good = p.returncode == REACHED_KVM
        ok &= good
        print("%s valid options reach /dev/kvm: status %d" % ("ok  " if good else "FAIL",
                                                              p.returncode))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
