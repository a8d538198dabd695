#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify serve under load and faults, driven by bench/loadgen (TLS 1.3 keep-alive
# connections, the test CA as the only root, every answer checked: status, Content-Length
# framing and the mix line's expected substrings; one JSON summary per run):
#   1. a mixed load (GET and POST /verify, Gatekeeper verify and mutate, AdmissionReviews;
#      signed, unsigned, untrusted, revoked, transient, malformed; cached and not: the verdict
#      TTL is 2 s) over 64 connections: no wrong answer, no error, resident memory flat after
#      the warm-up (LOAD_RSS_MIB);
#   2. the same load while 1000 idle, half-open and slow connections are held (and cut by the
#      server after 10 s, and opened again): every answer within the deadline;
#   3. a certificate rotation (a Kubernetes ..data swap) in the middle of a load that opens a
#      new connection every 10 requests: no failed request, the new certificate from then on;
#   4. the registry, the PLC directory and the PDS stalled, refused and flapping during a load
#      (integration/faults/fault-server.js): a transient answer exactly for the keys that need
#      the broken upstream, nothing transient cached, the first request after it returns
#      verifies;
#   5. a deploy storm: 500 requests at once for a freshly tagged image make one verification
#      (the PLC made slow so that all of them arrive while it runs), the rest wait for it.
# Two stacks: the loadgen-friendly fixture (integration/fixture: docker-registry, which takes
# pushes, and atproto-server.js) and the controllable one of the fault suite. Every run is
# bounded in requests and seconds; servers bind 127.0.0.1 port 0.
#
# ATV_LOAD_SCALE (percent, default 100; 25 for a build/san build, 10 for build/tsan) scales
# the request counts and the number of held connections down for the sanitizer runs; the plain
# run makes at least 20,000 requests over 64 connections in scenario 1. The memory bound is
# only asserted on a plain build (ASan's quarantine and TSan's shadow grow by design), and the
# answer deadlines are four times longer under a sanitizer (SLACK).

load fixture/stack
load fixture/serve

LOAD_RSS_MIB=16 # the bound on resident growth after the warm-up (plain build)

setup_file() {
    fixture_up
    export FSTATE="$BATS_FILE_TMPDIR/faults"
    sh "$BATS_TEST_DIRNAME/faults/up.sh" "$FSTATE" > "$BATS_FILE_TMPDIR/faults-up.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/faults-up.log" >&2
        return 1
    }
    # a CA and two leaves it signs (rotation); every server here presents one of them
    local d="$BATS_FILE_TMPDIR/pki"
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=atv load ca" -days 1 -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' > "$d/ext"
    for leaf in a b; do
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=leaf-$leaf" -keyout "$d/$leaf.key" -out "$d/$leaf.csr" 2>/dev/null
        openssl x509 -req -in "$d/$leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 1 -extfile "$d/ext" -out "$d/$leaf.pem" 2>/dev/null
    done
}

teardown_file() {
    [ -z "${FSTATE:-}" ] || sh "$BATS_TEST_DIRNAME/faults/down.sh" "$FSTATE" > /dev/null 2>&1 || true
    fixture_down
}

setup() {
    fixture_env
    LOADGEN="$BUILD/bench/loadgen"
    [ -x "$LOADGEN" ] || { echo "$LOADGEN missing: make $LOADGEN" >&2; return 1; }
    ALICE=$(jq -r .accounts.alice.did "$FX")
    BOB=$(jq -r .accounts.bob.did "$FX")
    DEADPDS=$(jq -r .accounts.deadpds.did "$FX")
    GD=$(jq -r .images.good.digest "$FX")
    BD=$(jq -r .images.bob.digest "$FX")
    IMG="$REGISTRY/atv/app"
    PKI="$BATS_FILE_TMPDIR/pki"
    CERT="$PKI/a.pem"
    KEY="$PKI/a.key"
    F_REGISTRY=$(sed -n 's/^REGISTRY=//p' "$FSTATE/env")
    F_PLC=$(sed -n 's/^PLC=//p' "$FSTATE/env")
    F_CTL=$(sed -n 's/^CTL=//p' "$FSTATE/env")
    NET=(--allow-loopback-http --insecure-http --no-verify-handle --cache-dir "$T/cache")
    case "${ATV_LOAD_SCALE:-}" in
    '') case "$BUILD" in
        *tsan*) SCALE=10 ;;
        *san*) SCALE=25 ;;
        *) SCALE=100 ;;
        esac ;;
    *) SCALE=$ATV_LOAD_SCALE ;;
    esac
    [ "$SCALE" -ge 1 ] && [ "$SCALE" -le 100 ]
    # the deadlines an answer must meet: the server's own (--timeout 2500 ms, 1000 ms in the
    # fault cases) on a plain build; four times that under a sanitizer, whose slowdown is not
    # what those runs are about
    case "$BUILD" in
    *san*) SLACK=4 ;;
    *) SLACK=1 ;;
    esac
    SRV_PID=""
    BG_PIDS=()
}

