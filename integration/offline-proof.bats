#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Offline bundles that prove themselves (issue 13): findings 1 and 4 as tests, against the
# loopback fixture stack (integration/fixture/up.sh). Offline runs are under `unshare -n`.
#   finding 1: a bundle whose writer made up the identity (forger's own key and commit, a DID
#              document naming a trusted DID) passed all three offline paths;
#   finding 4: bundle export needed the signer to be trusted.
# forger and victim are the fixture's (testdata/ratify/README.md): the official libraries
# made forger's key and its commit for victim's DID, and the directory's document for victim
# names forger's key.

load fixture/stack

setup_file() { fixture_up; }
teardown_file() { fixture_down; }

setup() {
    fixture_env
    FXD="$BATS_TEST_DIRNAME/../testdata/ratify/fixture"
    VICTIM=$(jq -r .accounts.victim.did "$FX")
    FORGERKEY=$(jq -r .accounts.forger.signingDidKey "$FX")
    IMG="$REGISTRY/atv/app"
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle --cache-dir "$T/c")
}

# The plugin, offline from bundleDir DIR, for IMAGE's first signature, trusting victim.
plugin_dir() { # IMAGE DIR
    local s size
    s=$(jq -r ".images.$1.signatures[0].manifestDigest" "$FX")
    size=$(jq -r ".images.$1.signatures[0].manifestSize" "$FX")
    jq -nc --arg d "$2" --arg c "$T/pc" --arg sig "$s" --argjson size "$size" --arg v "$VICTIM" '{
        config: {name: "verifier-atproto", type: "atproto", bundleDir: $d, cacheDir: $c,
                 trustedDIDs: [$v], verifyHandle: false},
        storeConfig: {version: "1.0.0", store: {name: "oras", useHttp: true}},
        referenceDesc: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $sig,
                        size: $size, artifactType: "application/vnd.atproto.signature.v1+json"}}' \
        > "$T/req.json"
    run --separate-stderr env RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_VERSION=1.0.0 \
        RATIFY_VERIFIER_SUBJECT="$IMG@$(jq -r ".images.$1.digest" "$FX")" \
        unshare -n "$PLUGIN" < "$T/req.json"
    echo "plugin: $output"
}

# The attacker's bundle: what an export of victimforged fetched, with the DID document that
# names forger's key in place of the log (as version 1 bundles carried identities).
forge() { # OUT [keep-log]
    run "$CLI" bundle export "$IMG:victimforged" "${NET[@]}" -o "$T/raw.json"
    [ -s "$T/raw.json" ]
    doc=$(sed "s|@PDS@|$PDS|" "$FXD/plc/$VICTIM.json" | base64 -w0)
    jq --arg d "$doc" --arg v "$VICTIM" --arg keep "${2:-}" '
        .entries |= (map(select(.kind != "plclog" or $keep == "keep-log"))
                     + [{kind: "diddoc", key: $v, status: 200, fetchedAt: .[0].fetchedAt, data: $d}])' \
        "$T/raw.json" > "$1"
    # the document in it names forger's key: the attacker's claim
    jq -r '.entries[] | select(.kind == "diddoc") | .data | @base64d | fromjson
        | .verificationMethod[0].publicKeyMultibase' "$1" | grep -qx "${FORGERKEY#did:key:}"
}

@test "finding 1: a forged bundle for a trusted DID fails on all three offline paths" {
    forge "$T/forged.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:victimforged" --trusted-did "$VICTIM" --offline \
        --bundle "$T/forged.json" -o json
    echo "$output"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.allowed == false and .reason == "IDENTITY_ERROR" and
        .signatures[0].detail == "plc_log_missing"'
    mkdir -p "$T/dir"
    cp "$T/forged.json" "$T/dir/forged.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:victimforged" --trusted-did "$VICTIM" \
        --bundle-dir "$T/dir" -o json
    echo "$output"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.allowed == false and .reason == "IDENTITY_ERROR"'
    plugin_dir victimforged "$T/dir"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "IDENTITY_ERROR" and
        .extensions.detail == "plc_log_missing"'
}

