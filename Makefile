# Thin wrapper over meson for the README's commands.
#   make run    build, then run the built-in demo guest
#   make check  build and run every test, plain and under ASan+UBSan; the
#               unit tests (thread tests included) also under TSan
#   make bench  run the benchmarks (tables and JSON, never pass/fail)
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
MESON_TEST  = meson test --print-errorlogs --num-processes 2

.PHONY: all deps run check check-plain check-asan check-tsan bench clean format

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@sh scripts/deps.sh

$(BUILD)/build.ninja:
	@sh scripts/deps.sh --minimal
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@sh scripts/deps.sh --minimal
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

$(TSAN_BUILD)/build.ninja:
	@sh scripts/deps.sh --minimal
	meson setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false

# The demo guest ends by writing 0 to the debug-exit port: vmio exits with
# (0 << 1) | 1 = 1, which is success here.
run: all
	@./$(BUILD)/vmio run; s=$$?; if [ $$s -ne 1 ]; then \
	    echo "make run: vmio exited with status $$s (the demo guest should give 1)" >&2; exit 1; fi

check: check-plain check-asan check-tsan

check-plain: deps all
	$(MESON_TEST) -C $(BUILD)

check-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(MESON_TEST) -C $(ASAN_BUILD)

check-tsan: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)
	TSAN_OPTIONS=halt_on_error=1 $(MESON_TEST) -C $(TSAN_BUILD) --suite unit

bench: all
	ninja -C $(BUILD) bench-run

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
