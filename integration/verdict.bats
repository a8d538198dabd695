#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# One verdict per image, the same in the Ratify plugin and in atcr-verify
# (verify/image.c). The regression tests of issue 11's findings are named
# "finding N": each failed on the code before the image verdict existed.
# Runs against the loopback fixture stack (integration/fixture/up.sh).

load fixture/stack

setup_file() { fixture_up; }
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    BOB=$(jq -r .accounts.bob.did "$FX")
    MALLORY=$(jq -r .accounts.mallory.did "$FX")
    STALL=$(jq -r .accounts.stall.did "$FX")
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle
         --cache-dir "$T/cache")
}

digest() { jq -r ".images.$1.digest" "$FX"; }
sig() { # IMAGE N: the Nth signature manifest's digest and size
    jq -r ".images.$1.signatures[$2] | \"\(.manifestDigest) \(.manifestSize)\"" "$FX"
}

# Runs the plugin as Ratify does: SUBJECT, SIG-DIGEST, SIZE, CONFIG-JSON (merged
# into the defaults below). The VerifierResult line in $output.
plugin() { # SUBJECT SIGDIGEST SIZE CONFIG-JQ
    jq -n --arg plc "$PLC" --arg cache "$T/cache" --arg sig "$2" --argjson size "$3" \
        --arg http "${STORE_HTTP:-1}" '{
        config: {name: "verifier-atproto", type: "atproto", plcDirectory: $plc,
                 allowLoopbackHTTP: true, cacheDir: $cache, verifyHandle: false},
        storeConfig: {version: "1.0.0", store: {name: "oras", useHttp: ($http == "1")}},
        referenceDesc: {mediaType: "application/vnd.oci.image.manifest.v1+json",
                        digest: $sig, size: $size,
                        artifactType: "application/vnd.atproto.signature.v1+json"}}' |
        jq -c ".config += ($4)" > "$T/req.json"
    run --separate-stderr env RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT="$1" \
        RATIFY_VERIFIER_VERSION=1.0.0 "$PLUGIN" < "$T/req.json"
    echo "stdout: $output"
    echo "stderr: $stderr"
}

policy() { # FILE: writes a trust policy from stdin
    cat > "$T/$1"
    echo "$T/$1"
}

@test "finding 2: the plugin enforces minSignatures over the image's signatures" {
    p=$(policy two.yaml <<EOF
policies:
  - name: two
    scope: "$REGISTRY/atv/**"
    require:
      trustedDIDs: [$ALICE, $BOB]
      minSignatures: 2
EOF
)
    # good: signed by alice only. Before: isSuccess true.
    read -r s size < <(sig good 0)
    plugin "$REGISTRY/atv/app@$(digest good)" "$s" "$size" "{trustPolicy: \"$p\"}"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.isSuccess == false and
        .extensions.reason == "INSUFFICIENT_SIGNATURES" and .extensions.detail == "have 1 of 2" and
        .extensions.minSignatures == "2" and .extensions.did == "'"$ALICE"'"'
    # the CLI refuses the same image with the same file, for the same reason
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$p" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.allowed == false and .met == false and
        .reason == "INSUFFICIENT_SIGNATURES"'
    # multi: alice and bob; each of its two artifacts answers isSuccess true
    for i in 0 1; do
        read -r s size < <(sig multi $i)
        plugin "$REGISTRY/atv/app@$(digest multi)" "$s" "$size" "{trustPolicy: \"$p\"}"
        echo "$output" | jq -e --arg a "$ALICE" --arg b "$BOB" '.isSuccess == true and
            (.extensions.signers | split(",") | sort) == ([$a, $b] | sort) and
            (.extensions | has("reason") | not)'
    done
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:multi" --policy "$p" "${NET[@]}" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met and .verifiedSigners == 2 and
        (.signers | length) == 2'
}

@test "with minSignatures 1 the plugin decides on its own artifact, without discovery" {
    read -r s size < <(sig good 0)
    plugin "$REGISTRY/atv/app@$(digest good)" "$s" "$size" "{trustedDIDs: [\"$ALICE\"]}"
    # the artifact's own words: it decided alone
    echo "$output" | jq -e '.isSuccess == true and .extensions.signers == "'"$ALICE"'" and
        (.message | startswith("ATProto signature verified"))' 
    # its artifact fails: its own reason, whatever the others say
    read -r s size < <(sig multibad 1)
    plugin "$REGISTRY/atv/app@$(digest multibad)" "$s" "$size" \
        "{trustedDIDs: [\"$ALICE\", \"$MALLORY\"]}"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "SIGNATURE_INVALID"'
}

