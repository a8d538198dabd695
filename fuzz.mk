# fuzz.mk: libFuzzer targets (STYLE.md 29), included by the Makefile.
#
#   make fuzz-build          clang+libFuzzer+ASan+UBSan binaries in $(BUILD)/fuzz/
#   make fuzz [FUZZ_TIME=60] every target FUZZ_TIME seconds over a copy of its seeds
#   make fuzz-smoke          every target briefly (part of `make check`)
#   make check-fuzz-replay   the harnesses built with $(CC) and the project's flags,
#                            replaying fuzz/corpus and fuzz/regress (TAP, under prove)
#   make check-fuzz-replay-valgrind   the same under valgrind
#   make fuzz-corpus         rebuild fuzz/corpus/ from testdata/ and $(SHARED)/vectors
#
# The clang objects live in $(BUILD)/fuzzobj, apart from the $(CC) objects in
# $(BUILD)/obj. New inputs found while fuzzing go to $(BUILD)/fuzz-corpus,
# crashes to $(BUILD)/fuzz-crash; nothing writes into fuzz/corpus but fuzz-corpus.

FUZZ_TARGETS := car cbor cid multibase_keys syntax diddoc artifact manifest policy params \
                plugin_request proof plc kube
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Our warning set; clang understands all of it. No _FORTIFY_SOURCE: ASan
# replaces those checks and the two do not mix.
FUZZ_CFLAGS := $(WARN) -g -O1 $(FUZZ_SAN) $(PKG_CFLAGS)
FUZZ_OBJ    := $(BUILD)/fuzzobj
FUZZ_BIN    := $(BUILD)/fuzz
FUZZ_REPLAY := $(BUILD)/fuzz-replay
# The library without the CLI: no harness calls into cli/.
FUZZ_LIBOBJ := $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(filter-out cli/%,$(LIB_SRC)))
FUZZ_OPTS   := -timeout=5 -rss_limit_mb=2048 -print_final_stats=1

# -max_len per input kind: a proof CAR is a few KiB (full-repo.car 18 KiB),
# JSON documents a few KiB, strings short.
FUZZ_MAXLEN_car            := 65536
FUZZ_MAXLEN_proof          := 32768
FUZZ_MAXLEN_cbor           := 16384
FUZZ_MAXLEN_cid            := 128
FUZZ_MAXLEN_multibase_keys := 512
FUZZ_MAXLEN_syntax         := 4096
FUZZ_MAXLEN_diddoc         := 8192
FUZZ_MAXLEN_artifact       := 8192
FUZZ_MAXLEN_manifest       := 16384
FUZZ_MAXLEN_policy         := 16384
FUZZ_MAXLEN_params         := 8192
FUZZ_MAXLEN_plugin_request := 16384
# an audit log: the interop vectors are 0.6-5.6 KiB
FUZZ_MAXLEN_plc            := 16384
# Kubernetes objects and AdmissionReviews: the fixtures are 1-8 KiB
FUZZ_MAXLEN_kube           := 16384

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-corpus check-fuzz-replay check-fuzz-replay-valgrind \
        fuzz-replay-build

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_OBJ)/libatv.a: $(FUZZ_LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BIN)/fuzz_%: $(FUZZ_OBJ)/fuzz/fuzz_%.o $(FUZZ_OBJ)/libatv.a
	@mkdir -p $(FUZZ_BIN)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ $(PKG_LIBS) -o $@

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BIN)/fuzz_%)

