/*
 * vmio freestanding guest runtime: serial console, gprint, exit and test
 * helpers (see guest.h).
 * Invariants: integer-only; every loop is bounded so a wedged UART cannot hang
 * a guest forever; the compiler may not turn loops into memset/memcpy calls
 * (built with -ffreestanding -fno-builtin; memset/memcpy are still provided).
 */
#include "guest.h"

#define COM1 VMIO_COM1_PORT
#define LSR_THRE 0x20

static unsigned n_pass, n_fail, n_skip;

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

uint64_t mmio_read(uint64_t addr, unsigned width)
{
    switch (width) {
    case 1:
        return mmio_read8(addr);
    case 2:
        return mmio_read16(addr);
    case 4:
        return mmio_read32(addr);
    case 8:
        return mmio_read64(addr);
    }
    return 0;
}

void mmio_write(uint64_t addr, unsigned width, uint64_t v)
{
    switch (width) {
    case 1:
        mmio_write8(addr, (uint8_t)v);
        break;
    case 2:
        mmio_write16(addr, (uint16_t)v);
        break;
    case 4:
        mmio_write32(addr, (uint32_t)v);
        break;
    case 8:
        mmio_write64(addr, v);
        break;
    }
}

uint32_t pio_read(uint16_t port, unsigned width)
{
    switch (width) {
    case 1:
        return inb(port);
    case 2:
        return inw(port);
    case 4:
        return inl(port);
    }
    return 0;
}

void pio_write(uint16_t port, unsigned width, uint32_t v)
{
    switch (width) {
    case 1:
        outb(port, (uint8_t)v);
        break;
    case 2:
        outw(port, (uint16_t)v);
        break;
    case 4:
        outl(port, v);
        break;
    }
}

void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB */
    outb(COM1 + 0, 0x01); /* DLL: 115200 */
    outb(COM1 + 1, 0x00); /* DLM */
    outb(COM1 + 3, 0x03); /* LCR: 8N1 */
    outb(COM1 + 2, 0x07); /* FCR: enable and clear FIFOs */
    outb(COM1 + 4, 0x03); /* MCR: DTR | RTS */
}

void serial_putc(char c)
{
    /* Bounded poll: an emulated UART is always ready; never hang on a bad one. */
    for (int i = 0; i < 100000; i++) {
        if (inb(COM1 + 5) & LSR_THRE)
            break;
    }
    outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void debugcon_puts(const char *s)
{
    while (*s)
        outb(VMIO_DEBUGCON_PORT, (uint8_t)*s++);
}

static void put_uint(uint64_t v, unsigned base, int width, char pad, int neg)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v && n < (int)sizeof(buf));
    int len = n + (neg ? 1 : 0);
    if (neg && pad == '0')
        serial_putc('-');
    for (; len < width; len++)
        serial_putc(pad);
    if (neg && pad != '0')
        serial_putc('-');
    while (n)
        serial_putc(buf[--n]);
}

void gvprint(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_uint(u, 10, width, pad, v < 0);
            break;
        }
        case 'u':
            put_uint(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width, pad, 0);
            break;
        case 'x':
            put_uint(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width, pad, 0);
            break;
        case 'p':
            serial_puts("0x");
            put_uint((uint64_t)(uintptr_t)va_arg(ap, void *), 16, width, pad, 0);
            break;
        case 'c':
            serial_putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = 0;
            if (!s)
                s = "(null)";
            while (s[len])
                len++;
            for (; len < width; len++)
                serial_putc(' ');
            serial_puts(s);
            break;
        }
        case '%':
            serial_putc('%');
            break;
        case '\0':
            return;
        default:
            serial_putc('%');
            serial_putc(*fmt);
            break;
        }
    }
}

void gprint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gvprint(fmt, ap);
    va_end(ap);
}

void guest_exit(int code)
{
    outb(VMIO_DEBUG_EXIT_PORT, (uint8_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ---- CPU exceptions ---- */

struct idt_entry {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[32] __attribute__((aligned(16)));
extern const uint64_t exc_stubs[32];

void idt_init(void);
void idt_init(void)
{
    for (unsigned v = 0; v < 32; v++) {
        uint64_t a = exc_stubs[v];
        idt[v] = (struct idt_entry){(uint16_t)a,         0x08, 0, 0x8e, (uint16_t)(a >> 16),
                                    (uint32_t)(a >> 32), 0};
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(desc));
}

void guest_exception(uint64_t vector, uint64_t error, uint64_t rip);
void guest_exception(uint64_t vector, uint64_t error, uint64_t rip)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    gprint("EXCEPTION vector %lu error 0x%lx rip 0x%lx cr2 0x%lx\n", vector, error, rip, cr2);
    guest_exit(GUEST_EXIT_EXCEPTION);
}

/* ---- tests ---- */

int check_eq(const char *name, uint64_t got, uint64_t expected)
{
    if (got == expected) {
        n_pass++;
        gprint("PASS %s\n", name);
        return 1;
    }
    n_fail++;
    gprint("FAIL %s: got 0x%lx expected 0x%lx\n", name, got, expected);
    return 0;
}

int check_eqf(uint64_t got, uint64_t expected, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (got == expected) {
        n_pass++;
        serial_puts("PASS ");
        gvprint(fmt, ap);
        serial_putc('\n');
    } else {
        n_fail++;
        serial_puts("FAIL ");
        gvprint(fmt, ap);
        gprint(": got 0x%lx expected 0x%lx\n", got, expected);
    }
    va_end(ap);
    return got == expected;
}

int check_true(const char *name, int cond)
{
    if (cond) {
        n_pass++;
        gprint("PASS %s\n", name);
        return 1;
    }
    n_fail++;
    gprint("FAIL %s\n", name);
    return 0;
}

void test_skip(const char *reason)
{
    n_skip++;
    gprint("SKIP %s\n", reason);
}

unsigned test_failures(void)
{
    return n_fail;
}

int test_summary(const char *guest)
{
    gprint("DONE %s: %u passed, %u failed, %u skipped\n", guest, n_pass, n_fail, n_skip);
    return n_fail > GUEST_EXIT_MAX_FAILURES ? GUEST_EXIT_MAX_FAILURES : (int)n_fail;
}

int testdev_present(void)
{
    return mmio_read64(TESTDEV_MMIO_BASE + TESTDEV_PATTERN) == TESTDEV_PATTERN_VALUE;
}
