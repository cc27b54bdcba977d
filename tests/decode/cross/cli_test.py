#!/usr/bin/env python3
"""End-to-end test of `vmio decode arm64|riscv64` through decode-cli-driver.

Instruction words come from the cross assemblers (via gen_vectors.assemble);
ESR values are built from field values (Arm ARM ESR_EL2 layout). Checks the
exact JSON text, that it parses, and exit status 2 + stderr for errors.
Usage: cli_test.py DRIVER A64_AS A64_OBJDUMP RV_AS RV_OBJDUMP (exit 77 if an
assembler is missing).
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_vectors  # noqa: E402


def words(arch, as_prog, objdump, asm):
    rows = [(0, a, {}) for a in asm]
    return [int(w, 16) for w in gen_vectors.assemble(arch, as_prog, objdump, rows)]


def esr_dabt(isv, sas=0, sse=0, srt=0, sf=0, wnr=0, il=1, ec=0x24):
    return (ec << 26 | il << 25 | isv << 24 | sas << 22 | sse << 21 | srt << 16 | sf << 15
            | wnr << 6 | 0x07)


FAILS = []


def run(driver, args, want=None, rc=0):
    p = subprocess.run([driver] + args, capture_output=True, text=True)
    ok = p.returncode == rc
    if rc == 0:
        ok = ok and p.stdout.count("\n") == 1 and not p.stderr
        if ok:
            json.loads(p.stdout)
        if want is not None:
            ok = ok and p.stdout.strip() == want
    else:
        ok = ok and not p.stdout and p.stderr.strip() != ""
    print("%s %s -> %d %s%s" % ("ok  " if ok else "FAIL", " ".join(args), p.returncode,
                                p.stdout.strip(), p.stderr.strip()))
    if not ok:
        print("     want rc=%d %s" % (rc, want or ""))
        FAILS.append(args)


def main():
    driver, a_as, a_od, r_as, r_od = sys.argv[1:6]
    if not all(shutil.which(p) or os.path.exists(p) for p in (a_as, a_od, r_as, r_od)):
        sys.exit(77)
    a = words("arm64", a_as, a_od, [
        "str w1, [x0]", "ldp x29, x30, [sp], #16", "ldrsb w1, [x2, #-1]!",
        "mrs x1, midr_el1", "add x0, x1, x2", "stp w1, w2, [x3, #8]", "ldrsw x3, [x4, x5]"])
    A = lambda n: "0x%08x" % a[n]
    h = lambda v: "0x%x" % v
    # ESR of the example: STR W1 (EC 0x24, IL, ISV, SAS=2, SRT=1, WnR, DFSC 7)
    esr = esr_dabt(1, sas=2, srt=1, wnr=1)
    assert esr == 0x93810047
    run(driver, ["arm64", "--esr", h(esr)],
        '{"access":"write","width":4,"reg":1,"reg_width":4,"sign_extend":false}')
    run(driver, ["arm64", "--esr", h(esr), "--insn", A(0)],
        '{"access":"write","width":4,"reg":1,"reg_width":4,"sign_extend":false}')
    run(driver, ["arm64", "--esr", h(esr_dabt(1, sas=1, sse=1, srt=31, sf=1))],
        '{"access":"read","width":2,"reg":31,"reg_width":8,"sign_extend":true}')
    isv0 = h(esr_dabt(0))
    run(driver, ["arm64", "--esr", isv0, "--insn", A(1)],
        '{"access":"read","width":8,"reg":29,"reg_width":8,"sign_extend":false,"reg2":30,'
        '"writeback":{"mode":"post","base":31,"offset":16}}')
    run(driver, ["arm64", "--esr", isv0, "--insn", A(2)],
        '{"access":"read","width":1,"reg":1,"reg_width":4,"sign_extend":true,'
        '"writeback":{"mode":"pre","base":2,"offset":-1}}')
    run(driver, ["arm64", "--insn", A(5)],
        '{"access":"write","width":4,"reg":1,"reg_width":4,"sign_extend":false,"reg2":2}')
    run(driver, ["arm64", "--insn", A(6)],
        '{"access":"read","width":4,"reg":3,"reg_width":8,"sign_extend":true}')
    w = a[3]  # MRS: build the EC 0x18 ISS from its fields
    iss = (((w >> 19) & 3) << 20 | ((w >> 5) & 7) << 17 | ((w >> 16) & 7) << 14
           | ((w >> 12) & 15) << 10 | (w & 31) << 5 | ((w >> 8) & 15) << 1 | ((w >> 21) & 1))
    run(driver, ["arm64", "--esr", h(0x18 << 26 | 1 << 25 | iss)],
        '{"access":"read","width":8,"reg":1,"reg_width":8,"sign_extend":false,'
        '"sysreg":{"op0":3,"op1":0,"crn":0,"crm":0,"op2":0,"id":49152}}')
    run(driver, ["arm64", "--esr", isv0], rc=2)              # ISV=0 needs --insn
    run(driver, ["arm64", "--esr", isv0, "--insn", A(4)], rc=2)  # not a load/store
    run(driver, ["arm64", "--esr", h(0x16 << 26 | 1 << 25)], rc=2)  # HVC
    run(driver, ["arm64"], rc=2)
    run(driver, ["arm64", "--esr"], rc=2)
    run(driver, ["arm64", "--esr", "zz"], rc=2)
    run(driver, ["arm64", "--insn", "0x100000000"], rc=2)
    run(driver, ["arm64", "--bogus", "1"], rc=2)

    r = words("riscv64", r_as, r_od, ["sw a0, 0(a0)", "c.lw a0, 4(a1)", "lbu t0, -1(sp)",
                                      "c.sdsp ra, 8(sp)", "ld s0, 16(sp)", "add a0, a1, a2"])
    R = lambda n: "0x%x" % r[n]
    assert r[0] == 0x00a52023
    run(driver, ["riscv64", "--insn", R(0)],
        '{"access":"write","width":4,"reg":10,"sign_extend":false,"len":4}')
    run(driver, ["riscv64", "--insn", R(1)],
        '{"access":"read","width":4,"reg":10,"sign_extend":true,"len":2}')
    run(driver, ["riscv64", "--insn", R(2)],
        '{"access":"read","width":1,"reg":5,"sign_extend":false,"len":4}')
    run(driver, ["riscv64", "--insn", R(3)],
        '{"access":"write","width":8,"reg":1,"sign_extend":false,"len":2}')
    ht = gen_vectors.transform(r[4], "htinst", 3)
    run(driver, ["riscv64", "--htinst", h(ht)],
        '{"access":"read","width":8,"reg":8,"sign_extend":false,"len":4,'
        '"transformed":true,"addr_offset":3}')
    run(driver, ["riscv64", "--htinst", h(gen_vectors.transform(r[4], "htinst_c", 0))],
        '{"access":"read","width":8,"reg":8,"sign_extend":false,"len":2,'
        '"transformed":true,"addr_offset":0}')
    run(driver, ["riscv64", "--insn", R(5)], rc=2)
    run(driver, ["riscv64", "--htinst", "0"], rc=2)
    run(driver, ["riscv64", "--insn", R(0), "--htinst", "1"], rc=2)
    run(driver, ["riscv64"], rc=2)
    run(driver, ["riscv64", "--insn", "-1"], rc=2)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
