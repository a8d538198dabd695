#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify containerd-verifier over the loopback fixture stack
# (integration/fixture/up.sh): containerd's argv and stdin contract (every
# flag form, unknown flags, wrong media type, digest mismatch, oversized or
# endless stdin), the verdicts and their exit codes, plain HTTP for loopback
# registries, the whole-run deadline, --server against `atcr-verify serve`
# (its verdict, a refusal, stopped, stalled), and a real containerd >= 2.1
# from Debian's unstable suite (integration/containerd/fetch.sh) pulling
# through the verifier with `ctr image pull`. Every wait is bounded; teardown
# kills what a test started and clears the fixture's switches.

load fixture/stack

MT=application/vnd.oci.descriptor.v1+json

setup_file() {
    fixture_up
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
        -keyout "$BATS_FILE_TMPDIR/key.pem" -out "$BATS_FILE_TMPDIR/cert.pem" 2>/dev/null
    # a CA the server's certificate does not come from
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=other -days 1 -keyout "$BATS_FILE_TMPDIR/other.key" \
        -out "$BATS_FILE_TMPDIR/other.pem" 2>/dev/null
    # an image nothing signed: good's manifest with one more annotation
    # shellcheck disable=SC1091
    . "$STATE/env"
    local d="$BATS_FILE_TMPDIR"
    curl -sS --max-time 10 -o "$d/m.json" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://$REGISTRY/v2/atv/app/manifests/good"
    jq -c '.annotations = ((.annotations // {}) + {"atv.test/unsigned": "1"})' "$d/m.json" \
        > "$d/unsigned.json"
    curl -sS --max-time 10 -f -o /dev/null -X PUT \
        -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary "@$d/unsigned.json" "http://$REGISTRY/v2/atv/app/manifests/unsigned"
}
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    GOOD=$(jq -r .images.good.digest "$FX")
    BOB_D=$(jq -r .images.bob.digest "$FX")
    REVOKED=$(jq -r .images.revoked.digest "$FX")
    UNSIGNED="sha256:$(sha256sum "$BATS_FILE_TMPDIR/unsigned.json" | cut -d' ' -f1)"
    IMG="$REGISTRY/atv/app"
    CERT="$BATS_FILE_TMPDIR/cert.pem"
    KEY="$BATS_FILE_TMPDIR/key.pem"
    # the node's configuration: the plugin's parameters, as the wrapper gives them
    jq -n --arg a "$ALICE" --arg plc "$PLC" --arg c "$T/cache" \
        '{trustedDIDs: [$a], plcDirectory: $plc, allowLoopbackHTTP: true, verifyHandle: false,
          cacheDir: $c}' > "$T/node.json"
    SRV_PID=""
    SRV_T=""
    CTRD_PID=""
}

teardown() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -CONT "$SRV_PID" 2>/dev/null || true
        kill -KILL "$SRV_PID" 2>/dev/null || true
    fi
    if [ -n "$SRV_T" ]; then
        kill -TERM "$SRV_T" 2>/dev/null || true
        wait "$SRV_T" 2>/dev/null || true
    fi
    if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
        # `timeout` passes the TERM on to containerd
        kill -TERM "$CTRD_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$CTRD_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$CTRD_PID" 2>/dev/null || true
        wait "$CTRD_PID" 2>/dev/null || true
    fi
    rm -rf "$STATE/deleted" "$STATE/pds-stall"
}

# desc DIGEST [SIZE]: the descriptor containerd writes on stdin (encoding/json, a newline)
desc() {
    printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}\n' \
        "$1" "${2:-463}"
}
# verifier ARGS...: the verifier as containerd runs it (stdin from $T/stdin), our
# options first as the wrapper puts them; sets status, output (stdout), stderr
verifier() {
    run --separate-stderr timeout 20 "$CLI" containerd-verifier "$@" < "$T/stdin"
}
# one_line: stdout is exactly one line of at most 4 KiB
one_line() {
    [ "${#lines[@]}" -eq 1 ] || { echo "want one line, got ${#lines[@]}: $output"; return 1; }
    [ "$(printf '%s\n' "$output" | wc -c)" -le 4096 ]
}
# ms: milliseconds since the epoch
ms() { date +%s%3N; }

