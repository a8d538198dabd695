#!/bin/sh
# Runs one sample Ratify request against the loopback fixture stack, the way
# Ratify v1.4 runs the plugin, and shows everything:
#
#   integration/ratify/run-sample.sh testdata/ratify/success-k256.json
#
# Starts integration/fixture/up.sh into a temporary STATE, prints the request
# exactly as sent (environment and the stdin line), runs ratify-exec.js
# --check, prints the VerifierResult as Ratify keeps it and the plugin's log
# lines as Ratify logs them, stops the stack (always, on exit) and exits with
# the check's status (0 pass, 1 check failed, 2 harness or stack error).
# ATV_BUILD selects the build directory (default: build).
set -eu
[ $# -eq 1 ] || { echo "usage: run-sample.sh SAMPLE.json" >&2; exit 2; }
SAMPLE=$1
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
root=$(CDPATH='' cd -- "$here/../.." && pwd -P)
BUILD=${ATV_BUILD:-$root/build}
[ -f "$SAMPLE" ] || { echo "run-sample: no sample $SAMPLE" >&2; exit 2; }
[ -x "$BUILD/atproto" ] || { echo "run-sample: no plugin $BUILD/atproto (make all)" >&2; exit 2; }
[ -f "$root/integration/fixture/up.sh" ] || { echo "run-sample: integration/fixture/up.sh missing" >&2; exit 2; }

STATE=$(mktemp -d "${TMPDIR:-/tmp}/atv-run-sample.XXXXXX")
cleanup() {
    sh "$root/integration/fixture/down.sh" "$STATE" > /dev/null 2>&1 || true
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! sh "$root/integration/fixture/up.sh" "$STATE" > "$STATE/up.log" 2>&1; then
    echo "run-sample: the fixture stack did not start:" >&2
    cat "$STATE/up.log" >&2
    exit 2
fi

rc=0
node "$here/ratify-exec.js" --plugin "$BUILD/atproto" --env-file "$STATE/env" \
    --request-out "$STATE/request" --check "$SAMPLE" > "$STATE/report" 2> "$STATE/check" || rc=$?

field() { # NAME: one top-level field of the report, as text
    node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
             const v = r[process.argv[2]];
             if (process.argv[2] === "logs") for (const l of v) console.log("[Plugin] " + l.level + ": " + l.msg);
             else if (v !== null && v !== undefined && v !== "") console.log(typeof v === "object" ? JSON.stringify(v, null, 2) : String(v));' \
        "$STATE/report" "$1"
}

echo "== sample: $SAMPLE"
echo "== request (the sample's environment, then stdin exactly as sent)"
if [ -f "$STATE/request" ]; then cat "$STATE/request"; fi
if [ -s "$STATE/report" ]; then
    echo "== plugin: exit $(field exitCode), $(field elapsedMs) ms, killed $(field killed)"
    if [ -n "$(field pluginFailure)" ]; then
        echo "== plugin failure (Ratify: VERIFY_PLUGIN_FAILURE, nothing parsed)"
        field pluginFailure
    else
        echo "== VerifierResult (as GetVerifierResult keeps it)"
        if command -v jq > /dev/null; then jq .result "$STATE/report"; else field result; fi
        [ -z "$(field parseError)" ] || echo "Ratify cannot parse the output: $(field parseError)"
        echo "== log lines (as Ratify logs them)"
        field logs
    fi
fi
echo "== check"
if [ "$rc" -eq 0 ]; then echo "PASS"; else cat "$STATE/check"; fi
exit "$rc"