@test "finding 1: a registry spelled differently does not escape its scope (plugin, CLI)" {
    empty="$T/bundles"
    mkdir -p "$empty"
    p=$(policy scopes.yaml <<EOF
version: 1
trustedDIDs:
  $ALICE:
policies:
  - name: acme-prod
    scope: "atcr.io/acme/**"
    action: enforce
  - name: hub-library
    scope: "docker.io/library/*"
    action: enforce
  - name: everything-else
    scope: "**"
    action: audit
EOF
)
    d=sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28
    s=sha256:4a1d11c84c9f3f6cbb0e2d75b5577921e241fd61da75cf5179564f4f9e95076e
    # no network at all (an empty bundleDir): what decides is the policy chosen;
    # HTTPS (no useHttp), where :443 is the default port
    export STORE_HTTP=0
    for ref in "ATCR.IO/acme/app@$d" "Atcr.io/acme/app@$d" "atcr.io:443/acme/app@$d" \
               "atcr.io/acme/app@$d"; do
        plugin "$ref" "$s" 880 "{trustPolicy: \"$p\", bundleDir: \"$empty\"}"
        echo "$output" | jq -e '.isSuccess == false and .extensions.policy == "acme-prod"'
    done
    for ref in "DOCKER.IO/library/app@$d" "index.docker.io/library/app@$d" "docker.io/app@$d" \
               "app@$d" "registry-1.docker.io/library/app@$d"; do
        plugin "$ref" "$s" 880 "{trustPolicy: \"$p\", bundleDir: \"$empty\"}"
        echo "$output" | jq -e '.isSuccess == false and .extensions.policy == "hub-library"'
    done
    # the catch-all still audits what is really elsewhere
    plugin "ghcr.io/acme/app@$d" "$s" 880 "{trustPolicy: \"$p\", bundleDir: \"$empty\"}"
    echo "$output" | jq -e '.isSuccess == true and .extensions.audit == true and
        .extensions.policy == "everything-else"'
    # a trailing-dot host is refused rather than made a third spelling
    plugin "atcr.io./acme/app@$d" "$s" 880 "{trustPolicy: \"$p\", bundleDir: \"$empty\"}"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "BAD_REQUEST"'
    # the CLI chooses the same policy and refuses
    run --separate-stderr "$CLI" "ATCR.IO/acme/app@$d" --policy "$p" --bundle-dir "$empty" -o json
    echo "$output"
    [ "$status" -ne 0 ]
    echo "$output" | jq -e '.allowed == false and .policy == "acme-prod" and
        .reference == "atcr.io/acme/app@sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28"'
}

@test "a scope naming a tag or digest is a policy error with a hint" {
    p=$(policy tagged.yaml <<EOF
policies:
  - name: tagged
    scope: "$REGISTRY/atv/app:*"
    require: {trustedDIDs: [$ALICE]}
EOF
)
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$p" "${NET[@]}"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"HOST[:PORT]/REPOSITORY"* ]]
}

@test "finding 5: the seed's own trust-policy example loads and decides" {
    seed="$BATS_TEST_DIRNAME/../testdata/policy/seed-example.yaml"
    [ -f "$seed" ]
    # before: exit 2 (numeric version, require as a list, expiresAt null)
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$seed" "${NET[@]}" -o json
    echo "$stderr"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "POLICY_DENIED" and .allowed == false'
    # dev-*: no signature required: allowed at once, with no network at all
    run --separate-stderr "$CLI" "atcr.io/acme/dev-tools:v1" --policy "$seed" \
        --plc http://127.0.0.1:1 -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met and .policy == "dev-images" and
        (.message | test("requires no signature"))'
    # prod-*: enforced; the registry does not exist: refused (transient: exit 2), never allowed
    run --separate-stderr "$CLI" "127.0.0.1:1/acme/prod-api:v1" --policy "$seed" --insecure-http \
        --timeout 1000 -o json
    [ "$status" -ne 0 ]
}

@test "signature: false means no verification and no network; audit never errors" {
    p=$(policy optional.yaml <<EOF
policies:
  - name: optional
    scope: "**"
    require: {signature: false}
EOF
)
    # a registry that refuses connections: nothing is asked of it
    run --separate-stderr "$CLI" "127.0.0.1:1/x/y:v1" --policy "$p" --insecure-http -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met and (.signatures | length) == 0'
    p=$(policy audit.yaml <<EOF
trustedDIDs:
  $ALICE:
policies:
  - name: watch
    scope: "**"
    action: audit
EOF
)
    # a registry outage under an audit policy: allowed, with a warning, exit 0
    run --separate-stderr "$CLI" "127.0.0.1:1/x/y:v1" --policy "$p" --insecure-http \
        --timeout 1000 -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and (.met | not) and .audit and .transient'
    [[ "$stderr" == *"warn: "*"audit policy watch is not met"* ]]
}

