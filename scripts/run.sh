#!/bin/sh
# `make run`: run vmio's built-in demo guest. Natively when /dev/kvm can run
# it; otherwise (no /dev/kvm, or VMIO_NESTED=1) inside the nested KVM VM
# (KVM inside QEMU TCG, tests/nested; booted for this run and stopped after),
# with a one-line notice first. Output and exit status are the same either way:
# the demo ends by writing 0 to the debug-exit port, so vmio exits with
# (0 << 1) | 1 = 1, which is success here.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
probe=$("$BUILD/tests/nested/kvm-probe" 2>&1)
verdict=$?
if [ "${VMIO_NESTED:-0}" = 1 ] || [ $verdict -eq 2 ]; then
    why="no usable /dev/kvm: ${probe#none: }"
    [ "${VMIO_NESTED:-0}" = 1 ] && why="VMIO_NESTED=1"
    echo "make run: running the demo under emulation, KVM nested in QEMU TCG ($why;" \
        "docs/testing.md)" >&2
    sh scripts/deps.sh --nested || exit 1
    VMIO_KVM_MODE=nested
    VMIO_NESTED_STATE=$(pwd)/$BUILD/tests/nested/run-state
    export VMIO_KVM_MODE VMIO_NESTED_STATE
    log=$VMIO_NESTED_STATE.log
    if ! python3 tests/nested/nested.py start --idle 300 2>"$log"; then
        cat "$log" >&2
        exit 1
    fi
    "$BUILD/tests/nested/vmio-kvm-exec" "$BUILD/vmio" run
    s=$?
    python3 tests/nested/nested.py stop >/dev/null 2>&1
else
    "$BUILD/vmio" run
    s=$?
fi
if [ $s -ne 1 ]; then
    echo "make run: vmio exited with status $s (the demo guest should give 1)" >&2
    exit 1
fi
