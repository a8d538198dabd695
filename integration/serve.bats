#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify serve over the loopback fixture stack (integration/fixture/up.sh):
# /verify (GET and POST) answers the image verdict in the -o json shape with
# 200 / 403 / 400 / 503; malformed and oversized bodies; health, readiness and
# metrics; SIGTERM (readyz 503 at once, then exit 0). Servers bind 127.0.0.1
# port 0 and print the ports they got; every wait is bounded; teardown kills
# the server.

load fixture/stack

setup_file() {
    fixture_up
    # a throwaway self-signed certificate for 127.0.0.1 (one for the whole file)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
        -keyout "$BATS_FILE_TMPDIR/key.pem" -out "$BATS_FILE_TMPDIR/cert.pem" 2>/dev/null
}
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    BOB=$(jq -r .accounts.bob.did "$FX")
    DEADPDS=$(jq -r .accounts.deadpds.did "$FX")
    IMG="$REGISTRY/atv/app"
    CERT="$BATS_FILE_TMPDIR/cert.pem"
    KEY="$BATS_FILE_TMPDIR/key.pem"
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle
         --cache-dir "$T/cache")
    SRV_PID=""
}

teardown() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
}

# start ARGS...: starts the server on 127.0.0.1 port 0 (health too); sets PORT, HPORT, SRV_PID.
start() {
    timeout 120 "$CLI" serve --listen 127.0.0.1:0 --health-listen 127.0.0.1:0 \
        --tls-cert "$CERT" --tls-key "$KEY" --lame-duck 300 "${NET[@]}" "$@" \
        2> "$T/serve.log" &
    SRV_PID=$!
    for _ in $(seq 1 100); do
        if grep -q 'listening on' "$T/serve.log" 2>/dev/null; then break; fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$T/serve.log")
    HPORT=$(sed -n 's/.*health on http:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$T/serve.log")
    [ -n "$PORT" ] && [ -n "$HPORT" ] || { cat "$T/serve.log" >&2; return 1; }
}

# get URL-PATH: HTTPS GET; prints the body, then the status on the last line
get() {
    curl -sS --max-time 10 --cacert "$CERT" -w '\n%{http_code}' "https://127.0.0.1:$PORT$1"
}
# post BODY-FILE [curl args]: POST /verify
post() {
    local f=$1
    shift
    curl -sS --max-time 10 --cacert "$CERT" -w '\n%{http_code}' -X POST "$@" \
        --data-binary "@$f" "https://127.0.0.1:$PORT/verify"
}
hget() {
    curl -sS --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$HPORT$1"
}
status_of() { tail -n 1 <<< "$1"; }
body_of() { sed '$d' <<< "$1"; }

@test "serve --help, and a bad certificate or key at start exits 2 with a clear message" {
    run "$CLI" serve --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--listen ADDR:PORT"* ]] && [[ "$output" == *"REQUIRE_SIGNATURE"* ]]
    echo "not a certificate" > "$T/bad.pem"
    run --separate-stderr timeout 10 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$T/bad.pem" \
        --tls-key "$KEY" --trusted-did "$ALICE"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"--tls-cert"*"bad.pem"* ]]
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$T/other.pem" 2>/dev/null
    run --separate-stderr timeout 10 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$CERT" \
        --tls-key "$T/other.pem" --trusted-did "$ALICE"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"--tls-key"* ]]
    run --separate-stderr timeout 10 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$CERT"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"required"* ]]
    run --separate-stderr timeout 10 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$CERT" \
        --tls-key "$KEY" --workers 0
    [ "$status" -eq 2 ]
    ATCR_POLICY_FILE=/nonexistent run --separate-stderr timeout 10 "$CLI" serve \
        --listen 127.0.0.1:0 --tls-cert "$CERT" --tls-key "$KEY"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"ATCR_POLICY_FILE"* ]]
}

@test "/verify: a signed image by a trusted DID is 200 with the -o json verdict, GET and POST" {
    start --trusted-did "$ALICE"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    body_of "$r" | jq -e --arg d "$ALICE" '.allowed == true and .met == true and
        .reason == "OK" and .policy == "trustedDIDs" and .signers[0].did == $d and
        (.digest | startswith("sha256:")) and (.reference | contains("@sha256:")) and
        .image == "'"$IMG:good"'"'
    # the same document the CLI prints, field for field (the message aside)
    run --separate-stderr "$CLI" "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" -o json
    [ "$status" -eq 0 ]
    diff <(echo "$output" | jq -S 'del(.signatures[].message, .message)') \
         <(body_of "$r" | jq -S 'del(.signatures[].message, .message)')
    printf '{"image":"%s"}' "$IMG:good" > "$T/body.json"
    r=$(post "$T/body.json" -H 'Content-Type: application/json')
    [ "$(status_of "$r")" = 200 ]
    body_of "$r" | jq -e '.allowed == true'
    # no Content-Type at all is accepted
    r=$(post "$T/body.json" -H 'Content-Type:')
    [ "$(status_of "$r")" = 200 ]
}

@test "/verify: an untrusted signer is 403, a bad reference 400, a transient failure 503" {
    start --trusted-did "$BOB" --trusted-did "$DEADPDS"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    body_of "$r" | jq -e '.allowed == false and .reason == "UNTRUSTED_SIGNER"'
    r=$(get "/verify?image=NOT:a:REFERENCE")
    [ "$(status_of "$r")" = 400 ]
    body_of "$r" | jq -e '.allowed == false and .reason == "BAD_REQUEST"'
    r=$(get "/verify?image=$IMG:deadpds")
    [ "$(status_of "$r")" = 503 ]
    body_of "$r" | jq -e '.allowed == false and .transient == true'
    # the server keeps serving: bob's image still verifies
    r=$(get "/verify?image=$IMG:bob")
    [ "$(status_of "$r")" = 200 ]
}