@test "an unsigned image is NO_SIGNATURE; one signed by another is UNTRUSTED_SIGNER" {
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:ghost" --trusted-did "$ALICE" "${NET[@]}" -o json
    echo "$output"
    # ghost's signer has no DID document: IDENTITY_ERROR, definite
    [ "$status" -eq 1 ]
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:bob" --trusted-did "$ALICE" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "UNTRUSTED_SIGNER" and .transient == false'
}

@test "finding 4: a cache directory another user made is never read, and every run says so" {
    c="$T/foreign-cache"
    mkdir -m 0755 "$c"
    chown 65534:65534 "$c"
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --trusted-did "$ALICE" --plc "$PLC" \
        --allow-loopback-http --insecure-http --no-verify-handle --cache-dir "$c" -o json
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"rollback guard is off"* ]]
    echo "$output" | jq -e '.rollbackGuardOff == true'
    # and nothing was written there
    [ -z "$(ls -A "$c")" ]
    read -r s size < <(sig good 0)
    plugin "$REGISTRY/atv/app@$(digest good)" "$s" "$size" \
        "{trustedDIDs: [\"$ALICE\"], cacheDir: \"$c\"}"
    echo "$output" | jq -e '.isSuccess == true'
    [[ "$stderr" == *"rollback guard is off"* ]]
}

@test "--timeout is the whole run: a stalled DID never holds the CLI past it" {
    start=$(date +%s%N)
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:stall" --trusted-did "$STALL" \
        "${NET[@]}" --timeout 1500 -o json
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "status $status after $ms ms: $output"
    [ "$status" -eq 2 ]
    echo "$output" | jq -e '.transient == true and .reason == "TIMEOUT"'
    [ "$ms" -lt 3500 ]
}

# realm-leak.py REALM_HOST: a registry whose token realm is REALM_HOST; sets LEAK_PORT, LEAK_LOG
start_leak() {
    LEAK_LOG="$T/leak.log"
    : > "$LEAK_LOG"
    python3 "$BATS_TEST_DIRNAME/registry/realm-leak.py" "$1" "$LEAK_LOG" "$T/leak.ready" 120 \
        > "$T/leak.out" 2>&1 3>&- &
    echo $! > "$T/leak.pid"
    i=0
    while [ ! -s "$T/leak.ready" ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    LEAK_PORT=$(cat "$T/leak.ready")
    [ -n "$LEAK_PORT" ]
}

teardown() {
    if [ -s "$T/leak.pid" ]; then
        kill "$(cat "$T/leak.pid")" 2>/dev/null || true
    fi
}

@test "finding 3: Basic credentials never reach a token realm on another host in clear" {
    [ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m)"
    start_leak evil.test
    # evil.test is 127.0.0.1, for the client only (a private /etc/hosts)
    printf '127.0.0.1 localhost\n127.0.0.1 evil.test\n' > "$T/hosts"
    run --separate-stderr unshare -m --propagation private sh -c '
        mount --bind "$1" /etc/hosts || exit 125
        echo s3cret | "$2" discover "127.0.0.1:$3/atv/app:v1" --insecure-http --timeout 3000 \
            --username user --password-stdin' sh "$T/hosts" "$CLI" "$LEAK_PORT"
    echo "status $status: $stderr"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"REGISTRY_ERROR"* ]]
    # nothing, not even a request, went to the realm (before: "Basic dXNlcjpzM2NyZXQ=")
    [ ! -s "$LEAK_LOG" ]
    # the plugin, from a Docker config: the same refusal, with its detail
    mkdir -p "$T/docker"
    printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$LEAK_PORT" "$(printf user:s3cret | base64)" \
        > "$T/docker/config.json"
    jq -nc --arg c "$T/docker/config.json" --arg a "$ALICE" '{config: {name: "v", type: "atproto",
        trustedDIDs: [$a], timeoutMs: 3000},
        storeConfig: {version: "1.0.0", store: {name: "oras", useHttp: true,
                      authProvider: {name: "dockerConfig", configPath: $c}}},
        referenceDesc: {mediaType: "application/vnd.oci.image.manifest.v1+json", size: 880,
                        digest: "sha256:4a1d11c84c9f3f6cbb0e2d75b5577921e241fd61da75cf5179564f4f9e95076e"}}' \
        > "$T/leak-req.json"
    run --separate-stderr unshare -m --propagation private sh -c '
        mount --bind "$1" /etc/hosts || exit 125
        RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_VERSION=1.0.0 \
        RATIFY_VERIFIER_SUBJECT="127.0.0.1:$3/atv/app:v1" "$2" < "$4"' sh "$T/hosts" "$PLUGIN" \
        "$LEAK_PORT" "$T/leak-req.json"
    echo "$output"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "REGISTRY_ERROR" and
        .extensions.detail == "insecure_token_realm"'
    [ ! -s "$LEAK_LOG" ]
}

