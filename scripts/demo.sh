#!/bin/sh
# make demo: verify the embedded sample signature end to end with the CLI,
# then show the Ratify plugin's answer to a request. The sample is the proof
# the official TypeScript implementation produced (testdata/proofs/k256).
set -eu
cd "$(dirname "$0")/.."
B=${ATV_BUILD:-build}
D=testdata/proofs/k256
DID=$(jq -r .did $D/fixture.json)
RKEY=$(jq -r .record.rkey $D/fixture.json)
DIGEST=$(jq -r .record.digest $D/fixture.json)
URI="at://$DID/io.atcr.manifest/$RKEY"

echo "== atcr-verify verify-proof: is image $DIGEST signed by $DID?"
echo "\$ $B/atcr-verify verify-proof --car $D/record-proof.car --did-doc $D/did-doc-legacy.json \\"
echo "      --uri $URI --expect-digest $DIGEST -o json"
"$B/atcr-verify" verify-proof --car $D/record-proof.car --did-doc $D/did-doc-legacy.json \
    --uri "$URI" --expect-digest "$DIGEST" -o json | jq .
echo
echo "== the same proof with a high-S commit signature (must be refused):"
"$B/atcr-verify" verify-proof --car $D/bad-high-s.car --did-doc $D/did-doc.json \
    --uri "$URI" --expect-digest "$DIGEST" || echo "(exit $?: refused, as it must be)"
echo
REQ='{"config":{"name":"verifier-atproto","type":"atproto"},"storeConfig":{"version":"1.0.0","pluginBinDirs":null,"store":{"name":"oras"}},"referenceDesc":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"artifactType":"application/vnd.atproto.signature.v1+json"}}'
echo "== the Ratify plugin, run as Ratify runs it (request on stdin):"
echo "$REQ" | jq -c .
printf '%s' "$REQ" | RATIFY_VERIFIER_COMMAND=VERIFY \
    RATIFY_VERIFIER_SUBJECT="localhost:5000/app@$DIGEST" RATIFY_VERIFIER_VERSION=1.0.0 \
    "$B/atproto" || true
