#!/usr/bin/env bats
# atcr-verify verify-sig / verify-proof and the plugin envelope, run as a
# user runs them. Evidence: the official interop crypto fixtures and the
# proofs made by the official TypeScript implementation (testdata/proofs).

setup() {
    BUILD="${ATV_BUILD:-build}"
    SHARED="${ATV_SHARED:-../shared}"
    CLI="$BUILD/atcr-verify"
    PLUGIN="$BUILD/atproto"
    SIGS="$SHARED/vectors/atproto-interop/crypto/signature-fixtures.json"
    URI_DID="did:plc:ywcuk4xmsixysawbbr4i5zkv"
}

fixture() { # curve jq-filter
    jq -r "$2" "testdata/proofs/$1/fixture.json"
}

@test "both binaries answer --help and --version" {
    run "$CLI" --help
    [ "$status" -eq 0 ] && [[ "$output" == *"verify-proof"* ]]
    run "$CLI" --version
    [ "$status" -eq 0 ] && [[ "$output" == "atcr-verify "* ]]
    run "$CLI" verify-sig --help
    [ "$status" -eq 0 ] && [[ "$output" == *"--signature-b64"* ]]
    run "$CLI" verify-proof --help
    [ "$status" -eq 0 ] && [[ "$output" == *"--expect-digest"* ]]
    run "$PLUGIN" --help
    [ "$status" -eq 0 ] && [[ "$output" == *"Ratify"* ]]
    run "$PLUGIN" --version
    [ "$status" -eq 0 ] && [[ "$output" == "atproto "* ]]
}

@test "verify-sig agrees with every interop signature fixture" {
    n=$(jq length "$SIGS")
    [ "$n" -ge 6 ]
    for i in $(seq 0 $((n - 1))); do
        key=$(jq -r ".[$i].publicKeyDid" "$SIGS")
        msg=$(jq -r ".[$i].messageBase64" "$SIGS")
        sig=$(jq -r ".[$i].signatureBase64" "$SIGS")
        valid=$(jq -r ".[$i].validSignature" "$SIGS")
        run "$CLI" verify-sig --key "$key" --message-b64 "$msg" --signature-b64 "$sig"
        if [ "$valid" = true ]; then want=0; else want=1; fi
        echo "case $i: want $want got $status: $output"
        [ "$status" -eq "$want" ]
    done
}

