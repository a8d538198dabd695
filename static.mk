# The fully static binaries for distroless/static images: the Ratify plugin
# (Dockerfile.ratify) and atcr-verify with its server (Dockerfile.server).
# Included by the Makefile.
#
#   make static        build/static/atproto and build/static/atcr-verify:
#                      no program interpreter, no NEEDED
#   make static-test   integration/static.bats (runs both in an empty root)
#
# `static` installs the Debian packages (scripts/install-deps.sh), builds or
# finds the cached libcbor.a and minimal libcurl.a
# (scripts/build-static-deps.sh, which prints the cache directory), then
# compiles the same sources with the same warnings into build/static with a
# second make that knows that directory. Everything else is Debian's own static
# archives (libssl, libcrypto, libjansson, libsecp256k1, libyaml, and for
# atcr-verify only, libevent's).
#
# -static-pie rather than -static: Debian compiles everything PIE by default and
# the cached archives are built PIC, so the binary keeps ASLR; it has no program
# interpreter and no NEEDED entries either way.

ST_DIR := build/static

.PHONY: static static-build static-test
static: deps
	@prefix=$$(sh scripts/build-static-deps.sh) && \
	  $(MAKE) --no-print-directory static-build ATV_STATIC_PREFIX="$$prefix"

static-test: static
	bats --tap integration/static.bats

ifeq ($(ATV_STATIC_PREFIX),)
static-build:
	@echo "static-build: run 'make static' (it sets ATV_STATIC_PREFIX)" >&2; exit 1
else
ST_OBJ := $(LIB_SRC:%.c=$(ST_DIR)/obj/%.o)
# The cached headers (libcbor 0.10.2, curl) come first, before Debian's
# /usr/include copies of libcbor-dev 0.8.0 and libcurl4-openssl-dev.
ST_CFLAGS := $(WARN) -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
             -isystem $(ATV_STATIC_PREFIX)/include
ST_LDFLAGS := -static-pie -Wl,-z,relro,-z,now,-z,noexecstack
# The cached archives by path, so Debian's libcurl.a can never be picked instead.
ST_ARCHIVES := $(ATV_STATIC_PREFIX)/lib/libcurl.a $(ATV_STATIC_PREFIX)/lib/libcbor.a
# Deferred: pkg-config runs only when linking.
ST_LIBS = $(ST_ARCHIVES) \
          $(shell pkg-config --static --libs jansson libsecp256k1 yaml-0.1 libssl libcrypto) -lresolv

# atcr-verify serve's HTTP layer, and only atcr-verify's: the plugin never
# serves, and since no libevent archive is on its link line, a plugin that
# pulled server/ code in would not link. The archives are what server/server.c
# calls (nm): evhttp_* in libevent_extra, event_*/evbuffer_* in libevent_core,
# bufferevent_openssl_* in libevent_openssl (then -lssl, in ST_LIBS). Not
# libevent_pthreads: workers hand results back over a pipe, never through
# libevent (no evthread_use_pthreads). Not libevent.a: it is core and extra
# together, under a name libevent calls deprecated.
ST_SERVER_LIBS := -levent_openssl -levent_extra -levent_core

ST_BINS := $(ST_DIR)/atproto $(ST_DIR)/atcr-verify
static-build: $(ST_BINS)

# Objects are rebuilt when the cache changes (-MMD does not track -isystem headers).
$(ST_DIR)/deps.key: FORCE
	@mkdir -p $(@D)
	@key='$(ATV_STATIC_PREFIX) '"$$(cat '$(ATV_STATIC_PREFIX)/.atv-static-stamp')"; \
	  if [ "$$(cat $@ 2>/dev/null)" != "$$key" ]; then printf '%s\n' "$$key" >$@; fi
.PHONY: FORCE
FORCE:

$(ST_DIR)/obj/%.o: %.c $(ST_DIR)/deps.key
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ST_CFLAGS) -MMD -MP -c $< -o $@

$(ST_DIR)/libatv.a: $(ST_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Each binary is its main object, libatv.a and the libraries: one recipe links
# either one, then refuses a result that a distroless image could not run.
$(ST_DIR)/atproto: $(ST_DIR)/obj/plugin/main.o
$(ST_DIR)/atcr-verify: $(ST_DIR)/obj/cli/main.o
$(ST_DIR)/atcr-verify: private ST_EXTRA_LIBS := $(ST_SERVER_LIBS)
$(ST_BINS): $(ST_DIR)/libatv.a $(ST_ARCHIVES)
	$(CC) $(ST_CFLAGS) $(ST_LDFLAGS) $(filter %/main.o,$^) $(ST_DIR)/libatv.a $(ST_EXTRA_LIBS) \
	  $(ST_LIBS) -o $@.tmp 2>$@.ldwarn || { cat $@.ldwarn >&2; rm -f $@.tmp; exit 1; }
	@# glibc's expected "Using 'X' in statically linked applications" warnings,
	@# summarized (getaddrinfo: files and dns are inside libc since 2.34, so no
	@# NSS module is loaded; integration/static.bats resolves names in the empty
	@# root. atcr-verify adds libevent's getservbyname and getprotobynumber, in
	@# its own resolver's fallback, which serve never uses: it binds numeric
	@# addresses, and static.bats serves from the empty root); any other linker
	@# output is shown as it is.
	@fns=$$(sed -n "s/.*warning: Using '\([a-z_0-9]*\)' in statically linked.*/\1/p" $@.ldwarn | \
	  sort -u | tr '\n' ' '); [ -z "$$fns" ] || echo "static: glibc static-link warnings for: $$fns(in $@.ldwarn)"
	@grep -v -e 'in statically linked applications requires at runtime' -e ': in function ' \
	  $@.ldwarn >&2 || true
	@if readelf -lW $@.tmp | grep -q 'program interpreter'; then \
	  echo "static: $@ has a program interpreter" >&2; rm -f $@.tmp; exit 1; fi
	@if readelf -dW $@.tmp | grep -q '(NEEDED)'; then \
	  echo "static: $@ needs shared libraries:" >&2; readelf -dW $@.tmp | grep NEEDED >&2; \
	  rm -f $@.tmp; exit 1; fi
	@mv $@.tmp $@
	@echo "static: $@ ($$(stat -c %s $@) bytes): no interpreter, no NEEDED"

-include $(shell find $(ST_DIR)/obj -name '*.d' 2>/dev/null)
endif
