/*
 * A minimal i8042 keyboard controller with nothing plugged in (see
 * vmio/legacy_ports.h and docs/devices/legacy-ports.md).
 *
 * One controller, two vmio devices (port 0x60 and port 0x64: the bus gives
 * a device offsets, so one device at two ports could not tell them apart).
 * Both are embedded in struct i8042; each recovers it from its own member.
 *
 * Invariants (under c->lock):
 *   - at most one byte waits in the output buffer (obf); aux says whether
 *     it came through the auxiliary side (status bit 5);
 *   - pending is the command whose parameter byte the next data-port write
 *     completes (0 when none); any command write replaces it;
 *   - IBF is never set: every command completes inside the access;
 *   - refs counts the devices not yet destroyed; the last destroy frees c.
 * The power callback is called after the lock is released.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/legacy_ports.h"

/* Controller commands (port 0x64). */
#define CMD_READ_CTR 0x20
#define CMD_READ_RAM_LAST 0x3f
#define CMD_WRITE_CTR 0x60
#define CMD_WRITE_RAM_LAST 0x7f
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPUT 0xd0
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_FIRST 0xf0

#define SELF_TEST_OK 0x55
#define INTERFACE_OK 0x00
#define OUTPUT_RESET_LINE 0x01 /* output port bit 0: 0 holds the CPU in reset */
#define OUTPUT_A20 0x02
#define OUTPUT_RESET_VALUE (OUTPUT_RESET_LINE | OUTPUT_A20)

struct i8042 {
    struct vmio_device data; /* port 0x60 */
    struct vmio_device cmd;  /* port 0x64 */
    pthread_mutex_t lock;
    char *data_name, *cmd_name;
    vmio_power_fn power;
    void *power_ctx;
    int refs;

    uint8_t ctr;
    uint8_t output_port;
    bool last_was_command;
    uint8_t obuf;
    bool obf, aux;
    uint8_t pending;
};

static const struct vmio_device_ops data_ops, cmd_ops;

static struct i8042 *from_data(struct vmio_device *dev)
{
    return vmio_container_of(dev, struct i8042, data);
}

static struct i8042 *from_cmd(struct vmio_device *dev)
{
    return vmio_container_of(dev, struct i8042, cmd);
}

static void output(struct i8042 *c, uint8_t byte, bool aux)
{
    c->obuf = byte;
    c->obf = true;
    c->aux = aux;
}

static uint8_t status(const struct i8042 *c)
{
    uint8_t s = VMIO_I8042_STR_UNLOCK;
    if (c->obf)
        s |= VMIO_I8042_STR_OBF;
    if (c->obf && c->aux)
        s |= VMIO_I8042_STR_AUXDATA;
    if (c->ctr & VMIO_I8042_CTR_SYS)
        s |= VMIO_I8042_STR_SYS;
    if (c->last_was_command)
        s |= VMIO_I8042_STR_CMD;
    return s;
}

/* A command byte written to 0x64. Returns true when it asks for a reset. */
static bool handle_command(struct i8042 *c, uint8_t cmd)
{
    c->pending = 0;
    if (cmd >= CMD_PULSE_FIRST)
        return !(cmd & OUTPUT_RESET_LINE); /* pulses the output lines whose bits are 0 */
    if (cmd == CMD_READ_CTR) {
        output(c, c->ctr, false);
    } else if (cmd > CMD_READ_CTR && cmd <= CMD_READ_RAM_LAST) {
        output(c, 0, false); /* internal RAM other than the CTR: not kept */
    } else if (cmd >= CMD_WRITE_CTR && cmd <= CMD_WRITE_RAM_LAST) {
        c->pending = cmd;
    } else {
        switch (cmd) {
        case CMD_AUX_DISABLE:
            c->ctr |= VMIO_I8042_CTR_AUXDIS;
            break;
        case CMD_AUX_ENABLE:
            c->ctr &= (uint8_t)~VMIO_I8042_CTR_AUXDIS;
            break;
        case CMD_AUX_TEST:
        case CMD_KBD_TEST:
            output(c, INTERFACE_OK, false);
            break;
        case CMD_SELF_TEST:
            output(c, SELF_TEST_OK, false);
            break;
        case CMD_KBD_DISABLE:
            c->ctr |= VMIO_I8042_CTR_KBDDIS;
            break;
        case CMD_KBD_ENABLE:
            c->ctr &= (uint8_t)~VMIO_I8042_CTR_KBDDIS;
            break;
        case CMD_READ_OUTPUT:
            output(c, c->output_port, false);
            break;
        case CMD_WRITE_OUTPUT:
        case CMD_WRITE_KBD_OBUF:
        case CMD_WRITE_AUX_OBUF:
        case CMD_WRITE_AUX:
            c->pending = cmd;
            break;
        default:
            break; /* accepted, ignored */
        }
    }
    return false;
}

