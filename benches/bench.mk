# Instruction-count benchmarks (benches/icount.rs, benches/icount.py), included by
# the top-level Makefile. Alone: make -f Makefile -f benches/bench.mk bench-check
#
# bench-check:    fails when authorize (repeat, first sight), exchange (cached
#                 secret) or get_key costs more than 5 % over benches/icount-baseline.txt
# bench-baseline: measures again and rewrites that file (commit it with the change)
# bench-threads:  authorize from one and from two threads on one handle (wall clock)

BENCH_PYTHON  ?= python3
BENCH_CARGO   ?= cargo
BENCH_TRIPLE  := $(shell rustc -vV | sed -n 's/^host: //p')
ICOUNT_BIN    := target/$(BENCH_TRIPLE)/release/icount

.PHONY: bench-check bench-baseline bench-threads icount-bin

icount-bin: valgrind-tool
	CARGO_BUILD_TARGET=$(BENCH_TRIPLE) $(BENCH_CARGO) build -q --release -p keyscope-benches --bin icount

# valgrind, as the top-level `valgrind` target installs it (kept separate so this
# file also works on its own).
.PHONY: valgrind-tool
valgrind-tool:
	@command -v valgrind >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q valgrind; }

bench-check: icount-bin
	$(BENCH_PYTHON) benches/icount.py check $(ICOUNT_BIN)

bench-baseline: icount-bin
	$(BENCH_PYTHON) benches/icount.py baseline $(ICOUNT_BIN)

bench-threads:
	CARGO_BUILD_TARGET=$(BENCH_TRIPLE) $(BENCH_CARGO) build -q --release -p keyscope-benches --bin icount
	$(ICOUNT_BIN) authorize_2threads 1000
