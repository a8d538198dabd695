#!/usr/bin/env bats
# The Kubernetes files in integration/k8s, checked without a cluster: they
# parse, the Verifier CR is exactly what Ratify v1.4 and the plugin expect,
# and the plugin itself accepts the CR's parameters and the ConfigMap's trust
# policy (a request against the closed port 127.0.0.1:1 must get as far as the
# registry: REGISTRY_ERROR, not BAD_REQUEST).
#
# YAML is read with PyYAML (Debian python3-yaml); nothing in the project's
# package list parses YAML from a shell, so without it those tests skip and
# say so. Duplicate keys are rejected (PyYAML alone keeps the last one).

setup() {
    BUILD="${ATV_BUILD:-build}"
    PLUGIN="$BUILD/atproto"
    K8S="$BATS_TEST_DIRNAME/k8s"
    REPO="$BATS_TEST_DIRNAME/.."
    ART=application/vnd.atproto.signature.v1+json
    HEX=$(printf 'ab%.0s' $(seq 32))
    PY=""
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
            PY="$p"
            break
        fi
    done
}

need_yaml() {
    [ -n "$PY" ] || skip "no python3 with PyYAML (apt-get install python3-yaml) to read YAML"
}

# yaml FILE: every document of FILE as one JSON array (null documents dropped)
yaml() {
    "$PY" -c '
import json, sys, yaml
class Strict(yaml.SafeLoader):
    pass
def mapping(loader, node, deep=False):
    seen = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), k.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)
Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
with open(sys.argv[1]) as f:
    docs = [d for d in yaml.load_all(f, Loader=Strict) if d is not None]
json.dump(docs, sys.stdout, default=str)
' "$1"
}

# run_plugin CONFIG_JSON STORE_JSON: the plugin run as Ratify runs it; sets
# status, out (stdout: the one JSON line) and err (stderr: log lines)
run_plugin() {
    local req
    req=$(jq -nc --argjson c "$1" --argjson s "$2" --arg d "sha256:$HEX" --arg a "$ART" \
        '{config:$c, storeConfig:{version:"1.0.0", pluginBinDirs:null, store:$s},
          referenceDesc:{mediaType:"application/vnd.oci.image.manifest.v1+json",
                         digest:$d, size:1, artifactType:$a}}')
    status=0
    out=$(printf '%s' "$req" | RATIFY_VERIFIER_COMMAND=VERIFY \
        RATIFY_VERIFIER_SUBJECT="127.0.0.1:1/app@sha256:$HEX" RATIFY_VERIFIER_VERSION=1.0.0 \
        "$PLUGIN" 2>"$BATS_TEST_TMPDIR/stderr") || status=$?
    err=$(cat "$BATS_TEST_TMPDIR/stderr")
}

# the verdict's reason
reason() {
    jq -r '.extensions.reason' <<<"$out"
}

extract_policy() { # DIR: the ConfigMap laid out as the kubelet mounts it (symlinks into ..data)
    mkdir -p "$1/..2025_01_01" && ln -sfn ..2025_01_01 "$1/..data"
    yaml "$K8S/trust-policy-configmap.yaml" | jq -r '.[0].data["trust-policy.yaml"]' \
        >"$1/..2025_01_01/trust-policy.yaml"
    ln -sfn ..data/trust-policy.yaml "$1/trust-policy.yaml"
}