# start ARGS...: atcr-verify serve on 127.0.0.1 port 0, under `timeout` (SRV_T) so that a
# lost test cannot leave it running; sets PORT and SRV_PID (the server itself, for
# SIGSTOP). Background processes close bats' fd 3, or bats would wait for them.
start() {
    timeout 120 "$CLI" serve --listen 127.0.0.1:0 --tls-cert "$CERT" --tls-key "$KEY" \
        --lame-duck 0 --plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle \
        --cache-dir "$T/srv-cache" "$@" > /dev/null 2> "$T/serve.log" 3>&- &
    SRV_T=$!
    for _ in $(seq 1 100); do
        if grep -q 'listening on' "$T/serve.log" 2>/dev/null; then break; fi
        kill -0 "$SRV_T" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$T/serve.log")
    SRV_PID=$(pgrep -P "$SRV_T")
    [ -n "$PORT" ] && [ -n "$SRV_PID" ] || { cat "$T/serve.log" >&2; return 1; }
}
# getrecords RKEY: how many getRecord requests the fixture PDS has seen for RKEY
getrecords() {
    grep -c "getRecord?.*rkey=$1" "$STATE/atproto-server.log" || true
}

# ---- containerd's argv ---------------------------------------------------------------------

@test "argv: containerd's exact argv, and -x v, -x=v, --x v, --x=v for its flags and ours" {
    desc "$GOOD" > "$T/stdin"
    want="allowed: $IMG@$GOOD policy trustedDIDs signers $ALICE"
    verifier --config "$T/node.json" -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 0 ]
    one_line
    [ "$output" = "$want" ]
    verifier -config="$T/node.json" -name="$IMG:good" --digest "$GOOD" --stdin-media-type="$MT"
    [ "$status" -eq 0 ] && [ "$output" = "$want" ]
    verifier --config="$T/node.json" --stdin-media-type "$MT" --name "$IMG:good" -digest="$GOOD"
    [ "$status" -eq 0 ] && [ "$output" = "$want" ]
    # our options in containerd's forms too; -name with the digest in it as well
    verifier -trusted-did "$ALICE" --plc="$PLC" -allow-loopback-http -no-verify-handle=true \
        -cache-dir="$T/cache" -timeout 4000 -name "$IMG:good@$GOOD" -digest "$GOOD" \
        -stdin-media-type "$MT"
    [ "$status" -eq 0 ] && [ "$output" = "$want" ]
    [ "$stderr" = "" ] || [[ "$stderr" != *"ignoring"* ]]
}

@test "argv: an unknown flag is ignored with a note and takes the next token unless it starts with -" {
    desc "$GOOD" > "$T/stdin"
    # -operation pull (PR 12541's flag): "pull" is its value, not an argument
    verifier --config "$T/node.json" -name "$IMG:good" -operation pull -digest "$GOOD" \
        -stdin-media-type "$MT" -future -verify-on-run=true --x y
    [ "$status" -eq 0 ]
    one_line
    [[ "$output" == "allowed: $IMG@$GOOD "* ]]
    [[ "$stderr" == *"ignoring unknown flag -operation and its value"* ]]
    # -future is followed by a flag: it takes nothing, and -digest still counts
    [[ "$stderr" == *"ignoring unknown flag -future"$'\n'* ]]
    [[ "$stderr" == *"ignoring unknown flag -verify-on-run"$'\n'* ]]
    [[ "$stderr" == *"ignoring unknown flag -x and its value"* ]]
    [[ "$stderr" != *"not a flag"* ]]
    # an unknown flag before -name does not swallow it
    verifier --config "$T/node.json" -unknown -name "$IMG:good" -digest "$GOOD" \
        -stdin-media-type "$MT"
    [ "$status" -eq 0 ]
}

