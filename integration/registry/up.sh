#!/bin/sh
# Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free port>
# with storage in STATE, pushes the test content with curl (monolithic PUT
# uploads), and writes STATE/env (KEY=VALUE lines) for the tests.
#
#   up.sh STATE [anon|htpasswd|token]
#
# Content: an image (tag v1) and, as its referrer, an atproto signature
# artifact (manifest + layer) listed in the OCI 1.1 tag-schema index
# sha256-<hex>, because 2.8 has no referrers API. A blob whose file on disk is
# then overwritten (same size), for the digest-mismatch test. With htpasswd,
# user alice / password s3cret (bcrypt, as 2.8 requires). With token, a node
# token server (token-server.js) answers Basic alice:s3cret and the OAuth2
# refresh-token POST for the token in STATE/refresh.token.
# Every network step is bounded (curl --max-time, a 5 s readiness wait, and
# the registry itself under `timeout` so that a lost test cannot leave it running).
set -eu
STATE=$1
MODE=${2:-anon}
REG=${ATV_DOCKER_REGISTRY:-/usr/bin/docker-registry}
[ -x "$REG" ] || { echo "up.sh: $REG not found (apt package docker-registry)" >&2; exit 3; }
mkdir -p "$STATE/data"
CURL="curl -sS --max-time 5"
AUTH=""
if [ "$MODE" = htpasswd ]; then
    command -v htpasswd >/dev/null || { echo "up.sh: htpasswd missing (apache2-utils)" >&2; exit 3; }
    htpasswd -Bbn alice s3cret > "$STATE/htpasswd"
    AUTH="auth: { htpasswd: { realm: test, path: $STATE/htpasswd } }"
    CURL="$CURL -u alice:s3cret"
elif [ "$MODE" = token ]; then
    # distribution token auth: a node token server signing RS256 JWTs with x5c
    command -v node >/dev/null || { echo "up.sh: node missing" >&2; exit 3; }
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$STATE/tok.key" -out "$STATE/tok.crt" \
        -days 1 -subj /CN=atv-test-token >/dev/null 2>&1
    # the one OAuth2 refresh token the server accepts (a Docker config "identitytoken");
    # characters that need form-encoding on purpose
    printf 'rt-%s/+=&x y' "$(openssl rand -hex 12)" > "$STATE/refresh.token"
    timeout 300 node "$(dirname "$0")/token-server.js" "$STATE/tok.key" "$STATE/tok.crt" "$STATE" \
        > "$STATE/token-server.log" 2>&1 &
    echo $! > "$STATE/tokpid"
    i=0
    while [ ! -s "$STATE/token.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$STATE/token.port" ] || { echo "up.sh: token server did not start" >&2; exit 1; }
    TPORT=$(cat "$STATE/token.port")
    AUTH="auth: { token: { realm: http://127.0.0.1:$TPORT/token, service: test-registry, issuer: test-issuer, rootcertbundle: $STATE/tok.crt } }"
    TOKEN=$(curl -sS --max-time 5 -u alice:s3cret \
        "http://127.0.0.1:$TPORT/token?service=test-registry&scope=repository:sig/app:pull,push" |
        sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    CURL="$CURL --oauth2-bearer $TOKEN"
fi

. "$(dirname "$0")/start.sh"
start_registry "$STATE" "$STATE/pid" 300 "$AUTH" || exit 1
BASE="http://127.0.0.1:$PORT/v2/sig/app"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c < "$1" | tr -d ' '; }

