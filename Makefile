# The two commands a fresh Debian 12 machine needs:
#   make demo   install missing packages, build, profile the demo program, print its report
#   make test   install missing packages, build, run the whole test suite through ctest
MAKEFLAGS += --no-print-directory
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build demo test bench accuracy compat clean format

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The demo runs two seconds at the default settings: snapshots come at least twice a second, enough
# to show the hot table and the idle cache.
demo: build
	@rm -f $(BUILD_DIR)/demo.dprof
	$(BUILD_DIR)/bin/damon-prof -o $(BUILD_DIR)/demo.dprof $(BUILD_DIR)/bin/damon-prof-demo
	$(BUILD_DIR)/bin/damon-prof report $(BUILD_DIR)/demo.dprof --top 5

# The suite runs twice: as built, and with the analyzer, the CLI and the tests built with
# AddressSanitizer and UBSan (the preloaded runtime is never sanitized: it runs inside programs).
# Then the libFuzzer targets (a clang build of the analyzer alone) run briefly on their corpus.
test: build
	@scripts/install-deps.sh --test
	@cmake -S . -B $(BUILD_DIR)-sanitize -DCMAKE_BUILD_TYPE=Debug -DDAMON_PROF_SANITIZE=ON > /dev/null
	@cmake --build $(BUILD_DIR)-sanitize -j $(JOBS)
	@cd $(BUILD_DIR)-sanitize && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD_DIR)-fuzz -DDAMON_PROF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	@cmake --build $(BUILD_DIR)-fuzz -j $(JOBS)
	@cd $(BUILD_DIR)-fuzz && ctest --output-on-failure $(CTEST_ARGS)

# Every case of the compatibility suite (CI runs the quick ones inside `make test`).
compat: build
	@scripts/install-deps.sh --compat
	@tests/compat/run.sh $(BUILD_DIR)

# The benchmark suite (bench/run_bench.py): every program natively, under damon-prof's modes, under
# heaptrack and DHAT; BENCH_ARGS passes options (--repeat N, --programs a,b, --markdown OUT.md).
BENCH_ARGS ?=
bench: build
	@scripts/install-deps.sh --bench
	@bench/run_bench.py --build $(BUILD_DIR) $(BENCH_ARGS)

# Per-site access figures against valgrind's DHAT (bench/accuracy.py): sqlite3, python3 and a C++
# program, each once under DHAT and once under damon-prof at its defaults (several minutes).
accuracy: build
	@scripts/install-deps.sh --accuracy
	@bench/accuracy.py --build $(BUILD_DIR) $(ACCURACY_ARGS)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR)-sanitize $(BUILD_DIR)-fuzz
