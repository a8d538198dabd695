#!/bin/sh
# A short run of `atcr-verify serve` under valgrind over the loopback fixture
# stack: some fifty requests (GET and POST /verify with verdicts 200, 403 and
# 400; malformed, oversized and misdirected requests; a few at once; a client
# that leaves before its verdict; plain HTTP on the TLS port; /healthz, /readyz
# and /metrics on the health listener), then 300 more over 8 keep-alive
# connections from bench/loadgen (BUILD_DIR/bench/loadgen: /verify, Gatekeeper
# and admission paths, every answer checked), then SIGTERM with --lame-duck 0. The
# server must exit 0: valgrind's 42 means a memory error or a leak
# (--errors-for-leak-kinds=all), the log is shown. TAP output, for prove.
#   serve-valgrind.sh BUILD_DIR
# Every wait is bounded: 30 s for valgrind to start serving, curl --max-time,
# 30 s for the in-flight count to fall to 0, 60 s for the exit (the leak check
# runs then), and the whole server under `timeout`.
set -u
cd "$(dirname "$0")/.." || exit 1
B=$(cd "${1:-build}" && pwd)
STATE=$(mktemp -d)
SRV=""
cleanup() {
    if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
        kill -KILL "$SRV" 2>/dev/null
        wait "$SRV" 2>/dev/null
    fi
    sh integration/fixture/down.sh "$STATE" >/dev/null 2>&1
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
bail() { # the server never came up, or went away: nothing after this can pass
    echo "Bail out! $1"
    sed 's/^/# /' "$STATE/serve.log" 2>/dev/null | tail -n 40
    exit 1
}

sh integration/fixture/up.sh "$STATE" > "$STATE/up.log" 2>&1 || { cat "$STATE/up.log"; exit 1; }
# shellcheck disable=SC1091
. "$STATE/env"
FXJ=testdata/ratify/fixture/fixture.json
A=$(jq -r .accounts.alice.did "$FXJ")
BOB=$(jq -r .accounts.bob.did "$FXJ")
GHOST=$(jq -r .accounts.ghost.did "$FXJ")
STALL=$(jq -r .accounts.stall.did "$FXJ")
IMG="$REGISTRY/atv/app"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null || bail "openssl req failed"

# valgrind is some 20 times slower: 8 s per verification instead of 2.5 (the
# stalled PLC holds one worker that long, for the client that leaves).
timeout 300 valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=all \
    "$B/atcr-verify" serve --listen 127.0.0.1:0 --health-listen 127.0.0.1:0 \
    --tls-cert "$STATE/cert.pem" --tls-key "$STATE/key.pem" --lame-duck 0 --workers 4 \
    --timeout 8000 --trusted-did "$A" --trusted-did "$BOB" --trusted-did "$GHOST" \
    --trusted-did "$STALL" --plc "$PLC" --allow-loopback-http --insecure-http \
    --no-verify-handle --cache-dir "$STATE/cache" > "$STATE/serve.out" 2> "$STATE/serve.log" &
SRV=$!
i=0
while [ $i -lt 300 ] && ! grep -q 'listening on' "$STATE/serve.log" 2>/dev/null; do
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$STATE/serve.log")
HPORT=$(sed -n 's/.*health on http:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$STATE/serve.log")
{ [ -n "$PORT" ] && [ -n "$HPORT" ]; } || bail "serve under valgrind did not start listening in 30 s"
ok "serve under valgrind: listening on $PORT, health on $HPORT"

URL="https://127.0.0.1:$PORT"
# req WANT DESCRIPTION CURL-ARGS...: one request, its status checked.
req() {
    want=$1 what=$2
    shift 2
    got=$(curl -sS --max-time 60 --cacert "$STATE/cert.pem" -o "$STATE/body" -w '%{http_code}' \
        "$@" 2> "$STATE/curl.err")
    if [ "$got" = "$want" ]; then ok "$what: $got"; else
        notok "$what: HTTP $got, want $want"
        sed 's/^/# /' "$STATE/curl.err" "$STATE/body" | head -n 5
    fi
}
# body_has JQ-EXPR DESCRIPTION: the last response body satisfies the expression.
body_has() {
    if jq -e "$1" "$STATE/body" > /dev/null 2>&1; then ok "$2"; else
        notok "$2"
        sed 's/^/# /' "$STATE/body" | head -n 5
    fi
}
json() { printf '%s' "$1" > "$STATE/b.json"; }

# a client that leaves before its verdict: the stalled PLC holds the verification
# to its deadline, long after curl gave up
curl -sS --max-time 1 --cacert "$STATE/cert.pem" -o /dev/null "$URL/verify?image=$IMG:stall" \
    2> /dev/null &
LEAVER=$!

req 200 "GET /verify good (cold caches)" "$URL/verify?image=$IMG:good"
body_has '.allowed == true and .reason == "OK"' "good: the verdict allows"
req 200 "GET /verify good (warm)" "$URL/verify?image=$IMG:good"
req 200 "GET /verify bob (P-256)" "$URL/verify?image=$IMG:bob"
req 200 "GET /verify multi (two signers)" "$URL/verify?image=$IMG:multi"
req 403 "GET /verify revoked" "$URL/verify?image=$IMG:revoked"
body_has '.allowed == false and .reason == "RECORD_NOT_FOUND"' "revoked: RECORD_NOT_FOUND"
req 403 "GET /verify badsig (untrusted signer)" "$URL/verify?image=$IMG:badsig"
req 403 "GET /verify rewritten" "$URL/verify?image=$IMG:rewritten"
req 403 "GET /verify badartifact" "$URL/verify?image=$IMG:badartifact"
req 403 "GET /verify wrongsubject" "$URL/verify?image=$IMG:wrongsubject"
req 403 "GET /verify ghost (PLC 404)" "$URL/verify?image=$IMG:ghost"
req 403 "GET /verify of a tag the registry does not have" "$URL/verify?image=$IMG:nosuchtag"
req 400 "GET /verify with a bad reference" "$URL/verify?image=NOT:a:REFERENCE"
req 400 "GET /verify without image" "$URL/verify"
req 400 "GET /verify with image twice" "$URL/verify?image=a&image=b"
json "{\"image\":\"$IMG:good\"}"
req 200 "POST /verify good" -X POST -H 'Content-Type: application/json' --data-binary "@$STATE/b.json" "$URL/verify"
req 200 "POST /verify good, no Content-Type" -X POST -H 'Content-Type:' --data-binary "@$STATE/b.json" "$URL/verify"
req 415 "POST /verify as text/plain" -X POST -H 'Content-Type: text/plain' --data-binary "@$STATE/b.json" "$URL/verify"
for body in 'not json' '[]' '{}' '{"image":5}' '{"image":""}' '{"image":"a","x":1}' \
    '{"image":"a","image":"b"}' '{"image":"a"' "{\"image\":\"$IMG:good\"} trailing"; do
    json "$body"
    req 400 "POST /verify malformed: $body" -X POST -H 'Content-Type: application/json' \
        --data-binary "@$STATE/b.json" "$URL/verify"
done
head -c 20000 /dev/zero | tr '\0' ' ' > "$STATE/big.json"
req 413 "POST /verify of 20000 bytes" -X POST -H 'Content-Type: application/json' --data-binary "@$STATE/big.json" "$URL/verify"
req 404 "GET /elsewhere" "$URL/elsewhere"
req 405 "PUT /verify" -X PUT "$URL/verify"
# Gatekeeper's provider paths: a batch with a duplicate, a refused and a malformed key;
# mutate; a malformed ProviderRequest
gkreq() {
    printf '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[%s]}}' \
        "$1" > "$STATE/gk.json"
}
gkreq "\"$IMG:good\",\"$IMG:revoked\",\"$IMG:good\",\"NOT:a:REF\""
req 200 "POST /gatekeeper/verify, four keys" -X POST -H 'Content-Type: application/json' \
    --data-binary "@$STATE/gk.json" "$URL/gatekeeper/verify"
body_has '(.response.items | length) == 4 and .response.items[0].value.allowed == true and
    .response.items[1].value.allowed == false and (.response.items[3].error | length > 0)' \
    "gatekeeper/verify: one item per key"
req 200 "POST /gatekeeper/mutate, four keys" -X POST -H 'Content-Type: application/json' \
    --data-binary "@$STATE/gk.json" "$URL/gatekeeper/mutate"
body_has '(.response.items[0].value | contains("@sha256:")) and (.response.items[1].error | length > 0)' \
    "gatekeeper/mutate: pinned and refused"
printf '{"kind":"ProviderRequest"' > "$STATE/gk.json"
req 200 "POST /gatekeeper/verify, malformed" -X POST -H 'Content-Type: application/json' --data-binary "@$STATE/gk.json" \
    "$URL/gatekeeper/verify"
body_has '.response.systemError | length > 0' "gatekeeper: a malformed request is a systemError"

# plain HTTP on the TLS port: no answer, and no harm
if curl -sS --max-time 10 -o /dev/null "http://127.0.0.1:$PORT/verify" 2> /dev/null; then
    notok "plain HTTP on the TLS port is refused"
else
    ok "plain HTTP on the TLS port is refused"
fi

# a few at once, over the worker pool and the caches
i=0 pids=""
for t in good bob multi revoked good bob multi revoked; do
    i=$((i + 1))
    curl -sS --max-time 60 --cacert "$STATE/cert.pem" -o /dev/null -w '%{http_code}\n' \
        "$URL/verify?image=$IMG:$t" > "$STATE/par.$i" 2> /dev/null &
    pids="$pids $!"
done
wait_ok=1
for p in $pids; do
    wait "$p" || wait_ok=0
done
codes=$(cat "$STATE"/par.* | sort | uniq -c | awk '{printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2}')
if [ $wait_ok = 1 ] && [ "$codes" = "6 x 200, 2 x 403" ]; then ok "8 at once: $codes"; else
    notok "8 at once: $codes (want 6 x 200, 2 x 403)"
fi
# curl gives up after 1 s: its verdict, when it comes, has nobody to go to
if wait "$LEAVER"; then notok "the client that left got an answer in 1 s"; else
    ok "the client that left gave up before its verdict"
fi

# a few hundred requests over keep-alive TLS connections (bench/loadgen, every answer
# checked): /verify, Gatekeeper verify and mutate, AdmissionReviews, cached and not
GD=$(jq -r .images.good.digest "$FXJ")
printf '{"image":"%s"}' "$IMG:bob" > "$STATE/lg-bob.json"
jq -nc --arg i "$IMG" '{apiVersion: "externaldata.gatekeeper.sh/v1beta1", kind: "ProviderRequest",
    request: {keys: [$i + ":good", $i + ":revoked", "NOT:a:REF"]}}' > "$STATE/lg-gk.json"
jq -nc --arg i "$IMG" '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
    request: {uid: "vg-1", kind: {group: "", version: "v1", kind: "Pod"},
              resource: {group: "", version: "v1", resource: "pods"}, operation: "CREATE",
              namespace: "team", object: {apiVersion: "v1", kind: "Pod",
                  metadata: {name: "p", namespace: "team"},
                  spec: {containers: [{name: "main", image: ($i + ":good")}],
                         initContainers: [{name: "init", image: ($i + ":bob")}]}}}}' > "$STATE/lg-pod.json"
