#!/bin/sh
# `make check`: build and run every test, in phases, and print how long each
# took. Phases: dependencies, build, KVM mode, [nested VM boot], tests (plain),
# ASan+UBSan build and tests, TSan build and unit tests, AArch64 cross build,
# nested AArch64 VM boot and the AArch64 tests, [nested VM stop].
#
# KVM mode: tests that need /dev/kvm run through vmio-kvm-exec (tests/nested).
# They run natively when this host's KVM passes kvm-probe (SSE and XSAVE at
# CPL0), and otherwise inside one nested KVM VM (KVM inside QEMU TCG) booted
# once for all phases. VMIO_NESTED=1 forces the nested VM. No KVM test is
# ever skipped: a VM that does not boot fails the run.
# AArch64 (docs/arm64.md): vmio cross-built for AArch64; every test binary of
# that build runs in a nested AArch64 KVM VM (qemu-system-aarch64 with EL2),
# booted once, on any x86-64 host.
# Environment: BUILD, ASAN_BUILD, TSAN_BUILD, ARM64_BUILD (build directories),
# VMIO_NESTED.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
ARM64_BUILD=${ARM64_BUILD:-build-arm64}
ARM64_STATE=$(pwd)/$ARM64_BUILD/tests/nested/state-aarch64
TSAN_BUILD=${TSAN_BUILD:-build-tsan}
TEST="meson test --print-errorlogs --num-processes 2"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
START=$(now)
TIMES=""
failed=""

# phase NAME COMMAND...: run it, record its time; on failure remember it and stop.
phase() {
    name=$1
    shift
    echo "==== $name"
    t0=$(now)
    if "$@"; then rc=0; else rc=$?; fi
    TIMES="$TIMES$(printf '%-34s %7s s%s' "$name" "$(since "$t0")" \
        "$([ $rc -eq 0 ] || echo '  FAILED')")
"
    if [ $rc -ne 0 ]; then
        failed=$name
        exit $rc
    fi
}

summary() {
    rc=$?
    if [ "${VMIO_KVM_MODE:-}" = nested ] && [ -n "${VMIO_NESTED_STATE:-}" ]; then
        t0=$(now)
        python3 tests/nested/nested.py stop --state "$VMIO_NESTED_STATE" || true
        TIMES="$TIMES$(printf '%-34s %7s s' "nested VM stop" "$(since "$t0")")
"
    fi
    [ -d "$ARM64_STATE" ] && python3 tests/nested/nested.py stop --arch aarch64 \
        --state "$ARM64_STATE" >/dev/null 2>&1 || true
    echo "==== make check: time per phase (KVM: ${VMIO_KVM_MODE:-unknown})"
    printf '%s' "$TIMES"
    printf '%-34s %7s s\n' "total" "$(since "$START")"
    if [ -n "$failed" ] || [ $rc -ne 0 ]; then
        echo "make check: FAILED${failed:+ in phase: $failed}"
    else
        echo "make check: all tests passed"
    fi
}
trap summary EXIT

build() { # build DIR [meson options]: configure once, then compile
    dir=$1
    shift
    [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@"
    ninja -C "$dir"
}

build_clang() ( # the same with clang as the C compiler
    CC=clang
    export CC
    build "$@"
)

phase "dependencies" sh scripts/deps.sh
phase "build" build "$BUILD"

# Where KVM tests run.
if [ "${VMIO_NESTED:-0}" = 1 ]; then
    VMIO_KVM_MODE=nested
    why="VMIO_NESTED=1"
elif why=$("$BUILD/tests/nested/kvm-probe" 2>&1); then
    VMIO_KVM_MODE=native
else
    VMIO_KVM_MODE=nested
fi
export VMIO_KVM_MODE
echo "==== KVM tests run $VMIO_KVM_MODE (kvm-probe: $why)"
if [ "$VMIO_KVM_MODE" = nested ]; then
    VMIO_NESTED_STATE=$(pwd)/$BUILD/tests/nested/state
    export VMIO_NESTED_STATE
    phase "nested VM boot" python3 tests/nested/nested.py start --idle 1800
fi

phase "tests (plain)" $TEST -C "$BUILD"
phase "build (ASan+UBSan)" build "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false
# QEMU's reference runs involve no vmio code: they ran in the plain phase.
phase "tests (ASan+UBSan)" env UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    $TEST -C "$ASAN_BUILD" --no-suite guest-qemu
# The TSan build uses clang: it also proves that everything compiles warning-free with clang.
phase "build (clang, TSan)" build_clang "$TSAN_BUILD" -Db_sanitize=thread -Db_lundef=false
# Not the kvm suite: clang's TSan runtime needs CMPXCHG16B, which the nested VM's qemu64 CPU
# lacks (SIGILL); those tests run in the plain and ASan phases, the threading on the fake backend.
phase "unit tests (TSan)" env TSAN_OPTIONS=halt_on_error=1 $TEST -C "$TSAN_BUILD" --suite unit --no-suite kvm
# AArch64: the cross build, then its tests (unit, decoders, guests, Linux) in
# the nested AArch64 VM; timeouts x4 (TCG).
phase "build (AArch64 cross)" build "$ARM64_BUILD" --cross-file meson/aarch64-linux-gnu.ini
phase "nested AArch64 VM boot" python3 tests/nested/nested.py start --arch aarch64 \
    --state "$ARM64_STATE" --idle 1800
phase "tests (AArch64, nested VM)" $TEST -C "$ARM64_BUILD" -t 4