@test "TRUSTED_DIDS from the environment, flags win; REQUIRE_SIGNATURE=false is audit-only" {
    TRUSTED_DIDS=" $BOB , $ALICE" start
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
    TRUSTED_DIDS="$ALICE" start --trusted-did "$BOB"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
    REQUIRE_SIGNATURE=false start --trusted-did "$BOB"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    body_of "$r" | jq -e '.allowed == true and .met == false and .audit == true and
        .reason == "UNTRUSTED_SIGNER"'
}

@test "malformed and oversized requests are 400/413/415/404/405, and the server keeps serving" {
    start --trusted-did "$ALICE"
    for body in 'not json' '[]' '{}' '{"image":5}' '{"image":""}' '{"image":"a","x":1}' \
                '{"image":"a","image":"b"}'; do
        printf '%s' "$body" > "$T/b.json"
        r=$(post "$T/b.json" -H 'Content-Type: application/json')
        [ "$(status_of "$r")" = 400 ] || { echo "body $body: $r"; false; }
        body_of "$r" | jq -e '.error | length > 0'
    done
    r=$(get "/verify")
    [ "$(status_of "$r")" = 400 ]
    r=$(get "/verify?image=a&image=b")
    [ "$(status_of "$r")" = 400 ]
    printf '{"image":"%s"}' "$IMG:good" > "$T/body.json"
    r=$(post "$T/body.json" -H 'Content-Type: text/plain')
    [ "$(status_of "$r")" = 415 ]
    head -c 20000 /dev/zero | tr '\0' ' ' > "$T/big.json"
    r=$(post "$T/big.json" -H 'Content-Type: application/json')
    [ "$(status_of "$r")" = 413 ]
    r=$(get "/elsewhere")
    [ "$(status_of "$r")" = 404 ]
    r=$(curl -sS --max-time 10 --cacert "$CERT" -w '\n%{http_code}' -X PUT \
        "https://127.0.0.1:$PORT/verify")
    [ "$(status_of "$r")" = 405 ]
    # TLS 1.1 is refused; 1.2 and 1.3 are served
    ! curl -sS --max-time 5 --cacert "$CERT" --tls-max 1.1 "https://127.0.0.1:$PORT/healthz"
    r=$(curl -sS --max-time 10 --cacert "$CERT" --tlsv1.2 --tls-max 1.2 -w '\n%{http_code}' \
        "https://127.0.0.1:$PORT/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
}

@test "health, readiness and metrics on the plain-HTTP listener" {
    start --trusted-did "$ALICE"
    r=$(hget /healthz)
    [ "$(status_of "$r")" = 200 ]
    r=$(hget /readyz)
    [ "$(status_of "$r")" = 200 ]
    get "/verify?image=$IMG:good" > /dev/null
    get "/verify?image=$IMG:revoked" > /dev/null
    r=$(hget /metrics)
    [ "$(status_of "$r")" = 200 ]
    m=$(body_of "$r")
    grep -qx 'atcr_verify_requests_total{path="/verify",code="200"} 1' <<< "$m"
    grep -qx 'atcr_verify_requests_total{path="/verify",code="403"} 1' <<< "$m"
    grep -qx 'atcr_verify_verdicts_total{reason="OK"} 1' <<< "$m"
    grep -qx 'atcr_verify_verdicts_total{reason="RECORD_NOT_FOUND"} 1' <<< "$m"
    grep -qx 'atcr_verify_in_flight 0' <<< "$m"
    grep -qx 'atcr_verify_verification_seconds_count 2' <<< "$m"
    grep -qx '# TYPE atcr_verify_requests_total counter' <<< "$m"
    ct=$(curl -sS --max-time 5 -o /dev/null -w '%{content_type}' "http://127.0.0.1:$HPORT/metrics")
    [[ "$ct" == "text/plain; version=0.0.4"* ]]
    r=$(hget /verify)
    [ "$(status_of "$r")" = 404 ]
}

@test "SIGTERM: /readyz is 503 at once, serving goes on for the lame duck, then exit 0" {
    start --trusted-did "$ALICE" --lame-duck 1500
    kill -TERM "$SRV_PID"
    sleep 0.2
    r=$(hget /readyz)
    [ "$(status_of "$r")" = 503 ]
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    rc=0
    wait "$SRV_PID" || rc=$?
    SRV_PID=""
    [ "$rc" -eq 0 ]
    grep -q 'stopped' "$T/serve.log"
}

@test "a full queue is an immediate 503" {
    # one worker, a queue of 4: the stalled PLC holds each verification to the deadline
    STALL=$(jq -r .accounts.stall.did "$FX")
    start --trusted-did "$STALL" --workers 1 --timeout 1500
    mkdir "$T/codes"
    for i in $(seq 1 8); do
        curl -sS --max-time 10 --cacert "$CERT" -o /dev/null -w '%{http_code}\n' \
            "https://127.0.0.1:$PORT/verify?image=$IMG:stall" > "$T/codes/$i" &
    done
    wait $(jobs -p | grep -vx "$SRV_PID") 2>/dev/null || true
    cat "$T"/codes/*
    [ "$(cat "$T"/codes/* | grep -c 503)" -ge 3 ]
    # a job whose deadline passed in the queue is transient (503), never a definite refusal:
    # it once came back 403 REGISTRY_ERROR ("the deadline passed before this step")
    [ "$(cat "$T"/codes/* | grep -vc 503)" -eq 0 ]
    m=$(body_of "$(hget /metrics)")
    grep -q '^atcr_verify_queue_full_total [1-9]' <<< "$m"
}
