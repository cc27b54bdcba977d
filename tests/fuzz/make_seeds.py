#!/usr/bin/env python3
# Writes the seed inputs of the devices and decoder fuzz targets into
# tests/fuzz/corpus-{devices,decode_x86,decode_arm64,decode_riscv}/ (file
# name: what the seed is). Run it again after changing an input format;
# inputs libFuzzer finds interesting may be added by hand (keep each corpus
# small: it is replayed by `make check`).
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus-" + corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- devices: model, bus, then 4-byte ops (see fuzz_devices.c) ----
def op(kind, width_code, write_, off, rep=0, seed=0, odd=False):
    return [(kind << 4) | (8 if odd else 0) | (4 if write_ else 0) | width_code,
            (off + 8) & 0xff, rep, seed]


MODELS = ["uart", "testdev", "debug-exit", "debugcon", "rtc", "port80", "port92", "i8042",
          "acpi-pm"]
for m, name in enumerate(MODELS):
    for bus in (0, 1):
        ops = []
        for off in range(0, 9):
            for wc in range(4):
                ops += op(0, wc, False, off) + op(0, wc, True, off, seed=off * 7 + wc)
        ops += op(5, 0, False, 0, rep=2, seed=0x41)          # serial input
        ops += op(4, 0, False, 0, rep=200, seed=20)          # time passes
        ops += op(7, 0, False, 0)                            # RTC poll
        ops += op(6, 0, True, 0, rep=15, seed=3)             # string write
        ops += op(6, 1, False, 0, rep=7, seed=9)             # string read
        ops += op(0, 0, False, -4, odd=True, seed=2)         # odd width before the window
        write("devices", "%s-%s" % (name, "mmio" if bus else "pio"), [m, bus] + ops)
# The RTC's registers through its index port: select each, read and write it.
rtc = [4, 0]
for reg in (0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x32, 0x2e):
    rtc += op(0, 0, True, 0, seed=reg) + op(0, 0, False, 1) + op(4, 0, False, 0, rep=1, seed=30)
write("devices", "rtc-registers", rtc)

# ---- x86: mode byte + instruction bytes + register seed ----
X86 = {
    "mov-eax-rbx": "8b 03", "mov-rbx-eax": "89 03", "mov-al-abs": "a0 00 00 00 d0",
    "movzx": "0f b6 03", "movsx-w": "0f bf 43 08", "movsxd": "48 63 03",
    "mov-imm": "c7 03 78 56 34 12", "mov-imm8": "c6 43 10 ff", "rex-r8": "44 8b 03",
    "opsize": "66 8b 03", "addrsize": "67 8b 03", "seg-fs": "64 8b 03",
    "rip-rel": "8b 05 00 10 00 00", "sib": "8b 44 8b 10", "movsb-rep": "f3 a4",
    "stosd": "ab", "add-mem": "01 03", "and-imm": "83 23 0f", "cmp": "39 03",
    "test": "85 03", "xchg": "87 03", "lock-add": "f0 01 03", "movs-q": "48 a5",
    "ah": "8a 23", "prefixes": "66 67 2e 3e 26 64 65 36 8b 03",
}
LEGACY = ("mov-eax-rbx", "opsize", "addrsize", "sib", "movsb-rep", "stosd", "and-imm", "ah")
for mode, mname in ((0, "64"), (1, "32"), (2, "16")):
    for name, hexbytes in X86.items():
        if mode and name not in LEGACY:
            continue  # every form in 64-bit mode, a few in 32 and 16 (keep the corpus small)
        b = bytes.fromhex(hexbytes.replace(" ", ""))
        write("decode_x86", "%s-%s" % (name, mname), [mode] + list(b) + [0x5a] * (16 - len(b)))

# ---- arm64: ESR (8) + instruction word (4, bit 7 of its last byte: fetched) + seed ----
def esr_dabt(isv, sas=2, srt=1, wnr=0, sse=0, sf=1, ar=0, il=1):
    ec = 0x24
    iss = (isv << 24) | (sas << 22) | (sse << 21) | (srt << 16) | (sf << 15) | (ar << 14) | \
        (wnr << 6)
    return (ec << 26) | (il << 25) | iss


A64 = {
    "ldr-x1-x2": 0xf9400041, "str-w1-x2": 0xb9000041, "ldrb-post": 0x38401441,
    "ldp": 0xa9400841, "stp-pre": 0xa9810841, "ldrsw": 0xb9800041, "ldr-reg": 0xf8626841,
    "ldtr": 0xf8400841, "ldur": 0xf85f0041, "ldpsw": 0x69400841,
}
for name, word in A64.items():
    write("decode_arm64", "isv0-" + name,
          list(struct.pack("<QI", esr_dabt(0), word)) + [0x11, 0x22, 0x33])