# POST /blobs/uploads/ then PUT <Location>&digest= (distribution-spec "pushing a blob monolithically")
push_blob() { # file -> prints digest
    d="sha256:$(sha "$1")"
    loc=$($CURL -X POST -D - -o /dev/null "$BASE/blobs/uploads/" | tr -d '\r' |
          sed -n 's/^[Ll]ocation: //p')
    [ -n "$loc" ] || { echo "up.sh: no upload location" >&2; exit 1; }
    case "$loc" in http*) ;; *) loc="http://127.0.0.1:$PORT$loc" ;; esac
    case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
    code=$($CURL -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
           --data-binary "@$1" "$loc${sep}digest=$d")
    [ "$code" = 201 ] || { echo "up.sh: blob PUT gave $code" >&2; exit 1; }
    echo "$d"
}
push_manifest() { # file media-type ref
    code=$($CURL -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $2" \
           --data-binary "@$1" "$BASE/manifests/$3")
    [ "$code" = 201 ] || { echo "up.sh: manifest PUT $3 gave $code" >&2; exit 1; }
}

C="$STATE/content"
mkdir -p "$C"
OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
SIGT=application/vnd.atproto.signature.v1+json
EMPTY=application/vnd.oci.empty.v1+json

printf '{}' > "$C/empty"
EMPTY_D=$(push_blob "$C/empty")
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$C/cfg"
CFG_D=$(push_blob "$C/cfg")
printf 'layer bytes of the test image\n' > "$C/layer"
LAYER_D=$(push_blob "$C/layer")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$OCI_M" "$CFG_D" "$(size "$C/cfg")" "$LAYER_D" "$(size "$C/layer")" > "$C/image"
push_manifest "$C/image" "$OCI_M" v1
IMG_D="sha256:$(sha "$C/image")"

printf '{"$type":"io.atcr.atproto.signature","version":"1.0","subject":{"digest":"%s"}}' "$IMG_D" > "$C/sigblob"
SIGBLOB_D=$(push_blob "$C/sigblob")
printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"%s","config":{"mediaType":"%s","digest":"%s","size":2},"layers":[{"mediaType":"%s","digest":"%s","size":%s}],"subject":{"mediaType":"%s","digest":"%s","size":%s},"annotations":{"io.atcr.atproto.did":"did:plc:testtesttesttesttesttest","io.atcr.atproto.recordUri":"at://did:plc:testtesttesttesttesttest/io.atcr.manifest/abc"}}' \
    "$OCI_M" "$SIGT" "$EMPTY" "$EMPTY_D" "$SIGT" "$SIGBLOB_D" "$(size "$C/sigblob")" \
    "$OCI_M" "$IMG_D" "$(size "$C/image")" > "$C/sig"
SIG_D="sha256:$(sha "$C/sig")"
push_manifest "$C/sig" "$OCI_M" "$SIG_D"
# the referrers tag schema index (children must exist first: 2.8 validates them)
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s,"artifactType":"%s","annotations":{"io.atcr.atproto.did":"did:plc:testtesttesttesttesttest"}}]}' \
    "$OCI_I" "$OCI_M" "$SIG_D" "$(size "$C/sig")" "$SIGT" > "$C/index"
push_manifest "$C/index" "$OCI_I" "sha256-${IMG_D#sha256:}"

# a blob tampered with on disk after the push (same size, one byte changed)
printf 'original blob content\n' > "$C/tamper"
TAMPER_D=$(push_blob "$C/tamper")
hex=${TAMPER_D#sha256:}
f="$STATE/data/docker/registry/v2/blobs/sha256/$(echo "$hex" | cut -c1-2)/$hex/data"
[ -f "$f" ] || { echo "up.sh: blob file not at $f" >&2; exit 1; }
printf 'Original blob content\n' > "$f"

cat > "$STATE/env" <<ENV
PORT=$PORT
HOSTPORT=127.0.0.1:$PORT
IMG_DIGEST=$IMG_D
IMG_SIZE=$(size "$C/image")
SIG_DIGEST=$SIG_D
SIG_SIZE=$(size "$C/sig")
SIGBLOB_DIGEST=$SIGBLOB_D
SIGBLOB_SIZE=$(size "$C/sigblob")
TAMPER_DIGEST=$TAMPER_D
TAMPER_SIZE=$(size "$C/tamper")
ENV