@test "k8s: every file is there and every YAML document parses strictly" {
    need_yaml
    for f in verifier-atproto store-oras policy constraint trust-policy-configmap \
        values-atproto ratify-deployment-patch; do
        [ -f "$K8S/$f.yaml" ] || { echo "missing $f.yaml"; false; }
    done
    [ -f "$K8S/README.md" ]
    for f in "$K8S"/*.yaml; do
        run yaml "$f"
        [ "$status" -eq 0 ] || { echo "$f: $output"; false; }
        [ "$(jq 'length' <<<"$output")" -ge 1 ]
    done
    # the strict reader does reject what PyYAML alone would accept
    printf 'a: 1\na: 2\n' >"$BATS_TEST_TMPDIR/dup.yaml"
    run yaml "$BATS_TEST_TMPDIR/dup.yaml"
    [ "$status" -ne 0 ] && [[ "$output" == *"duplicate key"* ]]
    # every manifest (not the Helm values nor the patch) is one named object
    for f in verifier-atproto store-oras policy constraint trust-policy-configmap; do
        yaml "$K8S/$f.yaml" | jq -e 'length == 1 and (.[0].apiVersion | type == "string")
            and (.[0].kind | type == "string") and (.[0].metadata.name | type == "string")' \
            >/dev/null || { echo "$f.yaml"; false; }
    done
}

# jq: true when .spec.parameters uses only the plugin's names (verify/params.c)
# with the types and ranges it accepts; Ratify's reserved keys (name, type,
# artifactTypes, nestedReferences, source, version: ratify-protocol.md 1.3)
# are not plugin parameters and fail too
PARAMS_OK='.spec.parameters | type == "object" and (to_entries | all(
    (.key as $k | ["trustedDIDs","trustPolicy","plcDirectory","cacheDir","didCacheTTL",
      "timeoutMs","collections","verifyHandle","allowLoopbackHTTP","caFile"] | index($k))
    and (if (.key == "trustedDIDs" or .key == "collections") then
            (.value | type == "array" and length > 0 and all(type == "string"))
         elif (.key | IN("trustPolicy","cacheDir","caFile")) then
            (.value | type == "string" and startswith("/"))
         elif .key == "plcDirectory" then (.value | type == "string" and test("^https://"))
         elif .key == "didCacheTTL" then
            (.value | type == "number" and . == floor and . >= 0 and . <= 604800)
         elif .key == "timeoutMs" then
            (.value | type == "number" and . == floor and . >= 1 and . <= 60000)
         else (.value | type == "boolean") end)))'

@test "k8s: the Verifier CR has the exact fields and only parameters the plugin knows" {
    need_yaml
    v=$(yaml "$K8S/verifier-atproto.yaml" | jq '.[0]')
    jq -e --arg a "$ART" '.apiVersion == "config.ratify.deislabs.io/v1beta1" and .kind == "Verifier"
        and .metadata.name == "verifier-atproto" and .spec.name == "atproto"
        and .spec.artifactTypes == $a and .spec.version == "1.0.0"
        and (.spec | has("type") | not)' <<<"$v" >/dev/null
    jq -e "$PARAMS_OK" <<<"$v" >/dev/null
    # one of trustedDIDs and trustPolicy (the plugin refuses both); a writable cache
    jq -e '.spec.parameters | has("trustPolicy") and (has("trustedDIDs") | not)
        and (.cacheDir | startswith("/tmp/")) and .allowLoopbackHTTP == false' <<<"$v" >/dev/null
    # the check can fail: a reserved key, a misspelt name, a quoted number, a relative path
    for bad in '.name = "x"' '.version = "1.0.0"' '.trustedDids = []' '.timeoutMs = "2500"' \
        '.didCacheTTL = 1.5' '.cacheDir = "tmp/c"' '.verifyHandle = "true"' '.collections = []'; do
        ! jq -e "(.spec.parameters |= ($bad)) | $PARAMS_OK" <<<"$v" >/dev/null ||
            { echo "accepted: $bad"; false; }
    done
}

@test "k8s: the plugin accepts the Verifier CR's parameters and the Store CR (POLICY_DENIED)" {
    need_yaml
    [ -x "$PLUGIN" ] || skip "no $PLUGIN: run make BUILD=$BUILD all"
    mkdir -p "$BATS_TEST_TMPDIR/cm"
    extract_policy "$BATS_TEST_TMPDIR/cm"
    # config as SpecToVerifierConfig builds it (ratify-protocol.md 1.3); only the
    # in-cluster paths move to this machine
    cfg=$(yaml "$K8S/verifier-atproto.yaml" | jq -c --arg p "$BATS_TEST_TMPDIR/cm/trust-policy.yaml" \
        --arg c "$BATS_TEST_TMPDIR/cache" '.[0] | .spec.parameters +
        {name: .metadata.name, type: .spec.name, artifactTypes: .spec.artifactTypes}
        | .trustPolicy = $p | .cacheDir = $c')
    store=$(yaml "$K8S/store-oras.yaml" | jq -c '.[0] | .spec.parameters + {name: .spec.name}')
    run_plugin "$cfg" "$store"
    [ "$status" -eq 0 ]
    # accepted: the run reaches the policy decision (127.0.0.1:1/app is in no
    # scope of the ConfigMap's policy, so it is refused before any network)
    [ "$(reason)" = POLICY_DENIED ] || { echo "$out $err"; false; }
    [[ "$err" != *"unknown parameters"* ]]
    # negative control: the same run with a parameter of the wrong type is BAD_REQUEST
    run_plugin "$(jq -c '.timeoutMs = "2500"' <<<"$cfg")" "$store"
    [ "$status" -eq 0 ] && [ "$(reason)" = BAD_REQUEST ]
}

@test "k8s: the ConfigMap's trust policy is accepted by the plugin's policy parser" {
    need_yaml
    [ -x "$PLUGIN" ] || skip "no $PLUGIN: run make BUILD=$BUILD all"
    d="$BATS_TEST_TMPDIR/cm"
    mkdir -p "$d"
    extract_policy "$d"
    store='{"name":"oras","useHttp":true}'
    run_plugin "{\"name\":\"verifier-atproto\",\"type\":\"atproto\",\"trustPolicy\":\"$d/trust-policy.yaml\"}" "$store"
    [ "$status" -eq 0 ]
    # accepted: the run reaches the policy decision (127.0.0.1:1/app is in no
    # scope of the ConfigMap's policy, so it is refused before any network)
    [ "$(reason)" = POLICY_DENIED ] || { echo "$out $err"; false; }
    # negative control: one unknown key in the same policy makes it BAD_REQUEST
    sed 's/^version: "1.0"$/version: "1.0"\nextra: 1/' "$d/trust-policy.yaml" >"$BATS_TEST_TMPDIR/bad.yaml"
    ! cmp -s "$d/trust-policy.yaml" "$BATS_TEST_TMPDIR/bad.yaml"
    run_plugin "{\"name\":\"verifier-atproto\",\"type\":\"atproto\",\"trustPolicy\":\"$BATS_TEST_TMPDIR/bad.yaml\"}" "$store"
    [ "$status" -eq 0 ] && [ "$(reason)" = BAD_REQUEST ]
}

@test "k8s: Store, Policy and Constraint are the ones Ratify and Gatekeeper use" {
    need_yaml
    yaml "$K8S/store-oras.yaml" | jq -e '.[0] | .apiVersion == "config.ratify.deislabs.io/v1beta1"
        and .kind == "Store" and .metadata.name == "store-oras" and .spec.name == "oras"
        and .spec.version == "1.0.0"
        and ((.spec.parameters.authProvider.name // "dockerConfig") == "dockerConfig")' >/dev/null
    yaml "$K8S/policy.yaml" | jq -e --arg a "$ART" '.[0] |
        .apiVersion == "config.ratify.deislabs.io/v1beta1" and .kind == "Policy"
        and .metadata.name == "ratify-policy" and .spec.type == "config-policy"
        and .spec.parameters.artifactVerificationPolicies == {default: "all", ($a): "any"}' >/dev/null
    yaml "$K8S/constraint.yaml" | jq -e '.[0] | .apiVersion == "constraints.gatekeeper.sh/v1beta1"
        and .kind == "RatifyVerification" and .spec.enforcementAction == "deny"
        and (.spec.match.kinds | any(.kinds | index("Pod")))
        and (.spec.match.namespaces | length > 0)' >/dev/null
    # its template is Ratify's library one, which the walk-through applies
    grep -q 'raw.githubusercontent.com/notaryproject/ratify/v1.4.0/library/default/template.yaml' \
        "$K8S/README.md"
}

@test "k8s: the patch mounts the ConfigMap where trustPolicy points; values use known keys" {
    need_yaml
    tp=$(yaml "$K8S/verifier-atproto.yaml" | jq -r '.[0].spec.parameters.trustPolicy')
    cm=$(yaml "$K8S/trust-policy-configmap.yaml" | jq '.[0]')
    jq -e --arg f "${tp##*/}" '.metadata.namespace == "gatekeeper-system" and (.data | keys == [$f])' \
        <<<"$cm" >/dev/null
    yaml "$K8S/ratify-deployment-patch.yaml" | jq -e --arg dir "${tp%/*}" \
        --arg cm "$(jq -r .metadata.name <<<"$cm")" '.[0].spec.template.spec as $s
        | ($s.volumes | length == 1) and $s.volumes[0].configMap.name == $cm
        and ($s.containers | length == 1) and $s.containers[0].name == "ratify"
        and ($s.containers[0].volumeMounts | length == 1)
        and ($s.containers[0].volumeMounts[0] | .name == $s.volumes[0].name
             and .mountPath == $dir and .readOnly == true and (has("subPath") | not))' >/dev/null
    # only the chart keys the files document (values-atproto.yaml says where each is from)
    yaml "$K8S/values-atproto.yaml" | jq -e '.[0] | [paths(type | IN("object", "array") | not) | join(".")] | sort ==
        ["featureFlags.RATIFY_CERT_ROTATION","image.repository","image.tag",
         "oras.useHttp","provider.enableMutation"]' >/dev/null
    yaml "$K8S/values-atproto.yaml" | jq -e '.[0] | (.image.repository | type == "string")
        and (.image.tag | type == "string") and .featureFlags.RATIFY_CERT_ROTATION == true' >/dev/null
}

@test "k8s: plugin path, owner and mode agree between README.md and Dockerfile.ratify" {
    grep -q '/.ratify/plugins/atproto' "$K8S/README.md"
    grep -q '65532' "$K8S/README.md"
    grep -q '0755' "$K8S/README.md"
    df="$REPO/Dockerfile.ratify"
    [ -f "$df" ] || skip "no Dockerfile.ratify in the repository yet: image layout not cross-checked"
    copy=$(grep -E '^[[:space:]]*COPY[[:space:]].*/\.ratify/plugins/atproto[[:space:]]*$' "$df")
    [ -n "$copy" ] || { echo "no COPY to /.ratify/plugins/atproto in $df"; false; }
    [[ "$copy" == *"--chown=65532:65532"* ]]
    [[ "$copy" == *"--chmod=0755"* || "$copy" == *"--chmod=755"* ]]
    grep -Eq '^FROM[[:space:]].*ratify(-base)?:v1\.4' "$df"
}
