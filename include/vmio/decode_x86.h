/*
 * x86 MMIO instruction decoder, effective addresses, result injection,
 * single-step emulation with RFLAGS, a decode cache and a guest page-table
 * walker.
 *
 * The decoder takes the bytes of the instruction that faulted on an MMIO
 * address (up to 15) and the CPU mode, and describes the memory access it
 * makes as an arch-neutral `struct vmio_access` plus the x86 details an
 * emulator needs (length, immediate, ALU operation, string/REP, the memory
 * operand). Supported: MOV (88-8B, A0-A3, C6/C7), MOVZX/MOVSX (0F B6/B7/BE/
 * BF), MOVSXD (63, 64-bit mode), MOVS/STOS (A4/A5/AA/AB, REP), the ALU forms
 * ADD/OR/ADC/SBB/AND/SUB/XOR/CMP with a memory operand (00-3B, 80-83),
 * TEST (84/85, F6/F7 /0) and XCHG (86/87). See docs/decode-x86.md.
 *
 * Invariants: pure C, no OS or KVM header, no allocation, no global state.
 * Every decode function fully initialises its output, also on error, and on
 * error stores a static reason string in `reason`. GPR numbers are the
 * hardware ones (enum vmio_x86_gpr, 0..15). An 8-bit high register
 * (AH, CH, DH, BH: no REX prefix, register field 4..7) is reported as the GPR
 * that contains it (RAX, RCX, RDX, RBX) with `high_byte` set.
 */
#ifndef VMIO_DECODE_X86_H
#define VMIO_DECODE_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/exit.h"
#include "vmio/x86.h"

/* The longest legal x86 instruction. */
#define VMIO_X86_MAX_INSN 15

/* Code-segment mode: default operand and address size. */
enum vmio_x86_mode {
    VMIO_X86_MODE_64 = 0, /* long mode, CS.L = 1: operand 32 (REX.W 64), address 64 */
    VMIO_X86_MODE_32 = 1, /* protected or compatibility mode, CS.D = 1: 32/32 */
    VMIO_X86_MODE_16 = 2, /* CS.D = 0 (16-bit protected or real mode): 16/16 */
};

/* Segment registers in the hardware (Sreg field) order. */
enum vmio_x86_seg {
    VMIO_X86_SEG_ES = 0,
    VMIO_X86_SEG_CS,
    VMIO_X86_SEG_SS,
    VMIO_X86_SEG_DS,
    VMIO_X86_SEG_FS,
    VMIO_X86_SEG_GS,
    VMIO_X86_NSEG
};

/* What the instruction does with its memory operand. */
enum vmio_x86_op {
    VMIO_X86_OP_MOV = 0, /* load (dir READ) or store (dir WRITE) */
    VMIO_X86_OP_MOVZX,   /* load, zero-extended into a wider register */
    VMIO_X86_OP_MOVSX,   /* load, sign-extended (MOVSX and MOVSXD) */
    VMIO_X86_OP_MOVS,    /* memory to memory: read mem, write mem2 */
    VMIO_X86_OP_STOS,    /* store AL/AX/EAX/RAX to ES:[rDI] */
    VMIO_X86_OP_ADD,
    VMIO_X86_OP_OR,
    VMIO_X86_OP_ADC,
    VMIO_X86_OP_SBB,
    VMIO_X86_OP_AND,
    VMIO_X86_OP_SUB,
    VMIO_X86_OP_XOR,
    VMIO_X86_OP_CMP,
    VMIO_X86_OP_TEST,
    VMIO_X86_OP_XCHG,
    VMIO_X86_NOP /* no operation: the value of a failed decode */
};

/* RFLAGS bits the emulator reads or writes. */
#define VMIO_X86_CF (1ULL << 0)
#define VMIO_X86_PF (1ULL << 2)
#define VMIO_X86_AF (1ULL << 4)
#define VMIO_X86_ZF (1ULL << 6)
#define VMIO_X86_SF (1ULL << 7)
#define VMIO_X86_DF (1ULL << 10)
#define VMIO_X86_OF (1ULL << 11)
#define VMIO_X86_ARITH_FLAGS                                                                       \
    (VMIO_X86_CF | VMIO_X86_PF | VMIO_X86_AF | VMIO_X86_ZF | VMIO_X86_SF | VMIO_X86_OF)

