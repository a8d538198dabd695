#!/usr/bin/env bats
# The fully static plugin (make static -> build/static/atproto) run the way
# Ratify runs it inside gcr.io/distroless/static:nonroot: an otherwise EMPTY
# root file system holding only what that image has (the binary at
# /.ratify/plugins/atproto, /etc/ssl/certs/ca-certificates.crt, /etc/passwd,
# /etc/group, /tmp, /home/nonroot; no libc, no shell, no /etc/hosts, no
# /etc/resolv.conf), as uid 65532, with env -i (HOME unset), cwd /.
# The static atcr-verify (build/static/atcr-verify) the same way, where
# Dockerfile.server puts it (/usr/local/bin/atcr-verify), serving from its own
# empty root with a certificate and key where a mounted secret would be.
#
# Needs root for chroot (CI and the dev box are root); skipped otherwise.
# ATV_STATIC_BIN=path and ATV_STATIC_CLI=path use prebuilt binaries (the plugin,
# atcr-verify) instead of running `make static`.

bats_require_minimum_version 1.5.0

SUBJECT_DIGEST="sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28"
SIG_DIGEST="sha256:4a1d11c84c9f3f6cbb0e2d75b5577921e241fd61da75cf5179564f4f9e95076e"
RUN_LIMIT=30 # seconds any single plugin run may take

setup_file() {
    [ "$(id -u)" = 0 ] || skip "chroot needs root"
    CHROOT=$(command -v chroot) || skip "no chroot"
    export CHROOT # absolute: env -i clears PATH
    if [ -z "${ATV_STATIC_BIN:-}" ] || [ -z "${ATV_STATIC_CLI:-}" ]; then
        # Idempotent: seconds when the dependency cache and the objects exist.
        make --no-print-directory static >"$BATS_FILE_TMPDIR/make-static.log" 2>&1 || {
            tail -n 40 "$BATS_FILE_TMPDIR/make-static.log" >&3
            return 1
        }
    fi
    export STATIC_BIN="${ATV_STATIC_BIN:-build/static/atproto}"
    export STATIC_CLI="${ATV_STATIC_CLI:-build/static/atcr-verify}"
    export ROOT="$BATS_FILE_TMPDIR/root"
    make_root "$ROOT" /etc/ssl/certs/ca-certificates.crt
    export SROOT="$BATS_FILE_TMPDIR/root-server"
    make_server_root "$SROOT" /etc/ssl/certs/ca-certificates.crt
}

# make_root DIR CA_BUNDLE: the distroless-like tree with the plugin (Dockerfile.ratify).
make_root() {
    local r=$1
    make_base_root "$r" "$2"
    mkdir -p "$r/.ratify/plugins"
    chown 65532:65532 "$r/.ratify/plugins"
    install -m 0755 -o 65532 -g 65532 "$STATIC_BIN" "$r/.ratify/plugins/atproto"
}

# make_server_root DIR CA_BUNDLE: the same tree with atcr-verify where
# Dockerfile.server copies it (root-owned, 0755), and a throwaway self-signed
# certificate for 127.0.0.1 with its key where a Kubernetes TLS Secret would be
# mounted (/etc/atcr-verify/tls/tls.crt, tls.key); the certificate is also
# $1.cert.pem outside the root, for curl.
make_server_root() {
    local r=$1
    make_base_root "$r" "$2"
    mkdir -p "$r/usr/local/bin" "$r/etc/atcr-verify/tls"
    install -m 0755 -o 0 -g 0 "$STATIC_CLI" "$r/usr/local/bin/atcr-verify"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$r/etc/atcr-verify/tls/tls.key" -out "$r/etc/atcr-verify/tls/tls.crt" 2>/dev/null
    chown 65532:65532 "$r/etc/atcr-verify/tls/tls.key"
    chmod 0400 "$r/etc/atcr-verify/tls/tls.key"
    chmod 0444 "$r/etc/atcr-verify/tls/tls.crt"
    cp "$r/etc/atcr-verify/tls/tls.crt" "$r.cert.pem"
}

