# atcr-verify / Ratify plugin `atproto`: plain Makefile (see README.md).
#
#   make            build build/atproto and build/atcr-verify
#   make check      install deps, build, run every test (unit, sanitizers, CLI, fixtures)
#   make demo       install deps, build, verify the committed sample proof
#   make install    PREFIX=/usr/local DESTDIR=
#
# Sanitizer builds live in build/san (make SAN=1 BUILD=build/san ...) and
# build/tsan (make TSAN=1 BUILD=build/tsan ..., ThreadSanitizer, for the server).

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
SHARED  ?= ../shared
CC      ?= gcc
VERSION := 0.1.0

PKGS := jansson libcbor libsecp256k1 libcurl libcrypto yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lresolv
# libevent is the server's HTTP layer (server/): atcr-verify links it, the
# Ratify plugin does not (its image is distroless/static and it never serves).
SERVER_PKGS := libevent libevent_openssl libssl
SERVER_CFLAGS := $(shell pkg-config --cflags $(SERVER_PKGS) 2>/dev/null | sed 's/-I/-isystem /g')
SERVER_LIBS   := $(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null)

# A machine without the build dependencies stops here with one line, before
# the first compiler error (a missing curl/curl.h said nothing about the fix).
# Goals that install them first (deps, check, demo, static) or need no
# compiler (clean, lint) skip the check.
DEP_HEADERS := curl/curl.h jansson.h cbor.h secp256k1.h openssl/evp.h yaml.h \
               event2/event.h event2/bufferevent_ssl.h
NODEP_GOALS := deps check demo static static-test clean lint
ifneq ($(filter-out $(NODEP_GOALS),$(or $(MAKECMDGOALS),all)),)
DEP_MISSING := $(shell out=$$(printf '$(foreach h,$(DEP_HEADERS),\043include <$(h)>\n)' | \
    $(CC) -E -x c - -o /dev/null 2>&1) || { h=$$(printf '%s\n' "$$out" | \
    sed -n 's/.*fatal error: \([^:]*\):.*/\1/p' | head -n 1); echo "$${h:-a header}"; })
ifneq ($(DEP_MISSING),)
$(error missing build dependency ($(DEP_MISSING)): run `sh scripts/install-deps.sh` first)
endif
endif

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wcast-align -Wwrite-strings -Wundef -Wformat=2 -Werror=format-security \
        -Wconversion -Wsign-conversion -Wvla
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDHARDEN := -pie -Wl,-z,relro,-z,now,-z,noexecstack

ifeq ($(SAN)$(TSAN),11)
$(error SAN=1 and TSAN=1 do not mix: ASan and TSan cannot share a process)
endif
ifeq ($(SAN),1)
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN := -fsanitize=address,undefined
HARDEN := -fPIE
else ifeq ($(TSAN),1)
# ThreadSanitizer for the server's threads (check-tsan); no ASan, which cannot
# share a process with it. As for SAN: no _FORTIFY_SOURCE or stack protector
# in the way of the instrumentation.
OPT := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
LDSAN := -fsanitize=thread
HARDEN := -fPIE
else
OPT := -O2 -g
LDSAN :=
endif

CPPFLAGS += -I. -D_POSIX_C_SOURCE=200809L -DATV_VERSION='"$(VERSION)"'
CFLAGS   += $(WARN) $(OPT) $(HARDEN) $(PKG_CFLAGS) $(SERVER_CFLAGS)
LDFLAGS  += $(LDHARDEN) $(LDSAN)
LDLIBS   += $(PKG_LIBS)

MODULES := common atproto referrer policy kube verify server plugin cli
LIB_SRC := $(foreach m,$(MODULES),$(filter-out $(m)/main.c,$(wildcard $(m)/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard $(foreach m,$(MODULES),$(m)/tests/test_*.c))
TEST_BIN := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRC)))

.PHONY: lint all deps check check-unit check-san check-tsan check-valgrind check-cli check-fixtures demo install clean headers tests
all: $(BUILD)/atproto $(BUILD)/atcr-verify

deps:
	@sh scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libatv.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/atproto: $(BUILD)/obj/plugin/main.o $(BUILD)/libatv.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/atcr-verify: $(BUILD)/obj/cli/main.o $(BUILD)/libatv.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) $(SERVER_LIBS) -o $@

define test_rule
$(BUILD)/tests/$(basename $(notdir $(1))): $(BUILD)/obj/$(1:.c=.o) $(BUILD)/libatv.a
	@mkdir -p $(BUILD)/tests
	$$(CC) $$(CFLAGS) $$(LDFLAGS) $$^ $$(LDLIBS) $$(SERVER_LIBS) -o $$@
endef
$(foreach t,$(TEST_SRC),$(eval $(call test_rule,$(t))))

# bench/loadgen: the TLS load generator and slow-client holder of integration/load.bats
# (OpenSSL and threads only, nothing of ours); built with the tests, in every build
# directory (plain, build/san, build/tsan).
LOADGEN := $(BUILD)/bench/loadgen
LOADGEN_LIBS := $(shell pkg-config --libs libssl libcrypto 2>/dev/null) -pthread
$(LOADGEN): $(BUILD)/obj/bench/loadgen.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LOADGEN_LIBS) -o $@

tests: $(TEST_BIN) $(LOADGEN)

# STYLE.md's mechanical rules: banned functions, include direction, one wrapper per library.
lint:
	prove -e sh scripts/lint-grep.sh

