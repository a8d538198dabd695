#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# A DNS server that swallows queries (blocked egress, broken cluster DNS)
# must not turn a correctly signed image into TIMEOUT. The handle is
# optional (verifyHandle, on by default): its check, DNS TXT _atproto.HANDLE
# and then https://HANDLE/.well-known/atproto-did, gets a bounded share of
# the budget (verify/source.c vsrc_handle) and is abandoned when it runs
# out; the verdict then stands without the handle, and a warn line says so.
#
# The plugin and atcr-verify run in a private mount namespace whose
# /etc/resolv.conf names integration/dns/blackhole.py, a loopback DNS server
# that reads every UDP and TCP query and never answers
# (integration/dns/in-blackhole.sh; root needed for port 53 and unshare -m).
# The registry, PLC and PDS are the loopback fixture stack
# (integration/fixture/up.sh), reached by IP address, so only the handle's
# lookups meet the black hole: alice's DID document says alsoKnownAs
# at://alice.atv.test (testdata/tsgen/gen-ratify.mjs).

BH_ADDR=127.53.53.53
BH2_ADDR=127.53.53.54 # answers TXT with NXDOMAIN, swallows A and AAAA
BH_LIFETIME=600 # seconds the black hole may live at most, whatever happens

# start_blackhole NAME ADDR [MODE]: blackhole.py on ADDR, its pid in
# $BATS_FILE_TMPDIR/NAME.pid; waits (5 s at most) until it listens.
start_blackhole() {
    ready="$BATS_FILE_TMPDIR/$1.ready"
    python3 "$BATS_TEST_DIRNAME/dns/blackhole.py" "$2" "$BH_LIFETIME" "$ready" ${3:+"$3"} \
        > "$BATS_FILE_TMPDIR/$1.log" 2>&1 3>&- &
    echo $! > "$BATS_FILE_TMPDIR/$1.pid"
    i=0
    while [ ! -s "$ready" ] && [ $i -lt 50 ]; do
        kill -0 "$(cat "$BATS_FILE_TMPDIR/$1.pid")" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$ready" ] || {
        echo "blackhole.py $2 ${3:-} did not start:" >&2
        cat "$BATS_FILE_TMPDIR/$1.log" >&2
        return 1
    }
}

setup_file() {
    export STATE="$BATS_FILE_TMPDIR/state"
    [ "$(id -u)" -eq 0 ] || skip "needs root (port 53, unshare -m)"
    sh "$BATS_TEST_DIRNAME/fixture/up.sh" "$STATE" > "$BATS_FILE_TMPDIR/up.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/up.log" >&2
        return 1
    }
    start_blackhole blackhole "$BH_ADDR" || return 1
    export RESOLV="$BATS_FILE_TMPDIR/resolv.conf"
    # glibc's defaults (timeout:5 attempts:2), as a broken cluster DNS leaves them
    printf 'nameserver %s\n' "$BH_ADDR" > "$RESOLV"
    start_blackhole blackhole2 "$BH2_ADDR" txt-nxdomain || return 1
    export RESOLV2="$BATS_FILE_TMPDIR/resolv2.conf"
    printf 'nameserver %s\n' "$BH2_ADDR" > "$RESOLV2"
}

teardown_file() {
    for f in blackhole.pid blackhole2.pid; do
        [ -f "$BATS_FILE_TMPDIR/$f" ] || continue
        pid=$(cat "$BATS_FILE_TMPDIR/$f")
        case "$pid" in
        '' | *[!0-9]*) ;;
        *)
            kill "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do
                sleep 0.1
                i=$((i + 1))
            done
            kill -9 "$pid" 2>/dev/null || true
            ;;
        esac
    done
    sh "$BATS_TEST_DIRNAME/fixture/down.sh" "$STATE" > /dev/null 2>&1 || true
}

