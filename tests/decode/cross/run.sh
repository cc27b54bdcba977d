#!/bin/sh
# Cross-arch decoder check: build every decoder source (src/decode/*.c, so the
# x86 decoder is covered too) and the portable decoder and injection tests
# with Debian's cross gcc, statically, against the cmocka shim in shim/, and
# run them under qemu-user:
#  - tests/decode/arm64, tests/decode/riscv: the four decoder/injection tests;
#  - tests/decode/x86: test_x86_decode, test_x86_inject, test_x86_cache and
#    test_x86_walk with the x86_vectors.h that tests/decode/x86 generated
#    with the host assembler (architecture-independent data). On a target
#    other than x86-64 test_x86_inject checks RFLAGS against its reference
#    model instead of the host CPU.
# Each of these must build and pass (a skipped test case counts as a
# failure). test_x86_objdump runs too when the build machine is x86-64 with
# GNU objdump (the test popen()s it; qemu-user runs it natively), else it is
# host-only. The other sources in tests/decode/x86 are host-only and are
# listed as such: kvm_crosscheck.c needs /dev/kvm on an x86 host,
# xc_guest.c is x86 guest code and cli_driver.c is the host CLI test's
# driver (cli_test.py with the host GNU as). A source in
# tests/decode/x86 that is in neither list is tried and reported
# (informational) until it is classified here.
#
# usage: run.sh ARCH SRCROOT ARM64_VECTORS_H RISCV_VECTORS_H X86_VECTORS_H OUTDIR
# ARCH is aarch64 or riscv64. Exit 77 (meson skip) when the cross compiler or
# qemu-user is missing, or the arm64/riscv vector headers are "none" (no cross
# assembler); X86_VECTORS_H "none" (no x86-64 GNU as on the build machine)
# skips only the x86 tests. 1 on a build or test failure; 0 otherwise.
set -u
[ $# -eq 6 ] || { echo "usage: $0 ARCH SRCROOT ARM64_VECTORS_H RISCV_VECTORS_H X86_VECTORS_H OUTDIR"; exit 1; }
arch=$1 src=$2 a64h=$3 rvh=$4 x86h=$5 out=$6/cross-$arch

[ "$a64h" != none ] && [ "$rvh" != none ] || { echo "skip: no assembled vectors (cross as missing)"; exit 77; }
cc=$arch-linux-gnu-gcc
command -v "$cc" >/dev/null 2>&1 || { echo "skip: $cc not installed"; exit 77; }
qemu=
for q in qemu-$arch-static qemu-$arch; do
    if command -v "$q" >/dev/null 2>&1; then qemu=$q; break; fi
done
[ -n "$qemu" ] || { echo "skip: qemu-$arch(-static) not installed"; exit 77; }

rm -rf "$out" && mkdir -p "$out/gen" || exit 1
cp "$a64h" "$out/gen/arm64_vectors.h" && cp "$rvh" "$out/gen/riscv_vectors.h" || exit 1
if [ "$x86h" != none ]; then
    cp "$x86h" "$out/gen/x86_vectors.h" || exit 1
fi
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

# Builds tests/decode/$1.c against the shim and runs it under qemu-user with
# the remaining arguments; any failure (build, a failed or skipped test case)
# sets fail.
run_test() {
    exe=$out/$(basename "$1")
    # shellcheck disable=SC2086
    if ! $cc $cflags $inc -I"$src/tests/decode/$(dirname "$1")" -static \
        "$src/tests/decode/$1.c" $objs -o "$exe"; then
        echo "FAILED $arch: tests/decode/$1.c does not build"
        fail=1
        return
    fi
    tname=$1
    shift
    "$qemu" "$exe" "$@" >"$exe.log" 2>&1
    rc=$?
    cat "$exe.log"
    if [ $rc -ne 0 ]; then
        echo "FAILED $arch (qemu-user): $tname (exit $rc)"
        fail=1
    elif grep -q '^\[ SKIPPED \]' "$exe.log"; then
        echo "FAILED $arch (qemu-user): $tname skipped a test case"
        fail=1
    else
        echo "passed $arch (qemu-user): $tname"
        passed=$((passed + 1))
    fi
}

passed=0
for t in arm64/test_arm64_decode arm64/test_arm64_inject arm64/test_arm64_walk \
         riscv/test_riscv_decode riscv/test_riscv_inject; do
    run_test "$t"
done

x86_portable="test_x86_decode test_x86_inject test_x86_cache test_x86_walk"
if [ "$x86h" != none ]; then
    for t in $x86_portable; do
        run_test "x86/$t"
    done
    # The objdump length test popen()s the build machine's x86 GNU objdump;
    # qemu-user passes that exec to the host kernel, so on an x86-64 build
    # machine the cross-built decoder is checked against it too.
    if [ "$(uname -m)" = x86_64 ] && x86objdump=$(command -v objdump); then
        run_test x86/test_x86_objdump "$x86objdump"
        x86_portable="$x86_portable test_x86_objdump"
    fi
else
    echo "skip   $arch: tests/decode/x86 portable tests (no x86_vectors.h: no x86-64 GNU as on the build machine)"
fi

host_only=0
for f in "$src"/tests/decode/x86/*.c; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .c)
    why=
    case " $x86_portable " in *" $name "*) continue ;; esac
    case $name in
    test_x86_objdump) why="needs an x86 GNU objdump on an x86-64 build machine" ;;
    kvm_crosscheck) why="runs an x86 guest under KVM (/dev/kvm on an x86-64 host)" ;;
    xc_guest) why="x86 guest code for kvm_crosscheck, built with the guest compiler" ;;
    cli_driver) why="driver of the host decode-x86-cli test (host python and GNU as)" ;;
    esac
    if [ -n "$why" ]; then
        echo "host-only $arch: tests/decode/x86/$name.c ($why)"
        host_only=$((host_only + 1))
        continue
    fi
    # Not classified yet: try it, report only.
    exe=$out/x86-$name
    # shellcheck disable=SC2086
    if $cc $cflags $inc -I"$(dirname "$f")" -static "$f" $objs -o "$exe" 2>/dev/null; then
        if "$qemu" "$exe" >"$exe.log" 2>&1; then
            echo "note   $arch: tests/decode/x86/$name.c (unclassified) passed under qemu; add it to run.sh's portable list"
        else
            echo "note   $arch: tests/decode/x86/$name.c (unclassified) failed under qemu (informational)"
            cat "$exe.log"
        fi
    else
        echo "note   $arch: tests/decode/x86/$name.c (unclassified) does not build against the shim (informational)"
    fi
done
echo "summary $arch: $passed test program(s) passed under $qemu, $host_only host-only$([ $fail -eq 0 ] || echo ", FAILURES above")"
exit $fail
