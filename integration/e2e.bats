#!/usr/bin/env bats
# End to end against the real third-party stack on 127.0.0.1 (integration/stack):
# Debian's docker-registry, npm @did-plc/server and npm @atproto/pds. The
# signer (integration/stack/signer.js) plays ATCR's AppView: real accounts,
# real io.atcr.manifest records (commits signed by the PDS with the
# account's key), real OCI referrers. Each scenario runs the plugin exactly
# as Ratify v1.4 runs it, through integration/ratify/ratify-exec.js.
#
#   ATV_BUILD=build bats integration/e2e.bats
#
# setup_file installs the stack (integration/stack/install.sh: ~2-3 min the
# first time on a machine, then well under a second; it fails loudly when
# the npm registry is unreachable) and starts it in a temporary STATE.
# ATV_KEEP_STATE=1 keeps STATE (logs, samples) for a post-mortem.
# Tests run in file order (bats' default) and share the stack: the PDS and
# PLC tests stop and restart their server and leave it running again.

bats_require_minimum_version 1.5.0

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-180}

setup_file() {
    export ATV_BUILD="${ATV_BUILD:-build}"
    export PLUGIN="$ATV_BUILD/atproto"
    [ -x "$PLUGIN" ] || { echo "no plugin at $PLUGIN (make BUILD=$ATV_BUILD all)" >&3; return 1; }
    STACK=integration/stack
    export STACK
    # the install may take minutes cold; its output goes to the bats log on failure
    if ! sh "$STACK/install.sh" > "$BATS_FILE_TMPDIR/install.log" 2>&1; then
        cat "$BATS_FILE_TMPDIR/install.log" >&3
        return 1
    fi
    STATE=$(mktemp -d "${TMPDIR:-/tmp}/atv-e2e.XXXXXX")
    export STATE
    if ! sh "$STACK/up.sh" "$STATE" > "$STATE/up.log" 2>&1; then
        cat "$STATE/up.log" >&3
        return 1
    fi
    # shellcheck disable=SC1091
    . "$STATE/env"
    export REGISTRY PLC PDS STACK_NODE
    signer create-account alice > /dev/null
    signer create-account bob > /dev/null
    ALICE=$(jq -r .did "$STATE/accounts/alice.json")
    BOB=$(jq -r .did "$STATE/accounts/bob.json")
    export ALICE BOB
}

teardown_file() {
    [ -z "${STATE:-}" ] && return 0
    sh integration/stack/down.sh "$STATE"
    if [ -z "${ATV_KEEP_STATE:-}" ]; then
        rm -rf "$STATE"
    else
        echo "# state kept in $STATE" >&3
    fi
}

# a test that stopped a server and failed before restarting it must not
# take the later tests down with it (up.sh NAME restarts a stopped server,
# resumes a frozen one and only checks a running one)
teardown() {
    for name in plc pds; do
        sh integration/stack/up.sh "$STATE" "$name" 2>/dev/null
    done
}

signer() {
    "$STACK_NODE" integration/stack/signer.js "$STATE" "$@"
}

# sample OUT IMAGE_DIGEST SIG_DIGEST SIG_SIZE CONFIG_PATCH EXPECT
# A Ratify request for the signature manifest SIG of the image: the default
# config (trusting alice) merged with CONFIG_PATCH (jq object, `*`), and
# the harness's "expect".
sample() {
    jq -n --arg subj "@REGISTRY@/atv/e2e@$2" --arg sd "$3" --argjson ss "$4" \
        --arg alice "$ALICE" --argjson patch "$5" --argjson expect "$6" --arg desc "$BATS_TEST_DESCRIPTION" '{
        description: $desc,
        env: { RATIFY_VERIFIER_COMMAND: "VERIFY", RATIFY_VERIFIER_SUBJECT: $subj, RATIFY_VERIFIER_VERSION: "1.0.0" },
        stdin: {
            config: ({ name: "verifier-atproto", type: "atproto", plcDirectory: "@PLC@",
                       allowLoopbackHTTP: true, cacheDir: "@CACHE@", verifyHandle: false,
                       trustedDIDs: [$alice] } * $patch),
            storeConfig: { version: "1.0.0", pluginBinDirs: null, store: { name: "oras", useHttp: true } },
            referenceDesc: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $sd, size: $ss,
                             artifactType: "application/vnd.atproto.signature.v1+json" } },
        expect: ({ exitCode: 0 } + $expect) }' > "$1"
}