# make_base_root DIR CA_BUNDLE: what gcr.io/distroless/static:nonroot holds.
make_base_root() {
    local r=$1
    rm -rf "$r"
    mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/home/nonroot"
    chmod 1777 "$r/tmp"
    chown 65532:65532 "$r/home/nonroot"
    install -m 0644 "$2" "$r/etc/ssl/certs/ca-certificates.crt"
    # distroless/static's own /etc/passwd and /etc/group
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
        'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$r/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$r/etc/group"
}

# in_root ROOT STDIN-FILE VAR=VALUE...: runs the plugin as Ratify does; sets
# $status, $output (stdout) and $stderr.
in_root() {
    r=$1
    in=$2
    shift 2
    run --separate-stderr timeout "$RUN_LIMIT" env -i "$@" \
        "$CHROOT" --userspec=65532:65532 "$r" /.ratify/plugins/atproto <"$in"
    echo "status $status"
    echo "stdout: $output"
    echo "stderr: $stderr"
}

# request REGISTRY [USEHTTP]: a Ratify request for image good's signature
# manifest; writes the stdin file and sets $ENV_SUBJECT.
request() {
    jq -n --arg usehttp "${2:-true}" --arg digest "$SIG_DIGEST" --arg alice "$(jq -r .accounts.alice.did "$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json")" '{
        config: {name: "verifier-atproto", type: "atproto", cacheDir: "/tmp/cache",
                 trustedDIDs: [$alice], allowLoopbackHTTP: true},
        storeConfig: {version: "1.0.0", pluginBinDirs: null,
                      store: {name: "oras", useHttp: ($usehttp == "true")}},
        referenceDesc: {mediaType: "application/vnd.oci.image.manifest.v1+json",
                        digest: $digest, size: 880,
                        artifactType: "application/vnd.atproto.signature.v1+json"}}' \
        >"$BATS_TEST_TMPDIR/stdin.json"
    ENV_SUBJECT="RATIFY_VERIFIER_SUBJECT=$1/atv/app@$SUBJECT_DIGEST"
}

# one_verdict: stdout is exactly one JSON object line.
one_verdict() {
    [ "${#lines[@]}" -eq 1 ]
    printf '%s\n' "$output" | jq -e 'type == "object" and (.isSuccess | type) == "boolean"' >/dev/null
}

@test "static: no program interpreter, no NEEDED, ldd calls it static" {
    run file -L "$STATIC_BIN"
    echo "$output"
    [[ "$output" == *"statically linked"* || "$output" == *"static-pie linked"* ]]
    run readelf -lW "$STATIC_BIN"
    [ "$status" -eq 0 ]
    [[ "$output" != *"program interpreter"* ]]
    [[ "$output" != *"INTERP"* ]]
    run readelf -dW "$STATIC_BIN"
    [ "$status" -eq 0 ]
    [[ "$output" != *"(NEEDED)"* ]]
    run ldd "$STATIC_BIN"
    echo "$output"
    [[ "$output" == *"statically linked"* || "$output" == *"not a dynamic executable"* ]]
    # The libcurl inside is the minimal one, whose default CA bundle is distroless's path.
    strings "$STATIC_BIN" | grep -qx /etc/ssl/certs/ca-certificates.crt
}

@test "static: the empty root really is empty (no libc, no shell, no hosts, no resolv.conf)" {
    [ ! -e "$ROOT/bin" ] && [ ! -e "$ROOT/lib" ] && [ ! -e "$ROOT/lib64" ] && [ ! -e "$ROOT/usr" ]
    [ ! -e "$ROOT/etc/hosts" ] && [ ! -e "$ROOT/etc/resolv.conf" ] && [ ! -e "$ROOT/etc/nsswitch.conf" ]
    n=$(find "$ROOT" -type f | wc -l)
    [ "$n" -eq 4 ] # the binary, the CA bundle, passwd, group
}

@test "static: --help and --version run in the empty root as uid 65532" {
    in_root_args() {
        run --separate-stderr timeout "$RUN_LIMIT" env -i \
            "$CHROOT" --userspec=65532:65532 "$ROOT" /.ratify/plugins/atproto "$@" </dev/null
    }
    in_root_args --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Ratify"* ]]
    in_root_args --version
    [ "$status" -eq 0 ]
    [[ "$output" == "atproto "* ]]
}

