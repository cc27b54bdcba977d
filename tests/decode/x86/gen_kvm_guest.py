#!/usr/bin/env python3
"""Generate the KVM cross-check guest's MMIO instruction sequence.

Writes an Intel-syntax assembly file defining `xc_run_all`, a function (System
V ABI, called from xc_guest.c) that executes a long, deterministic
pseudo-random sequence of MMIO instructions against testdev: every form vmio's
x86 decoder supports (MOV r/m<->reg, MOV imm, moffs, MOVZX/MOVSX/MOVSXD,
MOVS/STOS with and without REP and with DF both ways, the ALU forms
ADD/OR/ADC/SBB/AND/SUB/XOR/CMP with register and immediate operands, TEST,
XCHG, LOCK), at every width, through assorted addressing modes (base,
disp8/disp32, SIB with and without base, absolute, RIP-relative, 67 address
size with garbage in the upper register halves, FS/GS overrides with non-zero
bases, redundant CS/DS/ES/SS overrides, 67-prefixed MOVS/STOS with junk in
the upper register halves) and register choices (REX registers, AH..BH);
then the same forms (widths 1, 2 and 4) again in compatibility mode (a
32-bit code segment, CS.D = 1) through its own GDT, and back to 64-bit mode.

Before every MMIO instruction the guest writes port 0xe2 (`out 0xe2, al`, a
marker: the host takes the register file there and decodes the instruction
that follows, at the guest RIP, through the guest page tables); after it, port
0xe0 (`out 0xe0, al`, a checkpoint: the host compares the register file with
what vmio's emulation predicted). At the end it writes the number of checkpoints to port
0xe1. Reads are preceded by a checked 8-byte store of a random value into
testdev's ECHO register so loads see varied data.

Memory windows (the host registers testdev-backed checkers there):
  high: 0xd0000000 (VMIO_TESTDEV_MMIO_BASE)  low: 0x10000000 (symbol xc_low, for
  RIP-relative and absolute disp32 forms; defined with --defsym at link time)
FS base = 0xc0000000, GS base = 0xd0000000 - 0x10000 (set by xc_guest.c).

Usage: gen_kvm_guest.py OUTPUT.s [SEED]
"""
import random
import sys

HIGH = 0xD0000000
LOW = 0x10000000
FS_BASE = 0xC0000000
GS_BASE = 0xD0000000 - 0x10000

