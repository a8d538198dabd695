# The fully static plugin for Ratify's distroless image (Dockerfile.ratify).
# Included by the Makefile.
#
#   make static        build/static/atproto: no program interpreter, no NEEDED
#   make static-test   integration/static.bats (runs it in an empty root)
#
# `static` installs the Debian packages (scripts/install-deps.sh), builds or
# finds the cached libcbor.a and minimal libcurl.a
# (scripts/build-static-deps.sh, which prints the cache directory), then
# compiles the same sources with the same warnings into build/static with a
# second make that knows that directory. Everything else is Debian's own static
# archives (libssl, libcrypto, libjansson, libsecp256k1, libyaml).
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

static-build: $(ST_DIR)/atproto

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

# Links, then refuses a result that the distroless image could not run.
$(ST_DIR)/atproto: $(ST_DIR)/obj/plugin/main.o $(ST_DIR)/libatv.a $(ST_ARCHIVES)
	$(CC) $(ST_CFLAGS) $(ST_LDFLAGS) $(ST_DIR)/obj/plugin/main.o $(ST_DIR)/libatv.a $(ST_LIBS) \
	  -o $@.tmp 2>$@.ldwarn || { cat $@.ldwarn >&2; rm -f $@.tmp; exit 1; }
	@# glibc's expected "Using 'X' in statically linked applications" warnings,
	@# summarized (getaddrinfo: files and dns are inside libc since 2.34, so no
	@# NSS module is loaded; integration/static.bats resolves names in the empty
	@# root); any other linker output is shown as it is.
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
