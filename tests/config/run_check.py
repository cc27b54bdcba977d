#!/usr/bin/env python3
# `vmio check` on config fixtures: usage run_check.py VMIO FIXTURES_DIR
#
# For every FIXTURES_DIR/NAME.toml the combined output of `vmio check` (stdout
# then stderr, with FIXTURES_DIR written as @DIR@) and its exit status must
# equal FIXTURES_DIR/NAME.expected, whose first line is "status N". Valid
# fixtures show the summary and the memory/port map; invalid ones show the
# one error message (what and where); other-architecture fixtures show the
# "not runnable here" line. No KVM needed. VMIO_REGEN=1 rewrites the
# .expected files from what is observed (then review the diff).
# `vmio check` and `vmio run` share one validation: for every fixture check
# calls "not runnable here: REASON", `vmio run NAME.toml` must exit 2 with
# exactly "vmio: PATH: REASON" (it refuses before touching /dev/kvm, so this
# needs no KVM either). At least one such fixture must exist.
# Invariants: exits 0 pass, 1 fail; every run has a timeout.
import difflib
import glob
import os
import subprocess
import sys


def main():
    vmio, fixtures = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    ok = True
    compared = 0
    cases = sorted(glob.glob(os.path.join(fixtures, "*.toml")))
    if not cases:
        print("FAIL: no fixtures in %s" % fixtures)
        return 1
    for cfg in cases:
        p = subprocess.run([vmio, "check", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        got = "status %d\n" % p.returncode + p.stdout.decode(errors="replace") + \
            p.stderr.decode(errors="replace")
        got = got.replace(fixtures, "@DIR@")
        exp_path = cfg[:-len(".toml")] + ".expected"
        if os.environ.get("VMIO_REGEN"):
            with open(exp_path, "w") as f:
                f.write(got)
            print("regenerated %s" % os.path.basename(exp_path))
            continue
        try:
            exp = open(exp_path).read()
        except FileNotFoundError:
            exp = None
        name = os.path.basename(cfg)
        marker = cfg + ": valid; not runnable here: "
        refused = [l[len(marker):] for l in p.stdout.decode(errors="replace").splitlines()
                   if l.startswith(marker)]
        if refused:
            compared += 1
            r = subprocess.run([vmio, "run", cfg], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            want = "vmio: %s: %s\n" % (cfg, refused[0])
            if r.returncode != 2 or r.stderr.decode(errors="replace") != want:
                ok = False
                print("FAIL %s: vmio run disagrees with vmio check\n  check: %s  run (status %d): %s"
                      % (name, want, r.returncode, r.stderr.decode(errors="replace")))
                continue
        if exp == got:
            print("ok   %s" % name)
            continue
        ok = False
        print("FAIL %s" % name)
        sys.stdout.writelines(difflib.unified_diff((exp or "").splitlines(True),
                                                   got.splitlines(True), "expected", "observed"))
    if compared == 0 and not os.environ.get("VMIO_REGEN"):
        ok = False
        print("FAIL: no fixture is valid but not runnable: check and run were never compared")
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