/*
 * A memory operand: seg:[base + index * scale + disp], the offset truncated
 * to addr_size bytes. rip_relative: [next RIP + disp] (64-bit mode, mod 0
 * r/m 5), base and index are VMIO_REG_NONE. For 16-bit addressing the
 * ModRM pairs map onto base/index (e.g. [BP+SI] is base RBP, index RSI).
 * For A0-A3 (moffs) there is no register and disp holds the absolute offset
 * (zero-extended from addr_size). seg is the effective segment: the override
 * if any, else SS for RSP/RBP-based operands, else DS (ES for MOVS/STOS
 * destinations, which cannot be overridden).
 */
struct vmio_x86_mem {
    uint8_t base;      /* GPR, or VMIO_REG_NONE */
    uint8_t index;     /* GPR, or VMIO_REG_NONE */
    uint8_t scale;     /* 1, 2, 4 or 8 */
    uint8_t seg;       /* enum vmio_x86_seg */
    bool seg_override; /* seg came from a prefix (2E/36/3E/26/64/65) */
    uint8_t addr_size; /* 2, 4 or 8 bytes */
    bool rip_relative;
    int64_t disp; /* sign-extended displacement (moffs: the offset) */
};

/*
 * A decoded instruction.
 *
 * access: space MMIO, count 1, addr 0 (the caller knows the faulting GPA),
 *   dir: READ when the instruction reads its memory operand first (loads, ALU
 *   forms, XCHG, MOVS: the source), WRITE for pure stores (MOV, STOS).
 *   width: bytes of the memory access. reg: the register operand (destination
 *   of a load, source of a store, the ALU/XCHG register operand; RAX for
 *   STOS) or VMIO_REG_NONE (immediate forms, MOVS). reg_width: width of that
 *   register operand (larger than width for MOVZX/MOVSX/MOVSXD). sign_extend:
 *   MOVSX/MOVSXD. data: the immediate (truncated to width) for an immediate
 *   MOV store, else 0. buf: NULL.
 * reads_mem / writes_mem: the instruction reads and/or writes its memory
 *   operand: e.g. ADD [m], r does both (read, then write the sum), CMP and
 *   TEST only read, MOVS reads `mem` and writes `mem2`.
 */
struct vmio_x86_insn {
    struct vmio_access access;
    uint8_t len;     /* instruction length in bytes, 1..15 */
    uint8_t mode;    /* enum vmio_x86_mode it was decoded in */
    uint8_t op;      /* enum vmio_x86_op */
    uint8_t opsize;  /* operand size in bytes (for MOVZX/MOVSX: the destination) */
    uint16_t opcode; /* primary opcode; 0x0Fxx for two-byte opcodes */
    bool high_byte;  /* access.reg names AH/CH/DH/BH (bits 8..15 of RAX..RBX) */
    bool has_imm;    /* imm is an operand (MOV/ALU/TEST immediate forms) */
    bool string;     /* MOVS or STOS */
    bool rep;        /* REP prefix (F3, or F2 which acts the same) on MOVS/STOS */
    bool lock;       /* LOCK prefix (F0) */
    bool reads_mem;
    bool writes_mem;
    bool reg_dest;            /* ALU/TEST forms: the register is the first (destination)
                                 operand, e.g. ADD r, r/m (02/03) or CMP r, r/m (3A/3B) */
    bool rex;                 /* a REX prefix was present (64-bit mode) */
    uint64_t imm;             /* the immediate operand at operand size: sign-extended to it
                                 where x86 does (83, imm32 of REX.W forms), then truncated */
    struct vmio_x86_mem mem;  /* the memory operand (MOVS: the source DS:[rSI]) */
    struct vmio_x86_mem mem2; /* MOVS destination ES:[rDI]; else base = index = NONE */
    const char *reason;       /* NULL on success, else a static description of the error */
};

/*
 * vmio_x86_decode - decode the instruction in @bytes.
 * @bytes: the instruction bytes starting at the guest RIP; @len of them are
 *         valid (more than 15 are ignored). May be NULL when @len is 0.
 * @mode: enum vmio_x86_mode of the code segment.
 * @out: filled in completely, also on error (then `reason` says why).
 * Returns VMIO_DECODE_OK; VMIO_DECODE_TRUNCATED when the instruction needs
 * more than @len bytes; VMIO_DECODE_INVALID for encodings that #UD (REX or
 * LOCK misuse, MOVSXD/82 where not allowed, too long) or have no memory
 * operand (mod == 3, AL/eAX immediate forms); VMIO_DECODE_UNSUPPORTED for
 * valid instructions vmio does not emulate. Reads only @bytes; keeps no
 * reference to it.
 */