@test "verify-sig: a flipped message byte is invalid, padding is optional" {
    key=$(jq -r '.[0].publicKeyDid' "$SIGS")
    msg=$(jq -r '.[0].messageBase64' "$SIGS")
    sig=$(jq -r '.[0].signatureBase64' "$SIGS")
    [ "$(jq -r '.[0].validSignature' "$SIGS")" = true ]
    # the fixture is unpadded; the padded form must verify too
    pad=$(( (4 - ${#sig} % 4) % 4 ))
    padded="$sig$(printf '%*s' "$pad" '' | tr ' ' '=')"
    run "$CLI" verify-sig --key "$key" --message-b64 "$msg" --signature-b64 "$padded"
    [ "$status" -eq 0 ]
    other=$(printf '%s' "$msg" | base64 -d 2>/dev/null | sed 's/world/World/' | base64 -w0)
    run "$CLI" verify-sig --key "$key" --message-b64 "$other" --signature-b64 "$sig"
    [ "$status" -eq 1 ] && [[ "$output" == invalid:* ]]
    # an empty message is allowed (and this signature does not cover it)
    run "$CLI" verify-sig --key "$key" --message-b64 "" --signature-b64 "$sig"
    [ "$status" -eq 1 ]
}

@test "verify-sig: usage errors and malformed keys exit 2" {
    sig=$(jq -r '.[0].signatureBase64' "$SIGS")
    key=$(jq -r '.[0].publicKeyDid' "$SIGS")
    run "$CLI" verify-sig --key "$key" --message-b64 aGVsbG8
    [ "$status" -eq 2 ]
    run "$CLI" verify-sig --key did:key:zNotAKey --message-b64 aGVsbG8 --signature-b64 "$sig"
    [ "$status" -eq 2 ]
    run "$CLI" verify-sig --key did:web:example.com --message-b64 aGVsbG8 --signature-b64 "$sig"
    [ "$status" -eq 2 ]
    run "$CLI" verify-sig --key "$key" --message-b64 'not base64!' --signature-b64 "$sig"
    [ "$status" -eq 2 ]
    run "$CLI" verify-sig --key "$key" --message-b64 aGVsbG8 --signature-b64 "$sig" --bogus
    [ "$status" -eq 2 ]
    run "$CLI" no-such-command
    [ "$status" -eq 2 ]
    # a DER signature decodes fine but is not 64 bytes: a verdict, not a usage error
    der=$(jq -r '[.[] | select(.tags | index("der-encoded"))][0].signatureBase64' "$SIGS")
    run "$CLI" verify-sig --key "$key" --message-b64 aGVsbG8 --signature-b64 "$der"
    [ "$status" -eq 1 ]
}

@test "verify-proof agrees with every official TypeScript case, both curves" {
    for curve in k256 p256; do
        n=$(fixture $curve '.cases | length')
        [ "$n" -ge 12 ]
        for i in $(seq 0 $((n - 1))); do
            c=".cases[$i]"
            car=$(fixture $curve "$c.car")
            did=$(fixture $curve "$c.did")
            key=$(fixture $curve "$c.didKey")
            # the DID document must declare the key the case verifies with
            doc="$BATS_TEST_TMPDIR/doc.json"
            jq --arg did "$did" --arg mk "${key#did:key:}" \
                '.id = $did | .verificationMethod[0].id = ($did + "#atproto")
                 | .verificationMethod[0].controller = $did
                 | .verificationMethod[0].publicKeyMultibase = $mk' \
                "testdata/proofs/$curve/did-doc.json" > "$doc"
            uri="at://$did/$(fixture $curve "$c.collection")/$(fixture $curve "$c.rkey")"
            run "$CLI" verify-proof --car "testdata/proofs/$curve/$car" --did-doc "$doc" --uri "$uri"
            if [ "$(fixture $curve "$c.expectValid")" = true ] &&
                [ "$(fixture $curve "$c.expectPresent")" = true ]; then want=0; else want=1; fi
            echo "$curve $(fixture $curve "$c.name"): want $want got $status: $output"
            [ "$status" -eq "$want" ]
            [ "${#lines[@]}" -eq 1 ]
        done
    done
}

@test "verify-proof -o json reports the commit and the record" {
    d=testdata/proofs/k256
    rkey=$(fixture k256 .record.rkey)
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc-legacy.json \
        --uri "at://$URI_DID/io.atcr.manifest/$rkey" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg c "$(fixture k256 .commit.cid)" --arg r "$(fixture k256 .record.cid)" \
        --arg rev "$(fixture k256 .commit.rev)" --arg did "$URI_DID" \
        '.verified == true and .reason == "verified" and .did == $did and .commitCid == $c
         and .rev == $rev and .recordCid == $r'
    run "$CLI" verify-proof --car $d/absent-proof.car --did-doc $d/did-doc.json \
        --uri "at://$URI_DID/io.atcr.manifest/$(fixture k256 .absent.rkey)" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.verified == false and .reason == "record_absent" and .recordCid == null'
    run "$CLI" verify-proof --car $d/bad-high-s.car --did-doc $d/did-doc.json \
        --uri "at://$URI_DID/io.atcr.manifest/$rkey" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.verified == false and .reason == "bad_signature"'
}

@test "verify-proof --expect-digest" {
    d=testdata/proofs/p256
    rkey=$(fixture p256 .record.rkey)
    uri="at://$URI_DID/io.atcr.manifest/$rkey"
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json --uri "$uri" \
        --expect-digest "$(fixture p256 .record.digest)"
    [ "$status" -eq 0 ] && [[ "$output" == verified:* ]]
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json --uri "$uri" \
        --expect-digest "sha256:$(printf '%064d' 0)" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "digest_mismatch"'
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json --uri "$uri" \
        --expect-digest "sha256:ABC"
    [ "$status" -eq 2 ]
}

@test "verify-proof: wrong DID document, unreadable files and bad URIs" {
    d=testdata/proofs/k256
    rkey=$(fixture k256 .record.rkey)
    uri="at://$URI_DID/io.atcr.manifest/$rkey"
    # the P-256 document names the same DID with another key
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc testdata/proofs/p256/did-doc.json --uri "$uri"
    [ "$status" -eq 1 ] && [[ "$output" == *bad_signature* ]]
    # a URI for another DID than the document's
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json \
        --uri "at://did:plc:szqirm5pvtgm2gddqxtwn74o/io.atcr.manifest/$rkey"
    [ "$status" -eq 1 ] && [[ "$output" == *did_mismatch* ]]
    run "$CLI" verify-proof --car /nonexistent.car --did-doc $d/did-doc.json --uri "$uri"
    [ "$status" -eq 2 ]
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc /nonexistent.json --uri "$uri"
    [ "$status" -eq 2 ]
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json \
        --uri "at://fixture.example.com/io.atcr.manifest/$rkey"
    [ "$status" -eq 2 ]
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json --uri "at://$URI_DID"
    [ "$status" -eq 2 ]
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc $d/did-doc.json
    [ "$status" -eq 2 ]
    # a DID document that is not JSON is a verdict about the evidence
    printf 'not json' > "$BATS_TEST_TMPDIR/bad.json"
    run "$CLI" verify-proof --car $d/record-proof.car --did-doc "$BATS_TEST_TMPDIR/bad.json" --uri "$uri"
    [ "$status" -eq 1 ] && [[ "$output" == *bad_did_doc* ]]
    # a CAR that is not a CAR
    run "$CLI" verify-proof --car $d/did-doc.json --did-doc $d/did-doc.json --uri "$uri"
    [ "$status" -eq 1 ]
}

req='{"config":{"name":"verifier-atproto","type":"atproto"},"storeConfig":{"version":"1.0.0","pluginBinDirs":null,"store":{"name":"oras"}},"referenceDesc":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"artifactType":"application/vnd.atproto.signature.v1+json"}}'

@test "plugin: protocol errors exit 1 with Ratify's codes" {
    run env -u RATIFY_VERIFIER_COMMAND "$PLUGIN" <<< "$req"
    [ "$status" -eq 1 ] && echo "$output" | jq -e '.code == 4'
    run env RATIFY_VERIFIER_COMMAND=ADD RATIFY_VERIFIER_SUBJECT=localhost:5000/a:v1 RATIFY_VERIFIER_VERSION=1.0.0 "$PLUGIN" <<< "$req"
    [ "$status" -eq 1 ] && echo "$output" | jq -e '.code == 3'
    run env RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT=localhost:5000/a:v1 RATIFY_VERIFIER_VERSION=3.0.0 "$PLUGIN" <<< "$req"
    [ "$status" -eq 1 ] && echo "$output" | jq -e '.code == 6'
    run env RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT=localhost:5000/a:v1 RATIFY_VERIFIER_VERSION=1.0.0 "$PLUGIN" <<< "not json"
    [ "$status" -eq 1 ] && echo "$output" | jq -e '.code == 1'
}

@test "plugin: an unreachable registry fails closed with REGISTRY_ERROR, on one line" {
    out=$(printf '%s' "$req" | env RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT=127.0.0.1:1/a:v1 \
        RATIFY_VERIFIER_VERSION=1.0.0 "$PLUGIN" 2>/dev/null)
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]
    echo "$out" | jq -e '.isSuccess == false and .name == "verifier-atproto" and .type == "atproto"
        and .extensions.reason == "REGISTRY_ERROR"'
}

@test "make install honours PREFIX and DESTDIR" {
    dest="$BATS_TEST_TMPDIR/root"
    run make -s install BUILD="$BUILD" PREFIX=/opt/atv DESTDIR="$dest"
    [ "$status" -eq 0 ]
    [ -x "$dest/opt/atv/bin/atcr-verify" ]
    [ -x "$dest/opt/atv/libexec/ratify/plugins/atproto" ]
    [ -f "$dest/opt/atv/share/man/man1/atcr-verify.1" ]
    run "$dest/opt/atv/bin/atcr-verify" --version
    [ "$status" -eq 0 ]
}

@test "the man page is installed and documents every option of atcr-verify IMAGE --help" {
    dest="$BATS_TEST_TMPDIR/root"
    run make -s install BUILD="$BUILD" PREFIX=/usr DESTDIR="$dest"
    [ "$status" -eq 0 ]
    man1="$dest/usr/share/man/man1/atcr-verify.1"
    [ -f "$man1" ]
    # every long option the help lists appears in the page (roff escapes '-' as '\-')
    missing="" n=0
    for opt in $("$BUILD/atcr-verify" example --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        n=$((n + 1))
        grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$man1" || missing="$missing $opt"
    done
    [ "$n" -ge 15 ]
    [ -z "$missing" ] || { echo "not in the man page:$missing"; false; }
}
