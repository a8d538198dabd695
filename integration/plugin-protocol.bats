#!/usr/bin/env bats
# The plugin's Ratify v1.x protocol (env, stdin, exit codes, one JSON line,
# log lines), run through integration/ratify/ratify-exec.js exactly as Ratify
# v1.4 runs and parses it. No fixture servers: the registry and the PLC
# directory are 127.0.0.1:1 (connection refused) or a local server started
# here. The last tests feed the harness fake plugins, to prove that it catches
# what Ratify's parser would choke on.

bats_require_minimum_version 1.5.0

setup() {
    BUILD="${ATV_BUILD:-build}"
    PLUGIN="$BUILD/atproto"
    EXEC="$BATS_TEST_DIRNAME/ratify/ratify-exec.js"
    T="$BATS_TEST_TMPDIR"
    IMG=sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28
    SIG=sha256:4a1d11c84c9f3f6cbb0e2d75b5577921e241fd61da75cf5179564f4f9e95076e
}

teardown() {
    if [ -s "$T/server.pid" ]; then
        kill "$(cat "$T/server.pid")" 2>/dev/null || true
    fi
}

# A request for registry REGISTRY (default 127.0.0.1:1, refused); a jq filter
# edits it. Writes $T/NAME.json.
sample() { # NAME [JQ-FILTER] [REGISTRY]
    reg="${3:-127.0.0.1:1}"
    jq -n --arg reg "$reg" --arg img "$IMG" --arg sig "$SIG" --arg alice "$(jq -r .accounts.alice.did "$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json")" '{
      description: "plugin-protocol.bats",
      env: {RATIFY_VERIFIER_COMMAND: "VERIFY",
            RATIFY_VERIFIER_SUBJECT: ($reg + "/atv/app@" + $img),
            RATIFY_VERIFIER_VERSION: "1.0.0"},
      stdin: {config: {name: "verifier-atproto", type: "atproto",
                       artifactTypes: "application/vnd.atproto.signature.v1+json",
                       trustedDIDs: [$alice],
                       plcDirectory: "http://127.0.0.1:1", allowLoopbackHTTP: true,
                       cacheDir: "@CACHE@", timeoutMs: 1500, verifyHandle: false},
              storeConfig: {version: "1.0.0", pluginBinDirs: null,
                            store: {name: "oras", useHttp: true}},
              referenceDesc: {mediaType: "application/vnd.oci.image.manifest.v1+json",
                              digest: $sig, size: 880,
                              artifactType: "application/vnd.atproto.signature.v1+json"}},
      expect: {exitCode: 0, isSuccess: false}}' | jq "${2:-.}" > "$T/$1.json"
}

hx() { # SAMPLE-NAME [ratify-exec options...]: the report in $output, the check in $stderr
    name=$1
    shift
    run --separate-stderr node "$EXEC" --plugin "$PLUGIN" --check "$@" "$T/$name.json"
    echo "$output"
    echo "$stderr"
}

rep() { # JQ-FILTER on the report line (the first line of $output)
    printf '%s\n' "${lines[0]}" | jq -r "$1"
}

fake() { # NAME SHELL-BODY: a fake plugin
    printf '#!/bin/sh\n%s\n' "$2" > "$T/$1"
    chmod +x "$T/$1"
}

@test "harness: its Go encoding/json and bufio emulation passes its self-test" {
    run node "$EXEC" --self-test
    echo "$output"
    [ "$status" -eq 0 ] && [[ "$output" == "ok "* ]]
}

@test "missing RATIFY_VERIFIER_COMMAND, _SUBJECT or _VERSION: exit 1, code 4" {
    for v in RATIFY_VERIFIER_COMMAND RATIFY_VERIFIER_SUBJECT RATIFY_VERIFIER_VERSION; do
        sample "no-$v" "del(.env.$v) | .expect = {exitCode: 1, code: 4}"
        hx "no-$v"
        echo "without $v: status $status"
        [ "$status" -eq 0 ]
        [ "$(rep .exitCode)" = 1 ]
        # the Go skeleton reads os.Getenv: an empty value is a missing one
        sample "empty-$v" ".env.$v = \"\" | .expect = {exitCode: 1, code: 4}"
        hx "empty-$v"
        echo "empty $v: status $status"
        [ "$status" -eq 0 ]
    done
}