int vmio_x86_decode(const uint8_t *bytes, size_t len, enum vmio_x86_mode mode,
                    struct vmio_x86_insn *out);

/*
 * vmio_x86_mode_from_cs - the decode mode for a code segment: 64 when
 * @efer_lma and @cs_l, else 32 when @cs_db, else 16 (real mode included).
 */
enum vmio_x86_mode vmio_x86_mode_from_cs(bool efer_lma, bool cs_l, bool cs_db);

/*
 * vmio_x86_linear_address - linear address of the memory operand @mem of
 * @insn: base + index * scale + disp (RIP-relative: rip + len + disp),
 * truncated to the address size, plus the segment base. @seg_base is indexed
 * by enum vmio_x86_seg (NULL: all bases are 0). In 64-bit mode only the FS
 * and GS bases are used (others are 0 by definition) and the result is 64
 * bits; in 32/16-bit modes it is truncated to 32 bits. Limits and canonical
 * checks are not applied. Pure; no errors (@mem must come from @insn).
 */
uint64_t vmio_x86_linear_address(const struct vmio_x86_insn *insn, const struct vmio_x86_mem *mem,
                                 const struct vmio_x86_regs *regs, const uint64_t *seg_base);

/* vmio_x86_op_name - "mov", "add", "xchg", ... (static; "?" for unknown). */
const char *vmio_x86_op_name(enum vmio_x86_op op);

/*
 * vmio_x86_reg_name - the assembler name of GPR @reg read at @width bytes:
 * "al"/"ah" (with @high_byte), "ax", "eax", "rax", "spl", "r8b", "r8w",
 * "r8d", "r8". Static string; "?" for an invalid register or width.
 */
const char *vmio_x86_reg_name(unsigned reg, unsigned width, bool high_byte);

/* ---- Result injection and emulation (src/decode/inject_x86.c) ---- */

/*
 * vmio_x86_get_reg - the value of GPR @reg of @r read at @width bytes
 * (bits 8..15 when @high_byte; then width must be 1), zero-extended.
 * Returns 0 for an invalid register or width.
 */
uint64_t vmio_x86_get_reg(const struct vmio_x86_regs *r, unsigned reg, unsigned width,
                          bool high_byte);

/*
 * vmio_x86_set_reg - write the low @width bytes of @value into GPR @reg of
 * @r as an x86 instruction does: width 1 merges into bits 0..7 (8..15 with
 * @high_byte), 2 merges into bits 0..15, 4 zero-extends to 64 bits, 8
 * replaces. Returns VMIO_DECODE_OK, or VMIO_DECODE_INVALID (register > 15,
 * bad width, high_byte with width != 1 or reg > 3) leaving @r unchanged.
 */
int vmio_x86_set_reg(struct vmio_x86_regs *r, unsigned reg, unsigned width, bool high_byte,
                     uint64_t value);

/*
 * vmio_x86_load_value - the register-operand value a load of @width bytes
 * returning @data produces in a @reg_width-byte register: the low @width
 * bytes, sign- (@sign_extend) or zero-extended to @reg_width bytes (and
 * truncated to it). Pure; bad widths give 0.
 */
uint64_t vmio_x86_load_value(unsigned width, unsigned reg_width, bool sign_extend, uint64_t data);

/*
 * vmio_x86_inject_read - write the read result @data of @acc (a decoded
 * load: reg, width, reg_width, sign_extend) into @r per vmio_x86_load_value()
 * and vmio_x86_set_reg(). reg_width 0 means width. @high_byte: the register
 * is AH..BH. Returns VMIO_DECODE_OK, or VMIO_DECODE_INVALID (reg NONE or
 * > 15, bad widths, reg_width < width) with @r unchanged.
 */
int vmio_x86_inject_read(struct vmio_x86_regs *r, const struct vmio_access *acc, bool high_byte,
                         uint64_t data);

