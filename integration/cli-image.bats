#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify IMAGE, discover and bundle export against the loopback fixture
# stack (integration/fixture/up.sh: Debian's docker-registry and a PLC/PDS
# serving repositories made by the official TypeScript libraries).
# The offline round trip runs with networking cut off (unshare -n).

load fixture/stack

setup_file() { fixture_up; }
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    BOB=$(jq -r .accounts.bob.did "$FX")
    MALLORY=$(jq -r .accounts.mallory.did "$FX")
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle
         --cache-dir "$BATS_TEST_TMPDIR/cache")
    IMG="$REGISTRY/atv/app"
}

policy() { # FILE: writes a trust policy from stdin
    cat > "$BATS_TEST_TMPDIR/$1"
    echo "$BATS_TEST_TMPDIR/$1"
}

@test "discover lists the signature artifacts, text and json" {
    run "$CLI" discover "$IMG:good" --insecure-http
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[1]}" == *"signer claims $ALICE"* ]]
    run --separate-stderr "$CLI" discover "$IMG:multi" --insecure-http -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '(.referrers | length) == 2 and
        ([.referrers[].artifactType] | unique) == ["application/vnd.atproto.signature.v1+json"]'
    # an image without referrers lists none, and that is not an error
    run --separate-stderr "$CLI" discover "$IMG:ghost" --insecure-http -o json
    [ "$status" -eq 0 ]
}

@test "a signed image meets a trustedDIDs policy (exit 0), text and json" {
    run "$CLI" "$IMG:good" --trusted-did "$ALICE" "${NET[@]}"
    [ "$status" -eq 0 ]
    [[ "$output" == *"PASS "* ]] && [[ "$output" == *": met"* ]]
    run --separate-stderr "$CLI" "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg d "$ALICE" '.policyMet == true and .verifiedSigners == 1 and
        .signatures[0].did == $d and .signatures[0].keyType == "K-256" and
        .signatures[0].isSuccess == true and (.subjectDigest | startswith("sha256:"))'
}

@test "failures exit 1 with the reason on the signature's line" {
    run "$CLI" "$IMG:revoked" --trusted-did "$ALICE" "${NET[@]}"
    [ "$status" -eq 1 ]
    [[ "$output" == *"FAIL "*"RECORD_NOT_FOUND"* ]] && [[ "$output" == *"NOT met"* ]]
    run --separate-stderr "$CLI" "$IMG:good" --trusted-did "$BOB" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.policyMet == false and .signatures[0].reason == "UNTRUSTED_SIGNER"'
    run --separate-stderr "$CLI" "$IMG:rewritten" --trusted-did "$ALICE" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.signatures[0].reason == "DIGEST_MISMATCH"'
    # nothing trusted at all
    run --separate-stderr "$CLI" "$IMG:good" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
}

@test "minSignatures counts distinct trusted DIDs over several signatures" {
    both=$(policy both.yaml <<EOF
policies:
  - name: two-signers
    scope: "**"
    require: { trustedDIDs: [$ALICE, $BOB], minSignatures: 2 }
EOF
)
    run --separate-stderr "$CLI" "$IMG:multi" --policy "$both" "${NET[@]}" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.verifiedSigners == 2 and .minSignatures == 2 and .policyMet'
    # the same policy on an image signed by alice only: 1 of 2
    run "$CLI" "$IMG:good" --policy "$both" "${NET[@]}"
    [ "$status" -eq 1 ]
    [[ "$output" == *"1 of 2 required signers: NOT met"* ]]
    # one good and one bad signature: the bad one does not count
    am=$(policy am.yaml <<EOF
policies:
  - name: alice-and-mallory
    scope: "**"
    require: { trustedDIDs: [$ALICE, $MALLORY], minSignatures: 2 }
EOF
)
    run --separate-stderr "$CLI" "$IMG:multibad" --policy "$am" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.verifiedSigners == 1 and
        ([.signatures[] | select(.isSuccess == false) | .reason] == ["SIGNATURE_INVALID"])'
    # a policy that needs one: the valid signature is enough
    run "$CLI" "$IMG:multibad" --trusted-did "$ALICE" --trusted-did "$MALLORY" "${NET[@]}"
    [ "$status" -eq 0 ]
}