cat > "$STATE/lg.mix" <<EOF
v-good GET /verify?image=$IMG:good - 200 +"allowed":true
v-digest GET /verify?image=$IMG@$GD - 200 +"allowed":true
v-bob POST /verify $STATE/lg-bob.json 200 +"allowed":true
v-revoked GET /verify?image=$IMG:revoked - 403 +"reason":"RECORD_NOT_FOUND"
v-bad GET /verify?image=NOT:a:REF - 400
gk-verify POST /gatekeeper/verify $STATE/lg-gk.json 200 +{"key":"$IMG:good","value":{"allowed":true +{"key":"$IMG:revoked","value":{"allowed":false +{"key":"NOT:a:REF","error"
gk-mutate POST /gatekeeper/mutate $STATE/lg-gk.json 200 +{"key":"$IMG:good","value":"$IMG:good@$GD"}
k8s-validate POST /k8s/validate $STATE/lg-pod.json 200 +"uid":"vg-1" +"allowed":true
k8s-mutate POST /k8s/mutate $STATE/lg-pod.json 200 +"uid":"vg-1" +"patchType":"JSONPatch"
EOF
if [ ! -x "$B/bench/loadgen" ]; then
    notok "loadgen: $B/bench/loadgen missing (make $B/bench/loadgen)"
elif timeout 200 "$B/bench/loadgen" run --port "$PORT" --ca "$STATE/cert.pem" --mix "$STATE/lg.mix" \
    --requests 300 --connections 8 --max-seconds 150 --timeout-ms 60000 > "$STATE/lg.json" 2> "$STATE/lg.err" &&
    jq -e '.requests == 300 and .ok == 300' "$STATE/lg.json" > /dev/null; then
    ok "loadgen: $(jq -r '"\(.ok) of \(.requests) answers right over \(.connections) connections, p50 \(.latency_ms.p50) ms"' "$STATE/lg.json")"
else
    notok "loadgen: 300 requests over 8 connections"
    sed 's/^/# /' "$STATE/lg.err" "$STATE/lg.json" | head -n 20
fi

HURL="http://127.0.0.1:$HPORT"
req 200 "GET /healthz" "$HURL/healthz"
req 200 "GET /readyz" "$HURL/readyz"
req 200 "HEAD /healthz" -I "$HURL/healthz"
req 404 "GET /verify on the health listener" "$HURL/verify"
# the stalled verification ends at its deadline; wait for it, so that nothing is
# in flight at SIGTERM
i=0
while [ $i -lt 60 ]; do
    curl -sS --max-time 10 -o "$STATE/body" "$HURL/metrics" 2> /dev/null &&
        grep -qx 'atcr_verify_in_flight 0' "$STATE/body" && break
    sleep 0.5
    i=$((i + 1))
done
if grep -qx 'atcr_verify_in_flight 0' "$STATE/body"; then ok "in flight fell to 0"; else
    notok "in flight fell to 0 within 30 s"
fi
req 200 "GET /metrics" "$HURL/metrics"
if grep -q '^atcr_verify_requests_total{path="/verify",code="200"} [1-9]' "$STATE/body"; then
    ok "metrics count the verdicts"
else
    notok "metrics count the verdicts"
fi

kill -0 "$SRV" 2>/dev/null || bail "the server went away"
kill -TERM "$SRV"
i=0
while [ $i -lt 600 ] && kill -0 "$SRV" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$SRV" 2>/dev/null; then
    notok "exit within 60 s of SIGTERM"
    kill -KILL "$SRV"
fi
rc=0
wait "$SRV" || rc=$?
SRV=""
if [ "$rc" -eq 0 ] && grep -q 'stopped' "$STATE/serve.log"; then
    ok "SIGTERM: exit 0, no valgrind error or leak"
else
    notok "SIGTERM: exit $rc (42: valgrind found errors or leaks)"
fi
# valgrind's findings, if any, are in the log
grep -v '^atcr-verify serve: \|^warn: ' "$STATE/serve.log" | sed 's/^/# /' | head -n 80
echo "1..$n"
[ "$fail" -eq 0 ]