/*
 * vmio_x86_inject_pio_in - complete IN AL/AX/EAX, port: merge the low @width
 * (1, 2 or 4) bytes of @data into RAX (IN EAX zero-extends to 64 bits).
 * Returns VMIO_DECODE_OK or VMIO_DECODE_INVALID for another width.
 */
int vmio_x86_inject_pio_in(struct vmio_x86_regs *r, unsigned width, uint64_t data);

/*
 * vmio_x86_alu - compute @a OP @b at @width bytes (1, 2, 4, 8) as the CPU
 * does, with carry-in from @rflags for ADC/SBB. Stores the result (truncated
 * to width) in *@result and returns @rflags with CF, PF, AF, ZF, SF and OF
 * replaced. For AND/OR/XOR/TEST, CF = OF = 0 and AF (architecturally
 * undefined) is cleared. CMP is SUB and TEST is AND (the caller discards the
 * result). Other ops or widths return @rflags unchanged and *@result = 0.
 */
uint64_t vmio_x86_alu(enum vmio_x86_op op, unsigned width, uint64_t a, uint64_t b, uint64_t rflags,
                      uint64_t *result);

/*
 * vmio_x86_rep_count - the iteration count of a REP string instruction: RCX
 * truncated to the address size of @insn. 1 for instructions without REP.
 */
uint64_t vmio_x86_rep_count(const struct vmio_x86_insn *insn, const struct vmio_x86_regs *r);

/* What vmio_x86_emulate() did and what the caller must still do. */
struct vmio_x86_effect {
    bool write;     /* write `value` (access width) to the memory operand (MOVS: mem2) */
    uint64_t value; /* the value to write, truncated to the access width */
    bool skipped;   /* REP with count 0: no memory access; RIP advanced */
    bool done;      /* RIP advanced past the instruction (false: REP continues) */
};

/*
 * vmio_x86_emulate - execute one step of @insn on @r.
 * @read_data: the value read from the memory operand (`mem`), used when
 *   insn->reads_mem; ignored otherwise. For MOVS it is the element read from
 *   the source, whichever side is the device.
 * @eff: filled in: for stores (MOV, STOS, XCHG, ALU forms writing memory,
 *   MOVS) write = true and value = what the memory operand receives (from the
 *   register incl. AH..BH, the immediate, or the ALU result).
 * Effects on @r: loads inject per vmio_x86_inject_read(); ALU forms update
 *   CF/PF/AF/ZF/SF/OF (and a register destination, except CMP/TEST); XCHG
 *   loads the register; MOVS/STOS advance rSI/rDI by +-width (DF) at the
 *   address size; with REP, one iteration per call: rCX is decremented and
 *   RIP only advances when it reaches 0 (done = false otherwise; the caller
 *   re-enters the guest, which re-executes the instruction, or calls again).
 *   RIP advances by len when the instruction completes (wrapping to 32 bits
 *   outside 64-bit mode).
 * The device access should be made before the new @r is committed: if it
 * fails, discard @r (work on a copy). Returns VMIO_DECODE_OK, or
 * VMIO_DECODE_INVALID for an inconsistent @insn, with @r unchanged.
 */
int vmio_x86_emulate(const struct vmio_x86_insn *insn, struct vmio_x86_regs *r, uint64_t read_data,
                     struct vmio_x86_effect *eff);

/* ---- Decode cache (src/decode/x86_cache.c) ---- */

/*
 * One cache slot. Owned by the caller (an array handed to
 * vmio_x86_cache_init()); treat as opaque.
 */
struct vmio_x86_cache_entry {
    uint64_t gpa; /* key: guest-physical address of the first byte */
    uint8_t valid;
    uint8_t mode;                     /* enum vmio_x86_mode the bytes were decoded in */
    uint8_t bytes[VMIO_X86_MAX_INSN]; /* the instruction bytes (insn.len of them) */
    struct vmio_x86_insn insn;
};

/*
 * A direct-mapped cache of decoded instructions keyed by (GPA, mode).
 *
 * Invariants: an entry is only inserted for an instruction whose bytes lie in
 * one 4 KiB guest page ([gpa, gpa + len) does not cross a page boundary), so
 * one invalidate_page() call covers all of its bytes. An entry describes the
 * bytes it stores; it is current as long as the guest has not written them.
 * A lookup that is given the guest's current bytes compares them and never
 * returns a stale entry. A lookup without bytes trusts the caller to call
 * vmio_x86_cache_invalidate_page() for every page written by anyone (vCPUs,
 * DMA, the VMM) since the insert. See docs/decode-x86.md.
 * Not thread-safe: use one cache per vCPU, or lock around it.
 */