@test "static: atcr-verify has no program interpreter, no NEEDED; the plugin has no libevent" {
    run file -L "$STATIC_CLI"
    echo "$output"
    [[ "$output" == *"statically linked"* || "$output" == *"static-pie linked"* ]]
    run readelf -lW "$STATIC_CLI"
    [ "$status" -eq 0 ]
    [[ "$output" != *"program interpreter"* ]]
    [[ "$output" != *"INTERP"* ]]
    run readelf -dW "$STATIC_CLI"
    [ "$status" -eq 0 ]
    [[ "$output" != *"(NEEDED)"* ]]
    run ldd "$STATIC_CLI"
    [[ "$output" == *"statically linked"* || "$output" == *"not a dynamic executable"* ]]
    strings "$STATIC_CLI" | grep -qx /etc/ssl/certs/ca-certificates.crt
    # the server is inside atcr-verify (evhttp, bufferevent_openssl) ...
    nm "$STATIC_CLI" | grep -q ' T evhttp_new$'
    nm "$STATIC_CLI" | grep -q ' T bufferevent_openssl_socket_new$'
    # ... and not in the plugin, which never serves
    run sh -c "nm '$STATIC_BIN' | grep -E ' [TtDdBb] (event_|evhttp_|evbuffer_|bufferevent_|atv_srv_)'"
    [ "$status" -eq 1 ]
}

# in_server_root ARGS...: atcr-verify ARGS in the server's empty root, as uid 65532, env -i.
in_server_root() {
    run --separate-stderr timeout "$RUN_LIMIT" env -i \
        "$CHROOT" --userspec=65532:65532 "$SROOT" /usr/local/bin/atcr-verify "$@" </dev/null
}

@test "static: atcr-verify --help and serve --help run in the empty root as uid 65532" {
    n=$(find "$SROOT" -type f | wc -l)
    [ "$n" -eq 6 ] # the binary, the CA bundle, passwd, group, tls.crt, tls.key
    [ ! -e "$SROOT/bin" ] && [ ! -e "$SROOT/lib" ] && [ ! -e "$SROOT/lib64" ]
    [ ! -e "$SROOT/usr/lib" ] && [ ! -e "$SROOT/etc/hosts" ] && [ ! -e "$SROOT/etc/resolv.conf" ]
    in_server_root --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"usage: atcr-verify IMAGE"* ]]
    in_server_root serve --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--listen ADDR:PORT"* ]]
    in_server_root --version
    [ "$status" -eq 0 ]
    [[ "$output" == "atcr-verify "* ]]
}

