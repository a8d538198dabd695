#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify serve over the loopback fixture stack (integration/fixture/up.sh):
# /verify (GET and POST) answers the image verdict in the -o json shape with
# 200 / 403 / 400 / 503; malformed and oversized bodies; health, readiness and
# metrics; SIGTERM (readyz 503 at once, then exit 0); the verdict cache and
# revocation within its TTL; singleflight; recovery after a stall; certificate
# and policy reloads (a Kubernetes ..data swap); client certificates; idle
# connections, slow senders and the connection cap. Servers bind 127.0.0.1
# port 0 and print the ports they got; every wait is bounded; teardown kills
# the server and clears the fixture's switches (STATE/deleted, STATE/pds-stall).

load fixture/stack
load fixture/serve

setup_file() {
    fixture_up
    # a throwaway self-signed certificate for 127.0.0.1 (one for the whole file)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
        -keyout "$BATS_FILE_TMPDIR/key.pem" -out "$BATS_FILE_TMPDIR/cert.pem" 2>/dev/null
    # a CA and two leaves it signs (rotation), and a second CA (client certificates)
    local d="$BATS_FILE_TMPDIR/pki"
    mkdir -p "$d"
    for ca in ca other-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=atv test $ca" -days 1 -keyout "$d/$ca.key" -out "$d/$ca.pem" 2>/dev/null
    done
    for leaf in a b; do
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=leaf-$leaf" -keyout "$d/$leaf.key" -out "$d/$leaf.csr" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\n' > "$d/ext"
        openssl x509 -req -in "$d/$leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 1 -extfile "$d/ext" -out "$d/$leaf.pem" 2>/dev/null
    done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=stranger" -keyout "$d/stranger.key" -out "$d/stranger.csr" 2>/dev/null
    openssl x509 -req -in "$d/stranger.csr" -CA "$d/other-ca.pem" -CAkey "$d/other-ca.key" \
        -CAcreateserial -days 1 -out "$d/stranger.pem" 2>/dev/null
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
    PKI="$BATS_FILE_TMPDIR/pki"
    SRV_PID=""
}

teardown() { srv_stop; }

# start ARGS...: srv_start with this file's certificate and a 300 ms lame duck
start() { SRV_CERT=$CERT SRV_KEY=$KEY SRV_LAME=300 srv_start "$@"; }

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
# fingerprint: the SHA-256 fingerprint of the certificate a new connection is given
fingerprint() {
    openssl s_client -connect "127.0.0.1:$PORT" -servername 127.0.0.1 </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
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
    # (eight tags of that image: requests for one image would share one verification)
    STALL=$(jq -r .accounts.stall.did "$FX")
    for i in $(seq 1 8); do tag_copy stall "stall-q$i"; done
    start --trusted-did "$STALL" --workers 1 --timeout 1500
    mkdir "$T/codes"
    for i in $(seq 1 8); do
        curl -sS --max-time 10 --cacert "$CERT" -o /dev/null -w '%{http_code}\n' \
            "https://127.0.0.1:$PORT/verify?image=$IMG:stall-q$i" > "$T/codes/$i" &
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

@test "concurrent requests for one image share one verification (singleflight)" {
    # the stalled PLC holds the one verification to its deadline; all eight wait on it
    STALL=$(jq -r .accounts.stall.did "$FX")
    start --trusted-did "$STALL" --workers 1 --timeout 1500
    before=$(grep -c "plc GET /$STALL" "$STATE/atproto-server.log" || true)
    mkdir "$T/codes"
    for i in $(seq 1 8); do
        curl -sS --max-time 10 --cacert "$CERT" -o /dev/null -w '%{http_code}\n' \
            "https://127.0.0.1:$PORT/verify?image=$IMG:stall" > "$T/codes/$i" &
    done
    wait $(jobs -p | grep -vx "$SRV_PID") 2>/dev/null || true
    [ "$(cat "$T"/codes/* | grep -c 503)" -eq 8 ]
    # one queue slot was enough: none was refused for a full queue
    [ "$(metric atcr_verify_queue_full_total)" = 0 ]
    [ "$(metric atcr_verify_shared_total)" -ge 1 ]
    [ "$(( $(metric atcr_verify_shared_total) + $(metric atcr_verify_verdicts_total'{reason="TIMEOUT"}') ))" -ge 8 ]
    # the PLC was asked once per verification, not once per request
    after=$(grep -c "plc GET /$STALL" "$STATE/atproto-server.log" || true)
    [ $(( after - before )) -le 2 ]
}

@test "verdict cache: a repeat is a hit; a revoked record passes until the TTL, then is refused" {
    RKEY=$(jq -r '.images.good.digest | sub("^sha256:"; "")' "$FX")
    start --trusted-did "$ALICE" --verdict-ttl 3
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    [ "$(metric atcr_verify_cache_misses_total)" = 1 ]
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    [ "$(metric atcr_verify_cache_hits_total)" = 1 ]
    [ "$(metric atcr_verify_cache_entries)" = 1 ]
    # the cached answer is the same document, field for field
    body_of "$r" | jq -e '.allowed == true and .reason == "OK" and .signers[0].did == "'"$ALICE"'"'
    # the signer deletes the record: within the TTL the cached verdict still passes ...
    mkdir -p "$STATE/deleted"
    touch "$STATE/deleted/$RKEY"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    # ... and once it has passed, the verdict flips
    sleep 3.2
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    body_of "$r" | jq -e '.allowed == false and .reason == "RECORD_NOT_FOUND"'
    # a definite refusal is cached too; a digest reference shares the cache with the tag
    DIGEST=$(jq -r .images.good.digest "$FX")
    r=$(get "/verify?image=$IMG@$DIGEST")
    [ "$(status_of "$r")" = 403 ]
    [ "$(metric atcr_verify_cache_hits_total)" = 3 ]
}

@test "--verdict-ttl 0: no cache, a revocation is seen at once; out-of-range TTLs exit 2" {
    RKEY=$(jq -r '.images.good.digest | sub("^sha256:"; "")' "$FX")
    start --trusted-did "$ALICE" --verdict-ttl 0
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    mkdir -p "$STATE/deleted"
    touch "$STATE/deleted/$RKEY"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    [ "$(metric atcr_verify_cache_hits_total)" = 0 ]
    [ "$(metric atcr_verify_verdict_ttl_seconds)" = 0 ]
    for bad in 3601 -1 x ''; do
        run --separate-stderr timeout 10 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$CERT" \
            --tls-key "$KEY" --trusted-did "$ALICE" --verdict-ttl "$bad"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"--verdict-ttl"* ]]
    done
}

@test "minSignatures through the server: one of two signers is 403, both are 200" {
    cat > "$T/both.yaml" <<EOF
policies:
  - name: two-signers
    scope: "**"
    require: { trustedDIDs: [$ALICE, $BOB], minSignatures: 2 }
EOF
    start --policy "$T/both.yaml"
    r=$(get "/verify?image=$IMG:multi")
    [ "$(status_of "$r")" = 200 ]
    body_of "$r" | jq -e '.verifiedSigners == 2 and .minSignatures == 2 and .policy == "two-signers"'
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    body_of "$r" | jq -e '.reason == "INSUFFICIENT_SIGNATURES" and .verifiedSigners == 1'
}

@test "a stalled PDS is 503 and never cached; the first request after recovery verifies" {
    start --trusted-did "$ALICE" --timeout 1500
    touch "$STATE/pds-stall"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 503 ]
    body_of "$r" | jq -e '.transient == true and .allowed == false'
    [ "$(metric atcr_verify_cache_entries)" = 0 ]
    [ "$(metric atcr_verify_upstream_errors_total'{kind="timeout"}')" -ge 1 ] ||
        [ "$(metric atcr_verify_upstream_errors_total'{kind="pds"}')" -ge 1 ]
    rm -f "$STATE/pds-stall"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
}

