/*
 * vmio-blkbench: the guest side of bench/virtio_bench.py, a static program
 * in the benchmark's initramfs. It times reads of a block device from inside
 * the guest, with O_DIRECT so every read reaches the device (no guest page
 * cache), on the guest's CLOCK_MONOTONIC:
 *
 *     vmio-blkbench DEV MIB OPS
 *       sequential: MIB MiB from offset 0 in 1 MiB reads
 *       random:     OPS reads of 4 KiB at 4 KiB-aligned offsets from a fixed
 *                   pseudo-random sequence (the same on every VMM)
 *
 * Each phase is framed by marker lines on stdout, with a pause after the
 * start marker so that the host (which snapshots its counters when it sees
 * a marker) has taken its snapshot before the I/O begins:
 *     VMIO-BENCH: seq-start
 *     VMIO-BENCH: seq-end ns=N bytes=B requests=R
 *     VMIO-BENCH: rand-start
 *     VMIO-BENCH: rand-end ns=N ops=O requests=R
 *     VMIO-BENCH: done
 * requests: reads the guest's block layer completed for DEV
 * (/sys/block/<dev>/stat), i.e. virtio requests. Exits 1 on any error
 * (with a "VMIO-BENCH: error ..." line).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#define PAUSE_S 2

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Reads completed on /sys/block/<name>/stat (its first field). */
static unsigned long long reads_done(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/block/%s/stat", name);
    FILE *f = fopen(path, "r");
    unsigned long long n = 0;
    if (!f || fscanf(f, "%llu", &n) != 1)
        n = 0;
    if (f)
        fclose(f);
    return n;
}

static void marker(const char *m)
{
    printf("VMIO-BENCH: %s\n", m);
    fflush(stdout);
}

static int fail(const char *what)
{
    printf("VMIO-BENCH: error %s: %m\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vmio-blkbench DEV MIB OPS\n");
        return 2;
    }
    const char *dev = argv[1];
    const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
    unsigned long long mib = strtoull(argv[2], NULL, 0), ops = strtoull(argv[3], NULL, 0);
    int fd = open(dev, O_RDONLY | O_DIRECT);
    if (fd < 0)
        return fail("open");
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0 || size < (mib << 20) || size < 8192)
        return fail("device size");
    void *buf;
    if (posix_memalign(&buf, 4096, 1 << 20))
        return fail("memory");

    marker("seq-start");
    sleep(PAUSE_S);
    unsigned long long r0 = reads_done(name);
    uint64_t t0 = now_ns();
    for (unsigned long long i = 0; i < mib; i++)
        if (pread(fd, buf, 1 << 20, (off_t)(i << 20)) != 1 << 20)
            return fail("sequential read");
    uint64_t t1 = now_ns();
    unsigned long long r1 = reads_done(name);
    printf("VMIO-BENCH: seq-end ns=%llu bytes=%llu requests=%llu\n", (unsigned long long)(t1 - t0),
           mib << 20, r1 - r0);
    fflush(stdout);

    marker("rand-start");
    sleep(PAUSE_S);
    uint64_t blocks = size / 4096, x = 0x9e3779b97f4a7c15ULL;
    r0 = reads_done(name);
    t0 = now_ns();
    for (unsigned long long i = 0; i < ops; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        off_t off = (off_t)(((x >> 17) % blocks) * 4096);
        if (pread(fd, buf, 4096, off) != 4096)
            return fail("random read");
    }
    t1 = now_ns();
    r1 = reads_done(name);
    printf("VMIO-BENCH: rand-end ns=%llu ops=%llu requests=%llu\n", (unsigned long long)(t1 - t0),
           ops, r1 - r0);
    marker("done");
    free(buf);
    close(fd);
    return 0;
}