@test "policy scopes: matching, not matching, expired and audit" {
    scoped=$(policy scoped.yaml <<EOF
policies:
  - name: atv-app
    scope: "127.0.0.1:*/atv/app"
    require: { trustedDIDs: [$ALICE] }
EOF
)
    run "$CLI" "$IMG:good" --policy "$scoped" "${NET[@]}"
    [ "$status" -eq 0 ]
    [[ "$output" == *"policy atv-app (enforce)"* ]]
    other=$(policy other.yaml <<EOF
policies:
  - name: elsewhere
    scope: "registry.example.com/**"
    require: { trustedDIDs: [$ALICE] }
EOF
)
    run --separate-stderr "$CLI" "$IMG:good" --policy "$other" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    # no scope: refused before any signature is fetched
    echo "$output" | jq -e '.policyMet == false and .met == false and .reason == "POLICY_DENIED" and
        (.signatures | length) == 0'
    expired=$(policy expired.yaml <<EOF
trustedDIDs:
  $ALICE: { validFrom: "2020-01-01T00:00:00Z", expiresAt: "2021-01-01T00:00:00Z" }
policies:
  - name: expired
    scope: "**"
EOF
)
    run --separate-stderr "$CLI" "$IMG:good" --policy "$expired" "${NET[@]}" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.signatures[0].reason == "UNTRUSTED_SIGNER" and
        .signatures[0].detail == "did_expired"'
    audit=$(policy audit.yaml <<EOF
policies:
  - name: watch
    scope: "**"
    require: { trustedDIDs: [$BOB] }
    action: audit
EOF
)
    run "$CLI" "$IMG:good" --policy "$audit" "${NET[@]}"
    [ "$status" -eq 0 ]
    [[ "$output" == *"FAIL"*"UNTRUSTED_SIGNER"* ]] && [[ "$output" == *"NOT met, allowed"* ]]
}

@test "--config takes the plugin's parameters; flags win over it" {
    jq -n --arg plc "$PLC" --arg a "$ALICE" --arg c "$BATS_TEST_TMPDIR/cc" \
        '{trustedDIDs: [$a], plcDirectory: $plc, allowLoopbackHTTP: true, verifyHandle: false,
          cacheDir: $c}' > "$BATS_TEST_TMPDIR/params.json"
    run "$CLI" "$IMG:good" --config "$BATS_TEST_TMPDIR/params.json" --insecure-http
    [ "$status" -eq 0 ]
    run --separate-stderr "$CLI" "$IMG:good" --config "$BATS_TEST_TMPDIR/params.json" --insecure-http \
        --plc http://127.0.0.1:1 --did-cache-ttl 0 -o json
    # a directory that refuses connections: a retry could change that (exit 2)
    [ "$status" -eq 2 ]
    echo "$output" | jq -e '.signatures[0].reason == "IDENTITY_ERROR" and .reason == "IDENTITY_ERROR" and
        .transient'
    echo '{"timeoutMs": "fast"}' > "$BATS_TEST_TMPDIR/bad.json"
    run "$CLI" "$IMG:good" --config "$BATS_TEST_TMPDIR/bad.json"
    [ "$status" -eq 2 ] && [[ "$output" == *timeoutMs* ]]
}

