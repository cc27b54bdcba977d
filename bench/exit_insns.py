#!/usr/bin/env python3
"""exit_insns: user-space instructions per exit, counted by callgrind (deterministic).

Usage: exit_insns.py FAKE_BENCH [EXIT_BENCH] [--n1 N] [--n2 N]

Runs FAKE_BENCH (exit_insn_bench) under `valgrind --tool=callgrind` in both
modes with N1 and N2 exits and reports the instructions of vmio's exit path
per exit: ((vmio N2 - vmio N1) - (bare N2 - bare N1)) / (N2 - N1), i.e. with
the fake backend's own replay subtracted (exit_insn_bench.c says what is in
it). The same binary, inputs and environment give the same count on any
machine, loaded or not, so this is the exit path's regression figure.

With EXIT_BENCH (exit_bench), the same on real KVM: `exit_bench --only
VARIANT` (a guest doing N port writes) under callgrind where KVM runs
(through the KVM wrapper: natively or in the nested KVM VM), for a bare
KVM_RUN loop and vmio with timing off and on; per exit, with everything
vmio does in user space (kvm_run translation included).
Prints a table; writes JSON to $VMIO_BENCH_JSON; without valgrind it says so
and writes {"skipped": ...}.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "nested"))
from kvm import kvm  # noqa: E402


GOAL = 75  # instructions per exit of vmio's exit path, statistics and timing on


def instructions(cmd, wrap=lambda c: c):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        p = subprocess.run(wrap(["valgrind", "--tool=callgrind", "--vgdb=no",
                                 "--callgrind-out-file=" + out]
                                + cmd),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise SystemExit("exit_insns: %s failed:\n%s" % (" ".join(cmd), p.stderr[-2000:]))
        m = re.search(r"Collected : (\d+)", p.stderr) or re.search(r"refs:\s+([\d,]+)", p.stderr)
        if m:
            return int(m.group(1).replace(",", ""))
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise SystemExit("exit_insns: no instruction count from callgrind")


def main(argv):
    args = argv[1:]
    n1, n2 = 1, 20001
    for flag in ("--n1", "--n2"):
        if flag in args:
            i = args.index(flag)
            if flag == "--n1":
                n1 = int(args[i + 1])
            else:
                n2 = int(args[i + 1])
            del args[i:i + 2]
    bench = os.path.abspath(args[0])
    path = os.environ.get("VMIO_BENCH_JSON")
    if not shutil.which("valgrind"):
        print("exit_insns: skipped: valgrind is not installed (Debian package valgrind)")
        if path:
            with open(path, "w") as f:
                json.dump({"skipped": "valgrind not installed"}, f)
        return 0
    ir = {(mode, n): instructions([bench, mode, str(n)]) for mode in ("vmio", "bare")
          for n in (n1, n2)}
    per_vmio = (ir["vmio", n2] - ir["vmio", n1]) / (n2 - n1)
    per_bare = (ir["bare", n2] - ir["bare", n1]) / (n2 - n1)
    loop = per_vmio - per_bare
    # Port reads: the same, completing a value into the backend's buffer.
    rd = {(mode, n): instructions([bench, mode, str(n), "read"]) for mode in ("vmio", "bare")
          for n in (n1, n2)}
    loop_read = ((rd["vmio", n2] - rd["vmio", n1]) - (rd["bare", n2] - rd["bare", n1])) / (n2 - n1)
    print("Exit path, user-space instructions per exit (callgrind, fake backend, %d exits)"
          % (n2 - n1))
    print("%-40s %10.1f" % ("backend replay + script (bare loop)", per_bare))
    print("%-40s %10.1f" % ("vmio_vcpu_run() total", per_vmio))
    print("%-40s %10.1f" % ("vmio's exit path (the difference)", loop))
    print("%-40s %10.1f" % ("the same for port reads", loop_read))
    print("%-40s %10s" % ("goal (issue 11): at most %d" % GOAL, "met" if loop <= GOAL else "NOT met"))
    doc = {"n1": n1, "n2": n2, "instructions": {"%s_%d" % k: v for k, v in ir.items()},
           "per_exit_bare": per_bare, "per_exit_vmio": per_vmio, "per_exit_vmio_path": loop,
           "per_exit_vmio_path_read": loop_read,
           "goal": GOAL, "goal_met": loop <= GOAL}
    if len(args) > 1:
        exit_bench = os.path.abspath(args[1])
        kn1, kn2 = 1, 2001  # KVM exits are slow under valgrind in a nested VM
        per = {}
        for variant in ("bare", "vmio-timing-off", "vmio-timing-on"):
            a, b = (instructions([exit_bench, "--only", variant, "--exits", str(n)], kvm)
                    for n in (kn1, kn2))
            per[variant] = (b - a) / (kn2 - kn1)
        print("On KVM (exit_bench --only, %d port writes; user space only, per exit)"
              % (kn2 - kn1))
        for variant, v in per.items():
            print("%-40s %10.1f" % (variant, v))
        print("%-40s %10.1f" % ("vmio (timing on) minus bare", per["vmio-timing-on"] - per["bare"]))
        doc["kvm"] = {"n1": kn1, "n2": kn2, "per_exit": per}
    if path:
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