@test "argv: a missing flag, another media type, a bad or different digest: exit 2 at once" {
    desc "$GOOD" > "$T/stdin"
    t0=$(ms)
    for args in "-digest $GOOD -stdin-media-type $MT" \
                "-name $IMG:good -stdin-media-type $MT" \
                "-name $IMG:good -digest $GOOD"; do
        # shellcheck disable=SC2086
        verifier --config "$T/node.json" $args
        [ "$status" -eq 2 ]
        one_line
        [ "$output" = "error: usage: -name, -digest and -stdin-media-type are all required" ]
    done
    verifier --config "$T/node.json" -name "$IMG:good" -digest "$GOOD" \
        -stdin-media-type application/json
    [ "$status" -eq 2 ] && [ "$output" = "error: usage: -stdin-media-type: want $MT" ]
    verifier --config "$T/node.json" -name "$IMG:good" -digest sha256:ABC -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == "error: usage: -digest: "* ]]
    # a digest inside -name must be -digest: never another image
    verifier --config "$T/node.json" -name "$IMG@$BOB_D" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [ "$output" = "error: usage: -name holds a digest other than -digest" ]
    verifier --config "$T/node.json" -name "NOT A REF" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == "error: usage: -name: "* ]]
    verifier --config "$T/node.json" -name "$IMG:good" -name "$IMG:bob" -digest "$GOOD" \
        -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [ "$output" = "error: usage: -name given twice" ]
    verifier --config "$T/node.json" -name "$IMG:good" -digest
    [ "$status" -eq 2 ] && [ "$output" = "error: usage: -digest needs a value" ]
    verifier --config "$T/node.json" ---name x
    [ "$status" -eq 2 ] && [[ "$output" == "error: usage: argument 3: bad flag syntax" ]]
    verifier --config "$T/missing.json" -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == "error: usage: atcr-verify containerd-verifier: --config"* ]]
    verifier --timeout 0 -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == "error: usage: "*timeoutMs* ]]
    verifier --insecure-http=yes -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == "error: usage: -insecure-http takes no value"* ]]
    verifier --server http://127.0.0.1:1 -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [ "$output" = "error: usage: --server: want an https:// URL" ]
    # none of these waited for anything
    [ $(( $(ms) - t0 )) -lt 5000 ]
    run "$CLI" containerd-verifier --help
    [ "$status" -eq 0 ] && [[ "$output" == *"-stdin-media-type"* ]]
}

# ---- stdin -------------------------------------------------------------------------------------