@test "bundle export, then offline verification with networking cut off" {
    unshare -n true || { echo "unshare -n is not available here" >&2; return 1; }
    b="$BATS_TEST_TMPDIR/bundle.json"
    run "$CLI" bundle export "$IMG:multi" --trusted-did "$ALICE" --trusted-did "$BOB" \
        "${NET[@]}" -o "$b"
    [ "$status" -eq 0 ] && [ -s "$b" ]
    jq -e '.format == "atcr-verify-bundle" and ([.entries[].kind] | index("record")) != null' "$b"
    # no network namespace route at all: any attempt would fail the run
    run --separate-stderr unshare -n "$CLI" "$IMG:multi" --trusted-did "$ALICE" --trusted-did "$BOB" \
        "${NET[@]}" --offline --bundle "$b" -o json
    [ "$status" -eq 0 ]
    # minSignatures 1: the first verified signer meets the policy, and the run stops there
    echo "$output" | jq -e '.verifiedSigners == 1 and .met and (.evidenceFetchedAt | endswith("Z")) and
        .evidenceAgeSeconds >= 0'
    run unshare -n "$CLI" "$IMG:multi" --trusted-did "$ALICE" --trusted-did "$BOB" \
        "${NET[@]}" --offline --bundle "$b"
    [[ "$output" == *"offline: evidence fetched at"* ]]
    run --separate-stderr unshare -n "$CLI" discover "$IMG:multi" --offline --bundle "$b" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '(.referrers | length) == 2'
}

@test "--bundle-dir (the plugin's bundleDir): offline from a directory of bundles" {
    d="$BATS_TEST_TMPDIR/bundles"
    mkdir -p "$d"
    "$CLI" bundle export "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" -o "$d/good.json" > /dev/null 2>&1
    "$CLI" bundle export "$IMG:bob" --trusted-did "$BOB" "${NET[@]}" -o "$d/bob.json" > /dev/null 2>&1
    run --separate-stderr unshare -n "$CLI" "$IMG:bob" --trusted-did "$BOB" "${NET[@]}" \
        --bundle-dir "$d" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.verifiedSigners == 1 and .evidenceFetchedAt != null'
    # an image no bundle knows: an operational error, never the network
    run unshare -n "$CLI" "$IMG:multi" --trusted-did "$ALICE" "${NET[@]}" --bundle-dir "$d"
    [ "$status" -eq 2 ]
    run "$CLI" "$IMG:bob" --bundle-dir "$d" --bundle "$d/bob.json"
    [ "$status" -eq 2 ]
}

