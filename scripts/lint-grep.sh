#!/bin/sh
# Mechanical rules of STYLE.md that a grep can hold (make lint, part of make check):
#   - no banned functions (7.4, rule 22);
#   - includes follow the module direction of DESIGN.md:
#       common -> (nothing of ours); atproto -> common; referrer -> common;
#       policy -> atproto, common; kube -> common;
#       verify -> policy, referrer, atproto, common;
#       server -> verify and below, kube; plugin, cli -> server, verify and below, kube;
#   - a *_internal.h header is included only from its own directory;
#   - every library wrapper stays in its one file (curl, cbor, secp256k1, yaml),
#     libevent and OpenSSL's TLS only in server/server.c;
#   - no public header includes jansson.h (jansson objects never cross a module
#     boundary; a *_internal.h may, inside its module).
# TAP output, one point per rule.
set -u
cd "$(dirname "$0")/.."
n=0 fail=0
point() { # OK? NAME
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=$((fail + 1)); fi
}
SRC=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')

out=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|sscanf|atoi|atol|strtok)[[:space:]]*\(' $SRC |
      grep -vE '\b(snprintf|vsnprintf)[[:space:]]*\(')
[ -z "$out" ]; point $? "no banned functions"
[ -z "$out" ] || echo "$out" | sed 's/^/# /'

allowed() { # MODULE -> the modules it may include
    case $1 in
        common) echo "common" ;;
        atproto) echo "atproto common" ;;
        referrer) echo "referrer common" ;;
        policy) echo "policy atproto common" ;;
        kube) echo "kube common" ;;
        verify) echo "verify policy referrer atproto common" ;;
        server) echo "server kube verify policy referrer atproto common" ;;
        plugin) echo "plugin server kube verify policy referrer atproto common" ;;
        cli) echo "cli server kube verify policy referrer atproto common" ;;
        *) echo "" ;;
    esac
}
bad=""
for m in common atproto referrer policy kube verify server plugin cli; do
    for f in $(echo "$SRC" | grep "^$m/" | grep -v "/tests/"); do
        for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f" | sort -u); do
            case " $(allowed "$m") " in
                *" $inc "*) ;;
                *) bad="$bad $f->$inc" ;;
            esac
        done
    done
done
[ -z "$bad" ]; point $? "includes follow the module direction"
[ -z "$bad" ] || echo "# $bad"

bad=""
for f in $SRC; do
    for h in $(sed -n 's/^#include "\([a-z]*\/[a-z_]*_internal\.h\)".*/\1/p' "$f"); do
        case "$f" in
            "${h%%/*}"/*) ;;
            *) bad="$bad $f:$h" ;;
        esac
    done
done
[ -z "$bad" ]; point $? "internal headers stay in their module"
[ -z "$bad" ] || echo "# $bad"

wrapped() { # HEADER-REGEX FILE...: only these files include it
    hdr=$1
    shift
    got=$(grep -lE "^#include <$hdr" $SRC | grep -v -e '/tests/' -e '^fuzz/' -e '^bench/' | sort)
    want=$(printf '%s\n' "$@" | sort)
    [ "$got" = "$want" ]
}
wrapped 'curl/' common/http.c; point $? "libcurl only in common/http.c"
wrapped 'cbor\.h' atproto/cbor.c; point $? "libcbor only in atproto/cbor.c"
wrapped 'secp256k1' atproto/sig.c; point $? "libsecp256k1 only in atproto/sig.c"
wrapped 'yaml\.h' policy/parse.c; point $? "libyaml only in policy/parse.c"
wrapped 'event2/' server/server.c; point $? "libevent only in server/server.c"
wrapped 'openssl/ssl\.h' server/server.c; point $? "OpenSSL's TLS only in server/server.c"

out=$(grep -lE '^#include <jansson\.h>' $(echo "$SRC" | grep '\.h$' | grep -v -e '/tests/' -e '^fuzz/' \
      -e '_internal\.h$'))
[ -z "$out" ]; point $? "no public header includes jansson.h"
[ -z "$out" ] || echo "# $out"

echo "1..$n"
[ "$fail" -eq 0 ]