@test "an unknown command: exit 1, code 3" {
    for c in LIST GETBLOB verify; do
        sample cmd ".env.RATIFY_VERIFIER_COMMAND = \"$c\" | .expect = {exitCode: 1, code: 3}"
        hx cmd
        echo "command '$c': status $status"
        [ "$status" -eq 0 ]
    done
}

@test "version 3.0.0: exit 1, code 6" {
    sample v3 '.env.RATIFY_VERIFIER_VERSION = "3.0.0" | .expect = {exitCode: 1, code: 6}'
    hx v3
    [ "$status" -eq 0 ]
    [ "$(rep .exitCode)" = 1 ]
    [[ "$(rep .pluginFailure)" == "plugin failed with error: 'exit status 1'"* ]]
}

@test "versions 1.0.0 and 0.1.0 are accepted: a verdict (refused registry: isSuccess false, a reason)" {
    for v in 1.0.0 0.1.0; do
        sample "v$v" ".env.RATIFY_VERIFIER_VERSION = \"$v\""
        hx "v$v"
        echo "version $v: status $status"
        [ "$status" -eq 0 ]
        [ "$(rep .exitCode)" = 0 ]
        [ "$(rep .result.isSuccess)" = false ]
        reason=$(rep '.result.extensions.reason')
        [ -n "$reason" ] && [ "$reason" != null ]
    done
}

@test "stdin that is not JSON, a JSON array, or empty: exit 1, code 1" {
    for raw in 'this is not JSON' '[1,2,3]' '' '{"config":{}' 'null'; do
        sample raw "del(.stdin) | .stdinRaw = $(jq -n --arg r "$raw" '$r') | .expect = {exitCode: 1, code: 1}"
        hx raw
        echo "stdin '$raw': status $status"
        [ "$status" -eq 0 ]
        [ "$(rep .exitCode)" = 1 ]
    done
}

@test "config.name is echoed as name, config.type as type, and name stands in for an absent type" {
    sample named '.stdin.config.name = "my-verifier" | .stdin.config.type = "atproto"'
    hx named
    [ "$status" -eq 0 ]
    [ "$(rep .result.name)" = my-verifier ] && [ "$(rep .result.verifierName)" = my-verifier ]
    [ "$(rep .result.type)" = atproto ] && [ "$(rep .result.verifierType)" = atproto ]
    # CLI mode: no type key at all
    sample cli 'del(.stdin.config.type) | .stdin.config.name = "atproto-cli"'
    hx cli
    [ "$status" -eq 0 ]
    [ "$(rep .result.name)" = atproto-cli ] && [ "$(rep .result.type)" = atproto-cli ]
    # the check itself insists on the echo
    sample wrong '.expect.name = "someone-else"'
    hx wrong
    [ "$status" -eq 1 ] && [[ "$stderr" == *'name "verifier-atproto", want "someone-else"'* ]]
}