/* A byte written to 0x60. Returns true when it asks for a reset. */
static bool handle_data(struct i8042 *c, uint8_t byte)
{
    uint8_t cmd = c->pending;
    c->pending = 0;
    switch (cmd) {
    case 0:
    case CMD_WRITE_AUX:
        return false; /* for the keyboard or the mouse: nothing is plugged in */
    case CMD_WRITE_CTR:
        c->ctr = byte;
        return false;
    case CMD_WRITE_OUTPUT:
        c->output_port = byte;
        return !(byte & OUTPUT_RESET_LINE);
    case CMD_WRITE_KBD_OBUF:
        output(c, byte, false);
        return false;
    case CMD_WRITE_AUX_OBUF:
        output(c, byte, true);
        return false;
    default:
        return false; /* internal RAM write: not kept */
    }
}

static int data_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    struct i8042 *c = from_data(dev);
    /* length-1 registration: one byte */
    pthread_mutex_lock(&c->lock);
    *value = c->obuf; /* an empty buffer still reads its last byte */
    c->obf = false;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int data_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    struct i8042 *c = from_data(dev);
    pthread_mutex_lock(&c->lock);
    c->last_was_command = false;
    bool reset = handle_data(c, (uint8_t)value);
    pthread_mutex_unlock(&c->lock);
    if (reset && c->power)
        c->power(c->power_ctx, VMIO_POWER_RESET);
    return 0;
}

static int cmd_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    struct i8042 *c = from_cmd(dev);
    pthread_mutex_lock(&c->lock);
    *value = status(c);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int cmd_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    struct i8042 *c = from_cmd(dev);
    pthread_mutex_lock(&c->lock);
    c->last_was_command = true;
    bool reset = handle_command(c, (uint8_t)value);
    pthread_mutex_unlock(&c->lock);
    if (reset && c->power)
        c->power(c->power_ctx, VMIO_POWER_RESET);
    return 0;
}

static void release(struct i8042 *c)
{
    pthread_mutex_lock(&c->lock);
    int left = --c->refs;
    pthread_mutex_unlock(&c->lock);
    if (left > 0)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->data_name);
    free(c->cmd_name);
    free(c);
}

static void data_destroy(struct vmio_device *dev)
{
    release(from_data(dev));
}

static void cmd_destroy(struct vmio_device *dev)
{
    release(from_cmd(dev));
}

static const struct vmio_device_ops data_ops = {
    .read = data_read,
    .write = data_write,
    .destroy = data_destroy,
};

static const struct vmio_device_ops cmd_ops = {
    .read = cmd_read,
    .write = cmd_write,
    .destroy = cmd_destroy,
};

static char *suffixed(const char *name, const char *suffix)
{
    size_t n = strlen(name) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", name, suffix);
    return s;
}

int vmio_i8042_create(const char *name, vmio_power_fn power, void *ctx, struct vmio_device **data,
                      struct vmio_device **command, struct vmio_error *err)
{
    if (!name || !name[0] || !data || !command)
        return vmio_error_set(err, -EINVAL, "i8042: empty name or NULL result");
    struct i8042 *c = calloc(1, sizeof(*c));
    char *dn = suffixed(name, "-data"), *cn = suffixed(name, "-cmd");
    if (!c || !dn || !cn) {
        free(c);
        free(dn);
        free(cn);
        return vmio_error_set(err, -ENOMEM, "i8042 %s: out of memory", name);
    }
    pthread_mutex_init(&c->lock, NULL);
    c->data_name = dn;
    c->cmd_name = cn;
    c->data = (struct vmio_device){.name = dn, .ops = &data_ops};
    c->cmd = (struct vmio_device){.name = cn, .ops = &cmd_ops};
    c->power = power;
    c->power_ctx = ctx;
    c->refs = 2;
    c->ctr = VMIO_I8042_CTR_RESET;
    c->output_port = OUTPUT_RESET_VALUE;
    *data = &c->data;
    *command = &c->cmd;
    return 0;
}
