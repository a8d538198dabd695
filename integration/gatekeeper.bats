#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify serve as an OPA Gatekeeper external data provider, called by a client emulated
# from Gatekeeper's source (integration/gatekeeper/gk-client.js: TLS 1.3, the caBundle as the
# only root, its client certificate, keep-alive, its timeout, its parsing and caching rules),
# over the loopback fixture stack: POST /gatekeeper/verify and /gatekeeper/mutate. Servers bind
# 127.0.0.1 port 0; every wait is bounded; teardown kills the server.

load fixture/stack
load fixture/serve

setup_file() {
    fixture_up
    local d="$BATS_FILE_TMPDIR/pki"
    mkdir -p "$d"
    # a CA for the provider's serving certificate (the Provider's caBundle) ...
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=atcr-verify test ca" -days 1 -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=atcr-verify.atcr-verify" -keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:atcr-verify.atcr-verify\nextendedKeyUsage=serverAuth\n' \
        > "$d/srv.ext"
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 1 -extfile "$d/srv.ext" -out "$d/srv.pem" 2>/dev/null
    # ... and Gatekeeper's own: CN=gatekeeper-ca signs its webhook certificate, which has
    # clientAuth when external data is on (cert-controller's rotator)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/O=gatekeeper/CN=gatekeeper-ca" -days 1 -keyout "$d/gk-ca.key" -out "$d/gk-ca.pem" \
        2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=gatekeeper-webhook-service.gatekeeper-system.svc" -keyout "$d/gk.key" \
        -out "$d/gk.csr" 2>/dev/null
    printf 'subjectAltName=DNS:gatekeeper-webhook-service.gatekeeper-system.svc\nextendedKeyUsage=serverAuth,clientAuth\n' \
        > "$d/gk.ext"
    openssl x509 -req -in "$d/gk.csr" -CA "$d/gk-ca.pem" -CAkey "$d/gk-ca.key" -CAcreateserial \
        -days 1 -extfile "$d/gk.ext" -out "$d/gk.pem" 2>/dev/null
    # a client certificate from an unrelated CA (the server's own, here)
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=stranger" -keyout "$d/stranger.key" -out "$d/stranger.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$d/cl.ext"
    openssl x509 -req -in "$d/stranger.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 1 -extfile "$d/cl.ext" -out "$d/stranger.pem" 2>/dev/null
}
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    BOB=$(jq -r .accounts.bob.did "$FX")
    IMG="$REGISTRY/atv/app"
    PKI="$BATS_FILE_TMPDIR/pki"
    GOOD_DIGEST=$(jq -r .images.good.digest "$FX")
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle
         --cache-dir "$T/cache")
    SRV_PID=""
}

teardown() { srv_stop; }

start() { SRV_CERT=$PKI/srv.pem SRV_KEY=$PKI/srv.key srv_start "$@"; }

# gk [--mutate] [client options] ROUND...: the emulated Gatekeeper against /gatekeeper/verify
# (or /mutate), trusting the provider's CA only
gk() {
    local path=verify
    if [ "${1:-}" = --mutate ]; then path=mutate; fi
    timeout 60 node "$BATS_TEST_DIRNAME/gatekeeper/gk-client.js" \
        --url "https://127.0.0.1:$PORT/gatekeeper/$path" --ca "$PKI/ca.pem" "$@"
}

@test "gatekeeper/verify: one item per key in order, duplicates included; the Rego's decisions" {
    push_unsigned unsigned
    start --trusted-did "$ALICE"
    run gk "$IMG:good,$IMG:unsigned,$IMG:bob,$IMG:good,NOT:a:REF"
    [ "$status" -eq 0 ]
    echo "$output"
    echo "$output" | jq -e --arg a "$ALICE" --arg i "$IMG" --arg d "$GOOD_DIGEST" '
        .rego.status_code == 200 and .rego.system_error == "" and
        ([.rego.responses[][0]] == [$i+":good", $i+":unsigned", $i+":bob", $i+":good"]) and
        (.rego.responses[0][1] | .allowed == true and .verified == true and .audit == false and
            .digest == $d and .reference == ($i+"@"+$d) and .policy == "trustedDIDs" and
            .signers == [{"did": $a}] and (has("reason") | not)) and
        (.rego.responses[1][1] | .allowed == false and .reason == "NO_SIGNATURE") and
        (.rego.responses[2][1] | .allowed == false and .verified == false and
            .reason == "UNTRUSTED_SIGNER" and (.message | length > 0)) and
        .rego.responses[3] == .rego.responses[0] and
        (.rego.errors | length == 1) and .rego.errors[0][0] == "NOT:a:REF" and
        (.rego.errors[0][1] | startswith("not an image reference")) and
        .sent == [$i+":good", $i+":unsigned", $i+":bob", "NOT:a:REF"]'
    # the template denies the unsigned, the untrusted and the malformed key, not the good one
    echo "$output" | jq -e '(.deny | length) == 3 and
        (.deny | map(select(contains(":good"))) | length) == 0'
}

