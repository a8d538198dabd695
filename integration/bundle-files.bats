#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# Reading offline bundles from files (issue 13): a bundle directory is input
# anyone with write access to it shapes. A FIFO, a link out of the directory,
# an oversized file, too many files or a malformed one costs a `warn:` line
# naming the file, never a blocked run, never a file from elsewhere, never the
# genuine bundle beside it; evidence too old or from the future is refused
# (bundleMaxAge, --bundle-max-age). "finding N" names the issue's finding a
# test holds down.
#
# One genuine bundle is exported from the loopback fixture stack
# (integration/fixture/up.sh), which is then stopped: every test is offline.

setup_file() {
    export STATE="$BATS_FILE_TMPDIR/state"
    local fx="$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json"
    local build="${ATV_BUILD:-build}" alice
    sh "$BATS_TEST_DIRNAME/fixture/up.sh" "$STATE" > "$BATS_FILE_TMPDIR/up.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/up.log" >&2
        return 1
    }
    # shellcheck disable=SC1091
    . "$STATE/env"
    export REGISTRY
    alice=$(jq -r '.accounts[.images.good.signer].did' "$fx")
    "$build/atcr-verify" bundle export "$REGISTRY/atv/app:good" --trusted-did "$alice" \
        --plc "$PLC" --no-plc-audit-log --allow-loopback-http --insecure-http --no-verify-handle \
        --cache-dir "$BATS_FILE_TMPDIR/cache" -o "$BATS_FILE_TMPDIR/good.json" \
        > "$BATS_FILE_TMPDIR/export.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/export.log" >&2
        return 1
    }
    sh "$BATS_TEST_DIRNAME/fixture/down.sh" "$STATE" > /dev/null 2>&1
}

teardown_file() {
    sh "$BATS_TEST_DIRNAME/fixture/down.sh" "$STATE" > /dev/null 2>&1 || true
}

setup() {
    BUILD="${ATV_BUILD:-build}"
    CLI="$BUILD/atcr-verify"
    PLUGIN="$BUILD/atproto"
    FX="$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json"
    # the DIDs come from the fixture, which is regenerated from time to time
    ALICE=$(jq -r '.accounts[.images.good.signer].did' "$FX")
    GOOD="$BATS_FILE_TMPDIR/good.json"
    IMG="$REGISTRY/atv/app"
    T="$BATS_TEST_TMPDIR"
    D="$T/bundles"
    mkdir -p "$D"
    OFF=(--trusted-did "$ALICE" --no-verify-handle --cache-dir "$T/cache")
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# Runs the plugin as Ratify does on image good's signature, with CONFIG-JQ
# merged into its config; the VerifierResult line in $output, logs in $stderr.
plugin() { # CONFIG-JQ
    local digest sig size
    digest=$(jq -r .images.good.digest "$FX")
    sig=$(jq -r '.images.good.signatures[0].manifestDigest' "$FX")
    size=$(jq -r '.images.good.signatures[0].manifestSize' "$FX")
    jq -n --arg a "$ALICE" --arg c "$T/pcache" --arg sig "$sig" --argjson size "$size" '{
        config: {name: "verifier-atproto", type: "atproto", trustedDIDs: [$a],
                 cacheDir: $c, verifyHandle: false, timeoutMs: 3000},
        storeConfig: {version: "1.0.0", store: {name: "oras", useHttp: true}},
        referenceDesc: {mediaType: "application/vnd.oci.image.manifest.v1+json",
                        digest: $sig, size: $size,
                        artifactType: "application/vnd.atproto.signature.v1+json"}}' |
        jq -c ".config += ($1)" > "$T/req.json"
    run --separate-stderr timeout 20 env RATIFY_VERIFIER_COMMAND=VERIFY \
        RATIFY_VERIFIER_SUBJECT="$IMG@$digest" RATIFY_VERIFIER_VERSION=1.0.0 \
        unshare -n "$PLUGIN" < "$T/req.json"
    echo "stdout: $output"
    echo "stderr: $stderr"
}