# start_server ARGS...: `atcr-verify serve` in the server root (as Dockerfile.server's
# ENTRYPOINT runs it, as uid 65532, env -i) on 127.0.0.1 port 0, health too, with
# the mounted certificate; sets SRV_PID, PORT and HPORT. Waits 10 s at most.
start_server() {
    d=$BATS_TEST_TMPDIR
    timeout 120 env -i "$CHROOT" --userspec=65532:65532 "$SROOT" \
        /usr/local/bin/atcr-verify serve --listen 127.0.0.1:0 --health-listen 127.0.0.1:0 \
        --tls-cert /etc/atcr-verify/tls/tls.crt --tls-key /etc/atcr-verify/tls/tls.key "$@" \
        </dev/null >"$d/serve.out" 2>"$d/serve.log" 3>&- &
    SRV_PID=$!
    for _ in $(seq 1 200); do
        grep -q 'listening on' "$d/serve.log" 2>/dev/null && break
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$d/serve.log")
    HPORT=$(sed -n 's/.*health on http:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$d/serve.log")
    [ -n "$PORT" ] && [ -n "$HPORT" ] || { cat "$d/serve.log"; return 1; }
}

# stop_server: SIGTERM (timeout passes it on to atcr-verify), 5 s, then SIGKILL.
# Sets SRV_RC to the exit status.
stop_server() {
    SRV_RC=""
    [ -n "${SRV_PID:-}" ] || return 0
    kill -TERM "$SRV_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$SRV_PID" 2>/dev/null || true
    SRV_RC=0
    wait "$SRV_PID" 2>/dev/null || SRV_RC=$?
    SRV_PID=""
}

# scurl PATH | hcurl PATH: the HTTPS and the health listener; the body, then the
# status on the last line.
scurl() {
    curl -sS --max-time 10 --cacert "$SROOT.cert.pem" -w '\n%{http_code}' "https://127.0.0.1:$PORT$1"
}
hcurl() {
    curl -sS --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$HPORT$1"
}

@test "static: atcr-verify serve in the empty root answers /healthz, /verify over TLS; SIGTERM exits 0" {
    ALICE=$(jq -r .accounts.alice.did "$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json")
    start_server --trusted-did "$ALICE" --lame-duck 0 --workers 2
    grep -q ', 2 workers' "$BATS_TEST_TMPDIR/serve.log"
    r=$(hcurl /healthz)
    [ "$(tail -n 1 <<<"$r")" = 200 ]
    r=$(hcurl /readyz)
    [ "$(tail -n 1 <<<"$r")" = 200 ]
    # TLS from the static OpenSSL, and a verification that fails closed: nothing
    # listens on 127.0.0.1:1, so libcurl really tried and was refused (transient: 503)
    r=$(scurl "/verify?image=127.0.0.1:1/atv/app:good")
    echo "$r"
    [ "$(tail -n 1 <<<"$r")" = 503 ]
    sed '$d' <<<"$r" | jq -e '.allowed == false and .transient == true and
        .reason == "REGISTRY_ERROR" and (.message | contains("connection refused"))'
    r=$(hcurl /metrics)
    [ "$(tail -n 1 <<<"$r")" = 200 ]
    grep -q '^atcr_verify_requests_total{path="/verify",code="503"} 1$' <<<"$r"
    stop_server
    cat "$BATS_TEST_TMPDIR/serve.log"
    [ "$SRV_RC" -eq 0 ]
    grep -q 'stopped' "$BATS_TEST_TMPDIR/serve.log"
    # nothing on stdout: diagnostics go to stderr
    [ ! -s "$BATS_TEST_TMPDIR/serve.out" ]
}

@test "static: missing RATIFY_VERIFIER_COMMAND is a protocol error: exit 1, code 4" {
    request 127.0.0.1:1
    in_root "$ROOT" "$BATS_TEST_TMPDIR/stdin.json" "$ENV_SUBJECT" RATIFY_VERIFIER_VERSION=1.0.0
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$(printf '%s' "$output" | jq -r .code)" = 4 ]
}

@test "static: registry 127.0.0.1:1 answers one verdict line, isSuccess false, REGISTRY_ERROR" {
    request 127.0.0.1:1
    in_root "$ROOT" "$BATS_TEST_TMPDIR/stdin.json" RATIFY_VERIFIER_COMMAND=VERIFY \
        "$ENV_SUBJECT" RATIFY_VERIFIER_VERSION=1.0.0
    [ "$status" -eq 0 ]
    one_verdict
    [ "$(printf '%s' "$output" | jq -r .isSuccess)" = false ]
    [ "$(printf '%s' "$output" | jq -r .extensions.reason)" = REGISTRY_ERROR ]
    # libcurl really tried: a refused connection, not a setup failure
    [[ "$output" == *"connection refused"* ]]
}

@test "static: registry localhost:1 with no /etc/hosts fails closed, no crash" {
    request localhost:1
    in_root "$ROOT" "$BATS_TEST_TMPDIR/stdin.json" RATIFY_VERIFIER_COMMAND=VERIFY \
        "$ENV_SUBJECT" RATIFY_VERIFIER_VERSION=1.0.0
    [ "$status" -eq 0 ]
    one_verdict
    [ "$(printf '%s' "$output" | jq -r .isSuccess)" = false ]
    [ "$(printf '%s' "$output" | jq -r .extensions.reason)" = REGISTRY_ERROR ]
}

# An HTTPS "registry" on 127.0.0.1 that answers 404 to everything, with a
# self-signed certificate for IP 127.0.0.1. Prints its port in $BATS_TEST_TMPDIR/port.
start_tls_server() {
    d=$BATS_TEST_TMPDIR
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=atv-static-test -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
    timeout 60 node -e '
        const fs = require("fs"), https = require("https");
        const s = https.createServer({key: fs.readFileSync(process.argv[1]),
                                      cert: fs.readFileSync(process.argv[2])},
            (req, res) => { res.writeHead(404, {"content-type": "application/json"});
                            res.end("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}"); });
        s.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[3], String(s.address().port)));
    ' "$d/key.pem" "$d/cert.pem" "$d/port" 3>&- >"$d/tls.log" 2>&1 &
    echo $! >"$d/tls.pid"
    i=0
    while [ ! -s "$d/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$d/port" ]
}