@test "stdin: over 64 KiB, not a descriptor, or a digest other than -digest: exit 2 within the deadline" {
    args=(--config "$T/node.json" -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT")
    # over the cap: a valid descriptor padded with 70000 spaces
    { printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":463' \
          "$GOOD"; head -c 70000 /dev/zero | tr '\0' ' '; printf '}\n'; } > "$T/stdin"
    verifier "${args[@]}"
    [ "$status" -eq 2 ] && one_line
    [ "$output" = "error: protocol: stdin: over 65536 bytes" ]
    # just under it is fine
    { printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":463' \
          "$GOOD"; head -c 60000 /dev/zero | tr '\0' ' '; printf '}\n'; } > "$T/stdin"
    verifier "${args[@]}"
    [ "$status" -eq 0 ]
    desc "$BOB_D" > "$T/stdin"
    verifier "${args[@]}"
    [ "$status" -eq 2 ]
    [ "$output" = "error: protocol: descriptor.digest ${BOB_D:0:19}... is not -digest ${GOOD:0:19}..." ]
    for body in '' 'null' '[]' '{"digest":"'"$GOOD"'","size":1}' \
                '{"mediaType":"x/y","digest":"'"$GOOD"'","size":-1}' \
                '{"mediaType":"x/y","digest":"'"$GOOD"'","digest":"'"$GOOD"'","size":1}' \
                '{"mediaType":"x/y","digest":"sha256:00","size":1}' \
                '{"mediaType":"x/y","digest":"'"$GOOD"'","size":1} trailing'; do
        printf '%s' "$body" > "$T/stdin"
        verifier "${args[@]}"
        [ "$status" -eq 2 ] || { echo "$body: $status $output"; return 1; }
        [[ "$output" == "error: protocol: descriptor"* ]]
    done
    # annotations and an index media type are fine: the verdict reads the registry itself
    printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":463,"annotations":{"a":"b"}}\n' \
        "$GOOD" > "$T/stdin"
    verifier "${args[@]}"
    [ "$status" -eq 0 ]
}

@test "stdin that never ends: exit 2 at the deadline, not killed" {
    mkfifo "$T/fifo"
    t0=$(ms)
    # opened read-write: a writer always exists, so no end of file ever comes
    run --separate-stderr timeout 10 "$CLI" containerd-verifier --config "$T/node.json" \
        --timeout 1000 -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT" 0<>"$T/fifo"
    el=$(( $(ms) - t0 ))
    echo "$el ms: $output"
    [ "$status" -eq 2 ]
    one_line
    [[ "$output" == "error: protocol: stdin: the descriptor did not end within the deadline"* ]]
    [ "$el" -ge 900 ] && [ "$el" -lt 3000 ]
}

# ---- verdicts -------------------------------------------------------------------------------

@test "verdicts: unsigned, untrusted, revoked, no scope: refused, exit 1; the tag is never resolved" {
    args=(--config "$T/node.json" -stdin-media-type "$MT")
    desc "$UNSIGNED" > "$T/stdin"
    verifier "${args[@]}" -name "$IMG:unsigned" -digest "$UNSIGNED"
    [ "$status" -eq 1 ] && one_line
    [[ "$output" == "refused: NO_SIGNATURE: "* ]]
    desc "$BOB_D" > "$T/stdin"
    verifier "${args[@]}" -name "$IMG:bob" -digest "$BOB_D"
    [ "$status" -eq 1 ] && one_line
    [[ "$output" == "refused: UNTRUSTED_SIGNER: "* ]]
    desc "$REVOKED" > "$T/stdin"
    verifier "${args[@]}" -name "$IMG:revoked" -digest "$REVOKED"
    [ "$status" -eq 1 ] && one_line
    [[ "$output" == "refused: RECORD_NOT_FOUND: "* ]]
    # -name's tag names bob's image, -digest good's: good's digest is what is verified
    desc "$GOOD" > "$T/stdin"
    verifier "${args[@]}" -name "$IMG:bob" -digest "$GOOD"
    [ "$status" -eq 0 ]
    [ "$output" = "allowed: $IMG@$GOOD policy trustedDIDs signers $ALICE" ]
    # a policy with no scope for the image: POLICY_DENIED is a refusal too
    cat > "$T/p.yaml" <<EOF
trustedDIDs:
  $ALICE:
policies:
  - name: elsewhere
    scope: "registry.example.com/**"
EOF
    jq 'del(.trustedDIDs)' "$T/node.json" > "$T/nodid.json"
    verifier --config "$T/nodid.json" --policy "$T/p.yaml" -name "$IMG:good" -digest "$GOOD" \
        -stdin-media-type "$MT"
    echo "$output"
    [ "$status" -eq 1 ] && [[ "$output" == "refused: POLICY_DENIED: "* ]]
    # trust given twice (trustedDIDs and --policy) is a configuration error: exit 2
    verifier --config "$T/node.json" --policy "$T/p.yaml" -name "$IMG:good" -digest "$GOOD" \
        -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == "error: BAD_REQUEST: "* ]]
}

@test "a node-wide policy: the catch-all signature: false scope allows system images with no network" {
    jq -n --arg plc "$PLC" '{plcDirectory: $plc, allowLoopbackHTTP: true, verifyHandle: false}' \
        > "$T/bare.json"
    cat > "$T/p.yaml" <<EOF
trustedDIDs:
  $ALICE:
policies:
  - name: apps
    scope: "$IMG"
    require: {signature: true, minSignatures: 1}
  - name: system
    scope: "**"
    require: {signature: false}
EOF
    desc "$GOOD" > "$T/stdin"
    # a registry that refuses connections: nothing is asked of it
    verifier --config "$T/bare.json" --policy "$T/p.yaml" -name 127.0.0.1:1/pause:3.9 \
        -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 0 ] && one_line
    [ "$output" = "allowed: 127.0.0.1:1/pause@$GOOD policy system signers none (no signature required)" ]
    # the same with --server: not even the server is asked
    verifier --config "$T/bare.json" --policy "$T/p.yaml" --server https://127.0.0.1:1 \
        -name 127.0.0.1:1/pause:3.9 -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 0 ] && [[ "$output" == *"(no signature required)" ]]
    [[ "$stderr" != *"server"* ]]
    # the application scope still verifies
    verifier --config "$T/bare.json" --cache-dir "$T/cache" --policy "$T/p.yaml" \
        -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 0 ] && [ "$output" = "allowed: $IMG@$GOOD policy apps signers $ALICE" ]
    desc "$UNSIGNED" > "$T/stdin"
    verifier --config "$T/bare.json" --cache-dir "$T/cache" --policy "$T/p.yaml" \
        -name "$IMG:unsigned" -digest "$UNSIGNED" -stdin-media-type "$MT"
    [ "$status" -eq 1 ] && [[ "$output" == "refused: NO_SIGNATURE: "* ]]
}