# verify SAMPLE: the plugin as Ratify runs it; $output is the harness report
# (one JSON line), $stderr its complaints. The sample is kept next to the
# state for ATV_KEEP_STATE post-mortems.
verify() {
    mkdir -p "$STATE/samples"
    cp "$1" "$STATE/samples/$BATS_TEST_NUMBER-$(basename "$1")"
    run --separate-stderr node integration/ratify/ratify-exec.js --plugin "$PLUGIN" \
        --env-file "$STATE/env" --check "$1"
    echo "report: $output"
    echo "harness: $stderr"
    local pstatus=$status poutput=$output pstderr=$stderr
    cli_agrees "$1" "$poutput"
    status=$pstatus output=$poutput stderr=$pstderr
}

# cli_agrees SAMPLE REPORT: atcr-verify, given the sample's parameters through --config,
# reaches the plugin's verdict (isSuccess and reason) for the same signature of the image.
# Both come from one image verdict: the plugin's isSuccess is the image's `allowed` when its
# artifact verified, and `audit` when it failed. The CLI stops once the policy is met, so a
# signature it never reached is fine only when the image is met without it.
cli_agrees() {
    local cfg="$BATS_TEST_TMPDIR/cli-params.json" subj sig want got
    jq --arg plc "$PLC" --arg cache "$(mktemp -d "$BATS_TEST_TMPDIR/cli-cache.XXXXXX")" '
        .stdin.config | del(.name, .type)
        | walk(if . == "@PLC@" then $plc elif . == "@CACHE@" then $cache else . end)' "$1" > "$cfg"
    subj=$(jq -r .env.RATIFY_VERIFIER_SUBJECT "$1")
    subj=${subj/@REGISTRY@/$REGISTRY}
    sig=$(jq -r .stdin.referenceDesc.digest "$1")
    run --separate-stderr "$ATV_BUILD/atcr-verify" "$subj" --config "$cfg" --insecure-http -o json
    echo "atcr-verify (exit $status): $output"
    want=$(printf '%s' "$2" | jq -c '{isSuccess: .result.isSuccess,
        reason: (.result.extensions.reason // null)}')
    got=$(printf '%s' "$output" | jq -c --arg s "$sig" '. as $v | [.signatures[]
        | select(.signatureManifest == $s)
        | {isSuccess: (if .isSuccess then $v.allowed else $v.audit end), reason: (.reason // null)}]
        | first // (if $v.met then "met before this signature" else "signature not found" end)')
    if [ "$got" = '"met before this signature"' ]; then
        echo "atcr-verify met the policy before reaching $sig"
        return 0
    fi
    echo "plugin $want, atcr-verify $got"
    [ "$want" = "$got" ]
}

ext() { # KEY -> the verdict's extensions.KEY from the last report
    printf '%s' "$output" | jq -r --arg k "$1" '.result.extensions[$k] // empty'
}

# push_signed TAG [NAME]: an image signed by NAME (alice); sets IMG SIG SIGSIZE
push_signed() {
    IMG=$(signer push-image "${2:-alice}" "$1")
    read -r SIG SIGSIZE <<< "$(signer sign "${2:-alice}" "$IMG")"
    [ -n "$SIG" ] && [ -n "$SIGSIZE" ]
}

xrpc_get() { # NSID QUERY
    curl -sS --max-time 5 "${PDS/localhost/127.0.0.1}/xrpc/$1?$2"
}

@test "a signed image verifies, every extension from the real chain" {
    push_signed t1
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        "$(jq -n --arg did "$ALICE" --arg pds "$PDS" --arg img "$IMG" \
            '{isSuccess: true, extensions: {did: $did, pds: $pds, keyId: ($did + "#atproto"),
              keyType: "K-256", subjectDigest: $img, policy: "trustedDIDs",
              recordUri: ("at://" + $did + "/io.atcr.manifest/" + ($img | ltrimstr("sha256:")))}}')"
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
    # the facts the PDS and the registry hold, fetched independently
    rec=$(xrpc_get com.atproto.repo.getRecord "repo=$ALICE&collection=io.atcr.manifest&rkey=${IMG#sha256:}")
    head=$(xrpc_get com.atproto.sync.getLatestCommit "did=$ALICE")
    art="$STATE/artifacts/${SIG#sha256:}.json"
    [ "$(ext recordCid)" = "$(printf '%s' "$rec" | jq -r .cid)" ]
    [ "$(printf '%s' "$rec" | jq -r .value.digest)" = "$IMG" ]
    # nothing was committed since the signature: the proven commit is the head
    [ "$(ext commitCid)" = "$(printf '%s' "$head" | jq -r .cid)" ]
    [ "$(ext commitCid)" = "$(jq -r .claims.commitCid "$art")" ]
    [ "$(ext commitRev)" = "$(printf '%s' "$head" | jq -r .rev)" ]
    [ "$(ext signatureDigest)" = "$(jq -r .signatureBlob "$art")" ]
    [ "$(ext signedAt)" = "$(jq -r .claims.signedAt "$art")" ]
    [ "$(printf '%s' "$output" | jq -r .result.message)" != "" ]
    # this PLC publishes the legacy key form (z + base58 of the 65-byte point)
    key=$(curl -sS --max-time 5 "$PLC/$ALICE" | jq -r '.verificationMethod[0].publicKeyMultibase')
    [[ "$key" == z* ]]
    [[ "$key" != zQ3s* ]]
    # the signer copied that key into the artifact: the same key is no differing claim
    [ -z "$(ext claimedPublicKey)" ]
}

@test "plcAuditLog: alice's key and PDS come from the real PLC's verified operation log" {
    push_signed t1log
    # the official @did-plc/server's /log/audit, verified from the genesis hash down
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{"plcAuditLog": true}' \
        "$(jq -n --arg did "$ALICE" --arg pds "$PDS" \
            '{isSuccess: true, extensions: {did: $did, pds: $pds, keyType: "K-256"}}')"
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
    curl -sS --max-time 5 "$PLC/$ALICE/log/audit" | jq -e 'length >= 1 and .[0].operation.type == "plc_operation"'
    # atcr-verify the same way, through its flag
    run --separate-stderr "$ATV_BUILD/atcr-verify" "$REGISTRY/atv/e2e@$IMG" --trusted-did "$ALICE" \
        --plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle --plc-audit-log \
        --cache-dir "$BATS_TEST_TMPDIR/cli-cache" -o json
    echo "$output"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met'
}

@test "a DID outside trustedDIDs is UNTRUSTED_SIGNER" {
    push_signed t2
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" "$(jq -n --arg bob "$BOB" '{trustedDIDs: [$bob]}')" \
        '{"isSuccess": false, "reason": "UNTRUSTED_SIGNER", "absent": ["recordCid", "commitRev"]}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "deleting the record afterwards revokes the signature (RECORD_NOT_FOUND)" {
    push_signed t3
    sample "$BATS_TEST_TMPDIR/ok.json" "$IMG" "$SIG" "$SIGSIZE" '{}' '{"isSuccess": true}'
    verify "$BATS_TEST_TMPDIR/ok.json"
    [ "$status" -eq 0 ]
    signer delete-record alice "$IMG"
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        '{"isSuccess": false, "reason": "RECORD_NOT_FOUND"}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "the record rewritten for another digest is DIGEST_MISMATCH" {
    push_signed t4
    other=$(signer push-image alice t4-other)
    [ "$other" != "$IMG" ]
    signer rewrite-record alice "$IMG" "$other"
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        '{"isSuccess": false, "reason": "DIGEST_MISMATCH"}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "an artifact naming another DID: that DID's repository has no such record" {
    # bob writes the record in his own repository but the artifact says alice
    # (did, recordUri, keyId: a consistent lie). alice is trusted, so the
    # chain goes on to HER DID document and HER repository, where no record
    # for this digest exists: RECORD_NOT_FOUND. bob's record never counts.
    IMG=$(signer push-image bob t5)
    read -r SIG SIGSIZE <<< "$(signer sign-claiming bob "$IMG" --did "$ALICE")"
    [ "$(jq -r .claims.did "$STATE/artifacts/${SIG#sha256:}.json")" = "$ALICE" ]
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        '{"isSuccess": false, "reason": "RECORD_NOT_FOUND"}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
    # trusting only the real signer does not help: the claimed DID decides, and is untrusted
    sample "$BATS_TEST_TMPDIR/b.json" "$IMG" "$SIG" "$SIGSIZE" "$(jq -n --arg bob "$BOB" '{trustedDIDs: [$bob]}')" \
        '{"isSuccess": false, "reason": "UNTRUSTED_SIGNER"}'
    verify "$BATS_TEST_TMPDIR/b.json"
    [ "$status" -eq 0 ]
}

@test "an artifact claiming another PDS verifies against the real one" {
    IMG=$(signer push-image alice t6)
    read -r SIG SIGSIZE <<< "$(signer sign-claiming alice "$IMG" --pds https://pds.attacker.test)"
    [ "$(jq -r .claims.pdsEndpoint "$STATE/artifacts/${SIG#sha256:}.json")" = https://pds.attacker.test ]
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        "$(jq -n --arg pds "$PDS" --arg did "$ALICE" '{isSuccess: true, extensions: {pds: $pds, did: $did}}')"
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "an image pushed without a record is RECORD_NOT_FOUND" {
    read -r IMG SIG SIGSIZE <<< "$(signer push-unsigned alice t7)"
    [ -n "$SIGSIZE" ]
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        '{"isSuccess": false, "reason": "RECORD_NOT_FOUND"}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "a second account's key verifies its own records only" {
    # bob's own signature verifies (and names bob) ...
    push_signed t8-bob bob
    sample "$BATS_TEST_TMPDIR/own.json" "$IMG" "$SIG" "$SIGSIZE" \
        "$(jq -n --arg a "$ALICE" --arg b "$BOB" '{trustedDIDs: [$a, $b]}')" \
        "$(jq -n --arg b "$BOB" '{isSuccess: true, extensions: {did: $b}}')"
    verify "$BATS_TEST_TMPDIR/own.json"
    [ "$status" -eq 0 ]
    # ... but bob's artifact (his DID, handle and key) pointing at alice's
    # record for an image alice signed is not a signature by anyone: a
    # recordUri in another DID's repository than the artifact's DID is
    # rejected by the artifact check itself, before any identity traffic
    # (BAD_SIGNATURE_ARTIFACT), so alice's commit is never checked with
    # bob's key nor credited to bob
    push_signed t8-alice alice
    read -r SIG SIGSIZE <<< "$(signer sign-claiming bob "$IMG" --record-of alice)"
    [ "$(jq -r .claims.recordUri "$STATE/artifacts/${SIG#sha256:}.json")" = \
      "at://$ALICE/io.atcr.manifest/${IMG#sha256:}" ]
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" \
        "$(jq -n --arg a "$ALICE" --arg b "$BOB" '{trustedDIDs: [$a, $b]}')" \
        '{"isSuccess": false, "reason": "BAD_SIGNATURE_ARTIFACT", "absent": ["recordCid", "keyId"]}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "PDS stopped: fails closed within the deadline, and recovers when it is back" {
    push_signed t9
    sh integration/stack/down.sh "$STATE" pds
    run ! curl -s --max-time 2 -o /dev/null "${PDS/localhost/127.0.0.1}/xrpc/_health"
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{"timeoutMs": 2000}' '{"isSuccess": false}'
    verify "$BATS_TEST_TMPDIR/s.json"
    sh integration/stack/up.sh "$STATE" pds
    [ "$status" -eq 0 ]
    reason=$(ext reason)
    [ "$reason" = PDS_ERROR ] || [ "$reason" = TIMEOUT ]
    elapsed=$(printf '%s' "$output" | jq -r .elapsedMs)
    echo "elapsed ${elapsed} ms"
    awk -v e="$elapsed" 'BEGIN { exit !(e < 3000) }'
    # the same request succeeds once the PDS is back on its port
    sample "$BATS_TEST_TMPDIR/ok.json" "$IMG" "$SIG" "$SIGSIZE" '{"timeoutMs": 2000}' '{"isSuccess": true}'
    verify "$BATS_TEST_TMPDIR/ok.json"
    [ "$status" -eq 0 ]
}

@test "PDS hung (accepts, never answers): TIMEOUT within the deadline" {
    push_signed t9b
    sh integration/stack/down.sh "$STATE" pds freeze
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{"timeoutMs": 1500}' \
        '{"isSuccess": false, "reason": "TIMEOUT"}'
    verify "$BATS_TEST_TMPDIR/s.json"
    sh integration/stack/up.sh "$STATE" pds
    [ "$status" -eq 0 ]
    elapsed=$(printf '%s' "$output" | jq -r .elapsedMs)
    echo "elapsed ${elapsed} ms"
    awk -v e="$elapsed" 'BEGIN { exit !(e >= 1000 && e < 2500) }'
}

@test "PLC stopped: IDENTITY_ERROR with a cold DID cache, success with a warm one" {
    push_signed t10
    warm="$BATS_TEST_TMPDIR/didcache"
    mkdir -p "$warm"
    patch=$(jq -n --arg c "$warm" '{cacheDir: $c, didCacheTTL: 300}')
    sample "$BATS_TEST_TMPDIR/warmup.json" "$IMG" "$SIG" "$SIGSIZE" "$patch" '{"isSuccess": true}'
    verify "$BATS_TEST_TMPDIR/warmup.json"
    [ "$status" -eq 0 ]
    sh integration/stack/down.sh "$STATE" plc
    run ! curl -s --max-time 2 -o /dev/null "$PLC/_health"
    # cold: a fresh cache directory per run (@CACHE@)
    sample "$BATS_TEST_TMPDIR/cold.json" "$IMG" "$SIG" "$SIGSIZE" '{"timeoutMs": 2000}' \
        '{"isSuccess": false, "reason": "IDENTITY_ERROR"}'
    verify "$BATS_TEST_TMPDIR/cold.json"
    cold_status=$status cold_output=$output
    # warm: the DID document from the first run
    sample "$BATS_TEST_TMPDIR/warm.json" "$IMG" "$SIG" "$SIGSIZE" "$patch" \
        "$(jq -n --arg pds "$PDS" '{isSuccess: true, extensions: {pds: $pds}}')"
    verify "$BATS_TEST_TMPDIR/warm.json"
    warm_status=$status
    sh integration/stack/up.sh "$STATE" plc
    echo "cold: $cold_output"
    [ "$cold_status" -eq 0 ]
    [ "$warm_status" -eq 0 ]
    # the restarted PLC replayed its operations: alice resolves, a cold run verifies
    curl -sS --max-time 5 -f "$PLC/$ALICE" | jq -e --arg d "$ALICE" '.id == $d'
    sample "$BATS_TEST_TMPDIR/again.json" "$IMG" "$SIG" "$SIGSIZE" '{}' '{"isSuccess": true}'
    verify "$BATS_TEST_TMPDIR/again.json"
    [ "$status" -eq 0 ]
}

@test "the artifact's key claim in this PLC's legacy form is recognised as the DID document's key" {
    # signer.js copies publicKeyMultibase from the DID document, as ATCR's
    # AppView does; this PLC publishes the legacy form (z + base58 of the
    # 65-byte point). The claim is the same key, so the verdict must not
    # report it as a differing claim (claimedPublicKey, and a warn: line).
    push_signed t12
    sample "$BATS_TEST_TMPDIR/s.json" "$IMG" "$SIG" "$SIGSIZE" '{}' \
        '{"isSuccess": true, "absent": ["claimedPublicKey"]}'
    verify "$BATS_TEST_TMPDIR/s.json"
    [ "$status" -eq 0 ]
}

@test "every server of the stack listens on 127.0.0.1 only" {
    for name in registry plc pds; do
        tpid=$(cat "$STATE/$name.pid")
        for k in $(ps -o pid= --ppid "$tpid"); do
            socks=$(ss -Htlnp | grep "pid=$k,")
            echo "$name: $socks"
            [ -n "$socks" ]
            [ -z "$(printf '%s\n' "$socks" | awk '$4 !~ /^127\.0\.0\.1:/')" ]
        done
    done
}

@test "atcr-verify serve over the real stack: /verify, Gatekeeper and an AdmissionReview agree" {
    push_signed t13
    good="$REGISTRY/atv/e2e@$IMG"
    push_signed t13b bob
    bobimg="$REGISTRY/atv/e2e@$IMG"
    d="$BATS_TEST_TMPDIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
    timeout 120 "$ATV_BUILD/atcr-verify" serve --listen 127.0.0.1:0 --tls-cert "$d/cert.pem" \
        --tls-key "$d/key.pem" --lame-duck 0 --trusted-did "$ALICE" --plc "$PLC" \
        --allow-loopback-http --insecure-http --no-verify-handle --cache-dir "$d/cache" \
        2> "$d/serve.log" &
    srv=$!
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$d/serve.log" 2>/dev/null && break
        sleep 0.05
    done
    port=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$d/serve.log")
    [ -n "$port" ] || { cat "$d/serve.log"; kill "$srv"; false; }
    r=$(curl -sS --max-time 20 --cacert "$d/cert.pem" -w '\n%{http_code}' \
        "https://127.0.0.1:$port/verify?image=$good")
    echo "$r"
    [ "$(tail -n 1 <<< "$r")" = 200 ]
    r=$(curl -sS --max-time 20 --cacert "$d/cert.pem" -w '\n%{http_code}' \
        "https://127.0.0.1:$port/verify?image=$bobimg")
    [ "$(tail -n 1 <<< "$r")" = 403 ]
    sed '$d' <<< "$r" | jq -e '.reason == "UNTRUSTED_SIGNER"'
    run node integration/gatekeeper/gk-client.js --url "https://127.0.0.1:$port/gatekeeper/verify" \
        --ca "$d/cert.pem" "$good,$bobimg"
    echo "$output"
    echo "$output" | jq -e --arg b "$bobimg" '.rego.system_error == "" and (.deny | length) == 1 and
        (.deny[0] | contains($b))'
    jq -nc --arg i "$good" '{apiVersion: "v1", kind: "Pod", metadata: {name: "p", namespace: "n"},
        spec: {containers: [{name: "c", image: $i}]}}' > "$d/pod.json"
    run node integration/admission/apiserver.js --base "https://127.0.0.1:$port" --ca "$d/cert.pem" \
        "$d/pod.json"
    echo "$output"
    echo "$output" | jq -e '.admitted == true and .mutate.patch == []'
    kill -TERM "$srv"
    wait "$srv"
}
