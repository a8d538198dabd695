#!/usr/bin/env bats
# Every sample Ratify request of testdata/ratify/*.json against the real
# loopback stack of integration/fixture/up.sh (docker-registry, a PLC
# directory, PDSes), each run through integration/ratify/ratify-exec.js
# exactly as Ratify v1.4 runs and parses the plugin, with --check.

setup_file() {
    UP="$BATS_TEST_DIRNAME/fixture/up.sh"
    export STATE="$BATS_FILE_TMPDIR/state"
    # a stack that exists but does not start is a failure, not a skip
    sh "$UP" "$STATE" > "$BATS_FILE_TMPDIR/up.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/up.log" >&2
        return 1
    }
    [ -s "$STATE/env" ]
}

teardown_file() {
    if [ -n "${STATE:-}" ] && [ -f "$BATS_TEST_DIRNAME/fixture/down.sh" ]; then
        sh "$BATS_TEST_DIRNAME/fixture/down.sh" "$STATE" > /dev/null 2>&1 || true
    fi
}

setup() {
    BUILD="${ATV_BUILD:-build}"
    PLUGIN="$BUILD/atproto"
    EXEC="$BATS_TEST_DIRNAME/ratify/ratify-exec.js"
    SAMPLES="$BATS_TEST_DIRNAME/../testdata/ratify"
    SUCCESS="$SAMPLES/success-k256.json"
}

hx() { # SAMPLE [options]
    s=$1
    shift
    node "$EXEC" --plugin "$PLUGIN" --env-file "$STATE/env" --check "$@" "$s"
}

@test "every testdata/ratify sample passes its check" {
    n=0
    failed=""
    for s in "$SAMPLES"/*.json; do
        [ -f "$s" ] || continue
        n=$((n + 1))
        if hx "$s" > "$BATS_TEST_TMPDIR/report" 2> "$BATS_TEST_TMPDIR/check"; then
            echo "pass: $(basename "$s") ($(jq -r .elapsedMs "$BATS_TEST_TMPDIR/report") ms)"
        else
            failed="$failed $(basename "$s")"
            echo "FAIL: $(basename "$s")"
            sed 's/^/    /' "$BATS_TEST_TMPDIR/check"
        fi
    done
    echo "$n samples, failed:${failed:- none}"
    [ "$n" -gt 0 ]
    [ -z "$failed" ]
}

@test "the success sample twice with one cacheDir: the warm second run succeeds too" {
    [ -f "$SUCCESS" ]
    cache="$BATS_TEST_TMPDIR/cache"
    mkdir "$cache"
    run hx "$SUCCESS" --cache-dir "$cache"
    echo "cold: $output"
    [ "$status" -eq 0 ]
    # the first run left something in the cache for the second one
    [ -n "$(find "$cache" -type f | head -n 1)" ]
    run hx "$SUCCESS" --cache-dir "$cache"
    echo "warm: $output"
    [ "$status" -eq 0 ]
    [ "$(printf '%s\n' "${lines[0]}" | jq -r .result.isSuccess)" = true ]
}

@test "20 plugin processes at once against one cacheDir all succeed" {
    [ -f "$SUCCESS" ]
    cache="$BATS_TEST_TMPDIR/cache"
    mkdir "$cache"
    pids=""
    for i in $(seq 20); do
        timeout 60 node "$EXEC" --plugin "$PLUGIN" --env-file "$STATE/env" --check \
            --cache-dir "$cache" "$SUCCESS" > "$BATS_TEST_TMPDIR/r$i" 2> "$BATS_TEST_TMPDIR/e$i" &
        pids="$pids $!"
    done
    bad=0
    i=0
    for p in $pids; do
        i=$((i + 1))
        if ! wait "$p"; then
            bad=$((bad + 1))
            echo "run $i failed:"
            cat "$BATS_TEST_TMPDIR/e$i"
        fi
    done
    echo "$bad of 20 failed"
    [ "$bad" -eq 0 ]
    for i in $(seq 20); do
        [ "$(jq -r .result.isSuccess "$BATS_TEST_TMPDIR/r$i")" = true ]
    done
}
