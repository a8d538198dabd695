#!/bin/sh
# make demo: the plugin's main job on the embedded default, on the real
# stack. Debian's docker-registry, a real PLC directory (@did-plc/server)
# and a real PDS (@atproto/pds) start on 127.0.0.1; an account is created,
# an image pushed and signed the way ATCR does it (an io.atcr.manifest
# record that the PDS signs, and the signature artifact as an OCI
# referrer); then the Ratify request is piped into build/atproto exactly as
# Ratify v1.4 does, and the request and the VerifierResult are printed.
# Finally the record is deleted and the same request is refused (revoked).
# The first run installs the pinned servers into ~/.cache (a few minutes).
set -eu
cd "$(dirname "$0")/.."
B=${ATV_BUILD:-build}
STACK=integration/stack

echo "=== installing the pinned PDS and PLC (cached after the first run)"
LOG=$(mktemp)
sh "$STACK/install.sh" > "$LOG" 2>&1 || { cat "$LOG" >&2; rm -f "$LOG"; exit 1; }
rm -f "$LOG"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/atv-demo.XXXXXX")
trap 'sh "$STACK/down.sh" "$STATE" >/dev/null 2>&1; rm -rf "$STATE"' EXIT
echo "=== starting docker-registry, PLC and PDS on 127.0.0.1"
sh "$STACK/up.sh" "$STATE" > "$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; exit 1; }
. "$STATE/env"
signer() { "$STACK_NODE" "$STACK/signer.js" "$STATE" "$@"; }

echo "=== signing: account alice.test on the PDS, image pushed to $REGISTRY, record + referrer"
signer create-account alice > /dev/null
DID=$(jq -r .did "$STATE/accounts/alice.json")
IMG=$(signer push-image alice demo)
set -- $(signer sign alice "$IMG")
SIG=$1 SIGSIZE=$2
echo "    image $IMG signed by $DID (signature manifest $SIG)"

jq -n --arg subj "@REGISTRY@/atv/e2e@$IMG" --arg sig "$SIG" --argjson size "$SIGSIZE" \
    --arg did "$DID" '{
    description: "make demo",
    env: { RATIFY_VERIFIER_COMMAND: "VERIFY", RATIFY_VERIFIER_SUBJECT: $subj,
           RATIFY_VERIFIER_VERSION: "1.0.0" },
    stdin: { config: { name: "verifier-atproto", type: "atproto", trustedDIDs: [$did],
                       plcDirectory: "@PLC@", allowLoopbackHTTP: true, verifyHandle: false,
                       cacheDir: "@CACHE@" },
             storeConfig: { version: "1.0.0", pluginBinDirs: null,
                            store: { name: "oras", useHttp: true } },
             referenceDesc: { mediaType: "application/vnd.oci.image.manifest.v1+json",
                              digest: $sig, size: $size,
                              artifactType: "application/vnd.atproto.signature.v1+json" } },
    expect: { exitCode: 0, isSuccess: true } }' > "$STATE/request.json"

run_plugin() {
    node integration/ratify/ratify-exec.js --plugin "$B/atproto" --env-file "$STATE/env" \
        --request-out "$STATE/sent" "$STATE/request.json" > "$STATE/report.json"
    echo "--- request (environment, then stdin exactly as sent)"
    cat "$STATE/sent"
    echo
    echo "--- VerifierResult"
    jq .result "$STATE/report.json"
}

echo
echo "=== 1. build/atproto, run as Ratify runs it"
run_plugin
[ "$(jq -r .result.isSuccess "$STATE/report.json")" = true ]
echo
echo "=== 2. alice deletes the record: the same request is refused"
signer delete-record alice "$IMG" > /dev/null
run_plugin | sed -n '/--- VerifierResult/,$p'
[ "$(jq -r .result.extensions.reason "$STATE/report.json")" = RECORD_NOT_FOUND ]
echo
echo "demo: verified, then revoked; the stack is stopped."
