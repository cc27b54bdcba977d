#!/usr/bin/env python3
"""Assemble decoder test vectors with a real assembler and emit a C header.

Input: a vectors file, one instruction per line:
    <assembly> | key=value key=value ...
'#' starts a comment line. The assembly is fed to the cross assembler (GNU
as); the encodings are read back from objdump -d, so no encoding is typed by
hand. The key=value expectations are copied into a C table beside the
assembled word; the test compares them with the decoder's output.

RISC-V only: src=htinst / src=htinst_c turn the assembled 32-bit instruction
into the transformed instruction htinst reports (privileged spec: immediate
fields zeroed, rs1 field = Addr. Offset (key aoff), and for a compressed
original (htinst_c) bit 1 cleared). Lines whose mnemonic starts with "c." are
assembled with .option rvc, everything else with .option norvc.

Usage: gen_vectors.py ARCH AS OBJDUMP INPUT OUTPUT
  ARCH is arm64 or riscv64. Exit status is nonzero on any mismatch.
"""
import os
import re
import subprocess
import sys
import tempfile

ARM64_KEYS = {
    # key: (C field, default, parser)
    "rc": ("rc", "VMIO_DECODE_OK", None),
    "dir": ("dir", "VMIO_READ", None),
    "w": ("width", "0", None),
    "reg": ("reg", "VMIO_REG_NONE", None),
    "rw": ("reg_width", "0", None),
    "sx": ("sign_extend", "0", None),
    "reg2": ("reg2", "VMIO_REG_NONE", None),
    "base": ("base", "VMIO_REG_NONE", None),
    "wb": ("wb", "VMIO_ARM64_WB_NONE", None),
    "off": ("offset", "0", None),
    "idx": ("index", "VMIO_REG_NONE", None),
    "ext": ("extend", "0", None),
    "sh": ("shift", "0", None),
    "unpriv": ("unprivileged", "0", None),
    "sys": ("sys", "{0, 0, 0, 0, 0}", None),
}

RISCV_KEYS = {
    "rc": ("rc", "VMIO_DECODE_OK", None),
    "dir": ("dir", "VMIO_READ", None),
    "w": ("width", "0", None),
    "reg": ("reg", "VMIO_REG_NONE", None),
    "sx": ("sign_extend", "0", None),
    "len": ("len", "0", None),
    "base": ("base", "VMIO_REG_NONE", None),
    "off": ("offset", "0", None),
    "aoff": ("addr_offset", "0", None),
    "src": ("src", "0", None),
}

RC = {"ok": "VMIO_DECODE_OK", "unsupported": "VMIO_DECODE_UNSUPPORTED",
      "invalid": "VMIO_DECODE_INVALID", "truncated": "VMIO_DECODE_TRUNCATED"}
DIR = {"r": "VMIO_READ", "w": "VMIO_WRITE"}
WB = {"none": "VMIO_ARM64_WB_NONE", "pre": "VMIO_ARM64_WB_PRE", "post": "VMIO_ARM64_WB_POST"}
EXT = {"uxtw": "VMIO_ARM64_EXT_UXTW", "lsl": "VMIO_ARM64_EXT_LSL",
       "sxtw": "VMIO_ARM64_EXT_SXTW", "sxtx": "VMIO_ARM64_EXT_SXTX"}
SRC = {"insn": "0", "htinst": "1", "htinst_c": "2"}


def die(msg):
    sys.stderr.write("gen_vectors: %s\n" % msg)
    sys.exit(1)


def c_value(key, val, lineno):
    table = {"rc": RC, "dir": DIR, "wb": WB, "ext": EXT, "src": SRC}.get(key)
    if table is not None:
        if val not in table:
            die("line %d: bad %s=%s" % (lineno, key, val))
        return table[val]
    if key == "sys":
        parts = val.split(".")
        if len(parts) != 5:
            die("line %d: sys needs op0.op1.crn.crm.op2" % lineno)
        return "{%s}" % ", ".join(str(int(p, 0)) for p in parts)
    if key in ("reg", "reg2", "base", "idx") and val == "none":
        return "VMIO_REG_NONE"
    try:
        return str(int(val, 0))
    except ValueError:
        die("line %d: bad number %s=%s" % (lineno, key, val))


