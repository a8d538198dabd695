# bench.mk: `make bench`, the performance budget of DESIGN.md measured side by side with the
# official TypeScript libraries (see bench/README.md). Included from the Makefile with
#   -include bench.mk
# and usable alone as `make -f Makefile -f bench.mk BUILD=build/bn bench`.
#
#   make bench            build, then run bench/run.mjs (proofs, repository size, plugin runs)
#                         and bench/serve.mjs (atcr-verify serve vs the TS reference server and
#                         a do-nothing TLS responder)
#   make bench-serve      the server half alone
#   make bench-gen        rebuild bench/proofs/ (the 1M-record repository: minutes, GiBs)
#   make bench-gen-check  rebuild into a scratch directory and compare with bench/proofs/
#
# Knobs (make variables): BENCH_RUNS (C plugin runs per series, default 50), BENCH_TS_RUNS (TS
# reference runs per series, default 20: each costs a Node start), BENCH_ITERS (C proof
# verifications per measurement, default 3000), BENCH_TS_ITERS (TS ones, default 300),
# BENCH_STATIC (a second plugin binary to measure when it exists, default build/static/atproto),
# BENCH_SERVE_ROUNDS (3), BENCH_SERVE_SECONDS (5), BENCH_SERVE_COLD (5).
# A benchmark prints; it never fails the build for a missed target.

BENCH_RUNS     ?= 50
BENCH_TS_RUNS  ?= 20
BENCH_ITERS    ?= 3000
BENCH_TS_ITERS ?= 300
# The server benchmark (bench/serve.mjs): interleaved rounds, seconds per run, cold runs.
BENCH_SERVE_ROUNDS  ?= 3
BENCH_SERVE_SECONDS ?= 5
BENCH_SERVE_COLD    ?= 5
# Also measured when present: the static plugin Ratify's image runs (make static builds it).
BENCH_STATIC   ?= build/static/atproto
BENCH_BIN := $(BUILD)/bench/bench_proof $(BUILD)/bench/rusage
NOOP_SERVER := $(BUILD)/bench/noop-server

.PHONY: bench bench-bin bench-serve bench-serve-bin bench-gen bench-gen-check tsgen-modules

bench-bin: $(BENCH_BIN)

$(BUILD)/bench/bench_proof: $(BUILD)/obj/bench/bench_proof.o $(BUILD)/libatv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# rusage links nothing of ours: it only forks, execs and waits.
$(BUILD)/bench/rusage: $(BUILD)/obj/bench/rusage.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@

# The do-nothing TLS responder of the server benchmark: libevent and OpenSSL, nothing of ours.
$(NOOP_SERVER): $(BUILD)/obj/bench/noop-server.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(SERVER_LIBS) $(LOADGEN_LIBS) -o $@

# The TypeScript side needs testdata/tsgen/node_modules, as fresh as its lockfile.
tsgen-modules:
	sh testdata/tsgen/ensure-modules.sh

bench: $(BUILD)/atproto $(BENCH_BIN) bench-serve-bin tsgen-modules
	node bench/run.mjs --build $(BUILD) --static $(BENCH_STATIC) --runs $(BENCH_RUNS) \
	    --ts-runs $(BENCH_TS_RUNS) --iters $(BENCH_ITERS) --ts-iters $(BENCH_TS_ITERS)
	node bench/serve.mjs --build $(BUILD) --rounds $(BENCH_SERVE_ROUNDS) \
	    --seconds $(BENCH_SERVE_SECONDS) --cold $(BENCH_SERVE_COLD)

# The server half alone (bench/serve.mjs): serve vs the TS reference and a do-nothing responder.
bench-serve: bench-serve-bin tsgen-modules
	node bench/serve.mjs --build $(BUILD) --rounds $(BENCH_SERVE_ROUNDS) \
	    --seconds $(BENCH_SERVE_SECONDS) --cold $(BENCH_SERVE_COLD)

# perf (linux-perf) profiles the server; the benchmark says so and goes on when it is missing.
bench-serve-bin: $(BUILD)/atcr-verify $(LOADGEN) $(NOOP_SERVER)
	@sh scripts/install-deps.sh bench

bench-gen: tsgen-modules
	node --max-old-space-size=8192 bench/gen-bigrepo.mjs bench/proofs

bench-gen-check: tsgen-modules
	rm -rf $(BUILD)/bench/proofs-regen
	node --max-old-space-size=8192 bench/gen-bigrepo.mjs $(BUILD)/bench/proofs-regen
	diff -r bench/proofs $(BUILD)/bench/proofs-regen && echo "bench-gen-check: bench/proofs is up to date"