@test "--config: the plugin's parameters as JSON configure the server; flags win" {
    printf '{"trustedDIDs": ["%s"], "timeoutMs": 2000}\n' "$BOB" > "$T/cfg.json"
    start --config "$T/cfg.json"
    r=$(get "/verify?image=$IMG:bob")
    [ "$(status_of "$r")" = 200 ]
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
    start --config "$T/cfg.json" --trusted-did "$ALICE"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
}

@test "certificate rotation through a ..data swap: new connections get the new certificate" {
    # a Kubernetes secret volume: tls.crt -> ..data/tls.crt, ..data -> ..TIMESTAMP/
    v="$T/vol"
    mkdir -p "$v/..2026_a" "$v/..2026_b" "$v/..2026_c"
    cp "$PKI/a.pem" "$v/..2026_a/tls.crt"; cp "$PKI/a.key" "$v/..2026_a/tls.key"
    cp "$PKI/b.pem" "$v/..2026_b/tls.crt"; cp "$PKI/b.key" "$v/..2026_b/tls.key"
    echo "not a certificate" > "$v/..2026_c/tls.crt"; cp "$PKI/b.key" "$v/..2026_c/tls.key"
    ln -s ..2026_a "$v/..data"
    ln -s ..data/tls.crt "$v/tls.crt"
    ln -s ..data/tls.key "$v/tls.key"
    CERT="$v/tls.crt" KEY="$v/tls.key" start --trusted-did "$ALICE"
    CERT="$PKI/ca.pem"
    fa=$(openssl x509 -noout -fingerprint -sha256 -in "$PKI/a.pem")
    fb=$(openssl x509 -noout -fingerprint -sha256 -in "$PKI/b.pem")
    [ "$(fingerprint)" = "$fa" ]
    # the swap, as kubelet does it: a new symlink renamed over ..data
    ln -s ..2026_b "$v/..data_tmp"
    mv -T "$v/..data_tmp" "$v/..data"
    check_b() { [ "$(fingerprint)" = "$fb" ]; }
    until_true 5 check_b
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    [ "$(metric atcr_verify_reloads_total'{what="tls",result="ok"}')" = 1 ]
    # a broken certificate: logged, counted, and the one in use is kept
    ln -s ..2026_c "$v/..data_tmp"
    mv -T "$v/..data_tmp" "$v/..data"
    check_failed() { [ "$(metric atcr_verify_reloads_total'{what="tls",result="error"}')" = 1 ]; }
    until_true 5 check_failed
    grep -q 'reload failed, keeping the certificate in use' "$T/serve.log"
    [ "$(fingerprint)" = "$fb" ]
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
}