setup() {
    BUILD="${ATV_BUILD:-build}"
    PLUGIN="$BUILD/atproto"
    CLI="$BUILD/atcr-verify"
    IN_BH="$BATS_TEST_DIRNAME/dns/in-blackhole.sh"
    SAMPLE="$BATS_TEST_DIRNAME/../testdata/ratify/success-k256.json"
    # shellcheck disable=SC1091
    . "$STATE/env"
    ALICE=$(jq -r .accounts.alice.did "$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json")
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# The success sample's request with verifyHandle left at its default (true),
# and timeoutMs set to $1 unless $1 is "default".
request() { # TIMEOUT_MS|default
    sed -e "s|@REGISTRY@|$REGISTRY|g" -e "s|@PLC@|$PLC|g" -e "s|@PDS@|$PDS|g" \
        -e "s|@CACHE@|$BATS_TEST_TMPDIR/cache|g" "$SAMPLE" |
        jq -c --arg t "$1" '.stdin | del(.config.verifyHandle) |
            if $t == "default" then . else .config.timeoutMs = ($t | tonumber) end'
}

subject() {
    sed -e "s|@REGISTRY@|$REGISTRY|g" "$SAMPLE" | jq -r '.env.RATIFY_VERIFIER_SUBJECT'
}

# Runs the plugin under the black hole; sets $output (stdout), $stderr,
# $status and $elapsed (ms). `timeout` bounds the wait whatever happens.
plugin() { # TIMEOUT_MS|default [RESOLV_CONF]
    mkdir -p "$BATS_TEST_TMPDIR/cache"
    request "$1" > "$BATS_TEST_TMPDIR/req.json"
    local t0
    t0=$(now_ms)
    run --separate-stderr timeout 30 "$IN_BH" "${2:-$RESOLV}" env \
        RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_SUBJECT="$(subject)" \
        RATIFY_VERIFIER_VERSION=1.0.0 "$PLUGIN" < "$BATS_TEST_TMPDIR/req.json"
    elapsed=$(($(now_ms) - t0))
    echo "plugin timeoutMs=$1: exit $status in $elapsed ms"
    echo "stdout: $output"
    echo "stderr: $stderr"
}

@test "the black hole swallows the handle's DNS lookups (the harness works)" {
    run timeout 20 "$IN_BH" "$RESOLV" cat /etc/resolv.conf
    [ "$status" -eq 0 ]
    [[ "$output" == *"nameserver $BH_ADDR"* ]]
    # a lookup there never gets an answer: getent gives up with an error
    run timeout 20 "$IN_BH" "$RESOLV" sh -c 'exec 3>&-; getent hosts alice.atv.test'
    [ "$status" -ne 0 ]
    [ -s "$BATS_FILE_TMPDIR/blackhole.ready.count" ]
}

@test "plugin, timeoutMs 8000, verifyHandle default: verified within 8 s, no handle, a warn line" {
    plugin 8000
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg d "$ALICE" '.isSuccess == true and .extensions.did == $d and
        (.extensions | has("handle") | not)'
    [[ "$stderr" == *"warn: "*"handle alice.atv.test not verified"* ]]
    [ "$elapsed" -lt 8000 ]
    # the handle's share is min(timeoutMs / 4, 1000 ms): the whole run stays
    # well under the request's budget (slack for a loaded CI machine)
    [ "$elapsed" -lt 4000 ]
}

@test "plugin, default timeoutMs (2500): verified, no handle" {
    plugin default
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.isSuccess == true and (.extensions | has("handle") | not)'
    [[ "$stderr" == *"warn: "*"handle alice.atv.test not verified"* ]]
    [ "$elapsed" -lt 2500 ]
}

@test "atcr-verify IMAGE --timeout 3000 with handle verification: exit 0 in time" {
    local t0
    t0=$(now_ms)
    run --separate-stderr timeout 30 "$IN_BH" "$RESOLV" "$CLI" "$REGISTRY/atv/app:good" \
        --trusted-did "$ALICE" --plc "$PLC" --allow-loopback-http --insecure-http \
        --cache-dir "$BATS_TEST_TMPDIR/cache" --timeout 3000 -o json
    elapsed=$(($(now_ms) - t0))
    echo "atcr-verify: exit $status in $elapsed ms"
    echo "stdout: $output"
    echo "stderr: $stderr"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg d "$ALICE" '.policyMet == true and .signatures[0].did == $d and
        (.signatures[0] | has("handle") | not)'
    [[ "$stderr" == *"warn: "*"handle alice.atv.test not verified"* ]]
    # --timeout is the whole run: 3000 ms, and 1 s of slack for a loaded machine
    [ "$elapsed" -lt 4000 ]
}

@test "plugin: DNS answers the TXT lookup, swallows the HTTPS host's: verified, in time" {
    # libcurl's threaded resolver must be abandoned at the share's end too,
    # not waited for (resolv.conf's timeout x attempts, 10 s here)
    plugin 8000 "$RESOLV2"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.isSuccess == true and (.extensions | has("handle") | not)'
    [[ "$stderr" == *"warn: "*"handle alice.atv.test not verified"*"https:"* ]]
    grep -q 'qtype 16' "$BATS_FILE_TMPDIR/blackhole2.ready.count"
    [ "$elapsed" -lt 4000 ]
}