# Stops at the first target that fails; libFuzzer has written the input to
# $(BUILD)/fuzz-crash/TARGET/ and the line below names it.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz-corpus/$$t $(BUILD)/fuzz-crash/$$t; \
	  cp -R fuzz/corpus/$$t/. $(BUILD)/fuzz-corpus/$$t/; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	  $(FUZZ_BIN)/fuzz_$$t $(FUZZ_OPTS) -max_len=$(FUZZ_MAXLEN_$$t) \
	    -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(BUILD)/fuzz-crash/$$t/ \
	    $(BUILD)/fuzz-corpus/$$t fuzz/regress/$$t \
	    > $(BUILD)/fuzz-crash/$$t.log 2>&1 || { \
	      tail -n 60 $(BUILD)/fuzz-crash/$$t.log; \
	      echo "fuzz: $$t FAILED; reproducer: $$(ls -t $(BUILD)/fuzz-crash/$$t/* | head -n 1)"; \
	      echo "fuzz: replay with $(FUZZ_BIN)/fuzz_$$t FILE, minimise with -minimize_crash=1"; \
	      exit 1; }; \
	  echo "fuzz: $$t ok: $$(grep -E '^#[0-9]+' $(BUILD)/fuzz-crash/$$t.log | tail -n 1)"; \
	done

# A fixed budget per target, from the committed seeds into a scratch corpus.
fuzz-smoke: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(BUILD)/fuzz-smoke/$$t; mkdir -p $(BUILD)/fuzz-smoke/$$t $(BUILD)/fuzz-crash/$$t; \
	  $(FUZZ_BIN)/fuzz_$$t $(FUZZ_OPTS) -max_len=$(FUZZ_MAXLEN_$$t) -runs=2000 \
	    -max_total_time=5 -artifact_prefix=$(BUILD)/fuzz-crash/$$t/ \
	    $(BUILD)/fuzz-smoke/$$t fuzz/corpus/$$t fuzz/regress/$$t \
	    > $(BUILD)/fuzz-smoke/$$t.log 2>&1 || { \
	      tail -n 60 $(BUILD)/fuzz-smoke/$$t.log; \
	      echo "fuzz-smoke: $$t FAILED; reproducer: $$(ls -t $(BUILD)/fuzz-crash/$$t/* | head -n 1)"; \
	      exit 1; }; \
	  echo "fuzz-smoke: $$t ok ($$(grep -E '^#[0-9]+' $(BUILD)/fuzz-smoke/$$t.log | tail -n 1))"; \
	done

fuzz-corpus:
	sh fuzz/make-corpus.sh $(SHARED)

# ---- the same harnesses without libFuzzer: $(CC), the project's flags ------
# The same objects as $(BUILD)/libatv.a, without cli/ (no harness uses it).
$(FUZZ_REPLAY)/libatv.a: $(filter-out $(BUILD)/obj/cli/%,$(LIB_OBJ))
	@mkdir -p $(FUZZ_REPLAY)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_REPLAY)/%: $(BUILD)/obj/fuzz/fuzz_%.o $(BUILD)/obj/fuzz/replay.o $(FUZZ_REPLAY)/libatv.a
	@mkdir -p $(FUZZ_REPLAY)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

fuzz-replay-build: $(FUZZ_TARGETS:%=$(FUZZ_REPLAY)/%)

check-fuzz-replay: fuzz-replay-build
	ATV_FUZZ_REPLAY=$(FUZZ_REPLAY) ATV_FUZZ_TARGETS="$(FUZZ_TARGETS)" \
	  prove -e sh fuzz/replay-tap.sh

check-fuzz-replay-valgrind: fuzz-replay-build
	ATV_FUZZ_REPLAY=$(FUZZ_REPLAY) ATV_FUZZ_TARGETS="$(FUZZ_TARGETS)" \
	  ATV_FUZZ_WRAP="valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=all" \
	  prove -e sh fuzz/replay-tap.sh

-include $(shell find $(FUZZ_OBJ) -name '*.d' 2>/dev/null)

# The harness objects are intermediate files of pattern rules: keep them.
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_OBJ)/fuzz/fuzz_%.o) \
            $(FUZZ_TARGETS:%=$(BUILD)/obj/fuzz/fuzz_%.o) $(BUILD)/obj/fuzz/replay.o