@test "registry access: plain HTTP for loopback on a port other than 443 only; docker.io's API host" {
    desc "$GOOD" > "$T/stdin"
    port=${REGISTRY##*:}
    # localhost, no --insecure-http: plain HTTP (containerd's rule)
    verifier --config "$T/node.json" -name "localhost:$port/atv/app:good" -digest "$GOOD" \
        -stdin-media-type "$MT"
    [ "$status" -eq 0 ]
    [ "$output" = "allowed: localhost:$port/atv/app@$GOOD policy trustedDIDs signers $ALICE" ]
    # port 443 on loopback: HTTPS, as containerd does (nothing listens: transient, exit 2)
    verifier --config "$T/node.json" --timeout 2000 -name 127.0.0.1:443/atv/app:good \
        -digest "$GOOD" -stdin-media-type "$MT"
    echo "$output"
    [ "$status" -eq 2 ] && one_line
    [[ "$output" == "error: REGISTRY_ERROR (transient): "*"https://127.0.0.1"* ]]
    # not loopback: HTTPS unless --insecure-http (a TEST-NET address: nothing answers)
    verifier --config "$T/node.json" --timeout 1500 -name 192.0.2.1:5000/atv/app:good \
        -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == *"https://192.0.2.1:5000"* ]]
    verifier --config "$T/node.json" --insecure-http --timeout 1500 \
        -name 192.0.2.1:5000/atv/app:good -digest "$GOOD" -stdin-media-type "$MT"
    [ "$status" -eq 2 ] && [[ "$output" == *"http://192.0.2.1:5000"* ]]
    # docker.io is asked at registry-1.docker.io, as containerd asks it
    verifier --config "$T/node.json" --timeout 1500 -name docker.io/library/alpine:3.20 \
        -digest "$GOOD" -stdin-media-type "$MT"
    echo "$output"
    [ "$status" -eq 2 ] && [[ "$output" == *"registry-1.docker.io"* ]]
}

@test "the deadline: a stalled PDS is answered with TIMEOUT, exit 2, before --timeout runs out" {
    touch "$STATE/pds-stall"
    desc "$GOOD" > "$T/stdin"
    t0=$(ms)
    verifier --config "$T/node.json" --timeout 1500 -name "$IMG:good" -digest "$GOOD" \
        -stdin-media-type "$MT"
    el=$(( $(ms) - t0 ))
    echo "$el ms: $output"
    [ "$status" -eq 2 ] && one_line
    [[ "$output" == "error: TIMEOUT (transient): "* ]]
    [ "$el" -lt 2500 ]
}

@test "the watchdog: a run held past its deadline still answers one line, exit 2, never a signal" {
    touch "$STATE/pds-stall"
    desc "$GOOD" > "$T/stdin"
    stalls() { grep -c "rkey=${GOOD#sha256:} -> stall" "$STATE/atproto-server.log" || true; }
    before=$(stalls)
    "$CLI" containerd-verifier --config "$T/node.json" --timeout 1000 -name "$IMG:good" \
        -digest "$GOOD" -stdin-media-type "$MT" < "$T/stdin" > "$T/out" 2> "$T/err" 3>&- &
    pid=$!
    # once it waits for the PDS (its timer armed at start) ...
    for _ in $(seq 1 40); do
        [ "$(stalls)" -gt "$before" ] && break
        sleep 0.05
    done
    # ... frozen past the deadline and the watchdog's grace (as a starved node could be):
    # the timer's signal is waiting when it runs again
    kill -STOP "$pid"
    sleep 2
    kill -CONT "$pid"
    rc=0
    wait "$pid" || rc=$?
    cat "$T/out" "$T/err"
    [ "$rc" -eq 2 ]
    [ "$(cat "$T/out")" = "error: TIMEOUT (transient): no verdict within the deadline of 1000 ms" ]
}

# ---- --server -----------------------------------------------------------------------------------