struct vmio_x86_cache {
    struct vmio_x86_cache_entry *slots; /* caller-owned storage */
    uint32_t nslots;                    /* a power of two */
    uint64_t hits, misses;              /* lookups answered / not answered */
    uint64_t stale;                     /* misses because the bytes differed (also in misses) */
    uint64_t invalidated;               /* entries dropped by invalidate_page() */
};

/*
 * vmio_x86_cache_init - set up @c over the caller's array @slots of @nslots
 * entries (rounded down to a power of two; must be >= 1). The cache does not
 * own @slots; it must outlive @c. Returns VMIO_DECODE_OK, or
 * VMIO_DECODE_INVALID when @slots is NULL or @nslots is 0.
 */
int vmio_x86_cache_init(struct vmio_x86_cache *c, struct vmio_x86_cache_entry *slots,
                        uint32_t nslots);

/*
 * vmio_x86_cache_lookup - the cached decode of the instruction at @gpa in
 * @mode, or NULL (a miss). @bytes/@len: the current instruction bytes at
 * @gpa when the caller has them (then the entry is returned only if its bytes
 * match them; a mismatch drops the entry and counts as stale), or NULL/0 to
 * rely on the invalidation invariant. The returned pointer is into the
 * caller's storage and valid until the next insert, invalidate or clear.
 */
const struct vmio_x86_insn *vmio_x86_cache_lookup(struct vmio_x86_cache *c, uint64_t gpa,
                                                  enum vmio_x86_mode mode, const uint8_t *bytes,
                                                  size_t len);

/*
 * vmio_x86_cache_insert - remember the successful decode @insn of @bytes
 * (at least insn->len of them) at @gpa, replacing whatever used its slot.
 * Returns VMIO_DECODE_OK, or VMIO_DECODE_INVALID (nothing stored) when @insn
 * is not a successful decode, @bytes is NULL, or the instruction crosses a
 * 4 KiB page boundary. Copies @insn and @bytes.
 */
int vmio_x86_cache_insert(struct vmio_x86_cache *c, uint64_t gpa, const struct vmio_x86_insn *insn,
                          const uint8_t *bytes);

/*
 * vmio_x86_cache_invalidate_page - drop every entry whose bytes lie in the
 * 4 KiB guest page containing @gpa. Cost: one pass over the slots. Returns
 * the number of entries dropped.
 */
unsigned vmio_x86_cache_invalidate_page(struct vmio_x86_cache *c, uint64_t gpa);

/* vmio_x86_cache_clear - drop every entry (counters are kept). */
void vmio_x86_cache_clear(struct vmio_x86_cache *c);

/* ---- Guest page-table walk (src/decode/x86_walk.c) ---- */

/*
 * Reads @len (4 or 8) bytes of guest-physical memory at @gpa into *@value
 * (little-endian, zero-extended). Returns 0, or nonzero when @gpa is not RAM.
 */
typedef int (*vmio_x86_read_phys_fn)(void *ctx, uint64_t gpa, unsigned len, uint64_t *value);

/* Paging state needed to translate a linear address. */
struct vmio_x86_paging {
    uint64_t cr0, cr3, cr4, efer;
};

/*
 * vmio_x86_translate - translate linear address @la to a guest-physical
 * address using the guest's page tables, as a supervisor data read would
 * (no permission checks, A/D bits are not set). Handles paging off
 * (identity), 32-bit paging (4 KiB/4 MiB pages), PAE (4 KiB/2 MiB) and
 * 4-level long mode (4 KiB/2 MiB/1 GiB); CR4.LA57 is not supported.
 * @read: reads page-table entries through @ctx; never retained.
 * Returns VMIO_DECODE_OK with *@gpa set; VMIO_DECODE_INVALID for a
 * non-present entry, a reserved-bit violation or a failed read;
 * VMIO_DECODE_UNSUPPORTED for 5-level paging.
 */
int vmio_x86_translate(const struct vmio_x86_paging *pg, uint64_t la, vmio_x86_read_phys_fn read,
                       void *ctx, uint64_t *gpa);

#endif