# A copy of the genuine bundle with every fetchedAt moved to NOW + DELTA seconds.
aged() { # DELTA FILE
    jq --argjson t "$(( $(date +%s) + $1 ))" '(.entries[].fetchedAt) = $t' "$GOOD" > "$2"
}

@test "finding 2: a FIFO named x.json beside a genuine bundle (CLI --offline --bundle-dir)" {
    cp "$GOOD" "$D/good.json"
    mkfifo "$D/x.json"
    start=$(date +%s%N)
    run --separate-stderr timeout 20 unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline \
        --bundle-dir "$D" --timeout 3000 -o json
    ms=$(ms_since "$start")
    echo "status $status, $ms ms: $output / $stderr"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met and .verifiedSigners == 1'
    [[ "$stderr" == *"warn: atproto: skipping bundle x.json: not a regular file (a FIFO)"* ]]
    [ "$ms" -lt 3000 ]
}

@test "finding 2: a FIFO named x.json beside a genuine bundle (the plugin's bundleDir)" {
    cp "$GOOD" "$D/good.json"
    mkfifo "$D/x.json"
    start=$(date +%s%N)
    plugin "{bundleDir: \"$D\"}"
    ms=$(ms_since "$start")
    echo "$ms ms"
    [ "$status" -eq 0 ]
    # before the fix: TIMEOUT from the watchdog, for every request
    echo "$output" | jq -e '.isSuccess == true and .extensions.reason == null and
        .extensions.evidenceFetchedAt != null'
    [[ "$stderr" == *"warn: atproto: skipping bundle x.json: not a regular file (a FIFO)"* ]]
    [ "$ms" -lt 3000 ]
}

@test "a ConfigMap or Secret volume (x.json -> ..data/x.json, ..data -> ..2024_...) is read" {
    mkdir "$D/..2024_01_01_00_00_00.123456789"
    cp "$GOOD" "$D/..2024_01_01_00_00_00.123456789/good.json"
    ln -s ..2024_01_01_00_00_00.123456789 "$D/..data"
    ln -s ..data/good.json "$D/good.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --bundle-dir "$D" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.allowed and .met'
    [[ "$stderr" != *"skipping"* ]]
    plugin "{bundleDir: \"$D\"}"
    echo "$output" | jq -e '.isSuccess == true'
    [[ "$stderr" != *"warn: atproto: skipping"* ]]
}

@test "a link whose target is outside the directory is skipped with a warning" {
    mkdir "$T/elsewhere"
    cp "$GOOD" "$T/elsewhere/good.json"
    ln -s ../elsewhere/good.json "$D/rel.json"
    ln -s "$T/elsewhere/good.json" "$D/abs.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --bundle-dir "$D" -o json
    echo "$output / $stderr"
    # the genuine bundle is outside: nothing to verify from, never the network
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"skipping bundle rel.json: symbolic link rel.json leads outside the directory"* ]]
    [[ "$stderr" == *"skipping bundle abs.json: symbolic link abs.json leads outside the directory"* ]]
    plugin "{bundleDir: \"$D\"}"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "REGISTRY_ERROR"'
    [[ "$stderr" == *"skipping bundle rel.json: symbolic link rel.json leads outside"* ]]
    # named with --bundle, the path is the operator's: followed
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$D/rel.json"
    [ "$status" -eq 0 ]
}

@test "a bundle over 16 MiB is skipped unread; named with --bundle it is an error" {
    cp "$GOOD" "$D/good.json"
    truncate -s $(( 16 * 1024 * 1024 + 1 )) "$D/huge.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --bundle-dir "$D" -o json
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"skipping bundle huge.json: 16777217 bytes, at most 16777216"* ]]
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$D/huge.json"
    [ "$status" -eq 2 ] && [[ "$output" == *"16777217 bytes, at most 16777216"* ]]
}