@test "RATIFY_LOG_LEVEL=debug shows debug lines, and no other level does" {
    # A signature manifest in the local ORAS cache (an OCI layout, by digest)
    # is read without the network, and that read is a debug line.
    man='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.atproto.signature.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.atproto.signature.v1+json","digest":"sha256:6fa389ea74e712dde27888516a38461447327c9421bc1ac42722995d5bf7668b","size":737}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"'"$IMG"'","size":100}}'
    hex=$(printf '%s' "$man" | sha256sum | cut -d' ' -f1)
    mkdir -p "$T/oras/blobs/sha256"
    printf '%s' "$man" > "$T/oras/blobs/sha256/$hex"
    size=$(printf '%s' "$man" | wc -c)
    cached=".stdin.referenceDesc.digest = \"sha256:$hex\" | .stdin.referenceDesc.size = $size
            | .stdin.storeConfig.store.localCachePath = \"$T/oras\""
    sample dbg "$cached | .env.RATIFY_LOG_LEVEL = \"debug\""
    hx dbg
    [ "$status" -eq 0 ]
    [ "$(rep '[.logs[] | select(.level == "debug")] | length')" -ge 1 ]
    for level in info warn "" ; do
        sample nodbg "$cached | .env.RATIFY_LOG_LEVEL = \"$level\""
        hx nodbg
        echo "RATIFY_LOG_LEVEL='$level': status $status"
        [ "$status" -eq 0 ]
        [ "$(rep '[.logs[] | select(.level == "debug")] | length')" -eq 0 ]
        [[ "$(rep .rawStderr)" != *"debug:"* ]]
    done
    sample unset "$cached | .env.RATIFY_LOG_LEVEL = null"
    RATIFY_LOG_LEVEL=debug hx unset   # an env value of null unsets the inherited one
    [ "$status" -eq 0 ]
    [ "$(rep '[.logs[] | select(.level == "debug")] | length')" -eq 0 ]
}

@test "braces in the request's values: still exactly one JSON line, no '{' on stderr" {
    sample braces '.env.RATIFY_LOG_LEVEL = "debug"
        | .env.RATIFY_VERIFIER_SUBJECT = "127.0.0.1:1/atv/a{p}p@" + .env.RATIFY_VERIFIER_SUBJECT[22:]
        | .stdin.config.name = "verifier-{atproto}}"
        | .stdin.referenceDesc.annotations = {"x": "{\"isSuccess\":true}"}'
    hx braces
    [ "$status" -eq 0 ]
    [ "$(rep '.jsonLines | length')" -eq 1 ] && [ "$(rep '.jsonLines[0].from')" = stdout ]
    [ "$(rep .result.name)" = 'verifier-{atproto}}' ]
    [ "$(rep .result.isSuccess)" = false ]
    [[ "$(rep .rawStderr)" != *"{"* ]]
    # a subject that is well-formed but a config value with braces is logged
    sample braces2 '.env.RATIFY_LOG_LEVEL = "debug" | .stdin.config["x{y}"] = "{z}"
        | .stdin.config.trustedDIDs = ["did:plc:{not-a-did}"]'
    hx braces2
    [ "$status" -eq 0 ]
    [ "$(rep '.jsonLines | length')" -eq 1 ] && [[ "$(rep .rawStderr)" != *"{"* ]]
}

@test "a registry that accepts and never answers: the verdict comes within timeoutMs" {
    # bounded: the server lives 20 s at most, and teardown kills it
    timeout 20 node -e '
        const s = require("net").createServer(() => {}).listen(0, "127.0.0.1", () => {
            require("fs").writeFileSync(process.argv[1], String(s.address().port));
        });' "$T/port" &
    echo $! > "$T/server.pid"
    for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
    [ -s "$T/port" ]
    port=$(cat "$T/port")
    sample stall '.stdin.config.timeoutMs = 1500' "127.0.0.1:$port"
    hx stall --timeout-ms 4900
    [ "$status" -eq 0 ]
    [ "$(rep .killed)" = false ] && [ "$(rep .exitCode)" = 0 ]
    [ "$(rep .result.isSuccess)" = false ]
    reason=$(rep .result.extensions.reason)
    [ "$reason" = TIMEOUT ] || [ "$reason" = REGISTRY_ERROR ]
    ms=$(rep '.elapsedMs | floor')
    echo "answered in $ms ms with $reason"
    [ "$ms" -lt 2500 ]   # timeoutMs + 1000
}

# ---- the harness itself, with fake plugins -------------------------------------

GOOD='{"isSuccess":true,"name":"verifier-atproto","type":"atproto","message":"ok","extensions":{"reason":"OK"}}'