@test "a tampered bundle fails: record, the key in the operation log, manifest" {
    b="$BATS_TEST_TMPDIR/bundle.json"
    "$CLI" bundle export "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" -o "$b" > /dev/null 2>&1
    flip() { # KIND: flips the low bit of the middle byte of that entry's data
        raw="$BATS_TEST_TMPDIR/raw"
        jq -r --arg k "$1" '.entries[] | select(.kind == $k) | .data' "$b" | base64 -d > "$raw"
        off=$(( $(wc -c < "$raw") / 2 ))
        byte=$(dd if="$raw" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
        # shellcheck disable=SC2059
        printf "$(printf '\\%03o' $(( byte ^ 1 )))" |
            dd of="$raw" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
        jq --arg k "$1" --arg d "$(base64 -w0 "$raw")" \
            '(.entries[] | select(.kind == $k) | .data) = $d' "$b" > "$BATS_TEST_TMPDIR/t.json"
        ! cmp -s "$b" "$BATS_TEST_TMPDIR/t.json"
    }
    flip record
    run --separate-stderr unshare -n "$CLI" "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" --offline \
        --bundle "$BATS_TEST_TMPDIR/t.json" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.signatures[0].isSuccess == false'
    # another account's key in alice's operation log: its signatures no longer hold
    bobkey=$(jq -r .accounts.bob.didKey "$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json")
    jq --arg k "$bobkey" '(.entries[] | select(.kind == "plclog") | .data) |=
        (@base64d | fromjson | .[-1].operation.verificationMethods.atproto = $k | tojson | @base64)' \
        "$b" > "$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" --offline \
        --bundle "$BATS_TEST_TMPDIR/t.json" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.signatures[0].reason == "IDENTITY_ERROR" and
        .signatures[0].detail == "plc_log_invalid"'
    flip blob
    run --separate-stderr unshare -n "$CLI" "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" --offline \
        --bundle "$BATS_TEST_TMPDIR/t.json" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.signatures[0].reason == "DIGEST_MISMATCH"'
    # not a bundle at all
    echo '{"format":"atcr-verify-bundle","version":1,"entries":{}}' > "$BATS_TEST_TMPDIR/t.json"
    run "$CLI" "$IMG:good" --trusted-did "$ALICE" --offline --bundle "$BATS_TEST_TMPDIR/t.json"
    [ "$status" -eq 2 ]
}

@test "the plugin answers from a bundleDir with networking cut off" {
    d="$BATS_TEST_TMPDIR/bundles"
    mkdir -p "$d"
    "$CLI" bundle export "$IMG:good" --trusted-did "$ALICE" "${NET[@]}" -o "$d/good.json" 2>/dev/null
    echo 'not a bundle' > "$d/junk.json"
    req=$(jq -c --arg d "$d" --arg plc "$PLC" --arg c "$BATS_TEST_TMPDIR/pc" \
        '.stdin | .config.bundleDir = $d | .config.plcDirectory = $plc | .config.cacheDir = $c' \
        "$BATS_TEST_DIRNAME/../testdata/ratify/success-k256.json")
    subj=$(jq -r .env.RATIFY_VERIFIER_SUBJECT "$BATS_TEST_DIRNAME/../testdata/ratify/success-k256.json")
    subj=${subj/@REGISTRY@/$REGISTRY}
    out=$(printf '%s' "$req" | RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT="$subj" \
        RATIFY_VERIFIER_VERSION=1.0.0 unshare -n "$BUILD/atproto" 2>/dev/null)
    echo "$out" | jq -e '.isSuccess == true and .extensions.evidenceFetchedAt != null'
    # a signature no bundle holds: refused, never fetched
    req2=$(echo "$req" | jq -c '.referenceDesc.digest = "sha256:" + ("0" * 64)')
    out=$(printf '%s' "$req2" | RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT="$subj" \
        RATIFY_VERIFIER_VERSION=1.0.0 unshare -n "$BUILD/atproto" 2>/dev/null)
    echo "$out" | jq -e '.isSuccess == false and .extensions.reason == "REGISTRY_ERROR"'
}

@test "usage and operational errors exit 2" {
    run "$CLI" "$IMG:good" --offline
    [ "$status" -eq 2 ]
    run "$CLI" "$IMG:good" --trusted-did "$ALICE" --policy /nonexistent.yaml
    [ "$status" -eq 2 ]
    run "$CLI" "$IMG:good" --trusted-did not-a-did
    [ "$status" -eq 2 ] && [[ "$output" == *trustedDIDs* ]]
    run "$CLI" "$IMG:good" --username u
    [ "$status" -eq 2 ]
    run "$CLI" "127.0.0.1:1/atv/app:good" --trusted-did "$ALICE" --insecure-http
    [ "$status" -eq 2 ] && [[ "$output" == *REGISTRY_ERROR* ]]
    run "$CLI" bundle nope
    [ "$status" -eq 2 ]
    for c in "" discover "bundle export"; do
        # shellcheck disable=SC2086
        run "$CLI" $c --help
        [ "$status" -eq 0 ] && [[ "$output" == usage:* ]]
    done
}

@test "explicit credentials from --password-stdin reach a Basic-auth registry" {
    s="$BATS_TEST_TMPDIR/reg"
    sh "$BATS_TEST_DIRNAME/registry/up.sh" "$s" htpasswd > /dev/null 2>&1
    . "$s/env"
    run --separate-stderr sh -c "printf 's3cret\n' | '$CLI' discover '$HOSTPORT/sig/app:v1' --insecure-http \
        --username alice --password-stdin -o json"
    ok=$status
    run sh -c "printf 'wrong\n' | '$CLI' discover '$HOSTPORT/sig/app:v1' --insecure-http \
        --username alice --password-stdin"
    bad=$status
    sh "$BATS_TEST_DIRNAME/registry/down.sh" "$s" > /dev/null 2>&1 || true
    [ "$ok" -eq 0 ] && [ "$bad" -eq 2 ]
}