@test "a loopback token realm of a plain-HTTP registry still gets the credentials" {
    start_leak 127.0.0.1
    run --separate-stderr sh -c 'echo s3cret | "$1" discover "127.0.0.1:$2/atv/app:v1" \
        --insecure-http --timeout 3000 --username user --password-stdin' sh "$CLI" "$LEAK_PORT"
    echo "status $status: $stderr"
    # the control: the realm was asked, with the Basic credentials
    grep -qx "Basic $(printf user:s3cret | base64)" "$LEAK_LOG"
}

@test "a FIFO where a trust policy, a Docker config or a bundle should be answers at once" {
    mkfifo "$T/policy.yaml" "$T/docker.json"
    mkdir "$T/bundles"
    mkfifo "$T/bundles/x.json"
    d=sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28
    s=sha256:4a1d11c84c9f3f6cbb0e2d75b5577921e241fd61da75cf5179564f4f9e95076e
    # before: the plugin blocked in open(2) until its watchdog answered TIMEOUT
    start=$(date +%s%N)
    plugin "atcr.io/acme/app@$d" "$s" 880 "{trustPolicy: \"$T/policy.yaml\", timeoutMs: 5000}"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$ms ms"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "BAD_REQUEST" and
        (.message | test("not a regular file"))'
    [ "$ms" -lt 4000 ]
    # a FIFO in bundleDir is skipped with a warning; the run goes on without it
    plugin "atcr.io/acme/app@$d" "$s" 880 \
        "{trustedDIDs: [\"$ALICE\"], bundleDir: \"$T/bundles\", timeoutMs: 5000}"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "REGISTRY_ERROR"'
    [[ "$stderr" == *"skipping bundle x.json"*"not a regular file"* ]]
    # a FIFO for the Docker config: anonymous access with a warning, never a hang
    run --separate-stderr timeout 20 "$CLI" discover "$REGISTRY/atv/app:good" --insecure-http \
        --docker-config "$T/docker.json" --timeout 3000
    echo "status $status: $stderr"
    [ "$status" -eq 0 ]
}

@test "key pins: the DID's current key must be one its trustedDIDs entry pins (plugin, CLI, offline)" {
    # the DIDs and keys come from the fixture (it is regenerated with new DIDs)
    alice=$(jq -r .accounts.alice.did "$FX")
    alice_key=$(jq -r .accounts.alice.didKey "$FX")
    bob_key=$(jq -r .accounts.bob.didKey "$FX")
    pin() { # FILE KEY: a policy trusting alice with KEY pinned
        policy "$1" <<EOF2
trustedDIDs:
  "$alice":
    name: "Alice"
    keys: ["$2"]
policies:
  - {name: pinned, scope: "**"}
EOF2
    }
    right=$(pin right.yaml "$alice_key")
    # the bare multibase, as a DID document's publicKeyMultibase
    bare=$(pin bare.yaml "${alice_key#did:key:}")
    wrong=$(pin wrong.yaml "$bob_key")
    read -r s size < <(sig good 0)
    # online: the pinned key verifies (the run fills the DID cache)
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$right" "${NET[@]}" -o json
    [ "$status" -eq 0 ]
    plugin "$REGISTRY/atv/app@$(digest good)" "$s" "$size" "{trustPolicy: \"$bare\"}"
    echo "$output" | jq -e '.isSuccess == true'
    # another key pinned: refused by both, the DID document now from the cache
    plugin "$REGISTRY/atv/app@$(digest good)" "$s" "$size" "{trustPolicy: \"$wrong\"}"
    echo "$output" | jq -e --arg d "$alice" --arg k "$alice_key" '.isSuccess == false and
        .extensions.reason == "UNTRUSTED_SIGNER" and .extensions.detail == "key_not_pinned" and
        (.message | contains($d)) and (.message | contains($k)) and
        (.extensions | has("commitCid") | not)'
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$wrong" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.allowed == false and .reason == "UNTRUSTED_SIGNER" and
        .detail == "key_not_pinned"'
    # offline, from a bundle: the same answers
    "$CLI" bundle export "$REGISTRY/atv/app:good" --trusted-did "$alice" "${NET[@]}" \
        -o "$T/good.json" > /dev/null 2>&1
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$right" --offline \
        --bundle "$T/good.json" -o json
    [ "$status" -eq 0 ]
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$wrong" --offline \
        --bundle "$T/good.json" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "UNTRUSTED_SIGNER" and .detail == "key_not_pinned"'
    # a key that is no key is a policy error naming the entry
    bad=$(pin bad.yaml "did:key:zNotAKey")
    run --separate-stderr "$CLI" "$REGISTRY/atv/app:good" --policy "$bad" "${NET[@]}" -o json
    [ "$status" -eq 2 ]
    [[ "$stderr$output" == *"trustedDIDs[\"$alice\"].keys[0]: bad key"* ]]
}