stop_tls_server() {
    [ -f "$BATS_TEST_TMPDIR/tls.pid" ] && kill "$(cat "$BATS_TEST_TMPDIR/tls.pid")" 2>/dev/null || true
}

@test "static: HTTPS trusts exactly the root's /etc/ssl/certs/ca-certificates.crt" {
    start_tls_server
    port=$(cat "$BATS_TEST_TMPDIR/port")
    request "127.0.0.1:$port" false
    # 1. the root's bundle holds the server's certificate: TLS succeeds and the
    #    registry's 404 is what fails the verdict
    make_root "$BATS_TEST_TMPDIR/root-ca" "$BATS_TEST_TMPDIR/cert.pem"
    in_root "$BATS_TEST_TMPDIR/root-ca" "$BATS_TEST_TMPDIR/stdin.json" RATIFY_VERIFIER_COMMAND=VERIFY \
        "$ENV_SUBJECT" RATIFY_VERIFIER_VERSION=1.0.0
    r1=$status o1=$output
    # 2. Debian's bundle (as in distroless) does not: fails closed on TLS
    in_root "$ROOT" "$BATS_TEST_TMPDIR/stdin.json" RATIFY_VERIFIER_COMMAND=VERIFY \
        "$ENV_SUBJECT" RATIFY_VERIFIER_VERSION=1.0.0
    r2=$status o2=$output
    stop_tls_server
    [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]
    [ "$(printf '%s' "$o1" | jq -r .extensions.reason)" = REGISTRY_ERROR ]
    [[ "$o1" == *"404"* ]]
    [[ "$o1" != *"tls"* && "$o1" != *"certificate"* ]]
    [ "$(printf '%s' "$o2" | jq -r .isSuccess)" = false ]
    [ "$(printf '%s' "$o2" | jq -r .extensions.reason)" = REGISTRY_ERROR ]
    [[ "$o2" == *"tls"* || "$o2" == *"certificate"* || "$o2" == *"SSL"* ]]
    [[ "$o2" != *"404"* ]]
}

