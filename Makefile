# Thin wrapper over meson for the README's commands.
#   make run    build, then run the built-in demo guest (scripts/run.sh: natively,
#               or in the nested KVM VM where this host has no usable /dev/kvm)
#   make check  build and run every test, plain and under ASan+UBSan; the
#               unit tests (thread tests included) also under TSan; KVM tests
#               natively or in the nested KVM VM (scripts/check.sh, docs/testing.md;
#               VMIO_NESTED=1 forces the nested VM); then the AArch64 cross build,
#               whose tests run in a nested AArch64 KVM VM
#   make bench  run the benchmarks (tables and JSON, never pass/fail)
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
ARM64_BUILD ?= build-arm64

.PHONY: all deps run check bench clean format

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja:
	@sh scripts/deps.sh --minimal
	meson setup $(BUILD)

run: all
	@BUILD=$(BUILD) sh scripts/run.sh

check:
	@BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) TSAN_BUILD=$(TSAN_BUILD) ARM64_BUILD=$(ARM64_BUILD) \
		sh scripts/check.sh

bench: all
	ninja -C $(BUILD) bench-run

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	-python3 tests/nested/nested.py stop --state $(BUILD)/tests/nested/state 2>/dev/null
	-python3 tests/nested/nested.py stop --arch aarch64 \
		--state $(ARM64_BUILD)/tests/nested/state-aarch64 2>/dev/null
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(ARM64_BUILD)
