#!/usr/bin/env python3
"""Check `vmio decode x86-64` (through cli_driver) on every assembled vector.

For each line of vectors.txt the bytes come from GNU as (gen_x86_vectors.py's
assembler step); the driver must print exactly one JSON object whose keys
and values follow from the expectations on that line (valid vectors), or
nothing on stdout, a message on stderr and exit status 2 (errors). Also
checks the argument errors.

Usage: cli_test.py DRIVER AS OBJCOPY NM VECTORS
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_x86_vectors as gv  # noqa: E402

OPS = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test", "xchg"}


def run(driver, *args):
    p = subprocess.run([driver, "x86-64", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def expected(kv, code):
    w = int(kv.get("w", "0"))
    exp = {
        "access": "read" if kv.get("dir", "r") == "r" else "write",
        "width": w,
        "reg": None if kv.get("reg", "none") == "none" else kv["reg"],
        "sign_extend": kv.get("sx", "0") == "1",
        "len": len(code),
    }
    if "imm" in kv:
        exp["imm"] = "0x%x" % (int(kv["imm"], 0) & ((1 << (8 * w)) - 1))
    if kv.get("str", "0") == "1":
        exp["string"] = True
    if kv.get("rep", "0") == "1":
        exp["rep"] = True
    if kv.get("op", "mov") in OPS:
        exp["op"] = kv["op"]
    return exp


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    driver = sys.argv[1]
    vecs = gv.parse(sys.argv[5])
    codes = gv.assemble(sys.argv[2:5], vecs)
    bad = 0
    for (lineno, asm, kv), code in zip(vecs, codes):
        hexs = " ".join(f"{b:02x}" for b in code)
        rc, out, err = run(driver, "--bytes", hexs, "--mode", kv.get("mode", "64"))
        where = f"vectors.txt:{lineno}: {asm} [{hexs}]"
        if kv.get("rc", "ok") != "ok":
            if rc != 2 or out or not err:
                print(f"{where}: expected an error, got {rc} {out!r} {err!r}")
                bad += 1
            continue
        lines = out.splitlines()
        try:
            got = json.loads(out)
        except ValueError:
            got = None
        exp = expected(kv, code)
        if rc != 0 or len(lines) != 1 or got != exp:
            print(f"{where}: got {rc} {out.strip()!r}, expected {json.dumps(exp)}")
            bad += 1
    # Argument handling.
    for args in ([], ["--bytes"], ["--bytes", "zz"], ["--bytes", "0f 0"], ["--bytes", "90 " * 16],
                 ["--bytes", "48 8b 03", "--mode", "8"], ["--frob"], ["--bytes", ""]):
        rc, out, err = run(driver, *args)
        if rc != 2 or out or not err:
            print(f"arguments {args}: got {rc} {out!r} {err!r}, expected status 2 and a message")
            bad += 1
    rc, out, _ = run(driver, "--bytes", "0x48,0x8b,0x03")
    if rc != 0 or json.loads(out)["reg"] != "rax":
        print("--bytes 0x48,0x8b,0x03 not accepted")
        bad += 1
    print(f"{len(vecs)} vectors through the CLI, {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
