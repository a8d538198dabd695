#!/bin/sh
# make demo: the plugin's main job on the embedded default. A loopback
# stack (Debian's docker-registry, a small PLC directory and PDS) serves an
# image signed through ATProto; the sample Ratify request is piped into
# build/atproto exactly as Ratify v1.4 does, and the request and the
# VerifierResult are printed. Then the same image through atcr-verify, and
# a revoked one. Everything stays on 127.0.0.1.
set -eu
cd "$(dirname "$0")/.."
B=${ATV_BUILD:-build}
export ATV_BUILD="$B"

echo "=== 1. The Ratify plugin verifies a signed image (testdata/ratify/success-k256.json)"
integration/ratify/run-sample.sh testdata/ratify/success-k256.json
echo
echo "=== 2. The same plugin on an image whose record was deleted (revoked)"
integration/ratify/run-sample.sh testdata/ratify/record-revoked.json | sed -n '/== VerifierResult/,/^}/p'
echo
echo "=== 3. atcr-verify on the image signed by two accounts, minSignatures 2"
STATE=$(mktemp -d)
trap 'sh integration/fixture/down.sh "$STATE" >/dev/null 2>&1; rm -rf "$STATE"' EXIT
sh integration/fixture/up.sh "$STATE" >/dev/null
. "$STATE/env"
cat > "$STATE/policy.yaml" <<YML
policies:
  - name: two-signers
    scope: "**"
    require:
      trustedDIDs: [did:plc:atvaliceaaaaaaaaaaaaaaaa, did:plc:atvbobaaaaaaaaaaaaaaaaaa]
      minSignatures: 2
YML
echo "\$ atcr-verify $REGISTRY/atv/app:multi --policy policy.yaml --plc $PLC --allow-loopback-http --insecure-http --no-verify-handle"
"$B/atcr-verify" "$REGISTRY/atv/app:multi" --policy "$STATE/policy.yaml" --plc "$PLC" \
    --allow-loopback-http --insecure-http --no-verify-handle --cache-dir "$STATE/cache" 2>/dev/null
echo "(exit $?: the policy is met)"
