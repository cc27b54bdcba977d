#!/bin/sh
# Cross-arch decoder check: build every decoder source (src/decode/*.c, so the
# x86 decoder is covered too) and the portable arm64/riscv decoder and
# injection tests with Debian's cross gcc, statically, against the cmocka
# shim in shim/, and run them under qemu-user. The x86 engineer's tests in
# tests/decode/x86 are tried too: built with the shim if they compile
# (informational only; they may need real cmocka or generated files).
#
# usage: run.sh ARCH SRCROOT ARM64_VECTORS_H RISCV_VECTORS_H OUTDIR
# ARCH is aarch64 or riscv64. Exit 77 (meson skip) when the cross compiler or
# qemu-user is missing, 1 on a build or test failure, 0 otherwise.
set -u
arch=$1 src=$2 a64h=$3 rvh=$4 out=$5/cross-$arch

cc=$arch-linux-gnu-gcc
command -v "$cc" >/dev/null 2>&1 || { echo "skip: $cc not installed"; exit 77; }
qemu=
for q in qemu-$arch-static qemu-$arch; do
    if command -v "$q" >/dev/null 2>&1; then qemu=$q; break; fi
done
[ -n "$qemu" ] || { echo "skip: qemu-$arch(-static) not installed"; exit 77; }

rm -rf "$out" && mkdir -p "$out/gen" || exit 1
cp "$a64h" "$out/gen/arm64_vectors.h" && cp "$rvh" "$out/gen/riscv_vectors.h" || exit 1
cflags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
inc="-I$src/tests/decode/cross/shim -I$out/gen -I$src/include -I$src/src"

fail=0
objs=
for f in "$src"/src/decode/*.c; do
    o=$out/$(basename "$f" .c).o
    if $cc $cflags $inc -c "$f" -o "$o"; then
        echo "built  $arch: src/decode/$(basename "$f")"
        objs="$objs $o"
    else
        echo "FAILED $arch: src/decode/$(basename "$f") does not build"
        fail=1
    fi
done
[ $fail -eq 0 ] || exit 1

for t in arm64/test_arm64_decode arm64/test_arm64_inject \
         riscv/test_riscv_decode riscv/test_riscv_inject; do
    exe=$out/$(basename "$t")
    # shellcheck disable=SC2086
    if ! $cc $cflags $inc -static "$src/tests/decode/$t.c" $objs -o "$exe"; then
        echo "FAILED $arch: tests/decode/$t.c does not build"
        fail=1
        continue
    fi
    if "$qemu" "$exe"; then
        echo "passed $arch (qemu-user): $t"
    else
        echo "FAILED $arch (qemu-user): $t"
        fail=1
    fi
done

for f in "$src"/tests/decode/x86/*.c; do
    [ -e "$f" ] || continue
    exe=$out/x86-$(basename "$f" .c)
    # shellcheck disable=SC2086
    if $cc $cflags $inc -I"$(dirname "$f")" -static "$f" $objs -o "$exe" 2>/dev/null; then
        if "$qemu" "$exe" >"$exe.log" 2>&1; then
            echo "passed $arch (qemu-user): tests/decode/x86/$(basename "$f")"
        else
            echo "note   $arch: tests/decode/x86/$(basename "$f") failed under qemu (informational)"
            cat "$exe.log"
        fi
    else
        echo "note   $arch: tests/decode/x86/$(basename "$f") not portable to the shim (skipped)"
    fi
done
exit $fail