@test "--server: the server's verdict, its refusal; one PDS request for many nodes" {
    start --trusted-did "$ALICE"
    # the node itself could verify nothing: its PLC directory does not exist
    jq -n --arg a "$ALICE" '{trustedDIDs: [$a], plcDirectory: "http://127.0.0.1:1",
        allowLoopbackHTTP: true, verifyHandle: false}' > "$T/blind.json"
    rkey=${GOOD#sha256:}
    before=$(getrecords "$rkey")
    desc "$GOOD" > "$T/stdin"
    for node in 1 2 3; do
        verifier --config "$T/blind.json" --cache-dir "$T/cache-$node" \
            --server "https://127.0.0.1:$PORT" --server-ca "$CERT" \
            -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
        [ "$status" -eq 0 ] && one_line
        [ "$output" = "allowed: $IMG@$GOOD policy trustedDIDs signers $ALICE" ]
        [[ "$stderr" == *"the verdict of --server (HTTP 200)"* ]]
    done
    # three nodes, one verification at the signer's PDS (the server's verdict cache)
    [ $(( $(getrecords "$rkey") - before )) -eq 1 ]
    desc "$BOB_D" > "$T/stdin"
    verifier --config "$T/blind.json" --server "https://127.0.0.1:$PORT/" --server-ca "$CERT" \
        -name "$IMG:bob" -digest "$BOB_D" -stdin-media-type "$MT"
    [ "$status" -eq 1 ] && one_line
    [[ "$output" == "refused: UNTRUSTED_SIGNER: "* ]]
    [[ "$stderr" == *"(HTTP 403)"* ]]
    # a certificate the given CA did not issue: not the server's word; the node tries itself
    desc "$GOOD" > "$T/stdin"
    verifier --config "$T/blind.json" --timeout 3000 --server "https://127.0.0.1:$PORT" \
        --server-ca "$BATS_FILE_TMPDIR/other.pem" -name "$IMG:good" -digest "$GOOD" \
        -stdin-media-type "$MT"
    [ "$status" -ne 0 ] && [[ "$stderr" == *"verifying here"* ]]
}

@test "--server stopped or stalled: the node verifies by itself within what is left of its deadline" {
    start --trusted-did "$ALICE"
    desc "$GOOD" > "$T/stdin"
    want="allowed: $IMG@$GOOD policy trustedDIDs signers $ALICE"
    # stalled (SIGSTOP: the kernel accepts, nothing answers): half the deadline, then here
    kill -STOP "$SRV_PID"
    t0=$(ms)
    verifier --config "$T/node.json" --timeout 3000 --server "https://127.0.0.1:$PORT" \
        --server-ca "$CERT" -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    el=$(( $(ms) - t0 ))
    echo "$el ms: $output / $stderr"
    [ "$status" -eq 0 ] && one_line && [ "$output" = "$want" ]
    [[ "$stderr" == *"--server gave no answer (1"???" ms allowed)"*"timed out"*"verifying here"* ]]
    [ "$el" -ge 1400 ] && [ "$el" -lt 3000 ]
    # a refusal is the node's own then too
    desc "$UNSIGNED" > "$T/stdin"
    verifier --config "$T/node.json" --timeout 2000 --server-timeout 500 \
        --server "https://127.0.0.1:$PORT" --server-ca "$CERT" -name "$IMG:unsigned" \
        -digest "$UNSIGNED" -stdin-media-type "$MT"
    [ "$status" -eq 1 ] && [[ "$output" == "refused: NO_SIGNATURE: "* ]]
    [[ "$stderr" == *"(500 ms allowed)"* ]]
    # stopped: the connection is refused at once
    kill -CONT "$SRV_PID"
    kill -KILL "$SRV_PID"
    wait "$SRV_T" 2>/dev/null || true
    desc "$GOOD" > "$T/stdin"
    t0=$(ms)
    verifier --config "$T/node.json" --server "https://127.0.0.1:$PORT" --server-ca "$CERT" \
        -name "$IMG:good" -digest "$GOOD" -stdin-media-type "$MT"
    el=$(( $(ms) - t0 ))
    [ "$status" -eq 0 ] && [ "$output" = "$want" ]
    [[ "$stderr" == *"verifying here"* ]]
    [ "$el" -lt 2000 ]
}

# ---- a real containerd ------------------------------------------------------------------------