@test "gatekeeper/verify: a transient key gets no item and is named in systemError; nothing cached" {
    DEADPDS=$(jq -r .accounts.deadpds.did "$FX")
    start --trusted-did "$ALICE" --trusted-did "$DEADPDS"
    # two calls, like two admissions 0 s apart: the second sends only the transient key again
    run gk "$IMG:good,$IMG:deadpds" "$IMG:good,$IMG:deadpds"
    [ "$status" -eq 0 ]
    echo "$output"
    first=$(sed -n 1p <<< "$output")
    second=$(sed -n 2p <<< "$output")
    echo "$first" | jq -e --arg i "$IMG" '
        ([.rego.responses[][0]] == [$i+":good"]) and (.rego.errors == []) and
        (.rego.system_error | contains($i+":deadpds") and contains("retry")) and
        (.deny | any(startswith("system_error")))'
    echo "$second" | jq -e --arg i "$IMG" '.sent == [$i+":deadpds"] and
        (.rego.system_error | contains("deadpds"))'
    [ "$(metric atcr_verify_cache_entries)" = 1 ]
}

@test "gatekeeper/verify: answers from Gatekeeper's cache have status_code 0 and still allow" {
    start --trusted-did "$ALICE"
    run gk "$IMG:good" "$IMG:good" "$IMG@$GOOD_DIGEST"
    [ "$status" -eq 0 ]
    second=$(sed -n 2p <<< "$output")
    echo "$second" | jq -e '.sent == [] and .rego.status_code == 0 and .deny == []'
    # keep-alive: three calls, one TLS connection
    sed -n 3p <<< "$output" | jq -e '.sockets == 1 and .deny == []'
}

@test "gatekeeper/mutate: allowed keys pinned (a pinned key echoed byte for byte); refused is an error" {
    start --trusted-did "$ALICE"
    run gk --mutate "$IMG:good,$IMG@$GOOD_DIGEST,$IMG:good@$GOOD_DIGEST,$IMG:bob"
    [ "$status" -eq 0 ]
    echo "$output"
    echo "$output" | jq -e --arg i "$IMG" --arg d "$GOOD_DIGEST" '.failed == null and
        .values[$i+":good"] == ($i+":good@"+$d) and
        .values[$i+"@"+$d] == ($i+"@"+$d) and
        .values[$i+":good@"+$d] == ($i+":good@"+$d) and
        (.values[$i+":bob"].failed | startswith("refused: UNTRUSTED_SIGNER"))'
    # mutation converges: the pinned value maps to itself
    pinned=$(echo "$output" | jq -r --arg i "$IMG" '.values[$i+":good"]')
    run gk --mutate "$pinned"
    echo "$output" | jq -e --arg p "$pinned" '.values[$p] == $p'
}

@test "gatekeeper/mutate: a transient key rejects the whole response; --mutate-timeout bounds it" {
    STALL=$(jq -r .accounts.stall.did "$FX")
    start --trusted-did "$ALICE" --trusted-did "$STALL" --mutate-timeout 400
    t0=$(date +%s%N)
    run gk --mutate "$IMG:good,$IMG:stall"
    t1=$(date +%s%N)
    echo "$output"
    echo "$output" | jq -e '.failed | startswith("non-empty system error")'
    # answered near the 400 ms deadline, well inside Gatekeeper's 1 s mutation webhook
    [ $(( (t1 - t0) / 1000000 )) -lt 1500 ]
}

@test "--client-ca: Gatekeeper's certificate is required on /gatekeeper/*, never on /verify" {
    start --trusted-did "$ALICE" --client-ca "$PKI/gk-ca.pem"
    run gk "$IMG:good"
    echo "$output" | jq -e '.rego.status_code == 403 and
        (.rego.system_error | contains("client certificate")) and (.deny | length) >= 1'
    run gk --cert "$PKI/stranger.pem" --key "$PKI/stranger.key" "$IMG:good"
    echo "$output" | jq -e '.rego.status_code == 403'
    run gk --cert "$PKI/gk.pem" --key "$PKI/gk.key" "$IMG:good"
    echo "$output" | jq -e '.rego.status_code == 200 and .deny == []'
    [ "$(metric atcr_verify_client_cert_refused_total)" = 2 ]
    r=$(curl -sS --max-time 10 --cacert "$PKI/ca.pem" -w '\n%{http_code}' \
        "https://127.0.0.1:$PORT/verify?image=$IMG:good")
    [ "$(tail -n 1 <<< "$r")" = 200 ]
}