for sas in range(4):
    for wnr in (0, 1):
        write("decode_arm64", "isv1-sas%d-%s" % (sas, "w" if wnr else "r"),
              list(struct.pack("<QI", esr_dabt(1, sas=sas, wnr=wnr, sse=wnr ^ 1), 0)) + [1, 2, 3])
write("decode_arm64", "sysreg-mrs", list(struct.pack("<QI", (0x18 << 26) | (1 << 25) | 0x30c001,
                                                      0)) + [4, 5, 6])
write("decode_arm64", "ec-other", list(struct.pack("<QI", (0x16 << 26), 0)) + [7])

# ---- riscv: fetched count + 4 instruction bytes + htinst (8) + seed ----
RV = {
    "lw": (4, 0x0005a503), "sw": (4, 0x00a5a023), "ld": (4, 0x0085b503), "sd": (4, 0x00a5b423),
    "lbu": (4, 0x0005c503), "lh": (4, 0x00059503), "c.lw": (2, 0x4188), "c.sw": (2, 0xc188),
    "c.ld": (2, 0x6188), "c.sdsp": (2, 0xe02a), "c.lwsp": (2, 0x4502), "amo": (4, 0x0805a52f),
    "short": (1, 0x0003),
}
for name, (n, word) in RV.items():
    ht = (word & ~0x3) | 0x3 if n == 4 else (word | 0x1) & ~0x2
    write("decode_riscv", name, [n] + list(struct.pack("<IQ", word, ht)) + [9, 8, 7])
write("decode_riscv", "htinst-zero", [4] + list(struct.pack("<IQ", 0x0005a503, 0)) + [1])
write("decode_riscv", "htinst-pseudo", [4] + list(struct.pack("<IQ", 0, 0x00002000)) + [1])

# ---- virtio_net: features, queue sizes, host frames, rounds, then 64 KiB of guest RAM at
# 0x100000 (see fuzz_virtio_net.c): receive rings at +0 / +0x1000 / +0x2000, transmit rings at
# +0x4000 / +0x5000 / +0x6000, buffers from +0x8000 ----
NET_W = 0x100000
VQ_F_NEXT, VQ_F_WRITE, VQ_F_INDIRECT = 1, 2, 4


class NetSeed:
    def __init__(self, features, rx_log2, tx_log2, frames, rounds=1):
        self.head = [features, rx_log2, tx_log2, len(frames)]
        for n in frames:
            self.head += list(struct.pack("<H", n))
        self.head.append(rounds - 1)
        self.ram = bytearray(0x10000)
        self.next_buf = 0x8000
        self.avail = {0: [], 1: []}
        self.ndesc = {0: 0, 1: 0}

    def buf(self, data_or_len):
        at = self.next_buf
        data = bytes(data_or_len) if not isinstance(data_or_len, int) else bytes(data_or_len)
        self.ram[at:at + len(data)] = data
        self.next_buf = (at + max(len(data), 1) + 15) & ~15
        return NET_W + at

    def desc(self, q, addr, length, flags, nxt=0, table=None):
        """A descriptor in queue q's table (or at table, an offset in RAM); returns its index."""
        base = table if table is not None else 0x4000 * q
        i = self.ndesc[q] if table is None else None
        if table is None:
            self.ndesc[q] += 1
        else:
            i = nxt  # the caller passes the slot for indirect tables
            nxt = 0
        struct.pack_into("<QIHH", self.ram, base + 16 * i, addr, length, flags, nxt)
        return i

    def chain(self, q, segs):
        """segs: (addr, len, write) buffers; a direct chain; returns its head."""
        first = self.ndesc[q]
        for k, (addr, length, w) in enumerate(segs):
            more = k + 1 < len(segs)
            self.desc(q, addr, length, (VQ_F_NEXT if more else 0) | (VQ_F_WRITE if w else 0),
                      first + k + 1 if more else 0)
        self.avail[q].append(first)
        return first

    def indirect(self, q, segs):
        table = self.next_buf
        self.next_buf += 16 * len(segs) + 16
        for k, (addr, length, w) in enumerate(segs):
            more = k + 1 < len(segs)
            struct.pack_into("<QIHH", self.ram, table + 16 * k, addr, length,
                             (VQ_F_NEXT if more else 0) | (VQ_F_WRITE if w else 0),
                             k + 1 if more else 0)
        head = self.ndesc[q]
        self.desc(q, NET_W + table, 16 * len(segs), VQ_F_INDIRECT)
        self.avail[q].append(head)
        return head

    def data(self):
        for q in (0, 1):
            ring = 0x4000 * q + 0x1000
            struct.pack_into("<HH", self.ram, ring, 0, len(self.avail[q]))
            for k, h in enumerate(self.avail[q]):
                struct.pack_into("<H", self.ram, ring + 4 + 2 * k, h)
        end = max(self.next_buf, 0x7000)
        return self.head + list(self.ram[:end])


