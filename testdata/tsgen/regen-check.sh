#!/bin/sh
# regen-check.sh -- regenerate the fixtures made with the official @atproto TypeScript libraries
# and check that they are byte-identical to the committed copies:
#   1. gen-proof.mjs  -> testdata/proofs/   (proof CARs)
#   2. gen-ratify.mjs -> testdata/ratify/   (the Ratify plugin fixture, samples and policies)
#   3. gen-plc.mjs    -> testdata/plc/      (did:plc audit logs checked by @did-plc/lib)
# Prints TAP (1..3), so it can run under `prove`:
#
#     sh testdata/tsgen/regen-check.sh
#     prove -e sh testdata/tsgen/regen-check.sh
#
# Runs `npm ci` in testdata/tsgen first (ensure-modules.sh) when node_modules is missing or older
# than package-lock.json (needs the npm registry once).  Works from any current directory.

set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P) || exit 1
proofs="$here/../proofs"
ratify="$here/../ratify"
plc="$here/../plc"
status=0

echo '1..3'

tmp=
cleanup() { [ -n "$tmp" ] && rm -rf -- "$tmp"; }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# diag MESSAGE [LOGFILE]: the message (and the log) as TAP diagnostics and on stderr
diag() {
    echo "# $1"
    if [ $# -ge 2 ] && [ -s "$2" ]; then
        sed -n '1,200s/^/# /p' "$2"
    fi
    echo "regen-check.sh: $1" >&2
}
# fail MESSAGE [LOGFILE]: a setup failure; every test is "not ok"
fail() {
    echo "not ok 1 - regenerated proof fixtures are byte-identical"
    echo "not ok 2 - regenerated Ratify fixture is byte-identical"
    echo "not ok 3 - regenerated PLC logs are byte-identical"
    diag "$@"
    exit 1
}
# check N NAME GENERATOR COMMITTED-DIR: runs GENERATOR into a fresh directory and diffs it
check() {
    out="$tmp/out$1"
    if ! node "$here/$3" "$out" >"$tmp/gen$1.log" 2>&1; then
        echo "not ok $1 - $2"
        diag "$3 failed (see log above)" "$tmp/gen$1.log"
        status=1
    elif ! diff -r "$out" "$4" >"$tmp/diff$1.log" 2>&1; then
        echo "not ok $1 - $2"
        diag "regenerated files differ from $4 (if the change is intended, run: node testdata/tsgen/$3 testdata/$(basename "$4"))" "$tmp/diff$1.log"
        status=1
    else
        echo "ok $1 - $2"
    fi
}

command -v node >/dev/null 2>&1 || fail 'node not found in PATH'
command -v npm >/dev/null 2>&1 || fail 'npm not found in PATH'
[ -d "$proofs" ] || fail "missing directory $proofs"
[ -d "$ratify" ] || fail "missing directory $ratify"
[ -d "$plc" ] || fail "missing directory $plc"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/regen-check.XXXXXX") || fail 'mktemp failed'

# npm ci when node_modules is missing or older than the lockfile (ensure-modules.sh)
if ! sh "$here/ensure-modules.sh" >"$tmp/npm.log" 2>&1; then
    fail "npm ci failed in $here" "$tmp/npm.log"
fi

check 1 'regenerated proof fixtures are byte-identical' gen-proof.mjs "$proofs"
check 2 'regenerated Ratify fixture is byte-identical' gen-ratify.mjs "$ratify"
check 3 'regenerated PLC logs are byte-identical' gen-plc.mjs "$plc"
exit $status