# A DNS server for a fresh network namespace: answers A 127.0.0.1 for every
# name, no AAAA, and logs each question to $BATS_TEST_TMPDIR/dns.log.
write_dns_server() {
    cat >"$BATS_TEST_TMPDIR/dns.js" <<'JS'
const dgram = require("dgram"), fs = require("fs");
const log = process.argv[2], ready = process.argv[3];
const s = dgram.createSocket("udp4");
s.on("message", (q, peer) => {
    if (q.length < 17) return;
    let i = 12, labels = [];
    while (i < q.length && q[i] !== 0 && labels.length < 64) {
        labels.push(q.toString("latin1", i + 1, i + 1 + q[i]));
        i += 1 + q[i];
    }
    const qtype = q.readUInt16BE(i + 1), qend = i + 5;
    fs.appendFileSync(log, labels.join(".") + " " + qtype + "\n");
    const head = Buffer.from(q.subarray(0, qend));
    head[2] = 0x84 | (q[2] & 0x01); head[3] = 0x80; // response, authoritative, RD copied, RA
    head.writeUInt16BE(0, 6); head.writeUInt16BE(0, 8); head.writeUInt16BE(0, 10);
    let ans = Buffer.alloc(0);
    if (qtype === 1) {
        head.writeUInt16BE(1, 6);
        ans = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    s.send(Buffer.concat([head, ans]), peer.port, peer.address);
});
s.bind(53, "127.0.0.1", () => fs.writeFileSync(ready, "up"));
JS
}

@test "static: names resolve through /etc/resolv.conf in the root (static glibc, no NSS modules)" {
    command -v unshare >/dev/null && command -v ip >/dev/null || skip "needs unshare and ip"
    write_dns_server
    r="$BATS_TEST_TMPDIR/root-dns"
    make_root "$r" /etc/ssl/certs/ca-certificates.crt
    # what the kubelet mounts into the pod; still no /etc/hosts, no nsswitch.conf
    printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' >"$r/etc/resolv.conf"
    request registry.atv.test:1
    d=$BATS_TEST_TMPDIR
    # A private network namespace: port 53 is ours, nothing leaves the box.
    run --separate-stderr timeout 60 unshare --net bash -c '
        ip link set lo up || exit 90
        timeout 50 node "$1/dns.js" "$1/dns.log" "$1/dns.ready" 3>&- &
        dns=$!
        i=0; while [ ! -s "$1/dns.ready" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        [ -s "$1/dns.ready" ] || exit 91
        timeout 30 env -i RATIFY_VERIFIER_COMMAND=VERIFY "$3" RATIFY_VERIFIER_VERSION=1.0.0 \
            "$4" --userspec=65532:65532 "$2" /.ratify/plugins/atproto <"$1/stdin.json"
        rc=$?
        kill $dns
        exit $rc' _ "$d" "$r" "$ENV_SUBJECT" "$CHROOT"
    echo "status $status"; echo "stdout: $output"; echo "stderr: $stderr"
    echo "dns log:"; cat "$d/dns.log" || true
    [ "$status" -eq 0 ]
    one_verdict
    [ "$(printf '%s' "$output" | jq -r .extensions.reason)" = REGISTRY_ERROR ]
    # resolved to 127.0.0.1 by our server, then refused on port 1
    [[ "$output" == *"connection refused"* ]]
    grep -q '^registry.atv.test 1$' "$d/dns.log"
}

@test "static: without /etc/resolv.conf an unknown name is 'host not found', not a crash" {
    request registry.atv.test:1
    in_root "$ROOT" "$BATS_TEST_TMPDIR/stdin.json" RATIFY_VERIFIER_COMMAND=VERIFY \
        "$ENV_SUBJECT" RATIFY_VERIFIER_VERSION=1.0.0
    [ "$status" -eq 0 ]
    one_verdict
    [ "$(printf '%s' "$output" | jq -r .extensions.reason)" = REGISTRY_ERROR ]
    [[ "$output" == *"host not found"* ]]
}

# The committed sample requests, served by integration/fixture/up.sh, run
# through the static binary inside the root. @FIXTURE@ becomes /fixture, so the
# policy files (@FIXTURE@/../policies/F) are copied to /policies in the root.
fixture_up() {
    [ -x integration/fixture/up.sh ] || [ -f integration/fixture/up.sh ] ||
        skip "integration/fixture/up.sh not there yet"
    STATE="$BATS_TEST_TMPDIR/state"
    sh integration/fixture/up.sh "$STATE" 3>&- >"$BATS_TEST_TMPDIR/up.log" 2>&1 || {
        cat "$BATS_TEST_TMPDIR/up.log"
        return 1
    }
    # shellcheck disable=SC1091
    . "$STATE/env"
    FROOT="$BATS_TEST_TMPDIR/root-fixture"
    make_root "$FROOT" /etc/ssl/certs/ca-certificates.crt
    mkdir -p "$FROOT/fixture"
    cp -r testdata/ratify/policies "$FROOT/policies"
}

fixture_down() {
    [ -n "${STATE:-}" ] && sh integration/fixture/down.sh "$STATE" >/dev/null 2>&1 || true
}

teardown() {
    stop_server
    stop_tls_server
    fixture_down
}

# subst FILE CACHE: the sample with every placeholder replaced.
subst() {
    sed -e "s|@REGISTRY@|$REGISTRY|g" -e "s|@PLC@|$PLC|g" -e "s|@PDS500@|$PDS500|g" \
        -e "s|@PDS@|$PDS|g" -e "s|@FIXTURE@|/fixture|g" -e "s|@CACHE@|$2|g" "$1"
}

# run_sample FILE N: runs sample FILE in the fixture root with a fresh cache /tmp/cache-N.
run_sample() {
    subst "$1" "/tmp/cache-$2" >"$BATS_TEST_TMPDIR/sample.json"
    s="$BATS_TEST_TMPDIR/sample.json"
    if jq -e 'has("stdinRaw")' "$s" >/dev/null; then
        jq -j .stdinRaw "$s" >"$BATS_TEST_TMPDIR/stdin.json"
    else
        jq -c .stdin "$s" >"$BATS_TEST_TMPDIR/stdin.json"
    fi
    mapfile -t envs < <(jq -r '.env | to_entries[] | "\(.key)=\(.value)"' "$s")
    in_root "$FROOT" "$BATS_TEST_TMPDIR/stdin.json" "${envs[@]}"
}

@test "static: success-k256.json verifies inside the root against the loopback fixture" {
    fixture_up
    run_sample testdata/ratify/success-k256.json 0
    [ "$status" -eq 0 ]
    one_verdict
    printf '%s' "$output" | jq -e '.isSuccess == true' >/dev/null
    # every expected extension, with placeholders substituted
    want=$(jq -c .expect.extensions "$BATS_TEST_TMPDIR/sample.json")
    printf '%s' "$output" | jq -e --argjson w "$want" \
        '.extensions as $e | all($w | to_entries[]; $e[.key] == .value)' >/dev/null
    printf '%s' "$output" | jq -e '.extensions | has("handle") | not' >/dev/null
}

@test "static: every sample request gives its expected result inside the root" {
    fixture_up
    n=0
    bad=""
    for f in testdata/ratify/*.json; do
        jq -e 'has("expect") and has("env")' "$f" >/dev/null 2>&1 || continue
        n=$((n + 1))
        run_sample "$f" "$n"
        e="$BATS_TEST_TMPDIR/sample.json"
        ok=1
        [ "$status" -eq "$(jq .expect.exitCode "$e")" ] || ok=0
        if [ "$status" -eq 0 ]; then
            printf '%s' "$output" | jq -e --slurpfile x "$e" '
                ($x[0].expect) as $w | . as $o |
                (.isSuccess == $w.isSuccess) and
                (($w.reason // null) == null or .extensions.reason == $w.reason) and
                all(($w.extensions // {}) | to_entries[]; $o.extensions[.key] == .value) and
                all(($w.absent // [])[]; . as $k | $o.extensions | has($k) | not) and
                (($w.messageContains // null) == null or (.message | contains($w.messageContains)))
            ' >/dev/null 2>&1 || ok=0
        else
            printf '%s' "$output" | jq -e --slurpfile x "$e" '.code == $x[0].expect.code' \
                >/dev/null 2>&1 || ok=0
        fi
        [ $ok = 1 ] || bad="$bad $(basename "$f")"
    done
    echo "samples: $n, failing:${bad:- none}"
    [ "$n" -ge 20 ]
    [ -z "$bad" ]
}

@test "static: atcr-verify serve in the empty root verifies against the loopback fixture" {
    fixture_up
    fx="$BATS_TEST_DIRNAME/../testdata/ratify/fixture/fixture.json"
    start_server --trusted-did "$(jq -r .accounts.alice.did "$fx")" --lame-duck 0 \
        --plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle --cache-dir /tmp/cache
    r=$(scurl "/verify?image=$REGISTRY/atv/app:good")
    echo "$r"
    [ "$(tail -n 1 <<<"$r")" = 200 ]
    sed '$d' <<<"$r" | jq -e '.allowed == true and .reason == "OK"'
    r=$(scurl "/verify?image=$REGISTRY/atv/app:revoked")
    echo "$r"
    [ "$(tail -n 1 <<<"$r")" = 403 ]
    sed '$d' <<<"$r" | jq -e '.allowed == false and .reason == "RECORD_NOT_FOUND"'
    r=$(scurl "/verify?image=$REGISTRY/atv/app:bob")
    echo "$r"
    [ "$(tail -n 1 <<<"$r")" = 403 ]
    sed '$d' <<<"$r" | jq -e '.allowed == false and .reason == "UNTRUSTED_SIGNER"'
    # the DID cache went where Dockerfile.server says (an emptyDir on /tmp)
    [ -d "$SROOT/tmp/cache" ] && [ "$(stat -c %u "$SROOT/tmp/cache")" = 65532 ]
    stop_server
    [ "$SRV_RC" -eq 0 ]
}

# build_stage_is_make_static DOCKERFILE: its build stage runs exactly what
# `make static` runs, on the sources the Makefile compiles, and nothing else of
# the file RUNs (a distroless final stage has no shell anyway).
build_stage_is_make_static() {
    df=$1
    [ -f "$df" ]
    # build stage: Debian 12, and its RUN lines are these three, in this order
    grep -Eq '^FROM debian:(12|bookworm)([@-][^ ]*)? AS build$' "$df"
    run sh -c "sed -n 's/^RUN //p' $df"
    [ "${lines[0]}" = "sh scripts/install-deps.sh" ]
    [ "${lines[1]}" = "sh scripts/build-static-deps.sh" ]
    [ "${lines[2]}" = "make static" ]
    [ "${#lines[@]}" -eq 3 ]
    # ... which are what `make static` runs: deps (install-deps.sh), then the script
    grep -Eq '^static: deps$' static.mk
    grep -Fq 'prefix=$$(sh scripts/build-static-deps.sh)' static.mk
    grep -Fxq '	@sh scripts/install-deps.sh' Makefile
    # every module the Makefile compiles is copied in (and build/ is not)
    mods=$(sed -n 's/^MODULES := //p' Makefile)
    [ -n "$mods" ]
    for m in $mods; do
        grep -Fxq "COPY $m/ $m/" "$df"
    done
    grep -Fxq 'COPY Makefile static.mk ./' "$df"
    run grep -Eq '^COPY (\.|build)' "$df"
    [ "$status" -eq 1 ]
}

# build_stage DOCKERFILE: the build stage's instructions, comments and blank lines dropped.
build_stage() {
    sed -n '/^FROM .* AS build$/,/^FROM /p' "$1" | sed '$d' | grep -Ev '^(#|[[:space:]]*$)'
}

@test "static: Dockerfile.ratify builds with exactly the commands make static runs" {
    df=Dockerfile.ratify
    build_stage_is_make_static "$df"
    # final stage: Ratify v1.4.0 with the plugin where Ratify looks for it
    grep -Fxq 'FROM ghcr.io/ratify-project/ratify:v1.4.0' "$df"
    grep -Fxq 'COPY --from=build --chown=65532:65532 --chmod=0755 /src/build/static/atproto /.ratify/plugins/atproto' "$df"
}

@test "static: Dockerfile.server builds with exactly the commands make static runs" {
    df=Dockerfile.server
    build_stage_is_make_static "$df"
    # the very build stage Dockerfile.ratify has, instruction for instruction
    diff <(build_stage Dockerfile.ratify) <(build_stage "$df")
    [ "$(build_stage "$df" | wc -l)" -ge 14 ]
    # final stage: distroless/static:nonroot, the static atcr-verify, serve as the entrypoint
    run sh -c "grep '^FROM ' $df"
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[1]}" = "FROM gcr.io/distroless/static:nonroot" ]
    grep -Fxq 'COPY --from=build --chown=0:0 --chmod=0755 /src/build/static/atcr-verify /usr/local/bin/atcr-verify' "$df"
    grep -Fxq 'USER 65532:65532' "$df"
    grep -Fxq 'EXPOSE 8443 8080' "$df"
    grep -Fxq 'ENTRYPOINT ["/usr/local/bin/atcr-verify", "serve"]' "$df"
    # the documented run command uses flags serve has, and the ports it exposes
    for f in --listen --health-listen --tls-cert --tls-key --trusted-did; do
        grep -q "^#.* $f " "$df"
        grep -q -- "$f" cli/serve.c
    done
    grep -q '^#.*--listen :8443 --health-listen :8080' "$df"
}
