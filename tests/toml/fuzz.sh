#!/bin/sh
# Build and run the libFuzzer target for the TOML reader.
#   tests/toml/fuzz.sh [SECONDS] [extra libFuzzer args...]
# Needs clang with -fsanitize=fuzzer. Builds into build-toml-fuzz/ (override
# with FUZZ_BUILD=dir), runs on a scratch copy of tests/toml/corpus/ so the
# checked-in corpus stays small, and leaves crash-* files in the build dir.
# To keep a new interesting input, copy it into tests/toml/corpus/ by hand
# (or minimise: fuzz_toml -merge=1 tests/toml/corpus <dir>).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
out=${FUZZ_BUILD:-$root/build-toml-fuzz}
cc=${CC:-clang}
mkdir -p "$out/work"
"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" -I"$root/src" \
    "$root/tests/toml/fuzz_toml.c" "$root/src/config/toml.c" "$root/src/base/error.c" \
    -o "$out/fuzz_toml" -lm
cp "$root"/tests/toml/corpus/* "$out/work/" 2>/dev/null || true
cd "$out"
exec ./fuzz_toml -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -dict="$root/tests/toml/toml.dict" "$@" work