@test "harness: Ratify's exact request (argv, cwd, env, stdin bytes without a newline)" {
    fake spy "cat > '$T/stdin.bin'; pwd > '$T/cwd'; echo \$# > '$T/argc'; env > '$T/env'
printf '%s\n' '$GOOD'"
    jq -n '{env: {RATIFY_VERIFIER_COMMAND: "VERIFY", RATIFY_VERIFIER_SUBJECT: "localhost:5000/myapp:v1",
                  RATIFY_VERIFIER_VERSION: "1.0.0"},
            stdin: {referenceDesc: {artifactType: "application/vnd.atproto.signature.v1+json",
                                    annotations: {"org.opencontainers.image.created": "2025-06-02T08:30:00Z"},
                                    size: 741, digest: "sha256:6b9f", mediaType: "application/vnd.oci.image.manifest.v1+json"},
                    storeConfig: {store: {useHttp: true, name: "oras", ttl: 10, "a<b": "&"}, version: "1.0.0"},
                    config: {trustedDIDs: ["did:plc:x"], name: "verifier-atproto", type: "atproto", n: 1.50, z: {b: 1, a: [true, null]}}},
            expect: {exitCode: 0, isSuccess: true}}' > "$T/spy.json"
    PLUGIN="$T/spy" HARNESS_MARK=inherited run node "$EXEC" --plugin "$T/spy" --check "$T/spy.json"
    echo "$output"
    [ "$status" -eq 0 ]
    want='{"config":{"n":1.5,"name":"verifier-atproto","trustedDIDs":["did:plc:x"],"type":"atproto","z":{"a":[true,null],"b":1}},"storeConfig":{"version":"1.0.0","pluginBinDirs":null,"store":{"a\u003cb":"\u0026","name":"oras","ttl":10,"useHttp":true}},"referenceDesc":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:6b9f","size":741,"annotations":{"org.opencontainers.image.created":"2025-06-02T08:30:00Z"},"artifactType":"application/vnd.atproto.signature.v1+json"}}'
    [ "$(cat "$T/stdin.bin")" = "$want" ]
    [ "$(wc -c < "$T/stdin.bin")" -eq "${#want}" ]   # no trailing newline
    [ "$(cat "$T/cwd")" = / ] && [ "$(cat "$T/argc")" = 0 ]
    grep -qx 'RATIFY_VERIFIER_SUBJECT=localhost:5000/myapp:v1' "$T/env"
    grep -qx 'HARNESS_MARK=inherited' "$T/env"
}

@test "harness: a well-behaved fake plugin passes the check (control)" {
    fake good "echo 'info: fine' >&2; echo 'warn: fine' >&2; printf '%s\n' '$GOOD'"
    sample g '.expect = {exitCode: 0, isSuccess: true, reason: "OK"}'
    PLUGIN="$T/good" hx g
    [ "$status" -eq 0 ]
    [ "$(rep '.logs | map(.level) | join(",")')" = info,warn ]
}

@test "harness: a stderr line without its newline merges with the JSON and fails" {
    fake merge "printf 'info: no newline' >&2; printf '%s\n' '$GOOD'"
    sample m '.expect = {exitCode: 0, isSuccess: true}'
    PLUGIN="$T/merge" hx m
    [ "$status" -eq 1 ]
    [ "$(rep .result)" = null ] && [ "$(rep .parseError)" = "unexpected end of JSON input" ]
    [ "$(rep '.droppedLines[0].from')" = both ]
    [[ "$stderr" == *"stderr does not end in"* ]]
}

@test "harness: '{' in a log line fails the check (and a leading JSON token corrupts the result)" {
    fake brace "echo 'info: got {x}' >&2; printf '%s\n' '$GOOD'"
    sample b '.expect = {exitCode: 0, isSuccess: true}'
    PLUGIN="$T/brace" hx b
    [ "$status" -eq 1 ]
    [ "$(rep .result.isSuccess)" = true ]            # Ratify drops the line silently ...
    [ "$(rep '.droppedLines | length')" -eq 1 ]      # ... and the harness says so
    [[ "$stderr" == *"stderr line 1 contains '{'"* ]]
    fake token "echo '\"quoted\" {x}' >&2; printf '%s\n' '$GOOD'"
    PLUGIN="$T/token" hx b
    [ "$status" -eq 1 ]
    [ "$(rep .result)" = null ]
    [[ "$(rep .parseError)" == *"after top-level value"* ]]
}