def tx_frame(n, seed=0):
    hdr = bytes(12)
    eth = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x88, 0xb5])
    return hdr, eth + bytes((seed + i) & 0xff for i in range(n - 14))


def net_basic(features, frames, rx_len, rx_count):
    s = NetSeed(features, 3, 3, frames, rounds=2)
    for _ in range(rx_count):
        s.chain(0, [(s.buf(bytes(rx_len)), rx_len, True)])
    hdr, f = tx_frame(60)
    s.chain(1, [(s.buf(hdr), 12, False), (s.buf(f), len(f), False)])
    hdr, f = tx_frame(1514, 3)
    s.chain(1, [(s.buf(hdr + f), 12 + len(f), False)])
    return s


write("virtio_net", "basic", net_basic(0, [60, 1514, 200], 1600, 4).data())
write("virtio_net", "too-small-no-mrg", net_basic(0, [1514, 60], 200, 4).data())
write("virtio_net", "mrg", net_basic(1 | 2, [3000, 60, 9000], 512, 8).data())
write("virtio_net", "no-rx-buffers", net_basic(2, [60, 70, 80], 1600, 0).data())
s = NetSeed(4 | 1, 3, 3, [1514, 100])
for _ in range(3):
    a, b = s.buf(bytes(800)), s.buf(bytes(800))
    s.indirect(0, [(a, 800, True), (b, 800, True)])
hdr, f = tx_frame(90, 7)
s.indirect(1, [(s.buf(hdr[:5]), 5, False), (s.buf(hdr[5:] + f[:3]), 10, False),
               (s.buf(f[3:]), len(f) - 3, False)])
write("virtio_net", "indirect", s.data())
# Hostile: a receive buffer smaller than the header, a transmit loop, a buffer outside RAM, a
# malformed header (NEEDS_CSUM, GSO), a runt.
s = NetSeed(0, 2, 3, [60, 60])
s.chain(0, [(s.buf(bytes(8)), 8, True)])
loop = s.ndesc[1]
s.desc(1, s.buf(bytes(12)), 12, VQ_F_NEXT, loop)
s.avail[1].append(loop)
s.chain(1, [(0x7fff_0000, 100, False)])
hdr, f = tx_frame(60)
s.chain(1, [(s.buf(bytes([1, 1]) + hdr[2:] + f), 72, False)])
s.chain(1, [(s.buf(bytes(12 + 5)), 17, False)])
write("virtio_net", "hostile", s.data())


# ---- exit_path: byte 0 (bit 0: timing off), then 16-byte steps (tests/unit/exit_script.h) ----
def exit_script(seed, steps, timing_off=False):
    """@steps pseudo-random steps from xorshift64* seeded with @seed (as test_exit_cache.c)."""
    out, s, mask = [1 if timing_off else 0], seed, (1 << 64) - 1
    for _ in range(2 * steps):
        s ^= s >> 12
        s ^= (s << 25) & mask
        s ^= s >> 27
        out += list(struct.pack("<Q", (s * 2685821657736338717) & mask))
    return out


write("exit_path", "mixed-timed", exit_script(0x9e3779b97f4a7c15, 500))
write("exit_path", "mixed-untimed", exit_script(12345, 500, timing_off=True))
# One address again and again (the fast path), then the A/B boundary and string I/O.
run = [2, 1, 0, 0, 0, 0, 0, 0] + [0x11] * 8          # MMIO write width 2 at A + 0x40
write("exit_path", "same-address", [0] + run * 32)
edge = [3, 1, 10, 0, 7, 0, 0, 0] + [0x22] * 8         # MMIO read width 2 at A + 0xff: 1 byte over
string = [1, 1, 0, 8, 1, 0, 0, 0] + [0x33] * 8        # port write, string of 3 words
write("exit_path", "edges-and-strings", [0] + (run + edge + string) * 8)