@test "gatekeeper: malformed requests are a systemError, never an item; the server keeps serving" {
    start --trusted-did "$ALICE"
    post() {
        curl -sS --max-time 10 --cacert "$PKI/ca.pem" -w '\n%{http_code}' -X POST \
            -H 'Content-Type: application/json' --data-binary "$1" \
            "https://127.0.0.1:$PORT/gatekeeper/verify"
    }
    for body in 'not json' '[]' '{}' '{"apiVersion":"v1","kind":"ProviderRequest","request":{"keys":[]}}' \
        '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"Other","request":{"keys":[]}}' \
        '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[1]}}' \
        '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{}}'; do
        r=$(post "$body")
        [ "$(tail -n 1 <<< "$r")" = 200 ] || { echo "$body: $r"; false; }
        sed '$d' <<< "$r" | jq -e '.kind == "ProviderResponse" and .response.idempotent == true and
            (.response.systemError | length > 0) and (.response | has("items") | not)'
    done
    # 1025 keys: refused as a whole
    keys=$(jq -nc '[range(1025) | "k\(.)"]')
    r=$(post "{\"apiVersion\":\"externaldata.gatekeeper.sh/v1beta1\",\"kind\":\"ProviderRequest\",\"request\":{\"keys\":$keys}}")
    sed '$d' <<< "$r" | jq -e '.response.systemError | contains("1025 keys")'
    # v1alpha1 (the deprecated version Gatekeeper's own dummy provider speaks) is accepted
    r=$(post "{\"apiVersion\":\"externaldata.gatekeeper.sh/v1alpha1\",\"kind\":\"ProviderRequest\",\"request\":{\"keys\":[\"$IMG:good\"]}}")
    sed '$d' <<< "$r" | jq -e '.response.items[0].value.allowed == true'
    r=$(curl -sS --max-time 10 --cacert "$PKI/ca.pem" -w '\n%{http_code}' \
        "https://127.0.0.1:$PORT/gatekeeper/verify")
    [ "$(tail -n 1 <<< "$r")" = 405 ]
    run gk "$IMG:good"
    echo "$output" | jq -e '.deny == []'
}

@test "gatekeeper/verify: audit (REQUIRE_SIGNATURE=false) and a scope that requires no signature" {
    cat > "$T/p.yaml" <<EOF
policies:
  - name: system
    scope: "$REGISTRY/atv/app"
    require: { signature: false }
EOF
    start --policy "$T/p.yaml"
    run gk "$IMG:bob"
    echo "$output" | jq -e '.rego.responses[0][1] | .allowed == true and .verified == true and
        .policy == "system" and (has("digest") | not)'
    run gk --mutate "$IMG:bob"
    # nothing was resolved for it, so it is left as written
    echo "$output" | jq -e --arg i "$IMG" '.values[$i+":bob"] == $i+":bob"'
    kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
    REQUIRE_SIGNATURE=false start --trusted-did "$ALICE"
    run gk "$IMG:bob"
    echo "$output" | jq -e '.rego.responses[0][1] | .allowed == true and .verified == false and
        .audit == true and .reason == "UNTRUSTED_SIGNER"'
    echo "$output" | jq -e '.deny == []'
}

@test "gatekeeper: the answer is compact JSON in a fixed member order; keys are escaped by jansson" {
    DEADPDS=$(jq -r .accounts.deadpds.did "$FX")
    push_unsigned unsigned
    start --trusted-did "$ALICE" --trusted-did "$DEADPDS"
    # a key that needs escaping (quote, backslash, control character, non-ASCII): an item error
    weird=$(printf 'x"y\\z\tq\xc3\xa9')
    for path in verify mutate; do
        jq -nc --arg w "$weird" --arg i "$IMG" '{apiVersion: "externaldata.gatekeeper.sh/v1beta1",
            kind: "ProviderRequest", request: {keys: [$i+":good", $w, $i+":unsigned", $i+":good",
            $i+":deadpds"]}}' > "$T/req.json"
        curl -sS --max-time 20 --cacert "$PKI/ca.pem" -H 'Content-Type: application/json' \
            --data-binary "@$T/req.json" -o "$T/ans.json" "https://127.0.0.1:$PORT/gatekeeper/$path"
        cat "$T/ans.json"
        echo
        # byte for byte what jq writes compactly, in the same member order: valid, no stray bytes
        [ "$(cat "$T/ans.json")" = "$(jq -c . "$T/ans.json")" ]
        jq -e --arg w "$weird" --arg i "$IMG" --arg p "$path" '
            (keys_unsorted == ["apiVersion", "kind", "response"]) and
            (.response | keys_unsorted == ["idempotent", "items", "systemError"]) and
            ([.response.items[].key] == [$i+":good", $w, $i+":unsigned", $i+":good"]) and
            (.response.items[1] | keys_unsorted == ["key", "error"]) and
            (.response.items[0] | keys_unsorted == ["key", "value"]) and
            (.response.systemError | contains($i+":deadpds")) and
            (if $p == "verify" then
                (.response.items[0].value | keys_unsorted ==
                    ["allowed", "verified", "audit", "reference", "digest", "policy", "signers",
                     "message"]) and
                (.response.items[2].value | .allowed == false and .reason == "NO_SIGNATURE") and
                .response.items[3] == .response.items[0]
             else
                (.response.items[0].value | startswith($i+":good@sha256:")) and
                (.response.items[2] | has("error"))
             end)' "$T/ans.json"
    done
}