@test "of more than 64 bundles, the first 64 by name are read" {
    for i in $(seq -w 0 63); do echo 'not a bundle' > "$D/a$i.json"; done
    cp "$GOOD" "$D/z.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --bundle-dir "$D" -o json
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"bundle directory holds 65 bundles, more than 64: only the first 64 by name are read"* ]]
    [[ "$stderr" != *"skipping bundle z.json"* ]]
    mv "$D/z.json" "$D/0.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --bundle-dir "$D" -o json
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"holds 65 bundles"* ]]
}

@test "a malformed bundle: skipped in a directory, an error with --bundle" {
    cp "$GOOD" "$D/good.json"
    echo 'not a bundle' > "$D/junk.json"
    jq '.entries = {}' "$GOOD" > "$D/odd.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --bundle-dir "$D" -o json
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"warn: atproto: skipping bundle junk.json: bundle: not JSON"* ]]
    [[ "$stderr" == *"warn: atproto: skipping bundle odd.json: bundle: entries"* ]]
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$D/junk.json"
    [ "$status" -eq 2 ] && [[ "$output" == *"--bundle: "*"junk.json"*"not JSON"* ]]
    mkfifo "$D/p.json"
    run timeout 20 "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$D/p.json"
    [ "$status" -eq 2 ] && [[ "$output" == *"not a regular file"* ]]
}

@test "finding 3: evidence 400 days old, or a day ahead, is STALE_EVIDENCE" {
    aged $(( -400 * 86400 )) "$T/old.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/old.json" -o json
    echo "$output"
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.allowed == false and .reason == "STALE_EVIDENCE" and
        .detail == "evidence_expired" and (.message | test("bundleMaxAge 604800"))'
    # the widest bundleMaxAge (365 days) still refuses it
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/old.json" \
        --bundle-max-age 31536000
    [ "$status" -eq 1 ] && [[ "$output" == *STALE_EVIDENCE* ]]
    aged 86400 "$T/future.json"
    run --separate-stderr unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/future.json" -o json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.reason == "STALE_EVIDENCE" and .detail == "evidence_from_future"'
    # the plugin, from a bundleDir
    cp "$T/old.json" "$D/old.json"
    plugin "{bundleDir: \"$D\"}"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "STALE_EVIDENCE" and
        .extensions.detail == "evidence_expired"'
}

@test "--bundle-max-age and bundleMaxAge move the limit; out of range is a usage error" {
    aged $(( -10 * 86400 )) "$T/ten-days.json"
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/ten-days.json"
    [ "$status" -eq 1 ] && [[ "$output" == *STALE_EVIDENCE* ]]
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/ten-days.json" \
        --bundle-max-age 864000
    [ "$status" -eq 0 ]
    # just inside the clock skew: 10 days + 300 s; one second more is refused
    aged $(( -864000 - 300 + 2 )) "$T/edge.json"
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/edge.json" \
        --bundle-max-age 864000
    [ "$status" -eq 0 ]
    aged $(( -864000 - 301 )) "$T/edge.json"
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/edge.json" \
        --bundle-max-age 864000
    [ "$status" -eq 1 ]
    echo "{\"bundleMaxAge\": 864000}" > "$T/params.json"
    run unshare -n "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$T/ten-days.json" \
        --config "$T/params.json"
    [ "$status" -eq 0 ]
    for bad in 59 31536001 7d -1; do
        run "$CLI" "$IMG:good" "${OFF[@]}" --offline --bundle "$GOOD" --bundle-max-age "$bad"
        [ "$status" -eq 2 ] && [[ "$output" == *bundleMaxAge* ]]
    done
    cp "$T/ten-days.json" "$D/b.json"
    plugin "{bundleDir: \"$D\", bundleMaxAge: 864000}"
    echo "$output" | jq -e '.isSuccess == true'
    plugin "{bundleDir: \"$D\", bundleMaxAge: 59}"
    echo "$output" | jq -e '.isSuccess == false and .extensions.reason == "BAD_REQUEST" and
        (.message | test("bundleMaxAge"))'
    run "$CLI" "$IMG:good" --help
    [[ "$output" == *"--bundle-max-age SECONDS"* ]]
}