# ctrd_up: containerd >= 2.1 (fetch.sh) as root, everything under $T/ctrd, the wrapper
# alone in bin_dir, per_verifier_timeout 5s; sets CTR (the ctr command) and CTRD_PID
ctrd_up() {
    [ "$(id -u)" = 0 ] || { echo "containerd.bats: the containerd test runs as root (CI does)" >&2; return 1; }
    local out dir d="$T/ctrd"
    out=$(sh "$BATS_TEST_DIRNAME/containerd/fetch.sh") || {
        echo "containerd.bats: FATAL: no containerd >= 2.1 (integration/containerd/fetch.sh)" >&2
        return 1
    }
    dir=$(printf '%s\n' "$out" | sed -n 's/^DIR=//p' | tail -n 1)
    [ -x "$dir/usr/bin/containerd" ] || return 1
    mkdir -p "$d/bin" "$d/opt" "$d/root" "$d/state"
    # the wrapper the install puts in bin_dir, and nothing else there
    printf '#!/bin/sh\nexec %s containerd-verifier --config %s --timeout 3000 "$@"\n' \
        "$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")" "$T/node.json" > "$d/bin/50-atcr-verify"
    chmod 0755 "$d/bin/50-atcr-verify"
    cat > "$d/config.toml" <<EOF
version = 3
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
                    "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$d/opt"
  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = "$d/bin"
    max_verifiers = 10
    per_verifier_timeout = '5s'
  [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
    platform = "linux/amd64"
    snapshotter = "native"
EOF
    # the daemon's environment is what the verifier inherits: keep it small
    (cd / && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        timeout 300 "$dir/usr/bin/containerd" --config "$d/config.toml" --log-level debug \
        > "$d/containerd.log" 2>&1 3>&-) &
    CTRD_PID=$!
    for _ in $(seq 1 100); do
        [ -S "$d/containerd.sock" ] && break
        kill -0 "$CTRD_PID" 2>/dev/null || break
        sleep 0.05
    done
    [ -S "$d/containerd.sock" ] || { tail -n 30 "$d/containerd.log" >&2; return 1; }
    "$dir/usr/bin/containerd" --version >&2
    CTR=("$dir/usr/bin/ctr" -a "$d/containerd.sock")
}
# pull TAG: ctr image pull through the transfer service (nothing unpacked:
# the fixture's layers are not tarballs); sets status and output (ctr's last line)
pull() {
    run --separate-stderr timeout 30 "${CTR[@]}" image pull --plain-http --all-platforms "$IMG:$1"
    echo "pull $1: $status: $stderr"
}

@test "containerd >= 2.1: signed allowed; unsigned, untrusted, revoked, stalled PDS refused with our reason" {
    ctrd_up
    pull good
    [ "$status" -eq 0 ]
    run timeout 10 "${CTR[@]}" image ls -q
    [[ "$output" == *"$IMG:good"* ]]
    grep -q "50-atcr-verify => allowed: $IMG@$GOOD policy trustedDIDs signers $ALICE" \
        "$T/ctrd/containerd.log"
    blocked="image verifier bindir blocked pull of $IMG"
    pull unsigned
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"$blocked:unsigned with digest $UNSIGNED for reason: verifier 50-atcr-verify rejected image (exit code 1): refused: NO_SIGNATURE: "* ]]
    pull bob
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"$blocked:bob with digest $BOB_D"*"(exit code 1): refused: UNTRUSTED_SIGNER: "* ]]
    pull revoked
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"$blocked:revoked with digest $REVOKED"*"(exit code 1): refused: RECORD_NOT_FOUND: "* ]]
    # a stalled PDS: our TIMEOUT before per_verifier_timeout, not "signal: killed"
    "${CTR[@]}" image rm "$IMG:good" > /dev/null
    rm -rf "$T/cache"
    touch "$STATE/pds-stall"
    t0=$(ms)
    pull good
    el=$(( $(ms) - t0 ))
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"$blocked:good with digest $GOOD"*"(exit code 2): error: TIMEOUT (transient): "* ]]
    [[ "$stderr" != *"signal: killed"* ]]
    [ "$el" -lt 5000 ]
    # nothing blocked was fetched: the registry was asked for the manifest only
    run timeout 10 "${CTR[@]}" image ls -q
    [[ "$output" != *":unsigned"* ]] && [[ "$output" != *":bob"* ]] && [[ "$output" != *":revoked"* ]]
}