@test "harness: two JSON objects fail" {
    fake two "printf '%s\n%s\n' '$GOOD' '$GOOD'"
    sample t '.expect = {exitCode: 0, isSuccess: true}'
    PLUGIN="$T/two" hx t
    [ "$status" -eq 1 ]
    [ "$(rep .result)" = null ]
    [[ "$(rep .parseError)" == "invalid character '{' after top-level value" ]]
    [[ "$stderr" == *"2 JSON values in the combined output"* ]]
}

@test "harness: exit 1 is a plugin failure, never parsed; its code is checked" {
    fake fail "echo 'warn: bad' >&2; echo '{\"code\":4,\"msg\":\"missing env\"}'; exit 1"
    sample f '.expect = {exitCode: 1, code: 4}'
    PLUGIN="$T/fail" hx f
    [ "$status" -eq 0 ]
    [ "$(rep .result)" = null ] && [ "$(rep '.logs | length')" -eq 0 ]
    [ "$(rep .pluginFailure)" = "plugin failed with error: 'exit status 1', msg from stError 'warn: bad
', msg from stdOut '{\"code\":4,\"msg\":\"missing env\"}
'" ]
    sample f3 '.expect = {exitCode: 1, code: 3}'
    PLUGIN="$T/fail" hx f3
    [ "$status" -eq 1 ] && [[ "$stderr" == *"error code 4, want 3"* ]]
    sample f0 '.expect = {exitCode: 0, isSuccess: false}'
    PLUGIN="$T/fail" hx f0
    [ "$status" -eq 1 ] && [[ "$stderr" == *"exit code 1, want 0"* ]]
}

@test "harness: the deadline SIGKILLs, a 64 KiB line stops the scan, debug and numbers are flagged" {
    fake slow "exec sleep 5; printf '%s\n' '$GOOD'"
    sample s '.expect = {exitCode: 0, isSuccess: true}'
    PLUGIN="$T/slow" hx s --timeout-ms 300
    [ "$status" -eq 1 ] && [ "$(rep .killed)" = true ]
    [[ "$(rep .pluginFailure)" == "plugin failed with error: 'signal: killed'"* ]]
    [ "$(rep '.elapsedMs | floor')" -lt 2000 ]
    fake long "printf 'info: ' >&2; yes aaaaaaaaaaaaaaaaaaa | head -c 140000 | tr -d '\\n' >&2; echo >&2; printf '%s\n' '$GOOD'"
    PLUGIN="$T/long" hx s
    [ "$status" -eq 1 ] && [ "$(rep .result)" = null ]
    [[ "$(rep .scanError)" == *"token too long"* ]]
    fake dbg "echo 'debug: hidden' >&2; printf '%s\n' '$GOOD'"
    PLUGIN="$T/dbg" hx s
    [ "$status" -eq 1 ] && [[ "$stderr" == *"debug line but RATIFY_LOG_LEVEL is not debug"* ]]
    fake num "echo '{\"isSuccess\":true,\"name\":\"verifier-atproto\",\"type\":\"atproto\",\"message\":\"\",\"extensions\":{\"n\":1,\"o\":{}}}'"
    PLUGIN="$T/num" hx s
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"extensions.n is a number"* ]] && [[ "$stderr" == *"extensions.o is a object"* ]]
}

@test "harness: an unknown placeholder is an error (exit 2)" {
    sample p '.env.RATIFY_VERIFIER_SUBJECT = "@NOPE@/atv/app:v1"'
    hx p
    [ "$status" -eq 2 ] && [[ "$stderr" == *"@NOPE@"* ]]
}