R64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + [f"r{i}" for i in range(8, 16)]
NAMES = {
    8: R64,
    4: ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] + [f"r{i}d" for i in range(8, 16)],
    2: ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] + [f"r{i}w" for i in range(8, 16)],
    1: ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"] + [f"r{i}b" for i in range(8, 16)],
}
HIGH8 = ["ah", "ch", "dh", "bh"]
PTR = {1: "byte", 2: "word", 4: "dword", 8: "qword"}
ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
LEGACY = [0, 1, 2, 3, 5, 6, 7]  # GPRs usable without REX (no rsp)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.out = []
        self.checkpoints = 0
        self.m32 = False  # emitting compatibility-mode (32-bit) code

    def rn(self, g):
        """Name of GPR g as an address register in the current mode."""
        return NAMES[4][g] if self.m32 else R64[g]

    def emit(self, line):
        self.out.append("    " + line)

    def mmio(self, insn):
        """One MMIO instruction between a marker and a checkpoint."""
        self.emit("out 0xe2, al")
        self.emit(insn)
        self.emit("out 0xe0, al")
        self.checkpoints += 1

    def rand64(self):
        return self.r.getrandbits(64)

    def setreg(self, reg, value):
        if self.m32:
            self.emit(f"mov {NAMES[4][reg]}, 0x{value & 0xFFFFFFFF:x}")
        else:
            self.emit(f"movabs {R64[reg]}, 0x{value & (2**64 - 1):x}")

    def target(self, width, low=False):
        """A testdev address inside ECHO (offset 0..8-width)."""
        return (LOW if low else HIGH) + self.r.randint(0, 8 - width)

    def echo_seed(self, low=False):
        """A checked 8-byte store of a random value into ECHO (A3 moffs)."""
        base = LOW if low else HIGH
        self.setreg(0, self.rand64())
        if self.m32:
            self.mmio(f"mov dword ptr [0x{base:x}], eax")
            self.setreg(0, self.rand64())
            self.mmio(f"mov dword ptr [0x{base + 4:x}], eax")
        else:
            self.mmio(f"movabs qword ptr [0x{base:x}], rax")

    def address(self, t, avoid, legacy_only=False):
        """Set up registers so that a memory operand addresses t; returns the operand."""
        pool = [g for g in (LEGACY if legacy_only or self.m32 else
                            [g for g in range(16) if g != 4]) if g not in avoid]
        if self.m32:
            kinds = ["base", "disp8", "disp32", "sib", "index", "fs", "gs", "seg", "abs"]
        else:
            kinds = ["base", "disp8", "disp32", "sib", "index", "a32", "fs", "gs", "seg"]
            if t < 2**31:
                kinds += ["abs", "rip"]
        kind = self.r.choice(kinds)
        base = self.r.choice(pool)
        if kind == "base":
            self.setreg(base, t)
            return f"[{self.rn(base)}]"
        if kind == "disp8":
            d = self.r.randint(-128, 127)
            self.setreg(base, t - d)
            return f"[{self.rn(base)}{d:+#x}]".replace("+-", "-")
        if kind == "disp32":
            d = self.r.choice([self.r.randint(-2**31, 2**31 - 1), self.r.randint(128, 4096)])
            self.setreg(base, t - d)
            return f"[{self.rn(base)}{d:+#x}]"
        if kind in ("sib", "index"):
            index = self.r.choice([g for g in pool if g != base])
            scale = self.r.choice([1, 2, 4, 8])
            iv = self.r.randint(0, 0x1000)
            d = self.r.randint(-200, 200) * scale + (0 if kind == "sib" else 0)
            if kind == "sib":
                self.setreg(index, iv)
                self.setreg(base, t - iv * scale - d)
                return f"[{self.rn(base)}+{self.rn(index)}*{scale}{d:+#x}]"
            d = self.r.randint(-0x1000, 0x1000) * scale
            off = (t - d) % scale
            d += off
            self.setreg(index, (t - d) // scale)
            return f"[{self.rn(index)}*{scale}{d:+#x}]"
        if kind == "a32":
            d = self.r.randint(-128, 127)
            junk = self.r.getrandbits(32) << 32
            self.setreg(base, junk | ((t - d) & 0xFFFFFFFF))
            name32 = NAMES[4][base]
            return f"[{name32}{d:+#x}]"
        if kind in ("fs", "gs"):
            segbase = FS_BASE if kind == "fs" else GS_BASE
            self.setreg(base, t - segbase)
            return f"{kind}:[{self.rn(base)}]"
        if kind == "seg":
            # CS is a code segment: not writable outside 64-bit mode.
            seg = self.r.choice(["es", "ss", "ds"] + ([] if self.m32 else ["cs"]))
            self.setreg(base, t)
            return f"{seg}:[{self.rn(base)}]"
        if kind == "abs":
            return f"[0x{t:x}]"
        return f"[rip+xc_low+{t - LOW}]"

    def data_reg(self, width, allow_high=True):
        """(name, gpr, legacy_only) of a register operand, never rsp/sp/esp/spl."""
        if width == 1 and allow_high and self.r.random() < 0.3:
            i = self.r.randint(0, 3)
            return HIGH8[i], i, True
        if self.m32:
            g = self.r.choice([0, 1, 2, 3] if width == 1 else LEGACY)  # no SIL/DIL without REX
        else:
            g = self.r.choice([g for g in range(16) if g != 4])
        return NAMES[width][g], g, False

    def maybe_flags(self):
        self.emit(self.r.choice(["stc", "clc"]))

    # ---- forms ----

    def mov_reg(self, width, load):
        low = self.r.random() < 0.25
        t = self.target(width, low)
        if load:
            self.echo_seed(low)
        name, g, legacy = self.data_reg(width)
        self.setreg(g, self.rand64())
        mem = self.address(t, {g}, legacy)
        op = f"mov {name}, {PTR[width]} ptr {mem}" if load else f"mov {PTR[width]} ptr {mem}, {name}"
        self.mmio(op)

    def mov_imm(self, width):
        t = self.target(width, self.r.random() < 0.25)
        mem = self.address(t, set())
        imm = {1: self.r.getrandbits(8), 2: self.r.getrandbits(16), 4: self.r.getrandbits(32),
               8: self.r.randint(-2**31, 2**31 - 1)}[width]
        self.mmio(f"mov {PTR[width]} ptr {mem}, {imm:#x}")

    def moffs(self, width, load):
        low = self.r.random() < 0.3
        t = self.target(width, low)
        if load:
            self.echo_seed(low)
        self.setreg(0, self.rand64())
        acc = NAMES[width][0]
        if self.m32:
            opnd = f"{PTR[width]} ptr [0x{t:x}]"
            self.mmio(f"mov {acc}, {opnd}" if load else f"mov {opnd}, {acc}")
        elif self.r.random() < 0.3:
            # 32-bit offset with an address-size prefix.
            opnd = f"{PTR[width]} ptr [0x{t:x}]"
            self.mmio(f"addr32 mov {acc}, {opnd}" if load else f"addr32 mov {opnd}, {acc}")
        else:
            opnd = f"{PTR[width]} ptr [0x{t:x}]"
            self.mmio(f"movabs {acc}, {opnd}" if load else f"movabs {opnd}, {acc}")

    def movx(self, kind, src_w, dst_w):
        low = self.r.random() < 0.25
        t = self.target(src_w, low)
        self.echo_seed(low)
        g = self.r.choice(LEGACY if self.m32 else [g for g in range(16) if g != 4])
        self.setreg(g, self.rand64())
        mem = self.address(t, {g})
        self.mmio(f"{kind} {NAMES[dst_w][g]}, {PTR[src_w]} ptr {mem}")

    def alu(self, op, width, form):
        low = self.r.random() < 0.25
        t = self.target(width, low)
        self.echo_seed(low)
        self.maybe_flags()
        lock = ""
        if form == "imm":
            mem = self.address(t, set())
            if width == 1:
                imm = self.r.getrandbits(8)
            elif self.r.random() < 0.5:
                imm = self.r.randint(-128, 127)  # 83 ib
            else:
                imm = self.r.randint(-2**15, 2**15 - 1) if width == 2 else \
                    self.r.randint(-2**31, 2**31 - 1)
            if op != "cmp" and self.r.random() < 0.2:
                lock = "lock "
            self.mmio(f"{lock}{op} {PTR[width]} ptr {mem}, {imm:#x}")
        else:
            name, g, legacy = self.data_reg(width)
            self.setreg(g, self.rand64())
            mem = self.address(t, {g}, legacy)
            if form == "mr":
                if op != "cmp" and self.r.random() < 0.2:
                    lock = "lock "
                self.mmio(f"{lock}{op} {PTR[width]} ptr {mem}, {name}")
            else:
                self.mmio(f"{op} {name}, {PTR[width]} ptr {mem}")

    def test(self, width, imm):
        low = self.r.random() < 0.25
        t = self.target(width, low)
        self.echo_seed(low)
        if imm:
            mem = self.address(t, set())
            v = self.r.getrandbits(8 * min(width, 4))
            if width == 8:
                v = self.r.randint(-2**31, 2**31 - 1)
            self.mmio(f"test {PTR[width]} ptr {mem}, {v:#x}")
        else:
            name, g, legacy = self.data_reg(width)
            self.setreg(g, self.rand64())
            mem = self.address(t, {g}, legacy)
            self.mmio(f"test {PTR[width]} ptr {mem}, {name}")

    def xchg(self, width):
        low = self.r.random() < 0.25
        t = self.target(width, low)
        self.echo_seed(low)
        name, g, legacy = self.data_reg(width)
        self.setreg(g, self.rand64())
        mem = self.address(t, {g}, legacy)
        lock = "lock " if self.r.random() < 0.3 else ""
        if self.r.random() < 0.5:
            self.mmio(f"{lock}xchg {PTR[width]} ptr {mem}, {name}")
        else:
            self.mmio(f"{lock}xchg {name}, {PTR[width]} ptr {mem}")

    def string(self, kind, width):
        sfx = {1: "b", 2: "w", 4: "d", 8: "q"}[width]
        rep = self.r.random() < 0.6
        count = self.r.randint(1, 4) if rep else 1
        down = self.r.random() < 0.4
        span = width * (count - 1)
        # Elements stay inside testdev's register file (0x00..0x48).
        start = HIGH + (0x20 + span if down else self.r.choice([0, 8, 0x10]))
        buf_off = 0x80 + (span if down else 0)
        # 64-bit mode: sometimes a 32-bit address size with junk in the upper halves.
        a32 = not self.m32 and self.r.random() < 0.25
        junk = (self.r.getrandbits(32) << 32) if a32 else 0
        pfx = "addr32 " if a32 else ""
        buf = f"[xc_buf+{buf_off}]" if self.m32 else f"[rip+xc_buf+{buf_off}]"
        self.emit("std" if down else "cld")
        if kind == "stos":
            self.setreg(0, self.rand64())
            self.setreg(7, junk | start)
            if rep:
                self.setreg(1, junk | count)
            self.mmio(f"{pfx}{'rep ' if rep else ''}stos{sfx}")
        else:
            to_mmio = self.r.random() < 0.5
            seg = ""
            if to_mmio:
                self.emit(f"lea {self.rn(6)}, {buf}")
                self.setreg(7, junk | start)
            else:
                if self.r.random() < 0.3:
                    seg = "fs "
                    self.setreg(6, junk | ((start - FS_BASE) & 0xFFFFFFFF))
                else:
                    self.setreg(6, junk | start)
                self.emit(f"lea {self.rn(7)}, {buf}")
            if rep:
                self.setreg(1, junk | count)
            self.mmio(f"{seg}{pfx}{'rep ' if rep else ''}movs{sfx}")
        # One checkpoint per instruction; a REP instruction exits once per element.
        self.emit("cld")

    def all_forms(self, rounds):
        widths = (1, 2, 4) if self.m32 else (1, 2, 4, 8)
        for _ in range(rounds):
            for w in widths:
                self.mov_reg(w, True)
                self.mov_reg(w, False)
                self.mov_imm(w)
                self.moffs(w, True)
                self.moffs(w, False)
                self.test(w, False)
                self.test(w, True)
                self.xchg(w)
                for op in ALU:
                    for form in ("mr", "rm", "imm"):
                        self.alu(op, w, form)
                self.string("stos", w)
                self.string("movs", w)
            for dst in widths[1:]:
                self.movx("movzx", 1, dst)
                self.movx("movsx", 1, dst)
            for dst in widths[2:]:
                self.movx("movzx", 2, dst)
                self.movx("movsx", 2, dst)
            if not self.m32:
                self.movx("movsxd", 4, 8)

    def compat_block(self, rounds):
        """The same forms in compatibility mode (CS.L = 0, CS.D = 1)."""
        self.emit("lgdt [rip+xc_gdt_desc]")
        # Null FS/GS fault outside 64-bit mode: load the flat data selector,
        # then restore the bases (a selector load replaces them).
        self.emit("mov eax, 0x10")
        self.emit("mov fs, eax")
        self.emit("mov gs, eax")
        for msr, base in ((0xC0000100, FS_BASE), (0xC0000101, GS_BASE)):
            self.emit(f"mov ecx, {msr:#x}")
            self.emit(f"mov eax, {base:#x}")
            self.emit("xor edx, edx")
            self.emit("wrmsr")
        self.emit("lea rax, [rip+xc_c32]")
        self.emit("push 0x18")
        self.emit("push rax")
        self.out.append(".att_syntax prefix\n    lretq\n.intel_syntax noprefix")
        self.out.append(".code32\nxc_c32:")
        self.m32 = True
        self.all_forms(rounds)
        self.m32 = False
        self.out.append(".att_syntax prefix\n    ljmp $0x08, $xc_back64\n.intel_syntax noprefix")
        self.out.append(".code64\nxc_back64:")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else 20261124
    g = Gen(seed)
    g.all_forms(6)
    g.compat_block(4)
    r = random.Random(seed + 1)
    with open(sys.argv[1], "w") as f:
        f.write("/* Generated by gen_kvm_guest.py; do not edit. */\n")
        f.write(".intel_syntax noprefix\n.text\n.globl xc_run_all\nxc_run_all:\n")
        f.write("    push rbx\n    push rbp\n    push r12\n    push r13\n    push r14\n"
                "    push r15\n    cld\n")
        f.write("\n".join(g.out) + "\n")
        f.write(f"    mov eax, {g.checkpoints}\n    out 0xe1, eax\n")
        f.write("    pop r15\n    pop r14\n    pop r13\n    pop r12\n    pop rbp\n    pop rbx\n"
                "    ret\n")
        f.write(".data\n.balign 8\nxc_gdt:\n    .quad 0\n"
                "    .quad 0x00AF9A000000FFFF /* 0x08: 64-bit code */\n"
                "    .quad 0x00CF92000000FFFF /* 0x10: data */\n"
                "    .quad 0x00CF9A000000FFFF /* 0x18: 32-bit code (compatibility mode) */\n"
                "xc_gdt_end:\n.balign 8\nxc_gdt_desc:\n    .word xc_gdt_end - xc_gdt - 1\n"
                "    .quad xc_gdt\n")
        f.write(".balign 64\n.globl xc_buf\nxc_buf:\n")
        for _ in range(32):
            f.write("    .quad 0x%016x\n" % r.getrandbits(64))
        f.write('.section .note.GNU-stack, "", @progbits\n')


if __name__ == "__main__":
    main()
