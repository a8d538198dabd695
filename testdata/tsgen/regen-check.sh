#!/bin/sh
# regen-check.sh -- regenerate the ATProto proof fixtures with the official @atproto TypeScript
# libraries (gen-proof.mjs) and check that they are byte-identical to the committed copy in
# testdata/proofs/.  Prints TAP (1..1), so it can run under `prove`:
#
#     sh testdata/tsgen/regen-check.sh
#     prove -e sh testdata/tsgen/regen-check.sh
#
# Runs `npm ci` in testdata/tsgen first when node_modules is missing or older than
# package-lock.json (needs the npm registry once).  Works from any current directory.

set -u

name='regenerated fixtures are byte-identical'
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P) || exit 1
proofs="$here/../proofs"

echo '1..1'

tmp=
cleanup() { [ -n "$tmp" ] && rm -rf -- "$tmp"; }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# fail MESSAGE [LOGFILE]: TAP "not ok", the message (and the log) as TAP diagnostics and on stderr
fail() {
    echo "not ok 1 - $name"
    echo "# $1"
    if [ $# -ge 2 ] && [ -s "$2" ]; then
        sed -n '1,200s/^/# /p' "$2"
    fi
    echo "regen-check.sh: $1" >&2
    exit 1
}

command -v node >/dev/null 2>&1 || fail 'node not found in PATH'
command -v npm >/dev/null 2>&1 || fail 'npm not found in PATH'
[ -d "$proofs" ] || fail "missing directory $proofs"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/regen-check.XXXXXX") || fail 'mktemp failed'

# npm ci writes node_modules/.package-lock.json last; use it as the install stamp.
stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
    if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1; then
        fail "npm ci failed in $here" "$tmp/npm.log"
    fi
fi

if ! node "$here/gen-proof.mjs" "$tmp/out" >"$tmp/gen.log" 2>&1; then
    fail 'gen-proof.mjs failed (see log above)' "$tmp/gen.log"
fi

if ! diff -r "$tmp/out" "$proofs" >"$tmp/diff.log" 2>&1; then
    fail "regenerated fixtures differ from $proofs (if the change is intended, run: node testdata/tsgen/gen-proof.mjs testdata/proofs)" "$tmp/diff.log"
fi

echo "ok 1 - $name"
exit 0