teardown() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    srv_stop
    curl -sS --max-time 5 -o /dev/null "$F_CTL/set" || true
}

# scaled N [MIN]: N * SCALE / 100, at least MIN (default 1)
scaled() {
    local n=$(($1 * SCALE / 100))
    [ "$n" -ge "${2:-1}" ] || n=${2:-1}
    echo "$n"
}

# start ARGS...: srv_start with the rotation pair a and a longer `timeout` (sanitizer runs)
start() { SRV_CERT=$CERT SRV_KEY=$KEY SRV_TIMEOUT=300 srv_start "$@"; }

# stop_server: SIGTERM; the server must exit 0 within 30 s (under ASan: no leak, no error)
stop_server() {
    local rc=0
    kill -TERM "$SRV_PID"
    for _ in $(seq 1 300); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$SRV_PID" || rc=$?
    SRV_PID=""
    [ "$rc" -eq 0 ] || { echo "server exit $rc" >&2; tail -n 40 "$T/serve.log" >&2; return 1; }
}

# note TEXT: a TAP comment in the suite's output (the numbers a run measured)
note() { echo "# $*" >&3; }
# summary OUT: the numbers of a loadgen run, one line
summary() {
    jq -r '"\(.requests) requests over \(.connections) connections in \(.elapsed_s) s (\(.rps)/s):
        \(.ok) ok, \(.wrong) wrong, \(.errors) errors, \(.late) late; latency ms p50 \(.latency_ms.p50)
        p99 \(.latency_ms.p99) max \(.latency_ms.max)"' "$1" | tr -s ' \n' ' '
}
# rss: the server's resident set, KiB
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SRV/status"; }
idle_server() { [ "$(metric atcr_verify_in_flight)" = 0 ]; }
# loadgen OUT ARGS...: a run against the server, its summary in OUT (and printed, short)
loadgen() {
    local out=$1 rc=0
    shift
    timeout 300 "$LOADGEN" run --port "$PORT" --ca "$PKI/ca.pem" --out "$out" "$@" || rc=$?
    jq -c '{requests, ok, wrong, errors, late, complete, latency_ms, elapsed_s, rps,
            samples}' "$out" || cat "$out"
    return "$rc"
}
# no_failures OUT: the summary says every answer was right and on time
no_failures() {
    jq -e '.complete and .wrong == 0 and .errors == 0 and .late == 0 and .requests > 0' "$1" >/dev/null ||
        { jq -c '.lines[] | select(.ok != .requests)' "$1"; return 1; }
}
# gk_body FILE KEY...: a Gatekeeper ProviderRequest
gk_body() {
    local f=$1
    shift
    jq -nc '{apiVersion: "externaldata.gatekeeper.sh/v1beta1", kind: "ProviderRequest",
             request: {keys: $ARGS.positional}}' --args "$@" > "$f"
}
# review FILE UID KIND MAIN INIT: an AdmissionReview v1 CREATE of a Pod or a Deployment
review() {
    jq -nc --arg uid "$2" --arg kind "$3" --arg m "$4" --arg i "$5" '
        {containers: [{name: "main", image: $m}], initContainers: [{name: "init", image: $i}]} as $spec |
        (if $kind == "Pod" then
            {apiVersion: "v1", kind: "Pod", metadata: {name: "p", namespace: "team"}, spec: $spec}
         else
            {apiVersion: "apps/v1", kind: "Deployment", metadata: {name: "d", namespace: "team"},
             spec: {selector: {matchLabels: {app: "x"}},
                    template: {metadata: {labels: {app: "x"}}, spec: $spec}}}
         end) as $obj |
        {apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
         request: {uid: $uid,
                   kind: {group: (if $kind == "Pod" then "" else "apps" end), version: "v1", kind: $kind},
                   resource: {group: (if $kind == "Pod" then "" else "apps" end), version: "v1",
                              resource: (if $kind == "Pod" then "pods" else "deployments" end)},
                   operation: "CREATE", namespace: "team", name: $obj.metadata.name,
                   userInfo: {username: "load"}, object: $obj}}' > "$1"
}
# sp TEXT: TEXT with its spaces as %20, for a mix check
sp() { printf '%s' "${1// /%20}"; }

