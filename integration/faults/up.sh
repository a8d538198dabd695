#!/bin/sh
# Starts fault-server.js (a misbehaving registry, PLC directory and PDS over the real fixture
# bytes of testdata/ratify/fixture) on 127.0.0.1 / 127.0.0.2 and waits for STATE/env.
#
#   up.sh STATE [fault-server.js options, e.g. --pds-port N]      (stop with down.sh STATE)
#
# The server signs each DID's PDS operation with @did-plc/lib from testdata/tsgen (installed here
# by testdata/tsgen/ensure-modules.sh when missing) before it writes STATE/env; that takes about a
# second, more on a loaded machine.
#
# Bounded: the server runs under `timeout` (LIFETIME s), and the wait for STATE/env is 30 s.
set -eu
[ $# -ge 1 ] || { echo "usage: up.sh STATE [options]" >&2; exit 2; }
STATE=$1
shift
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
FIXTURE=$(CDPATH='' cd -- "$here/../../testdata/ratify/fixture" && pwd -P)
LIFETIME=${ATV_FAULTS_LIFETIME:-600}
command -v node >/dev/null || { echo "faults/up.sh: node missing" >&2; exit 3; }
sh "$here/../../testdata/tsgen/ensure-modules.sh" || { echo "faults/up.sh: npm ci in testdata/tsgen failed" >&2; exit 3; }
mkdir -p "$STATE"
STATE=$(CDPATH='' cd -- "$STATE" && pwd -P)
rm -f "$STATE/env"
timeout "$((LIFETIME + 5))" node "$here/fault-server.js" "$FIXTURE" "$STATE" --lifetime "$LIFETIME" "$@" \
    > "$STATE/fault-server.out" 2>&1 &
echo $! > "$STATE/fault-server.pid"
i=0
while [ ! -s "$STATE/env" ] && [ $i -lt 300 ]; do
    kill -0 "$(cat "$STATE/fault-server.pid")" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
[ -s "$STATE/env" ] || { echo "faults/up.sh: fault-server.js did not start" >&2; cat "$STATE/fault-server.out" >&2; exit 1; }
CTL=$(sed -n 's/^CTL=//p' "$STATE/env")
curl -sS --max-time 2 -o /dev/null "$CTL/set" || { echo "faults/up.sh: no answer on $CTL" >&2; exit 1; }
