#!/bin/sh
# Every sample request through the plugin under valgrind, and atcr-verify's
# image, bundle and offline paths, against the loopback fixture stack.
# Any valgrind error or leak (--errors-for-leak-kinds=all) exits 42 and fails
# the check. TAP output, for prove.
#   valgrind-samples.sh BUILD_DIR
set -u
cd "$(dirname "$0")/../.."
B=$(cd "${1:-build}" && pwd)
VG="valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=all"
STATE=$(mktemp -d)
trap 'sh integration/fixture/down.sh "$STATE" >/dev/null 2>&1; rm -rf "$STATE"' EXIT
sh integration/fixture/up.sh "$STATE" > "$STATE/up.log" 2>&1 || { cat "$STATE/up.log"; exit 1; }
. "$STATE/env"
# The harness runs the plugin with cwd /, so the wrappers name absolute paths.
# valgrind is some 20 times slower, so a request without its own timeoutMs
# gets 20 s instead of 2.5 s (on stdin, before the plugin reads it); the
# timeout sample keeps its 800 ms and ends in the watchdog, which exits
# from a signal handler by design and leaves the heap as it is: there only
# memory errors count, not leaks.
JQ=$(command -v jq)
cat > "$STATE/plugin" <<SH
#!/bin/sh
"$JQ" -c 'if (.config | type) == "object" then .config.timeoutMs //= 20000 else . end' 2>/dev/null |
    $VG "$B/atproto"
SH
cat > "$STATE/plugin-raw" <<SH
#!/bin/sh
exec $VG "$B/atproto"
SH
cat > "$STATE/plugin-noleak" <<SH
#!/bin/sh
exec valgrind -q --error-exitcode=42 --leak-check=no "$B/atproto"
SH
chmod +x "$STATE/plugin" "$STATE/plugin-raw" "$STATE/plugin-noleak"
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
for f in testdata/ratify/*.json; do
    p="$STATE/plugin"
    case "$f" in
        */timeout.json)
            # under valgrind the watchdog may answer before the HTTP deadline does, and
            # its prepared verdict carries the reason only: check that much
            node integration/ratify/ratify-exec.js --plugin "$STATE/plugin-noleak" \
                --env-file "$STATE/env" --timeout-ms 30000 "$f" > "$STATE/out" 2> "$STATE/err"
            if jq -e '.exitCode == 0 and .result.isSuccess == false and
                      .result.extensions.reason == "TIMEOUT"' "$STATE/out" > /dev/null; then
                ok "plugin under valgrind: timeout.json (reason TIMEOUT)"
            else
                notok "plugin under valgrind: timeout.json"
                sed 's/^/# /' "$STATE/out" | head -5
            fi
            continue
            ;;
        # not a request: stdin goes through untouched
        */stdin-not-json.json) p="$STATE/plugin-raw" ;;
    esac
    if node integration/ratify/ratify-exec.js --plugin "$p" --env-file "$STATE/env" \
        --timeout-ms 30000 --check "$f" > "$STATE/out" 2> "$STATE/err"; then
        ok "plugin under valgrind: $(basename "$f")"
    else
        notok "plugin under valgrind: $(basename "$f")"
        sed 's/^/# /' "$STATE/err" | head -20
    fi
done
FXJ=testdata/ratify/fixture/fixture.json
A=$(jq -r .accounts.alice.did "$FXJ")
BOB=$(jq -r .accounts.bob.did "$FXJ")
NET="--plc $PLC --allow-loopback-http --insecure-http --no-verify-handle --cache-dir $STATE/c"
cli() { # WANT DESCRIPTION ARGS...
    want=$1 what=$2
    shift 2
    $VG "$B/atcr-verify" "$@" > "$STATE/out" 2> "$STATE/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok "atcr-verify under valgrind: $what"; else
        notok "atcr-verify under valgrind: $what (exit $got, want $want)"
        sed 's/^/# /' "$STATE/err" | head -20
    fi
}
cli 0 "discover" discover "$REGISTRY/atv/app:multi" --insecure-http
# shellcheck disable=SC2086
cli 0 "two signers" "$REGISTRY/atv/app:multi" --trusted-did $A --trusted-did $BOB $NET -o json
# shellcheck disable=SC2086
cli 1 "revoked" "$REGISTRY/atv/app:revoked" --trusted-did $A $NET
# shellcheck disable=SC2086
cli 0 "bundle export" bundle export "$REGISTRY/atv/app:good" --trusted-did $A $NET -o "$STATE/b.json"
# shellcheck disable=SC2086
cli 0 "offline" "$REGISTRY/atv/app:good" --trusted-did $A $NET --offline --bundle "$STATE/b.json"
cli 2 "usage error" "$REGISTRY/atv/app:good" --offline
echo "1..$n"
[ "$fail" -eq 0 ]
