#!/bin/sh
# Build and run one of vmio's libFuzzer targets with ASan+UBSan.
#   tests/fuzz/fuzz.sh TARGET [SECONDS] [extra libFuzzer args...]
#   tests/fuzz/fuzz.sh all [SECONDS]     every target in turn, SECONDS each
# TARGET: multiboot, config, bzimage, devices, decode_x86, decode_arm64,
# decode_riscv, virtq, virtio_net, arm64 (stage-1 walk, ISV=0 emulation, arm64
# loader and device tree), exit_path (the exit cache against the general path)
# (tests/fuzz/fuzz_TARGET.c; docs/testing.md, "Fuzzing", gives
# the budget and what the last long runs found).
# Needs clang with -fsanitize=fuzzer (Debian: clang, libclang-rt-14-dev);
# No target needs /dev/kvm (`multiboot` and `bzimage` load into plain guest
# memory, `virtq` parses rings in plain guest memory, `virtio_net` runs on the
# fake backend). Builds into
# build-fuzz/ (FUZZ_BUILD=dir), runs on a scratch copy of
# tests/fuzz/corpus-<target>/ so the checked-in corpus stays small, and
# leaves crash-* files in the build dir. Keep a new interesting input by
# copying it into the corpus (at most ~40 files).
# The TOML reader has its own target: tests/toml/fuzz.sh.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
targets="multiboot config bzimage devices decode_x86 decode_arm64 decode_riscv virtq virtio_net arm64 exit_path"
target=${1:?usage: fuzz.sh TARGET|all [SECONDS] (targets: $targets)}
secs=${2:-60}
[ $# -gt 1 ] && shift 2 || shift 1
if [ "$target" = all ]; then
    for t in $targets; do
        "$0" "$t" "$secs" || exit 1
    done
    exit 0
fi
case " $targets " in
*" $target "*) ;;
*) echo "fuzz.sh: unknown target '$target' ($targets)" >&2; exit 2 ;;
esac
out=${FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-clang}
mkdir -p "$out/work-$target"
"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" -I"$root/src" \
    "$root/tests/fuzz/fuzz_$target.c" \
    "$root"/src/base/*.c "$root"/src/core/*.c "$root"/src/backend/*.c "$root"/src/backend/kvm/*.c "$root"/src/backend/kvm_common/*.c \
    "$root"/src/backend/fake/*.c "$root"/src/boot/*.c \
    "$root"/src/devices/*.c "$root"/src/host/*.c "$root"/src/virtio/*.c \
    "$root"/src/decode/*.c "$root"/src/config/*.c "$root"/src/acpi/*.c "$root"/src/machine/*.c \
    -o "$out/fuzz_$target" -lpthread -lm
cp "$root"/tests/fuzz/corpus-"$target"/* "$out/work-$target/" 2>/dev/null || true
cd "$out"
dict=""
[ "$target" = config ] && dict="-dict=$root/tests/toml/toml.dict"
maxlen=16384
[ "$target" = virtq ] && maxlen=70000 # header + 64 KiB + 4 KiB of guest RAM
[ "$target" = virtio_net ] && maxlen=66000 # header + 64 KiB of guest RAM
./fuzz_"$target" -max_total_time="$secs" -max_len=$maxlen -timeout=10 -print_final_stats=1 \
    $dict "$@" "work-$target"