# Every public header must compile on its own.
headers:
	@for h in $(wildcard $(foreach m,$(MODULES),$(m)/*.h)); do \
	  echo "#include \"$$h\"" | $(CC) $(CPPFLAGS) $(WARN) $(PKG_CFLAGS) $(SERVER_CFLAGS) -x c -fsyntax-only - || exit 1; \
	done; echo "headers: each compiles alone"

# The whole suite: lint, plain build (unit and CLI tests), the regeneration
# check of the fixtures, then ASan+UBSan (unit and CLI tests), then TSan (the
# server suites), then valgrind (unit tests, samples, a short server run),
# then the fuzz corpora replayed as regression tests (plain and valgrind) and
# a short libFuzzer run of every target (fuzz.mk).
check: deps
	$(MAKE) headers lint
	$(MAKE) all tests
	$(MAKE) check-unit
	$(MAKE) check-cli
	$(MAKE) check-fixtures
	$(MAKE) check-san
	$(MAKE) check-tsan
	$(MAKE) check-valgrind
	$(MAKE) fuzz-smoke
	$(MAKE) check-fuzz-replay
	$(MAKE) check-fuzz-replay-valgrind

check-unit: $(TEST_BIN)
	ATV_SHARED=$(SHARED) prove -e '' $(TEST_BIN)

# Reports also go to files (log_path), and any file fails the step: a server
# that leaks at its SIGTERM exit, or a background process whose exit status no
# test reads, would otherwise pass unnoticed.
SAN_REPORTS := build/san/reports
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$(abspath $(SAN_REPORTS))/asan \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(abspath $(SAN_REPORTS))/ubsan
check-san:
	$(MAKE) SAN=1 BUILD=build/san all tests
	@rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	@rc=0; $(SAN_ENV) $(MAKE) SAN=1 BUILD=build/san check-unit check-cli || rc=$$?; \
	  if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then \
	    echo "check-san: sanitizer reports ($(SAN_REPORTS)):" >&2; \
	    cat $(SAN_REPORTS)/* >&2; exit 1; fi; \
	  exit $$rc

# The server's threads under ThreadSanitizer: atcr-verify built with
# -fsanitize=thread, then the server suites against it (SERVER_SUITES: append
# new ones). The suites read the server's stderr for its ports and would pass
# over a report printed there, so every report goes to a file instead
# (log_path; halt_on_error also ends the process at the first one, exit 66):
# any file there fails the step, whatever the suites said, and is printed.
# scripts/tsan.supp holds suppressions for reports entirely inside uninstrumented
# libraries, one comment each.
SERVER_SUITES := integration/serve.bats integration/gatekeeper.bats integration/admission.bats \
                 integration/load.bats
TSAN_REPORTS := build/tsan/reports
TSAN_ENV := TSAN_OPTIONS='halt_on_error=1:second_deadlock_stack=1:exitcode=66:log_path=$(abspath $(TSAN_REPORTS))/tsan:suppressions=$(abspath scripts/tsan.supp)'
check-tsan:
	$(MAKE) TSAN=1 BUILD=build/tsan build/tsan/atcr-verify build/tsan/bench/loadgen
	@rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	@rc=0; $(TSAN_ENV) ATV_BUILD=build/tsan ATV_SHARED=$(SHARED) \
	  prove -e 'bats --tap' $(SERVER_SUITES) || rc=$$?; \
	  if [ -n "$$(ls -A $(TSAN_REPORTS))" ]; then \
	    echo "check-tsan: ThreadSanitizer reports ($(TSAN_REPORTS)):" >&2; \
	    cat $(TSAN_REPORTS)/* >&2; exit 1; fi; \
	  echo "check-tsan: no ThreadSanitizer reports"; exit $$rc

# Leak-freedom on error paths is part of the contract: every unit test under
# valgrind, then every sample request through the plugin and atcr-verify's
# main paths against the fixture stack, then a short run of the server (some
# fifty requests and 300 more through bench/loadgen, then SIGTERM), then
# containerd-verifier's paths (its own verdicts, protocol and usage errors, the
# deadline, --server and its fallback).
check-valgrind: $(TEST_BIN) all $(LOADGEN)
	ATV_SHARED=$(SHARED) prove -e 'valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=all' $(TEST_BIN)
	prove -e sh integration/ratify/valgrind-samples.sh integration/serve-valgrind.sh \
	    integration/containerd-valgrind.sh :: $(BUILD)

check-cli: all $(LOADGEN)
	ATV_BUILD=$(BUILD) ATV_SHARED=$(SHARED) prove -e 'bats --tap' integration/*.bats

check-fixtures:
	prove -e sh testdata/tsgen/regen-check.sh

demo: deps
	$(MAKE) all
	sh scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/ratify/plugins \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/atcr-verify $(DESTDIR)$(PREFIX)/bin/atcr-verify
	install -m 0755 $(BUILD)/atproto $(DESTDIR)$(PREFIX)/libexec/ratify/plugins/atproto
	install -m 0644 cli/atcr-verify.1 $(DESTDIR)$(PREFIX)/share/man/man1/atcr-verify.1

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The fully static plugin for Ratify's distroless image (static.mk).
-include static.mk
# libFuzzer targets, their corpora replayed as regression tests (fuzz.mk).
-include fuzz.mk
# Benchmarks against the official TypeScript libraries (bench.mk).
-include bench.mk
