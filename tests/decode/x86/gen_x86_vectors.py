#!/usr/bin/env python3
"""Assemble x86 decoder test vectors with the host assembler; emit a C table.

Input: a vectors file, one instruction per line:
    <intel-syntax assembly> | key=value key=value ...
Blank lines and lines starting with '#' are ignored. Every line is assembled
by GNU as (with .codeNN for its mode) between two labels; the bytes come back
through objcopy -O binary and the labels' offsets from nm, so no encoding is
ever typed by hand. The expectations (keys below) are copied into the table
with their defaults filled in; tests/decode/x86/test_x86_decode.c compares
them with the decoder's output.

Keys (default):
  mode=64|32|16 (64)     rc=ok|invalid|unsupported (ok)
  dir=r|w                w=1|2|4|8 (memory access width)
  reg=NAME|none (none)   register operand as the instruction names it
  sx=0|1 (0)             sign-extend
  op=NAME (mov)          vmio_x86_op_name() of the operation
  imm=VALUE              immediate (operand-size value); absent: no immediate
  str=0|1 rep=0|1 (0)    string instruction / REP prefix
  mem=r|w|rw             reads/writes of the memory operand (r for dir=r, w for dir=w)
  base=REG index=REG (none)  scale=N (1)  disp=N (0)  rip=0|1 (0)
  seg=es|cs|ss|ds|fs|gs (ds)  ovr=0|1 (0)  asz=2|4|8 (mode default)
  lock=0|1 (0)

Usage: gen_x86_vectors.py AS OBJCOPY NM INPUT OUTPUT
"""
import os
import subprocess
import sys
import tempfile

SEGS = ["es", "cs", "ss", "ds", "fs", "gs"]
RC = {"ok": "VMIO_DECODE_OK", "invalid": "VMIO_DECODE_INVALID",
      "unsupported": "VMIO_DECODE_UNSUPPORTED", "truncated": "VMIO_DECODE_TRUNCATED"}
KNOWN = {"mode", "rc", "dir", "w", "reg", "sx", "op", "imm", "str", "rep", "mem", "base",
         "index", "scale", "disp", "rip", "seg", "ovr", "asz", "lock"}


def parse(path):
    vecs = []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if "|" not in line:
                sys.exit(f"{path}:{lineno}: missing '|'")
            asm, keys = line.split("|", 1)
            kv = {}
            for tok in keys.split():
                k, _, v = tok.partition("=")
                if k not in KNOWN or not v:
                    sys.exit(f"{path}:{lineno}: bad key '{tok}'")
                kv[k] = v
            vecs.append((lineno, asm.strip(), kv))
    return vecs


def assemble(tools, vecs):
    as_, objcopy, nm = tools
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "v.s")
        with open(src, "w") as f:
            f.write(".intel_syntax noprefix\n.text\n")
            for i, (_, asm, kv) in enumerate(vecs):
                f.write(f".code{kv.get('mode', '64')}\nv{i}_s:\n{asm}\nv{i}_e:\n")
            f.write(".code64\n")
        obj = os.path.join(d, "v.o")
        binf = os.path.join(d, "v.bin")
        subprocess.run([as_, "--64", "-o", obj, src], check=True)
        subprocess.run([objcopy, "-O", "binary", "-j", ".text", obj, binf], check=True)
        syms = {}
        out = subprocess.run([nm, obj], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                syms[parts[2]] = int(parts[0], 16)
        with open(binf, "rb") as f:
            text = f.read()
    res = []
    for i in range(len(vecs)):
        s, e = syms[f"v{i}_s"], syms[f"v{i}_e"]
        if not 0 < e - s <= 15:
            sys.exit(f"vector {i}: bad length {e - s}")
        res.append(text[s:e])
    return res


def cstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def num(s):
    return int(s, 0)


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    tools = sys.argv[1:4]
    vecs = parse(sys.argv[4])
    codes = assemble(tools, vecs)
    rows = []
    for (lineno, asm, kv), code in zip(vecs, codes):
        mode = int(kv.get("mode", "64"))
        rc = RC[kv.get("rc", "ok")]
        d = kv.get("dir", "r")
        mem = kv.get("mem", d)
        asz = int(kv.get("asz", {64: 8, 32: 4, 16: 2}[mode]))
        imm = kv.get("imm")
        f = [
            cstr(asm), str(lineno),
            "{" + ", ".join(f"0x{b:02x}" for b in code) + "}", str(len(code)),
            {64: "VMIO_X86_MODE_64", 32: "VMIO_X86_MODE_32", 16: "VMIO_X86_MODE_16"}[mode],
            rc,
            "VMIO_READ" if d == "r" else "VMIO_WRITE",
            str(int(kv.get("w", "0"))),
            cstr(kv.get("reg", "none")),
            kv.get("sx", "0"),
            cstr(kv.get("op", "mov")),
            "1" if imm is not None else "0",
            f"0x{num(imm) & (2**64 - 1):x}ULL" if imm is not None else "0",
            kv.get("str", "0"), kv.get("rep", "0"),
            "1" if "r" in mem else "0", "1" if "w" in mem else "0",
            cstr(kv.get("base", "none")), cstr(kv.get("index", "none")),
            str(int(kv.get("scale", "1"))),
            f"(int64_t)0x{num(kv.get('disp', '0')) & (2**64 - 1):x}ULL",
            kv.get("rip", "0"),
            str(SEGS.index(kv.get("seg", "ds"))), kv.get("ovr", "0"),
            str(asz), kv.get("lock", "0"),
        ]
        rows.append("    {" + ", ".join(f) + "},")
    with open(sys.argv[5], "w") as out:
        out.write("/* Generated by gen_x86_vectors.py from " + os.path.basename(sys.argv[4]) +
                  "; do not edit. */\n")
        out.write("static const struct x86_vector x86_vectors[] = {\n")
        out.write("\n".join(rows) + "\n};\n")


if __name__ == "__main__":
    main()
