# bench.mk: `make bench`, the performance budget of DESIGN.md measured side by side with the
# official TypeScript libraries (see bench/README.md). Included from the Makefile with
#   -include bench.mk
# and usable alone as `make -f Makefile -f bench.mk BUILD=build/bn bench`.
#
#   make bench            build, then run bench/run.mjs (proofs, repository size, plugin runs)
#   make bench-gen        rebuild bench/proofs/ (the 1M-record repository: minutes, GiBs)
#   make bench-gen-check  rebuild into a scratch directory and compare with bench/proofs/
#
# Knobs (make variables): BENCH_RUNS (C plugin runs per series, default 50), BENCH_TS_RUNS (TS
# reference runs per series, default 20: each costs a Node start), BENCH_ITERS (C proof
# verifications per measurement, default 3000), BENCH_TS_ITERS (TS ones, default 300),
# BENCH_STATIC (a second plugin binary to measure when it exists, default build/static/atproto).
# A benchmark prints; it never fails the build for a missed target.

BENCH_RUNS     ?= 50
BENCH_TS_RUNS  ?= 20
BENCH_ITERS    ?= 3000
BENCH_TS_ITERS ?= 300
# Also measured when present: the static plugin Ratify's image runs (make static builds it).
BENCH_STATIC   ?= build/static/atproto
BENCH_BIN := $(BUILD)/bench/bench_proof $(BUILD)/bench/rusage

.PHONY: bench bench-bin bench-gen bench-gen-check tsgen-modules

bench-bin: $(BENCH_BIN)

$(BUILD)/bench/bench_proof: $(BUILD)/obj/bench/bench_proof.o $(BUILD)/libatv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# rusage links nothing of ours: it only forks, execs and waits.
$(BUILD)/bench/rusage: $(BUILD)/obj/bench/rusage.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@

# The TypeScript side needs testdata/tsgen/node_modules, as fresh as its lockfile.
tsgen-modules:
	sh testdata/tsgen/ensure-modules.sh

bench: $(BUILD)/atproto $(BENCH_BIN) tsgen-modules
	node bench/run.mjs --build $(BUILD) --static $(BENCH_STATIC) --runs $(BENCH_RUNS) \
	    --ts-runs $(BENCH_TS_RUNS) --iters $(BENCH_ITERS) --ts-iters $(BENCH_TS_ITERS)

bench-gen: tsgen-modules
	node --max-old-space-size=8192 bench/gen-bigrepo.mjs bench/proofs

bench-gen-check: tsgen-modules
	rm -rf $(BUILD)/bench/proofs-regen
	node --max-old-space-size=8192 bench/gen-bigrepo.mjs $(BUILD)/bench/proofs-regen
	diff -r bench/proofs $(BUILD)/bench/proofs-regen && echo "bench-gen-check: bench/proofs is up to date"
