/*
 * An LD_PRELOAD shim for the option tests (run_options.py): any attempt to
 * open /dev/kvm ends the process at once with status NO_KVM_STATUS and a
 * line on stderr. A usage mistake that vmio reports only after touching KVM
 * then shows as status 99 instead of 2, on every host, with or without KVM.
 * Every open(2) variant vmio or libc may use is wrapped; other paths go to
 * the real function unchanged.
 */
/* The plain and the 64 variants are defined separately: no redirection of open to open64. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define NO_KVM_STATUS 99

static void refuse_kvm(const char *path)
{
    if (path && strcmp(path, "/dev/kvm") == 0) {
        static const char msg[] = "no_kvm_preload: /dev/kvm opened\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(NO_KVM_STATUS);
    }
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define WRAP_OPEN(name)                                                                        \
    int name(const char *path, int flags, ...)                                                 \
    {                                                                                          \
        va_list ap;                                                                            \
        va_start(ap, flags);                                                                   \
        mode_t mode = mode_arg(flags, ap);                                                     \
        va_end(ap);                                                                            \
        refuse_kvm(path);                                                                      \
        int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, \
                                                                                     #name);   \
        return real(path, flags, mode);                                                        \
    }

#define WRAP_OPENAT(name)                                                                      \
    int name(int dirfd, const char *path, int flags, ...)                                      \
    {                                                                                          \
        va_list ap;                                                                            \
        va_start(ap, flags);                                                                   \
        mode_t mode = mode_arg(flags, ap);                                                     \
        va_end(ap);                                                                            \
        refuse_kvm(path);                                                                      \
        int (*real)(int, const char *, int, ...) =                                             \
            (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name);                     \
        return real(dirfd, path, flags, mode);                                                 \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