@test "policy reload: a changed file applies to the next request; a broken one keeps the old" {
    printf 'policies:\n  - name: bob-only\n    scope: "**"\n    require: { trustedDIDs: [%s] }\n' \
        "$BOB" > "$T/policy.yaml"
    start --policy "$T/policy.yaml"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 403 ]
    # an atomic replace (write beside, rename over)
    printf 'policies:\n  - name: alice-too\n    scope: "**"\n    require: { trustedDIDs: [%s, %s] }\n' \
        "$BOB" "$ALICE" > "$T/policy.new"
    mv "$T/policy.new" "$T/policy.yaml"
    check_ok() { [ "$(status_of "$(get "/verify?image=$IMG:good")")" = 200 ]; }
    until_true 5 check_ok
    r=$(get "/verify?image=$IMG:good")
    body_of "$r" | jq -e '.policy == "alice-too"'
    [ "$(metric atcr_verify_reloads_total'{what="policy",result="ok"}')" = 1 ]
    echo "policies: [ {" > "$T/policy.new"
    mv "$T/policy.new" "$T/policy.yaml"
    check_failed() { [ "$(metric atcr_verify_reloads_total'{what="policy",result="error"}')" = 1 ]; }
    until_true 5 check_failed
    grep -q 'reload failed, keeping the policy in use' "$T/serve.log"
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    body_of "$r" | jq -e '.policy == "alice-too"'
}

@test "--client-ca: a certificate is asked for (naming the CA), never required on /verify" {
    start --trusted-did "$ALICE" --client-ca "$PKI/ca.pem"
    out=$(openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CERT" </dev/null 2>/dev/null)
    [[ "$out" == *"Acceptable client certificate CA names"* ]]
    [[ "$out" == *"CN = atv test ca"* ]]
    # no client certificate
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    # one from another CA: the handshake still succeeds and /verify answers
    r=$(curl -sS --max-time 10 --cacert "$CERT" --cert "$PKI/stranger.pem" \
        --key "$PKI/stranger.key" -w '\n%{http_code}' "https://127.0.0.1:$PORT/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    # one the CA signed
    r=$(curl -sS --max-time 10 --cacert "$CERT" --cert "$PKI/a.pem" --key "$PKI/a.key" \
        -w '\n%{http_code}' "https://127.0.0.1:$PORT/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    # a file that holds no certificate exits 2
    echo junk > "$T/junk.pem"
    run --separate-stderr timeout 10 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$CERT" \
        --tls-key "$KEY" --trusted-did "$ALICE" --client-ca "$T/junk.pem"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"--client-ca"* ]]
}

@test "200 idle connections and a slow sender are cut after 10 s; everyone else is served" {
    start --trusted-did "$ALICE"
    fds=()
    for _ in $(seq 1 200); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
        fds+=("$fd")
    done
    # a slow sender: a TLS connection that sends half a request line, then nothing
    timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" > "$T/slow.out" 2>&1 \
        < <(printf 'GET /verify?image=%s' "$IMG:good"; sleep 20) &
    slow=$!
    t0=$(date +%s)
    check_conns() { [ "$(metric atcr_verify_connections)" -ge 201 ]; }
    until_true 5 check_conns
    for i in $(seq 1 5); do
        r=$(get "/verify?image=$IMG:good")
        [ "$(status_of "$r")" = 200 ]
    done
    # the slow sender's connection is shut down by the server, not by its own timeout
    wait "$slow" || true
    t1=$(date +%s)
    echo "slow sender lasted $(( t1 - t0 )) s"
    [ $(( t1 - t0 )) -ge 9 ] && [ $(( t1 - t0 )) -le 15 ]
    [ "$(metric atcr_verify_slow_requests_total)" -ge 201 ]
    [ "$(metric atcr_verify_connections)" -le 1 ]
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    r=$(get "/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
}

@test "the connection cap follows RLIMIT_NOFILE; connections past it wait, none crash the server" {
    # 200 descriptors, 2 workers: 200 - (64 + 3 x 2) = 130 connections
    ulimit -n 200
    start --trusted-did "$ALICE" --workers 2
    grep -q 'at most 130 connections' "$T/serve.log"
    [ "$(metric atcr_verify_connections_max)" = 130 ]
    fds=()
    for _ in $(seq 1 150); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
        fds+=("$fd")
    done
    check_full() { [ "$(metric atcr_verify_connections)" = 130 ]; }
    until_true 5 check_full
    # a new client waits in the backlog until the idle ones are cut, then is answered
    r=$(curl -sS --max-time 25 --cacert "$CERT" -w '\n%{http_code}' \
        "https://127.0.0.1:$PORT/verify?image=$IMG:good")
    [ "$(status_of "$r")" = 200 ]
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    kill -0 "$SRV_PID"
}
