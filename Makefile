# drot — the two commands (README): `make demo` and `make test`.
# Both first install any missing Debian package through scripts/deps.sh.

BUILD     ?= build
BUILD_SAN ?= build-san
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build build-sanitize test test-sanitize demo bench fuzz format clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Every test, normal build. CTest prints the summary CI reads.
test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

build-sanitize: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DDROT_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_SAN) -j$(JOBS)

# Every test again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: build-sanitize
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_SAN) --output-on-failure -j$(JOBS)

# The end-to-end demonstration (scripts/demo.sh): the self-check, two
# simulated APMs driven through drot-agent, then a fleet of three devices
# with drot-server on SQLite and the agents running as daemons.
demo: build
	@BUILD=$(BUILD) bash scripts/demo.sh

# Benchmarks (tests/bench/, docs/performance.md): the crypto reference for both backends, then
# the server-level figures (bench_fleet.sh: drot-fleet against real drot-server processes on
# SQLite and PostgreSQL, and the APM token cost); every figure a ratio measured in the same run.
# BENCH_ARGS is passed to the crypto benchmarks (e.g. BENCH_ARGS=--json); BENCH_DEVICES and the
# other BENCH_* variables size bench_fleet.sh. Build output and progress go to stderr, so stdout
# holds only the tables.
bench: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target drot-bench-crypto-bearssl drot-bench-crypto-openssl >&2
	@echo "# make bench — $$(date -u '+%Y-%m-%d %H:%M UTC') — $$(uname -m)" >&2
	@$(BUILD)/tests/bench/drot-bench-crypto-bearssl $(BENCH_ARGS)
	@$(BUILD)/tests/bench/drot-bench-crypto-openssl $(BENCH_ARGS)
	@cmake --build $(BUILD) -j$(JOBS) --target drot-fleet drot-server drotctl drot-bench-fill \
	  drot-bench-apm-bearssl drot-bench-apm-openssl >&2
	@bash tests/bench/bench_fleet.sh $(BUILD)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_SAN)

# Coverage-guided fuzzing with libFuzzer (clang): FUZZ_SECONDS per target.
# Not part of `make test`, which replays the seed corpora instead.
FUZZ_SECONDS ?= 60
fuzz:
	@bash scripts/deps.sh fuzz
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)
