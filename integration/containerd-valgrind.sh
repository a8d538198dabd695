#!/bin/sh
# atcr-verify containerd-verifier under valgrind over the loopback fixture
# stack, run as containerd runs it (argv, the descriptor on stdin): allowed,
# refused, a protocol error (descriptor digest mismatch), a usage error (no
# config file), an unknown flag, a stalled PDS (the deadline), and --server:
# its 200 and 403 verdicts from an `atcr-verify serve` on loopback, then the
# fallback when nothing listens. valgrind's 42 means a memory error or a leak
# (--errors-for-leak-kinds=all). TAP output, for prove.
#   containerd-valgrind.sh BUILD_DIR
# Every run is bounded: each verifier under `timeout 60`, the server under
# `timeout 120` and killed on exit.
set -u
cd "$(dirname "$0")/.." || exit 1
B=$(cd "${1:-build}" && pwd)
STATE=$(mktemp -d)
SRV=""
cleanup() {
    if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
        kill -TERM "$SRV" 2>/dev/null
        wait "$SRV" 2>/dev/null
    fi
    rm -f "$STATE/pds-stall"
    sh integration/fixture/down.sh "$STATE" >/dev/null 2>&1
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
n=0 fail=0

sh integration/fixture/up.sh "$STATE" > "$STATE/up.log" 2>&1 || { cat "$STATE/up.log"; exit 1; }
# shellcheck disable=SC1091
. "$STATE/env"
FXJ=testdata/ratify/fixture/fixture.json
A=$(jq -r .accounts.alice.did "$FXJ")
GOOD=$(jq -r .images.good.digest "$FXJ")
BOB=$(jq -r .images.bob.digest "$FXJ")
IMG="$REGISTRY/atv/app"
MT=application/vnd.oci.descriptor.v1+json
jq -n --arg a "$A" --arg plc "$PLC" --arg c "$STATE/cache" \
    '{trustedDIDs: [$a], plcDirectory: $plc, allowLoopbackHTTP: true, verifyHandle: false,
      cacheDir: $c}' > "$STATE/node.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null || { echo "Bail out! openssl"; exit 1; }

# check NAME WANT_RC WANT_PREFIX DIGEST ARGS...: one run under valgrind
check() {
    name=$1 want=$2 prefix=$3 dg=$4
    shift 4
    printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":463}\n' \
        "$dg" > "$STATE/stdin"
    timeout 60 valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=all \
        "$B/atcr-verify" containerd-verifier "$@" < "$STATE/stdin" > "$STATE/out" 2> "$STATE/err"
    rc=$?
    n=$((n + 1))
    case "$(cat "$STATE/out")" in
        "$prefix"*) got=1 ;;
        *) got=0 ;;
    esac
    if [ "$rc" = "$want" ] && [ $got = 1 ]; then
        echo "ok $n - $name"
    else
        fail=$((fail + 1))
        echo "not ok $n - $name (exit $rc, want $want)"
        sed 's/^/# /' "$STATE/out" "$STATE/err" | tail -n 30
    fi
}

P="-stdin-media-type $MT"
# shellcheck disable=SC2086
{
check "allowed" 0 "allowed: $IMG@$GOOD" "$GOOD" --config "$STATE/node.json" --timeout 9000 \
    -name "$IMG:good" -digest "$GOOD" $P -operation pull
check "refused" 1 "refused: UNTRUSTED_SIGNER" "$BOB" --config "$STATE/node.json" \
    --timeout 9000 -name "$IMG:bob" -digest "$BOB" $P
check "protocol error" 2 "error: protocol: descriptor.digest" "$BOB" \
    --config "$STATE/node.json" -name "$IMG:good" -digest "$GOOD" $P
check "usage error" 2 "error: usage: " "$GOOD" --config "$STATE/missing.json" \
    -name "$IMG:good" -digest "$GOOD" $P
touch "$STATE/pds-stall"
check "stalled PDS: the deadline" 2 "error: TIMEOUT (transient)" "$GOOD" \
    --config "$STATE/node.json" --cache-dir "$STATE/cache2" --timeout 6000 \
    -name "$IMG:good" -digest "$GOOD" $P
rm -f "$STATE/pds-stall"
}

timeout 120 "$B/atcr-verify" serve --listen 127.0.0.1:0 --tls-cert "$STATE/cert.pem" \
    --tls-key "$STATE/key.pem" --lame-duck 0 --trusted-did "$A" --plc "$PLC" \
    --allow-loopback-http --insecure-http --no-verify-handle --cache-dir "$STATE/srv-cache" \
    > /dev/null 2> "$STATE/serve.log" &
SRV=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'listening on' "$STATE/serve.log" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$STATE/serve.log")
[ -n "$PORT" ] || { echo "Bail out! the server did not start"; cat "$STATE/serve.log"; exit 1; }
S="--server https://127.0.0.1:$PORT --server-ca $STATE/cert.pem"
# shellcheck disable=SC2086
{
check "--server 200" 0 "allowed: $IMG@$GOOD" "$GOOD" --config "$STATE/node.json" \
    --timeout 9000 $S -name "$IMG:good" -digest "$GOOD" $P
check "--server 403" 1 "refused: UNTRUSTED_SIGNER" "$BOB" --config "$STATE/node.json" \
    --timeout 9000 $S -name "$IMG:bob" -digest "$BOB" $P
check "--server refused: verified here" 0 "allowed: $IMG@$GOOD" "$GOOD" \
    --config "$STATE/node.json" --timeout 9000 --server https://127.0.0.1:1 \
    --server-ca "$STATE/cert.pem" -name "$IMG:good" -digest "$GOOD" $P
}
echo "1..$n"
[ "$fail" -eq 0 ]