def parse(path, keys):
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "|" not in line:
                die("line %d: missing '|'" % lineno)
            asm, exp = (s.strip() for s in line.split("|", 1))
            fields = {}
            for kv in exp.split():
                if "=" not in kv:
                    die("line %d: bad expectation %r" % (lineno, kv))
                k, v = kv.split("=", 1)
                if k not in keys:
                    die("line %d: unknown key %r" % (lineno, k))
                fields[k] = c_value(k, v, lineno)
                if k in ("src", "aoff"):
                    fields["_" + k] = v
            rows.append((lineno, asm, fields))
    return rows


def assemble(arch, as_prog, objdump, rows):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "v.s")
        obj = os.path.join(tmp, "v.o")
        with open(src, "w") as f:
            if arch == "riscv64":
                f.write(".option norvc\n")
            for _, asm, _ in rows:
                if arch == "riscv64" and asm.startswith("c."):
                    f.write(".option rvc\n%s\n.option norvc\n" % asm)
                else:
                    f.write(asm + "\n")
        cmd = [as_prog]
        if arch == "riscv64":
            cmd += ["-march=rv64gch"]
        else:
            cmd += ["-march=armv8.5-a+memtag"]
        subprocess.run(cmd + ["-o", obj, src], check=True)
        out = subprocess.run([objdump, "-d", obj], check=True, capture_output=True,
                             text=True).stdout
    words = []
    for line in out.splitlines():
        m = re.match(r"^\s*[0-9a-f]+:\s+([0-9a-f]{4}|[0-9a-f]{8})\s", line)
        if m:
            words.append(m.group(1))
    if len(words) != len(rows):
        die("assembled %d instructions for %d vectors" % (len(words), len(rows)))
    return words


def transform(word, src, aoff):
    """htinst transformed instruction of a 32-bit load/store (privileged spec)."""
    opcode = word & 0x7F
    if opcode == 0x03:  # load: imm[11:0] (31:20) zeroed
        word &= ~(0xFFF << 20)
    elif opcode == 0x23:  # store: imm (31:25, 11:7) zeroed
        word &= ~((0x7F << 25) | (0x1F << 7))
    word = (word & ~(0x1F << 15)) | ((aoff & 0x1F) << 15)  # rs1 -> Addr. Offset
    if src == "htinst_c":
        word &= ~2
    return word & 0xFFFFFFFF


def main():
    if len(sys.argv) != 6:
        die("usage: gen_vectors.py ARCH AS OBJDUMP INPUT OUTPUT")
    arch, as_prog, objdump, inp, outp = sys.argv[1:]
    keys = ARM64_KEYS if arch == "arm64" else RISCV_KEYS
    rows = parse(inp, keys)
    words = assemble(arch, as_prog, objdump, rows)
    name = "arm64" if arch == "arm64" else "riscv"
    fields = [v[0] for v in keys.values()]
    out = ["/* Generated by tests/decode/cross/gen_vectors.py from %s: do not edit. */"
           % os.path.basename(inp), "#include \"vmio/decode.h\"", "",
           "struct %s_vector {" % name,
           "    uint32_t insn; /* as assembled (riscv: transformed for htinst rows) */",
           "    uint8_t asm_len; /* encoding length objdump reported */",
           "    const char *text;",
           "    int line;"]
    for f in fields:
        if f == "sys":
            out.append("    uint8_t sys[5]; /* op0 op1 crn crm op2 */")
        elif f == "offset":
            out.append("    long long offset;")
        else:
            out.append("    int %s;" % f)
    out += ["};", "", "static const struct %s_vector %s_vectors[] = {" % (name, name)]
    for (lineno, asm, fs), w in zip(rows, words):
        word = int(w, 16)
        if arch == "riscv64" and fs.get("_src", "insn") != "insn":
            word = transform(word, fs["_src"], int(fs.get("_aoff", "0"), 0))
        vals = [fs.get(k, d) for k, (_, d, _) in keys.items()]
        text = asm.replace("\\", "\\\\").replace('"', '\\"')
        out.append("    {0x%08x, %d, \"%s\", %d, %s}," % (word, len(w) // 2, text, lineno,
                                                     ", ".join(vals)))
    out += ["};", "", "#define %s_NVECTORS (sizeof %s_vectors / sizeof %s_vectors[0])"
            % (name.upper(), name, name), ""]
    with open(outp, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