# main_mix FILE: the mixed load over the fixture stack (the server trusts alice, bob and
# deadpds): every path, definite and transient verdicts, cached and not
main_mix() {
    local f=$1 d="$T/bodies"
    mkdir -p "$d"
    printf '{"image":"%s"}' "$IMG:bob" > "$d/bob.json"
    gk_body "$d/gk.json" "$IMG:good" "$IMG:unsigned" "$IMG:bob" "$IMG@$GD" "$IMG:victimgood" "NOT:a:REF"
    gk_body "$d/gk-tr.json" "$IMG:good" "$IMG:deadpds"
    gk_body "$d/gkm.json" "$IMG:good" "$IMG:bob" "$IMG:unsigned" "$IMG@$GD"
    review "$d/pod.json" load-pod Pod "$IMG:good" "$IMG:bob"
    review "$d/deploy.json" load-deploy Deployment "$IMG:good" "$IMG:unsigned"
    review "$d/pod-tr.json" load-tr Pod "$IMG:good" "$IMG:deadpds"
    cat > "$f" <<EOF
# NAME METHOD TARGET BODY STATUS CHECKS...
v-good GET /verify?image=$IMG:good - 200 +"allowed":true +"reason":"OK" +"did":"$ALICE"
v-digest GET /verify?image=$IMG@$GD - 200 +"allowed":true +"digest":"$GD"
v-bob-post POST /verify $d/bob.json 200 +"allowed":true +"did":"$BOB"
v-unsigned GET /verify?image=$IMG:unsigned - 403 +"allowed":false +"reason":"NO_SIGNATURE"
v-untrusted GET /verify?image=$IMG:victimgood - 403 +"reason":"UNTRUSTED_SIGNER"
v-revoked GET /verify?image=$IMG:revoked - 403 +"reason":"RECORD_NOT_FOUND"
v-deadpds GET /verify?image=$IMG:deadpds - 503 +"transient":true +"allowed":false
v-badref GET /verify?image=NOT:a:REF - 400 +"reason":"BAD_REQUEST"
gk-verify POST /gatekeeper/verify $d/gk.json 200 +{"key":"$IMG:good","value":{"allowed":true +{"key":"$IMG:unsigned","value":{"allowed":false +{"key":"$IMG:bob","value":{"allowed":true +{"key":"$IMG@$GD","value":{"allowed":true +{"key":"$IMG:victimgood","value":{"allowed":false +{"key":"NOT:a:REF","error": !systemError
gk-verify-transient POST /gatekeeper/verify $d/gk-tr.json 200 +{"key":"$IMG:good","value":{"allowed":true !{"key":"$IMG:deadpds" +"systemError":"transient%20failure%20for%201%20key +$IMG:deadpds:%20PDS_ERROR
gk-mutate POST /gatekeeper/mutate $d/gkm.json 200 +{"key":"$IMG:good","value":"$IMG:good@$GD"} +{"key":"$IMG:bob","value":"$IMG:bob@$BD"} +{"key":"$IMG:unsigned","error":"refused:%20NO_SIGNATURE +{"key":"$IMG@$GD","value":"$IMG@$GD"} !systemError
k8s-validate-pod POST /k8s/validate $d/pod.json 200 +"uid":"load-pod" +"allowed":true !"status"
k8s-validate-deploy POST /k8s/validate $d/deploy.json 200 +"uid":"load-deploy" +"allowed":false +"code":403 +$(sp "$IMG:unsigned: NO_SIGNATURE")
k8s-validate-transient POST /k8s/validate $d/pod-tr.json 200 +"uid":"load-tr" +"allowed":false +"code":503 +retry
k8s-mutate-pod POST /k8s/mutate $d/pod.json 200 +"uid":"load-pod" +"allowed":true +"patchType":"JSONPatch"
EOF
}

# a server for the fixture stack's mix: alice, bob and deadpds trusted, verdicts cached 2 s
start_main() {
    start --plc "$PLC" --trusted-did "$ALICE" --trusted-did "$BOB" --trusted-did "$DEADPDS" \
        --verdict-ttl 2 "$@"
}

@test "loadgen: usage, a bad mix line, a refused port and a wrong answer are reported" {
    run "$LOADGEN"
    [ "$status" -eq 2 ]
    run "$LOADGEN" run --port 1
    [ "$status" -eq 2 ]
    [[ "$output" == *"--ca"* ]]
    printf 'x GET /verify - 20x\n' > "$T/bad.mix"
    run "$LOADGEN" run --port 1 --ca "$PKI/ca.pem" --mix "$T/bad.mix"
    [ "$status" -eq 3 ]
    [[ "$output" == *"bad.mix:1"* ]]
    printf 'x GET /verify?image=%s - 200\n' "$IMG:good" > "$T/one.mix"
    # nobody listens there: every request is an error, bounded by --max-seconds
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    run "$LOADGEN" run --port "$port" --ca "$PKI/ca.pem" --mix "$T/one.mix" --requests 5 \
        --connections 1 --max-seconds 5
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.errors == 5 and .ok == 0 and (.samples.errors[0].error | contains("refused"))'
    start_main
    # a wrong expectation is a wrong answer, with its body as a sample
    printf 'x GET /verify?image=%s - 403\n' "$IMG:good" > "$T/wrong.mix"
    run loadgen "$T/wrong.json" --mix "$T/wrong.mix" --requests 3 --connections 1
    [ "$status" -eq 1 ]
    jq -e '.wrong == 3 and .errors == 0 and (.samples.wrong[0].body | contains("\"allowed\":true"))' \
        "$T/wrong.json"
    # the certificate must chain to --ca (here: the server's own leaf is no root)
    run "$LOADGEN" run --port "$PORT" --ca "$PKI/b.pem" --mix "$T/one.mix" --requests 1 \
        --connections 1 --max-seconds 5
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.errors == 1 and (.samples.errors[0].error | contains("certificate"))'
}

@test "mixed load: 20000 requests over 64 keep-alive connections, none wrong, memory flat" {
    push_unsigned unsigned
    start_main
    main_mix "$T/main.mix"
    # warm-up: every path, every cache, the allocator's arenas
    loadgen "$T/warm.json" --mix "$T/main.mix" --requests "$(scaled 8000 500)" --connections 64 \
        --max-seconds 120 --timeout-ms 10000
    no_failures "$T/warm.json"
    rss0=$(rss)
    # the measured run, the server's resident set sampled every 0.2 s
    ( while kill -0 "$SRV" 2>/dev/null; do rss >> "$T/rss.samples"; sleep 0.2; done ) &
    BG_PIDS+=($!)
    N=$(scaled 20000 1000)
    loadgen "$T/main.json" --mix "$T/main.mix" --requests "$N" --connections 64 \
        --max-seconds 150 --timeout-ms 10000 --deadline-ms $((2500 * SLACK))
    rss1=$(rss)
    no_failures "$T/main.json"
    jq -e --argjson n "$N" '.requests == $n and .connections == 64 and .connections_opened == 64 and
        .closed_by_server == 0 and ([.lines[] | .requests == .ok] | all)' "$T/main.json"
    peak=$(sort -n "$T/rss.samples" | tail -n 1)
    note "warm-up: $(summary "$T/warm.json")"
    note "main: $(summary "$T/main.json")"
    note "RSS after the warm-up ${rss0} KiB, peak during the run ${peak} KiB, at the end" \
        "${rss1} KiB (bound: ${LOAD_RSS_MIB} MiB over the warm-up)"
    # cached and not: verifications ran all along (TTL 2 s), and cache hits answered most
    [ "$(metric atcr_verify_cache_hits_total)" -gt "$(metric atcr_verify_cache_misses_total)" ]
    [ "$(metric atcr_verify_cache_misses_total)" -ge 10 ]
    [ "$(metric atcr_verify_requests_total'{path="/gatekeeper/verify",code="200"}')" -ge $((N / 8)) ]
    if [ "$SCALE" -eq 100 ]; then
        [ "$N" -ge 20000 ]
        [ $((peak - rss0)) -le $((LOAD_RSS_MIB * 1024)) ]
        [ $((rss1 - rss0)) -le $((LOAD_RSS_MIB * 1024)) ]
    fi
    stop_server
}

@test "1000 idle, half-open and slow connections held while the load is answered in time" {
    push_unsigned unsigned
    # the server sizes its connection cap from RLIMIT_NOFILE: room for 1000 + 64 (root may
    # raise the hard limit; otherwise fewer connections are held, said below)
    if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 4300 ]; then
        ulimit -n 4300 2>/dev/null || true
    fi
    start_main
    cap=$(metric atcr_verify_connections_max)
    HOLD=$(scaled 1000 100)
    if [ "$HOLD" -gt $((cap - 64 - 16)) ]; then HOLD=$((cap - 64 - 16)); fi
    idle=$((HOLD * 4 / 10)) half=$((HOLD * 3 / 10))
    slow=$((HOLD - idle - half))
    echo "connection cap $cap: holding $idle idle, $half half-open, $slow slow"
    main_mix "$T/main.mix"
    # longer than the 10 s limit, so every held connection is cut once and opened again
    timeout 60 "$LOADGEN" hold --port "$PORT" --idle "$idle" --half-open "$half" --slow "$slow" \
        --seconds 16 --out "$T/hold.json" &
    holder=$!
    BG_PIDS+=("$holder")
    check_held() { [ "$(metric atcr_verify_connections)" -ge "$HOLD" ]; }
    until_true 20 check_held
    ( while kill -0 "$holder" 2>/dev/null; do metric atcr_verify_connections >> "$T/conns"; sleep 0.5; done ) &
    BG_PIDS+=($!)
    loadgen "$T/load.json" --mix "$T/main.mix" --requests "$(scaled 10000 500)" --connections 64 \
        --max-seconds 14 --timeout-ms 10000 --deadline-ms $((2500 * SLACK))
    no_failures "$T/load.json"
    wait "$holder"
    jq -c . "$T/hold.json"
    note "held: $(jq -c '{max_open, idle: .idle | {opened, cut, cut_after_ms}, half_open: .half_open |
        {opened, cut, cut_after_ms}, slow: .slow | {opened, cut, cut_after_ms}}' "$T/hold.json")"
    note "server connections seen during the load: max $(sort -n "$T/conns" | tail -n 1)," \
        "min $(sort -n "$T/conns" | head -n 1)"
    note "load meanwhile: $(summary "$T/load.json")"
    # every held connection was opened, cut by the server's 10 s limit (not before), and the
    # slow senders never completed a request
    jq -e --argjson i "$idle" --argjson h "$half" --argjson s "$slow" '
        .max_open >= ($i + $h + $s) and
        .idle.opened >= $i and .half_open.opened >= $h and .slow.opened >= $s and
        .idle.failed == 0 and .half_open.failed == 0 and .slow.failed == 0 and
        ([.idle, .half_open, .slow][] | select(.wanted > 0) |
            .cut >= .wanted and .cut_after_ms.min >= 9500 and .cut_after_ms.max <= 15000) ' \
        "$T/hold.json"
    [ "$(sort -n "$T/conns" | tail -n 1)" -ge "$HOLD" ]
    [ "$(metric atcr_verify_slow_requests_total)" -ge "$HOLD" ]
    # the server is whole: a fresh connection is served at once
    printf 'g GET /verify?image=%s - 200 +"allowed":true\n' "$IMG@$GD" > "$T/one.mix"
    loadgen "$T/after.json" --mix "$T/one.mix" --requests 10 --connections 1 \
        --deadline-ms $((500 * SLACK))
    no_failures "$T/after.json"
    stop_server
}

@test "certificate rotation (..data swap) during the load: no failed request, then the new one" {
    push_unsigned unsigned
    v="$T/vol"
    mkdir -p "$v/..2026_a" "$v/..2026_b"
    cp "$PKI/a.pem" "$v/..2026_a/tls.crt"; cp "$PKI/a.key" "$v/..2026_a/tls.key"
    cp "$PKI/b.pem" "$v/..2026_b/tls.crt"; cp "$PKI/b.key" "$v/..2026_b/tls.key"
    ln -s ..2026_a "$v/..data"
    ln -s ..data/tls.crt "$v/tls.crt"
    ln -s ..data/tls.key "$v/tls.key"
    CERT="$v/tls.crt" KEY="$v/tls.key" start_main
    fa=$(openssl x509 -noout -fingerprint -sha256 -in "$PKI/a.pem" | sed 's/.*=//')
    fb=$(openssl x509 -noout -fingerprint -sha256 -in "$PKI/b.pem" | sed 's/.*=//')
    main_mix "$T/main.mix"
    N=$(scaled 5000 400)
    loadgen "$T/rot.json" --mix "$T/main.mix" --requests "$N" --connections 16 \
        --new-connection-every 10 --max-seconds 120 --timeout-ms 10000 \
        --deadline-ms $((2500 * SLACK)) &
    lg=$!
    BG_PIDS+=("$lg")
    # about a third of the way: the swap, as kubelet does it
    third() { [ "$(metric atcr_verify_requests_total'{path="/verify",code="200"}')" -ge $((N / 3 * 3 / 16)) ]; }
    until_true 60 third
    ln -s ..2026_b "$v/..data_tmp"
    mv -T "$v/..data_tmp" "$v/..data"
    wait "$lg"
    no_failures "$T/rot.json"
    jq -c '.fingerprints' "$T/rot.json"
    note "rotation: $(summary "$T/rot.json"); $(jq -c '[.fingerprints[] | {connections,
        first_ms, last_ms}]' "$T/rot.json")"
    [ "$(metric atcr_verify_reloads_total'{what="tls",result="ok"}')" = 1 ]
    # both certificates served, the old one only before the new one appeared (connections
    # accepted just before the reload may finish their handshake just after it), the new one
    # to every connection from then on
    jq -e --arg a "$fa" --arg b "$fb" --argjson slack $((500 * SLACK)) '
        (.fingerprints | length) == 2 and .fingerprints_other == 0 and
        (.fingerprints | map({(.sha256): .}) | add) as $f |
        $f[$a].connections > 0 and $f[$b].connections > 0 and
        $f[$a].last_ms <= $f[$b].first_ms + $slack and $f[$b].last_ms >= $f[$a].last_ms and
        ([.lines[] | .requests == .ok] | all)' "$T/rot.json"
    # and a new connection now
    printf 'g GET /verify?image=%s - 200\n' "$IMG@$GD" > "$T/one.mix"
    loadgen "$T/after.json" --mix "$T/one.mix" --requests 3 --connections 1 --new-connection-every 1
    jq -e --arg b "$fb" '.fingerprints == [.fingerprints[0]] and .fingerprints[0].sha256 == $b and
        .fingerprints[0].connections == 3' "$T/after.json"
    stop_server
}

# ---- upstream faults -------------------------------------------------------------------------
# The fault stack's registry, PLC and PDS; the server trusts alice and bob, caches verdicts for
# 600 s, keeps no DID cache (every verification asks the PLC) and gives each request 1 s.
# Keys, and the upstreams a request for them needs once warm:
#   D  good by digest, its verdict cached         none
#   G  good by tag, its verdict cached            registry (the tag is resolved every time)
#   V  victimgood (untrusted signer), cached      registry (policy refuses before any identity)
#   B  bob, never verified before                 registry, PLC, PDS
#   R  revoked (a deleted record), never before   registry, PLC, PDS
#   X  NOT:a:REF                                  none
fault_keys() {
    FIMG="$F_REGISTRY/atv/app"
    K_D="$FIMG@$GD" K_G="$FIMG:good" K_V="$FIMG:victimgood" K_B="$FIMG:bob" K_R="$FIMG:revoked"
    K_X="NOT:a:REF"
}
# needs KEY ROLE: 0 when a request for KEY needs ROLE (above)
needs() {
    case "$1:$2" in
    G:registry | V:registry | B:* | R:*) return 0 ;;
    *) return 1 ;;
    esac
}
# fault_mix FILE ROLE MODE: every line's expectation with ROLE in MODE (none: no fault): a key
# that needs ROLE gets a transient answer (stalled, refused) or either (flapping); any other key
# its definite verdict. Wrong: a definite verdict for a key that needed ROLE, a transient one
# for a key that did not, or the wrong definite one.
fault_mix() {
    local f=$1 role=$2 mode=$3 d="$T/fbodies" k
    mkdir -p "$d"
    gk_body "$d/gk.json" "$K_D" "$K_G" "$K_B" "$K_R" "$K_X"
    gk_body "$d/gkm.json" "$K_D" "$K_B"
    review "$d/pod.json" fault-pod Pod "$K_D" "$K_B"
    declare -A norm=(
        [D]='200 +"allowed":true' [G]='200 +"allowed":true' [V]='403 +"reason":"UNTRUSTED_SIGNER"'
        [B]='200 +"allowed":true' [R]='403 +"reason":"RECORD_NOT_FOUND"' [X]='400 +"reason":"BAD_REQUEST"')
    local tr='503 +"transient":true +"allowed":false'
    {
        for k in B R D G V X; do
            local ref="K_$k" want="${norm[$k]}"
            if [ "$mode" != none ] && needs "$k" "$role"; then
                if [ "$mode" = flap ]; then want="$want $tr"; else want=$tr; fi
            fi
            echo "v-$k GET /verify?image=${!ref} - $want"
        done
        # Gatekeeper verify: D and X always answered; the others by need
        local gk="200 +{\"key\":\"$K_D\",\"value\":{\"allowed\":true +{\"key\":\"$K_X\",\"error\":"
        local any=0
        for k in G B R; do
            local ref="K_$k" ok='{"allowed":true'
            [ "$k" = R ] && ok='{"allowed":false'
            if [ "$mode" != none ] && needs "$k" "$role"; then
                any=1
                if [ "$mode" = flap ]; then
                    # an item or none, never a wrong one
                    local bad='{"allowed":false'
                    [ "$k" = R ] && bad='{"allowed":true'
                    gk="$gk !{\"key\":\"${!ref}\",\"value\":$bad !{\"key\":\"${!ref}\",\"error\""
                else
                    gk="$gk !{\"key\":\"${!ref}\""
                fi
            else
                gk="$gk +{\"key\":\"${!ref}\",\"value\":$ok"
            fi
        done
        if [ "$mode" = none ]; then
            gk="$gk !systemError"
        elif [ "$mode" != flap ] && [ $any = 1 ]; then
            gk="$gk +\"systemError\":\"transient%20failure"
        fi
        echo "gk-verify POST /gatekeeper/verify $d/gk.json $gk"
        # Gatekeeper mutate: D pinned to itself; B pinned, or (needing a broken upstream) no item
        local gkm="200 +{\"key\":\"$K_D\",\"value\":\"$K_D\"}"
        if [ "$mode" = none ]; then
            gkm="$gkm +{\"key\":\"$K_B\",\"value\":\"$K_B@$BD\"} !systemError"
        elif [ "$mode" = flap ]; then
            gkm="$gkm !{\"key\":\"$K_B\",\"error\""
        else
            gkm="$gkm !{\"key\":\"$K_B\" +\"systemError\":\"transient%20failure"
        fi
        echo "gk-mutate POST /gatekeeper/mutate $d/gkm.json $gkm"
        # an AdmissionReview of D and B: admitted, or (B undecided) 503, never a 403
        local adm='200 +"uid":"fault-pod" +"allowed":true !"code"'
        local adm_tr='200 +"uid":"fault-pod" +"allowed":false +"code":503 +retry'
        if [ "$mode" = flap ]; then
            adm="$adm $adm_tr"
        elif [ "$mode" != none ]; then
            adm=$adm_tr
        fi
        echo "k8s-validate POST /k8s/validate $d/pod.json $adm"
    } > "$f"
}
# fset FAULTS: the fault stack's faults (role=fault&...; empty: none)
fset() { curl -sS --max-time 5 -f -o /dev/null "$F_CTL/set${1:+?$1}"; }
# fault_phase ROLE MODE: a server, warmed (D, G, V cached); ROLE broken in MODE (stall,
# refuse, flap) during a load of the fault mix; then, nothing in flight, ROLE back: one
# request per key, each must get its definite verdict (the first request after recovery)
fault_phase() {
    local role=$1 mode=$2 fault flapper=""
    rm -rf "$T/cache"
    start --plc "$F_PLC" --trusted-did "$ALICE" --trusted-did "$BOB" --verdict-ttl 600 \
        --did-cache-ttl 0 --timeout 1000 --mutate-timeout 900
    fault_keys
    fault_mix "$T/none.mix" "$role" none
    fault_mix "$T/$role-$mode.mix" "$role" "$mode"
    printf 'D GET /verify?image=%s - 200\nG GET /verify?image=%s - 200\nV GET /verify?image=%s - 403\n' \
        "$K_D" "$K_G" "$K_V" > "$T/warm.mix"
    loadgen "$T/warm.json" --mix "$T/warm.mix" --requests 3 --connections 1
    no_failures "$T/warm.json"
    [ "$(metric atcr_verify_cache_entries)" = 2 ] # good (D and G share it) and victimgood
    case "$mode" in
    stall) fault="$role=stall-head" ;;
    refuse) fault="$role=refused" ;;
    flap) fault="$role=refused" ;;
    esac
    # broken from the first request on; flapping: then up 300 ms, down 300 ms, until told
    fset "$fault"
    if [ "$mode" = flap ]; then
        rm -f "$T/flap.stop"
        ( for _ in $(seq 1 60); do
              sleep 0.3; [ -e "$T/flap.stop" ] && break; fset ""
              sleep 0.3; [ -e "$T/flap.stop" ] && break; fset "$fault"
          done ) &
        flapper=$!
        BG_PIDS+=("$flapper")
    fi
    loadgen "$T/$role-$mode.json" --mix "$T/$role-$mode.mix" --requests 100000 --connections 16 \
        --max-seconds 3 --timeout-ms 5000 --deadline-ms $((2000 * SLACK))
    if [ -n "$flapper" ]; then
        touch "$T/flap.stop"
        wait "$flapper" || true
    fi
    jq -c '[.lines[] | {name, status}]' "$T/$role-$mode.json"
    note "$role $mode: $(summary "$T/$role-$mode.json")"
    note "  $(jq -c '[.lines[] | {(.name): .status}] | add' "$T/$role-$mode.json")"
    no_failures "$T/$role-$mode.json"
    # the keys that need ROLE were answered transient (flapping: at least once)
    jq -e '[.lines[] | select(.name == "v-B") | .status["503"] // 0][0] > 0' \
        "$T/$role-$mode.json"
    until_true 10 idle_server
    # nothing transient was cached (flapping: B and R may have been verified while it was up)
    if [ "$mode" != flap ]; then
        [ "$(metric atcr_verify_cache_entries)" = 2 ]
    else
        [ "$(metric atcr_verify_cache_entries)" -le 4 ]
    fi
    fset ""
    loadgen "$T/$role-$mode-back.json" --mix "$T/none.mix" --requests "$(grep -c . "$T/none.mix")" \
        --connections 1 --timeout-ms 5000
    no_failures "$T/$role-$mode-back.json"
    [ "$(metric atcr_verify_cache_entries)" = 4 ]
    stop_server
}

@test "registry stalled, refused and flapping during load: transient only where needed" {
    for mode in stall refuse flap; do
        echo "# registry $mode"
        fault_phase registry "$mode"
    done
}

@test "PLC directory stalled, refused and flapping during load: transient only where needed" {
    for mode in stall refuse flap; do
        echo "# plc $mode"
        fault_phase plc "$mode"
    done
}

@test "PDS stalled, refused and flapping during load: transient only where needed" {
    for mode in stall refuse flap; do
        echo "# pds $mode"
        fault_phase pds "$mode"
    done
}

@test "deploy storm: 500 requests at once for a new image make one verification" {
    N=$(scaled 500 50)
    tag="storm-$$-$RANDOM"
    tag_copy good "$tag"
    # the fixture registry (which took the new tag) with the fault stack's PLC and PDS: the PLC
    # answers 1 s late, so every request arrives while the one verification runs
    start --plc "$F_PLC" --trusted-did "$ALICE"
    printf '{"image":"%s"}' "$IMG:$tag" > "$T/storm.json"
    cat > "$T/storm.mix" <<EOF
get GET /verify?image=$IMG:$tag - 200 +"allowed":true +"digest":"$GD"
post POST /verify $T/storm.json 200 +"allowed":true +"digest":"$GD"
EOF
    fset "plc=delay=1000"
    loadgen "$T/storm-run.json" --mix "$T/storm.mix" --requests "$N" --connections "$N" \
        --sync-start --max-seconds 60 --timeout-ms 20000 --deadline-ms $((2500 * SLACK))
    curl -sS --max-time 5 "$F_CTL/log" > "$T/upstream.log"
    fset ""
    no_failures "$T/storm-run.json"
    jq -e --argjson n "$N" '.ok == $n and .connections_opened == $n' "$T/storm-run.json"
    shared=$(metric atcr_verify_shared_total) hits=$(metric atcr_verify_cache_hits_total)
    misses=$(metric atcr_verify_cache_misses_total)
    note "storm: $(summary "$T/storm-run.json"); shared $shared, cache hits $hits, misses $misses"
    jq -c '{role, url}' "$T/upstream.log"
    # one verification: one DID resolution and one getRecord for the N requests
    [ "$(jq -s 'map(select(.role == "pds")) | length' "$T/upstream.log")" = 1 ]
    [ "$(jq -s 'map(select(.role == "plc")) | length' "$T/upstream.log")" = 1 ]
    [ "$misses" = 1 ]
    # every other request waited for it (a late one would have been a cache hit)
    [ "$shared" -eq $((N - 1)) ]
    stop_server
}
