#!/bin/sh
# Install the Debian packages vmio needs to build and test, or say how.
# Run as root it installs what is missing; otherwise it prints the exact
# apt-get line and fails. Used by `make run`, `make check` and .ci/run.
#   deps.sh            everything `make check` needs
#   deps.sh --minimal  what building vmio needs
#   deps.sh --nested   what the nested KVM VM needs (tests/nested): QEMU and a
#                      static busybox; the kernel package is downloaded (not
#                      installed) by tests/nested/nested.py
set -eu
MINIMAL="meson ninja-build pkg-config gcc binutils python3 libcmocka-dev"
NESTED="qemu-system-x86 busybox-static"
PKGS="$MINIMAL $NESTED clang llvm lld libclang-rt-14-dev
qemu-user-static acpica-tools e2fsprogs valgrind libseccomp-dev iproute2 util-linux
binutils-aarch64-linux-gnu binutils-riscv64-linux-gnu
gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu libc6-dev-arm64-cross libc6-dev-riscv64-cross
qemu-system-arm device-tree-compiler libcmocka-dev:arm64 libseccomp-dev:arm64"
case "${1:-}" in
--minimal) PKGS=$MINIMAL ;;
--nested) PKGS=$NESTED ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
# AArch64 (docs/arm64.md): cmocka for the arm64 cross build is Debian's arm64
# package (multiarch; it brings libc6:arm64, which the nested AArch64 VM uses
# to run the build's binaries), so dpkg must know the arm64 architecture.
arm64_arch() { dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64; }
if [ "$(id -u)" = 0 ]; then
    echo "vmio: installing:$missing" >&2
    case "$missing" in *:arm64*) arm64_arch ;; esac
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
else
    echo "vmio: missing Debian packages. Run:" >&2
    case "$missing" in *:arm64*) echo "  sudo dpkg --add-architecture arm64" >&2 ;; esac
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