@test "finding 1: with victim's genuine log beside the forged document, the log decides" {
    forge "$T/forged.json" keep-log
    run --separate-stderr unshare -n "$CLI" "$IMG:victimforged" --trusted-did "$VICTIM" --offline \
        --bundle "$T/forged.json" -o json
    echo "$output"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "SIGNATURE_INVALID"'
}

@test "a version 1 bundle is refused with 're-export'" {
    run "$CLI" bundle export "$IMG:good" "${NET[@]}" -o "$T/b.json"
    [ "$status" -eq 0 ]
    jq '.version = 1' "$T/b.json" > "$T/v1.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" --trusted-did "$VICTIM" --offline \
        --bundle "$T/v1.json"
    echo "$stderr"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"version 1"*"export it again"* ]]
}

@test "finding 4: export needs no trust; the bundle verifies offline, and fails with the key swapped" {
    # no --trusted-did, no --policy: evidence of every signer, no trust decided
    run --separate-stderr "$CLI" bundle export "$IMG:victimgood" "${NET[@]}" -o "$T/g.json"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"collected the evidence of 1 signature artifact"*"(1 with a proof that verifies, 0 incomplete)"* ]]
    # no verdict printed: there is no trust to decide with
    [ -z "$output" ]
    jq -e '.version == 2 and ([.entries[].kind] | index("plclog")) != null and
        ([.entries[].kind] | index("diddoc")) == null' "$T/g.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:victimgood" --trusted-did "$VICTIM" --offline \
        --bundle "$T/g.json" -o json
    echo "$output"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met'
    # forger's key written over victim's in every operation of the log: no signature holds
    jq --arg k "$FORGERKEY" '(.entries[] | select(.kind == "plclog") | .data) |=
        (@base64d | fromjson | map(.operation.verificationMethods.atproto = $k) | tojson | @base64)' \
        "$T/g.json" > "$T/swapped.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:victimgood" --trusted-did "$VICTIM" --offline \
        --bundle "$T/swapped.json" -o json
    echo "$output"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "IDENTITY_ERROR" and .signatures[0].detail == "plc_log_invalid"'
    # the weaker mode changes nothing offline: a did:plc is read only from its log
    run --separate-stderr unshare -n "$CLI" "$IMG:victimgood" --trusted-did "$VICTIM" --offline \
        --no-plc-audit-log --bundle "$T/g.json" -o json
    [ "$status" -eq 0 ]
}

@test "export: a signature that does not verify is complete evidence (exit 0); a missing identity is not (exit 1)" {
    run --separate-stderr "$CLI" bundle export "$IMG:badsig" "${NET[@]}" -o "$T/bad.json"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"SIGNATURE_INVALID"* ]]
    [[ "$stderr" == *"(0 with a proof that verifies, 0 incomplete)"* ]]
    # the reader reaches the same verdict from the bundle alone
    run --separate-stderr unshare -n "$CLI" "$IMG:badsig" --trusted-did "$(jq -r .accounts.mallory.did "$FX")" \
        --offline --bundle "$T/bad.json" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "SIGNATURE_INVALID"'
    # ghost's DID is unknown to the directory: its log cannot be in the bundle
    run --separate-stderr "$CLI" bundle export "$IMG:ghost" "${NET[@]}" -o "$T/ghost.json"
    echo "$stderr"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"missing from the bundle"*"IDENTITY_ERROR"* ]]
    [ -s "$T/ghost.json" ]
    # an image with no signature at all: nothing to write
    run --separate-stderr "$CLI" bundle export "$IMG@sha256:$(printf '0%.0s' $(seq 64))" "${NET[@]}" \
        -o "$T/none.json"
    [ "$status" -eq 2 ]
    [ ! -e "$T/none.json" ]
}

@test "export with a trust configuration also prints the verdict the bundle gives" {
    alice=$(jq -r .accounts.alice.did "$FX")
    run --separate-stderr "$CLI" bundle export "$IMG:multibad" --trusted-did "$alice" "${NET[@]}" \
        -o "$T/mb.json"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"PASS"*"$alice"* ]]
    [[ "$output" == *"FAIL"*"SIGNATURE_INVALID"* ]]
    [[ "$output" == *"1 of 1 required signer: met"* ]]
    # both signers' evidence is there, the untrusted one's too
    [ "$(jq '[.entries[] | select(.kind == "plclog")] | length' "$T/mb.json")" -eq 2 ]
}
