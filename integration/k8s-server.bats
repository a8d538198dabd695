#!/usr/bin/env bats
# The deployment of `atcr-verify serve` in integration/k8s/server, checked without a
# cluster: every manifest (and the Ratify ones beside it) against the published schemas
# of Kubernetes, Gatekeeper, Kyverno, cert-manager and Ratify (integration/k8s/validate,
# ajv), and against what the server, the API server, Gatekeeper and Kyverno need;
# make-certs.sh with openssl; the server itself started with the Deployment's arguments.
#
# The Gatekeeper Rego is checked as text only: there is no OPA in Debian or on npm, so it
# was never executed here.
#
# Needs: python3 with PyYAML (strict YAML reading, as k8s.bats), node and npm (the
# validator and the schemas of the built-in kinds, cert-manager and Kyverno: npm packages
# from the committed lockfile, integration/k8s/validate/ensure-modules.sh), openssl, jq,
# curl. The Gatekeeper and Ratify schemas are on no npm registry: the tests that need them
# use the schema files extract-schemas.mjs writes, found in $ATV_K8S_SCHEMAS, else
# $ATV_SHARED/k8s-schemas (../shared/k8s-schemas), else build/k8s-schemas
# (testdata/k8s-schemas/README.md says how to make them and what is not checked without
# them). Tests whose tool or data is missing skip and say which.

setup() {
    BUILD="${ATV_BUILD:-build}"
    CLI="$BUILD/atcr-verify"
    REPO="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    K8S="$REPO/integration/k8s"
    SRV="$K8S/server"
    VAL="$K8S/validate"
    T="$BATS_TEST_TMPDIR"
    PY=""
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
            PY="$p"
            break
        fi
    done
    SCHEMAS=""
    for d in "${ATV_K8S_SCHEMAS:-}" "${ATV_SHARED:-$REPO/../shared}/k8s-schemas" "$REPO/build/k8s-schemas"; do
        if [ -n "$d" ] && [ -f "$d/kubernetes/swagger-definitions.json" ]; then
            SCHEMAS="$d"
            break
        fi
    done
    SRV_PID=""
}

teardown() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
}

need_yaml() {
    [ -n "$PY" ] || skip "no python3 with PyYAML (apt-get install python3-yaml) to read YAML"
}

# the validator with the npm packages' schemas (no schema files needed)
need_npm_validator() {
    command -v node >/dev/null 2>&1 || skip "no node to run integration/k8s/validate"
    sh "$VAL/ensure-modules.sh" >/dev/null 2>&1 ||
        skip "npm ci in integration/k8s/validate failed (no npm registry?)"
}

# the validator with the schema files as well (Gatekeeper and Ratify)
need_dir_validator() {
    [ -n "$SCHEMAS" ] || skip "no schema files, so Gatekeeper and Ratify are not checked: see testdata/k8s-schemas/README.md"
    need_npm_validator
}

# validate [--schemas DIR] FILE_OR_DIR...: the validator's output in $output, its exit status in $status
validate() {
    run node "$VAL/validate.mjs" "$@"
}

# the documents that only the schema files can check (testdata/k8s-schemas/README.md): without
# them, these and no others are reported as skipped
DIR_ONLY_DOCS="constraints.gatekeeper.sh/v1beta1 RatifyVerification ratify-atproto
config.ratify.deislabs.io/v1beta1 Policy ratify-policy
config.ratify.deislabs.io/v1beta1 Store store-oras
config.ratify.deislabs.io/v1beta1 Verifier verifier-atproto
helm values of ratify-1.15.0
externaldata.gatekeeper.sh/v1beta1 Provider atcr-verify
externaldata.gatekeeper.sh/v1beta1 Provider atcr-verify-mutate
templates.gatekeeper.sh/v1 ConstraintTemplate atcrverify
constraints.gatekeeper.sh/v1beta1 AtcrVerify atcr-verify
mutations.gatekeeper.sh/v1 Assign atcr-verify-pod-containers
mutations.gatekeeper.sh/v1 Assign atcr-verify-pod-initcontainers
mutations.gatekeeper.sh/v1 Assign atcr-verify-pod-ephemeralcontainers
mutations.gatekeeper.sh/v1 Assign atcr-verify-workload-containers
mutations.gatekeeper.sh/v1 Assign atcr-verify-workload-initcontainers
mutations.gatekeeper.sh/v1 Assign atcr-verify-workload-ephemeralcontainers
mutations.gatekeeper.sh/v1 Assign atcr-verify-cronjob-containers
mutations.gatekeeper.sh/v1 Assign atcr-verify-cronjob-initcontainers
mutations.gatekeeper.sh/v1 Assign atcr-verify-cronjob-ephemeralcontainers"

# the documents the npm packages' schemas check
NPM_DOCS="v1 Namespace atcr-verify
v1 Service atcr-verify
v1 ServiceAccount atcr-verify
apps/v1 Deployment atcr-verify
policy/v1 PodDisruptionBudget atcr-verify
v1 ConfigMap atcr-verify-policy
cert-manager.io/v1 Issuer atcr-verify-selfsigned
cert-manager.io/v1 Issuer atcr-verify-ca
cert-manager.io/v1 Certificate atcr-verify-ca
cert-manager.io/v1 Certificate atcr-verify-tls
admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration atcr-verify
admissionregistration.k8s.io/v1 MutatingWebhookConfiguration atcr-verify
kyverno.io/v1 ClusterPolicy atcr-verify
patch of apps/v1 Deployment
patch of apps/v1 Deployment
v1 ConfigMap atproto-trust-policy"

# count_docs: the YAML documents of integration/k8s (one validator line each)
count_docs() {
    local n=0 f
    for f in "$K8S"/*.yaml "$SRV"/*.yaml; do
        n=$((n + $(yaml "$f" | jq length)))
    done
    echo "$n"
}

# yaml FILE: every document of FILE as one JSON array (null documents dropped); duplicate
# keys refused (as in k8s.bats)
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

# doc FILE KIND [NAME]: the one document of FILE with that kind (and name)
doc() {
    yaml "$1" | jq -e --arg k "$2" --arg n "${3:-}" \
        '[.[] | select(.kind == $k and ($n == "" or .metadata.name == $n))] | if length == 1 then .[0] else error("want one \($k) \($n), got \(length)") end'
}

# deployment: the Deployment's container
container() {
    doc "$SRV/deployment.yaml" Deployment atcr-verify | jq -e '.spec.template.spec.containers[0]'
}

make_certs() { # OUTDIR
    sh "$SRV/make-certs.sh" "$1" >"$T/make-certs.log" 2>&1 || { cat "$T/make-certs.log"; return 1; }
}

FILES="namespace service deployment policy-configmap cert-manager gatekeeper-provider
gatekeeper-template gatekeeper-constraint gatekeeper-assign gatekeeper-mtls-patch
webhook-validating webhook-mutating kyverno-policy"

@test "k8s-server: every file is there and every YAML document parses strictly" {
    need_yaml
    for f in $FILES; do
        [ -f "$SRV/$f.yaml" ] || { echo "missing $f.yaml"; false; }
        run yaml "$SRV/$f.yaml"
        [ "$status" -eq 0 ] || { echo "$f.yaml: $output"; false; }
        [ "$(jq 'length' <<<"$output")" -ge 1 ]
    done
    [ -f "$SRV/make-certs.sh" ] && [ -f "$SRV/README.md" ]
    # nothing in the folder that this list does not know
    [ "$(cd "$SRV" && ls -- *.yaml | sort | tr '\n' ' ')" = "$(printf '%s.yaml\n' $FILES | sort | tr '\n' ' ')" ]
    # the strict reader rejects what PyYAML alone would accept
    printf 'a: 1\na: 2\n' >"$T/dup.yaml"
    run yaml "$T/dup.yaml"
    [ "$status" -ne 0 ] && [[ "$output" == *"duplicate key"* ]]
}

@test "k8s-server: the schema files are the pinned extraction (SHA256SUMS, SOURCES.md)" {
    [ -n "$SCHEMAS" ] || skip "no schema files: see testdata/k8s-schemas/README.md (extract-schemas.mjs)"
    (cd "$SCHEMAS" && sha256sum --quiet -c "$REPO/testdata/k8s-schemas/SHA256SUMS")
    # testdata's SOURCES.md is the extraction's, then the npm packages' section
    n=$(wc -l <"$SCHEMAS/SOURCES.md")
    head -n "$n" "$REPO/testdata/k8s-schemas/SOURCES.md" | cmp - "$SCHEMAS/SOURCES.md"
    # every pinned source names a 40-hex commit and a git blob
    grep -c '^| .* | `[0-9a-f]\{40\}` | `[^`]*` | `[0-9a-f]\{40\}` |' "$SCHEMAS/SOURCES.md" | grep -qx 14
}

@test "k8s-server: the npm schema packages are the pinned ones, and SOURCES.md names each with its integrity" {
    need_npm_validator
    lock="$VAL/package-lock.json"
    src="$REPO/testdata/k8s-schemas/SOURCES.md"
    for p in kubernetes-models @kubernetes-models/cert-manager @kubernetes-models/kyverno \
        @kubernetes-models/apimachinery @kubernetes-models/validate; do
        v=$(jq -r --arg p "node_modules/$p" '.packages[$p].version' "$lock")
        i=$(jq -r --arg p "node_modules/$p" '.packages[$p].integrity' "$lock")
        [ "$v" != null ] && [ "$i" != null ] || { echo "$p is not in package-lock.json"; false; }
        # what npm ci installed is what the lockfile pins
        [ "$(jq -r .version "$VAL/node_modules/$p/package.json")" = "$v" ] || { echo "$p: installed is not $v"; false; }
        grep -qF "| \`$p@$v\` |" "$src" || { echo "SOURCES.md does not name $p@$v"; false; }
        grep -qF "$i" "$src" || { echo "SOURCES.md does not give the integrity of $p@$v"; false; }
    done
    # the packages the validator imports are direct, exact dependencies
    for p in kubernetes-models @kubernetes-models/cert-manager @kubernetes-models/kyverno; do
        jq -e --arg p "$p" '.dependencies[$p] | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")' "$VAL/package.json" >/dev/null
    done
}

@test "k8s-server: every manifest validates against the npm packages' schemas; only Gatekeeper and Ratify are skipped" {
    need_yaml
    need_npm_validator
    validate "$K8S"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    ! grep -q '^FAIL' <<<"$output"
    # each kind was checked against its own package's schema...
    diff <(sed -n 's/^ok [^ ]*#[0-9]* //p' <<<"$output" | sort) <(sort <<<"$NPM_DOCS") ||
        { echo "$output"; false; }
    # ...and exactly the kinds no npm package carries were skipped, saying why
    diff <(sed -n 's/^skip [^ ]*#[0-9]* \(.*\): no npm package carries its schema.*/\1/p' <<<"$output" | sort) \
        <(sort <<<"$DIR_ONLY_DOCS") || { echo "$output"; false; }
    # one line per document
    [ "$(grep -c '^\(ok\|skip\) ' <<<"$output")" -eq "$(count_docs)" ]
    tail -n 1 <<<"$output" | grep -q 'schemas from npm: kubernetes-models@'
}

@test "k8s-server: every manifest validates against the schema files, Gatekeeper and Ratify included" {
    need_yaml
    need_dir_validator
    validate --schemas "$SCHEMAS" "$K8S"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    ! grep -q '^\(FAIL\|skip\)' <<<"$output"
    # each kind was checked against its own schema, Ratify's files included
    diff <(sed -n 's/^ok [^ ]*#[0-9]* //p' <<<"$output" | sort) <(printf '%s\n%s\n' "$NPM_DOCS" "$DIR_ONLY_DOCS" | sort) ||
        { echo "$output"; false; }
    [ "$(grep -c '^ok ' <<<"$output")" -eq "$(count_docs)" ]
}

# mutant NAME FILE SED: a copy of FILE with SED applied, which must change it
mutant() {
    sed "$3" "$2" >"$T/bad/$1.yaml"
    ! cmp -s "$2" "$T/bad/$1.yaml" || { echo "sed did not change $2: $3"; return 1; }
}

# mutants: writes the copies into $T/bad and NAME|EXPECTED lines (a fragment of the FAIL
# line) into $T/want; the ones of kinds only the schema files check also into $T/dir-only
mutants() {
    mkdir -p "$T/bad"
    : >"$T/want"
    : >"$T/dir-only"
    # NAME FILE SED EXPECTED DIR_ONLY
    while IFS='|' read -r name file expr want dironly; do
        [ -n "$name" ] || continue
        mutant "$name" "$K8S/$file" "$expr"
        printf '%s|%s\n' "$name" "$want" >>"$T/want"
        [ -z "$dironly" ] || echo "$name" >>"$T/dir-only"
    done <<'EOF'
replicas|server/deployment.yaml|s/^  replicas: 2$/  replica: 2/|/spec must NOT have additional properties: replica|
replicas-type|server/deployment.yaml|s/^  replicas: 2$/  replicas: "2"/|/spec/replicas must be integer|
probe-port|server/deployment.yaml|s/^              path: \/healthz$/              paht: \/healthz/|livenessProbe/httpGet must NOT have additional properties: paht|
ro-rootfs|server/deployment.yaml|s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: "yes"/|readOnlyRootFilesystem must be boolean|
pdb|server/deployment.yaml|s/^  minAvailable: 1$/  minAvailible: 1/|must NOT have additional properties: minAvailible|
service|server/service.yaml|s/targetPort: 8443/targetport: 8443/|must NOT have additional properties: targetport|
namespace|server/namespace.yaml|s/^metadata:$/metdata:/|must NOT have additional properties: metdata|
configmap|server/policy-configmap.yaml|s/^data:$/datas:/|must NOT have additional properties: datas|
certificate|server/cert-manager.yaml|s/^  dnsNames:$/  dnsName:/|/spec must NOT have additional properties: dnsName|
issuer|server/cert-manager.yaml|s/^  selfSigned: {}$/  selfsigned: {}/|/spec must NOT have additional properties: selfsigned|
provider|server/gatekeeper-provider.yaml|s/^  timeout: 3$/  timeout: "3"/|/spec/timeout must be integer|dir
provider-field|server/gatekeeper-provider.yaml|s/^  caBundle:/  cabundle:/|/spec must NOT have additional properties: cabundle|dir
template|server/gatekeeper-template.yaml|s/^    - target: /    - targets: /|must NOT have additional properties: targets|dir
constraint|server/gatekeeper-constraint.yaml|s/^    namespaceSelector:$/    namespaceSelecter:/|/spec/match must NOT have additional properties: namespaceSelecter|dir
assign|server/gatekeeper-assign.yaml|s/^        failurePolicy: Fail$/        failurePolicy: Deny/|failurePolicy must be equal to one of the allowed values|dir
assign-field|server/gatekeeper-assign.yaml|s/^        provider: atcr-verify-mutate$/        provder: atcr-verify-mutate/|externalData must NOT have additional properties: provder|dir
webhook|server/webhook-validating.yaml|s/^    sideEffects: None$/    sideEffect: None/|must NOT have additional properties: sideEffect|
webhook-type|server/webhook-mutating.yaml|s/^    timeoutSeconds: 3$/    timeoutSeconds: three/|/webhooks/0/timeoutSeconds must be integer|
kyverno|server/kyverno-policy.yaml|s/^                    url: /                    urls: /|service must NOT have additional properties: urls|
kyverno-enum|server/kyverno-policy.yaml|s/^                  method: POST$/                  method: PUT/|method must be equal to one of the allowed values|
mtls-patch|server/gatekeeper-mtls-patch.yaml|s/^              mountPath: /              mountpath: /|must NOT have additional properties: mountpath|
verifier|verifier-atproto.yaml|s/^  name: atproto$/  name: atproto\n  type: atproto/|/spec must NOT have additional properties: type|dir
ratify-constraint|constraint.yaml|s/^    namespaces: /    namespace: /|/spec/match must NOT have additional properties: namespace|dir
values|values-atproto.yaml|s/^  useHttp: false/  useHTTP: false/|oras.useHTTP: not a key of the chart's values.yaml|dir
EOF
}

# check_mutants SKIPPED: every copy in $T/want fails, each failing document for the one reason
# that was put in; those in the file SKIPPED are instead reported as skipped
check_mutants() {
    while IFS='|' read -r name want; do
        if grep -qx "$name" "$1"; then
            ! grep -q "^\(ok\|FAIL\) .*/bad/$name.yaml#" <<<"$output" || { echo "not skipped: $name"; echo "$output"; false; }
            grep -q "^skip .*/bad/$name.yaml#" <<<"$output" || { echo "not reported: $name"; echo "$output"; false; }
            continue
        fi
        lines=$(grep "^FAIL .*/bad/$name.yaml#" <<<"$output") || { echo "accepted: $name"; echo "$output"; false; }
        while IFS= read -r line; do
            [[ "$line" == *"$want"* ]] || { echo "$name: want \"$want\" in: $line"; false; }
        done <<<"$lines"
    done <"$T/want"
}

@test "k8s-server: the npm packages' schemas fail a misspelt field or a wrong type in every kind they carry" {
    need_npm_validator
    mutants
    validate "$T/bad"
    [ "$status" -eq 1 ] || { echo "$output"; false; }
    check_mutants "$T/dir-only"
    # 24 mutants, the 9 of Gatekeeper and Ratify skipped
    [ "$(grep -c . "$T/want")" -eq 24 ] && [ "$(grep -c . "$T/dir-only")" -eq 9 ]
}

@test "k8s-server: the schema files fail a misspelt field or a wrong type in every kind of manifest" {
    need_dir_validator
    mutants
    validate --schemas "$SCHEMAS" "$T/bad"
    [ "$status" -eq 1 ] || { echo "$output"; false; }
    ! grep -q '^skip ' <<<"$output"
    check_mutants /dev/null
}

@test "k8s-server: the validator fails unknown kinds, documents without a kind, bad names and duplicate keys" {
    need_npm_validator
    mkdir -p "$T/bad"
    printf 'apiVersion: v1\nkind: Podd\nmetadata:\n  name: x\n' >"$T/bad/kind.yaml"
    printf 'apiVersion: kyverno.io/v9\nkind: ClusterPolicy\nmetadata:\n  name: x\n' >"$T/bad/version.yaml"
    printf 'apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: NoSuchTemplate\nmetadata:\n  name: x\n' \
        >"$T/bad/constraint.yaml"
    printf 'apiVersion: mutations.gatekeeper.sh/v1\nkind: Asign\nmetadata:\n  name: x\n' >"$T/bad/dironly.yaml"
    printf 'spec:\n  replicas: 1\n' >"$T/bad/nokind.yaml"
    printf '# validate: patch apps/v1 Deploymint\nspec:\n  replicas: 1\n' >"$T/bad/directive.yaml"
    printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: 1abc\n  namespace: x\nspec:\n  ports: [{port: 1}]\n' \
        >"$T/bad/name.yaml"
    printf 'apiVersion: mutations.gatekeeper.sh/v1\nkind: Assign\nmetadata:\n  name: A_b\n' >"$T/bad/dironly-name.yaml"
    printf 'apiVersion: v1\nkind: Namespace\n' >"$T/bad/nometa.yaml"
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n' >"$T/bad/dup.yaml"
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\nspec: [\n' >"$T/bad/syntax.yaml"
    for schemas in "" ${SCHEMAS:+"$SCHEMAS"}; do
        validate ${schemas:+--schemas "$schemas"} "$T/bad"
        [ "$status" -eq 1 ]
        for f in kind version constraint dironly nokind directive name dironly-name nometa dup syntax; do
            grep -q "^FAIL .*/bad/$f.yaml" <<<"$output" || { echo "accepted: $f"; echo "$output"; false; }
        done
        [[ "$output" == *'no schema for apiVersion "v1" kind "Podd"'* ]]
        [[ "$output" == *'no schema for apiVersion "mutations.gatekeeper.sh/v1" kind "Asign"'* ]]
        [[ "$output" == *"not a DNS-1035 label"* ]]
        [[ "$output" == *"must have required property"*metadata* ]]
        ! grep -q '^\(ok\|skip\) ' <<<"$output"
    done
}

@test "k8s-server: the Rego denies on system_error, errors, unanswered keys and allowed != true, never reads status_code" {
    need_yaml
    rego=$(doc "$SRV/gatekeeper-template.yaml" ConstraintTemplate | jq -r '.spec.targets[0].rego')
    # textual checks only: OPA is in neither Debian nor npm, so this Rego never ran here
    [[ "$rego" != *status_code* ]]
    grep -q '^package atcrverify$' <<<"$rego"
    # the batch: every image list, one external_data call to the verify provider
    for l in containers initContainers ephemeralContainers; do
        grep -q "input\.review\.object\.spec\.$l\[_\]" <<<"$rego"
    done
    grep -q 'external_data({"provider": "atcr-verify", "keys": images})' <<<"$rego"
    # exactly four violation rules, one per condition
    [ "$(grep -c '^violation\[{"msg": msg}\] {$' <<<"$rego")" -eq 4 ]
    grep -q '^  response\.system_error != ""$' <<<"$rego"                 # 1
    grep -q '^  \[key, err\] := response\.errors\[_\]$' <<<"$rego"        # 2
    grep -q '^  not answered(key)$' <<<"$rego"                            # 3
    grep -q '^  response\.responses\[_\]\[0\] == key$' <<<"$rego"
    grep -q '^  response\.errors\[_\]\[0\] == key$' <<<"$rego"
    grep -q '^  not allowed(value)$' <<<"$rego"                           # 4
    grep -q '^  value\.allowed == true$' <<<"$rego"
    # no rule that lets a pod through by itself (Gatekeeper denies only on violation)
    ! grep -qE '^(default|allow)([[:space:]]|:=|=|\{)' <<<"$rego"
}

@test "k8s-server: template, constraint, providers and Assigns name each other consistently" {
    need_yaml
    t=$(doc "$SRV/gatekeeper-template.yaml" ConstraintTemplate)
    kind=$(jq -r '.spec.crd.spec.names.kind' <<<"$t")
    # frameworks client.go: the template's name must be the lowercase of its kind
    [ "$(jq -r .metadata.name <<<"$t")" = "$(tr '[:upper:]' '[:lower:]' <<<"$kind")" ]
    jq -e '.spec.targets | length == 1 and .[0].target == "admission.k8s.gatekeeper.sh"' <<<"$t" >/dev/null
    doc "$SRV/gatekeeper-constraint.yaml" "$kind" | jq -e '.apiVersion == "constraints.gatekeeper.sh/v1beta1"
        and .spec.enforcementAction == "deny"
        and .spec.match.kinds == [{apiGroups: [""], kinds: ["Pod"]}]
        and .spec.match.namespaceSelector == {matchLabels: {"atcr-verify": "enabled"}}
        and .spec.match.excludedNamespaces == ["atcr-verify"]' >/dev/null
    yaml "$SRV/gatekeeper-provider.yaml" | jq -e '[.[] | .apiVersion == "externaldata.gatekeeper.sh/v1beta1"
        and .kind == "Provider" and (.metadata | has("namespace") | not)] == [true, true]
        and ([.[] | {(.metadata.name): [.spec.url, .spec.timeout]}] | add) == {
          "atcr-verify": ["https://atcr-verify.atcr-verify:443/gatekeeper/verify", 3],
          "atcr-verify-mutate": ["https://atcr-verify.atcr-verify:443/gatekeeper/mutate", 2]}
        and all(.[]; .spec.caBundle == "CA/BUNDLE/FROM/MAKE/CERTS/SH")' >/dev/null
    # the Rego calls the verify provider; every Assign the mutate provider
    jq -r '.spec.targets[0].rego' <<<"$t" | grep -q '"provider": "atcr-verify",'
    yaml "$SRV/gatekeeper-assign.yaml" | jq -e 'all(.[]; .spec.parameters.assign.externalData ==
        {provider: "atcr-verify-mutate", dataSource: "ValueAtLocation", failurePolicy: "Fail"})' >/dev/null
}

@test "k8s-server: the Assigns pin every image list of pods, workload templates and cronjobs" {
    need_yaml
    a=$(yaml "$SRV/gatekeeper-assign.yaml")
    [ "$(jq length <<<"$a")" -eq 9 ]
    for p in spec spec.template.spec spec.jobTemplate.spec.template.spec; do
        for l in containers initContainers ephemeralContainers; do
            jq -e --arg loc "$p.$l[name:*].image" 'map(select(.spec.location == $loc)) | length == 1' \
                <<<"$a" >/dev/null || { echo "no Assign for $p.$l"; false; }
        done
    done
    # each applies to exactly the kinds whose shape its location is, and matches only what it applies to
    jq -e 'all(.[]; .apiVersion == "mutations.gatekeeper.sh/v1"
        and ([.spec.applyTo[] | .kinds[]] | sort) == ([.spec.match.kinds[] | .kinds[]] | sort)
        and (if (.spec.location | startswith("spec.jobTemplate.")) then [.spec.applyTo[].kinds[]] == ["CronJob"]
             elif (.spec.location | startswith("spec.template.")) then
               ([.spec.applyTo[].kinds[]] | sort) == ["DaemonSet","Deployment","Job","ReplicaSet","ReplicationController","StatefulSet"]
             else [.spec.applyTo[].kinds[]] == ["Pod"] end)
        and .spec.match.namespaceSelector == {matchLabels: {"atcr-verify": "enabled"}}
        and .spec.match.excludedNamespaces == ["atcr-verify"])' <<<"$a" >/dev/null
}

@test "k8s-server: the webhooks select labelled namespaces, exclude the server's, fail closed, v1, no side effects" {
    need_yaml
    for w in validating:ValidatingWebhookConfiguration:/k8s/validate:5 \
        mutating:MutatingWebhookConfiguration:/k8s/mutate:3; do
        IFS=: read -r f kind path secs <<<"$w"
        doc "$SRV/webhook-$f.yaml" "$kind" atcr-verify | jq -e --arg p "$path" --argjson s "$secs" '
            .webhooks | length == 1 and (.[0] |
            (.name | split(".") | length >= 3)
            and .admissionReviewVersions == ["v1"] and .sideEffects == "None"
            and .failurePolicy == "Fail" and .timeoutSeconds == $s
            and .clientConfig.service == {namespace: "atcr-verify", name: "atcr-verify", path: $p, port: 443}
            and .clientConfig.caBundle == "CA/BUNDLE/FROM/MAKE/CERTS/SH"
            and .namespaceSelector == {matchLabels: {"atcr-verify": "enabled"},
                matchExpressions: [{key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["atcr-verify"]}]}
            and ([.rules[] | .operations == ["CREATE", "UPDATE"] and .apiVersions == ["v1"]] | all)
            and ([.rules[] | .apiGroups[] as $g | .resources[] | "\($g)/\(.)"] | sort) ==
                (["/pods", "/pods/ephemeralcontainers", "/podtemplates", "/replicationcontrollers",
                  "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets",
                  "batch/jobs", "batch/cronjobs"] | sort))' >/dev/null || { echo "$f"; false; }
    done
    # the server's namespace carries no atcr-verify label
    doc "$SRV/namespace.yaml" Namespace atcr-verify | jq -e '.metadata.labels | has("atcr-verify") | not' >/dev/null
}

@test "k8s-server: the Kyverno policy POSTs each image to /verify, defaults the call, denies unless allowed" {
    need_yaml
    p=$(doc "$SRV/kyverno-policy.yaml" ClusterPolicy atcr-verify)
    jq -e '.apiVersion == "kyverno.io/v1" and .spec.background == false and .spec.failurePolicy == "Fail"
        and (.spec.rules | length == 1) and (.spec.rules[0] |
          .match.any[0].resources.namespaceSelector == {matchLabels: {"atcr-verify": "enabled"}}
          and .exclude.any[0].resources.namespaces == ["atcr-verify"]
          and .validate.failureAction == "Enforce"
          and (.validate.foreach | length == 1) and (.validate.foreach[0] |
            (.list | test("containers, initContainers, ephemeralContainers"))
            and (.context | length == 1) and .context[0].name == "verdict"
            and (.context[0].apiCall |
              .method == "POST" and .service.url == "https://atcr-verify.atcr-verify:443/verify"
              and .service.caBundle == "CA/PEM/FROM/MAKE/CERTS/SH"
              and .data == [{key: "image", value: "{{ element.image }}"}]
              # a refused image is a 403, whose body Kyverno drops: the default must deny
              and .default == {allowed: false})
            and .deny.conditions == {any: [{key: "{{ verdict.allowed }}", operator: "NotEquals", value: true}]}))' \
        <<<"$p" >/dev/null
}

@test "k8s-server: the Deployment runs 2 non-root replicas, read-only, with resources, probes on the health port" {
    need_yaml
    d=$(doc "$SRV/deployment.yaml" Deployment atcr-verify)
    c=$(container)
    jq -e '.metadata.namespace == "atcr-verify" and .spec.replicas == 2
        and .spec.selector.matchLabels == .spec.template.metadata.labels
        and .spec.template.spec.securityContext.runAsNonRoot == true
        and .spec.template.spec.securityContext.runAsUser == 65532
        and .spec.template.spec.securityContext.seccompProfile.type == "RuntimeDefault"' <<<"$d" >/dev/null
    jq -e '(.ports | map({(.name): .containerPort}) | add) == {https: 8443, health: 8080}
        and .readinessProbe.httpGet == {path: "/readyz", port: "health"}
        and .livenessProbe.httpGet == {path: "/healthz", port: "health"}
        and .securityContext.runAsNonRoot == true and .securityContext.readOnlyRootFilesystem == true
        and .securityContext.allowPrivilegeEscalation == false and .securityContext.capabilities.drop == ["ALL"]
        and (.resources.requests | has("cpu") and has("memory"))
        and (.resources.limits | has("memory"))' <<<"$c" >/dev/null
    # the listeners the probes and the Service point at are the ones the args open
    jq -e '.args | (index("--listen") as $i | .[$i + 1] == "0.0.0.0:8443")
        and (index("--health-listen") as $i | .[$i + 1] == "0.0.0.0:8080")' <<<"$c" >/dev/null
    # /tmp is an emptyDir (the DID cache under a read-only root); TLS and policy are mounted where the args say
    jq -e --argjson c "$c" '.spec.template.spec.volumes as $v
        | ($c.volumeMounts | map({(.mountPath): .name}) | add) as $m
        | ($v[] | select(.name == $m["/tmp"]) | has("emptyDir"))
        and ($v[] | select(.name == $m["/etc/atcr-verify/tls"]) | .secret.secretName == "atcr-verify-tls")
        and ($v[] | select(.name == $m["/etc/atcr-verify/policy"]) | .configMap.name == "atcr-verify-policy")' \
        <<<"$d" >/dev/null
    jq -e '.args | (index("--tls-cert") as $i | .[$i + 1] == "/etc/atcr-verify/tls/tls.crt")
        and (index("--tls-key") as $i | .[$i + 1] == "/etc/atcr-verify/tls/tls.key")' <<<"$c" >/dev/null
    jq -e '.env | map({(.name): .value}) | add | .ATCR_POLICY_FILE == "/etc/atcr-verify/policy/policy.yaml"' \
        <<<"$c" >/dev/null
    doc "$SRV/policy-configmap.yaml" ConfigMap atcr-verify-policy | jq -e '.data | keys == ["policy.yaml"]' >/dev/null
    # a PodDisruptionBudget keeps one replica up; the Service sends 443 to 8443 of these pods
    doc "$SRV/deployment.yaml" PodDisruptionBudget atcr-verify | jq -e --argjson d "$d" \
        '.spec.minAvailable == 1 and .spec.selector == $d.spec.selector' >/dev/null
    doc "$SRV/service.yaml" Service atcr-verify | jq -e --argjson d "$d" '.metadata.namespace == "atcr-verify"
        and .spec.selector == $d.spec.selector.matchLabels
        and .spec.ports == [{name: "https", port: 443, targetPort: 8443, protocol: "TCP"}]' >/dev/null
}

@test "k8s-server: every flag and variable the Deployment passes is one atcr-verify serve --help lists" {
    need_yaml
    [ -x "$CLI" ] || skip "no $CLI: run make BUILD=$BUILD all"
    help=$("$CLI" serve --help 2>&1)
    flags=$(container | jq -r '.args[] | select(startswith("--")) | sub("=.*"; "")')
    [ "$(wc -l <<<"$flags")" -ge 8 ]
    for f in $flags; do
        grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$help" || { echo "serve --help has no $f"; false; }
    done
    for e in $(container | jq -r '.env[].name'); do
        grep -qw -- "$e" <<<"$help" || { echo "serve --help has no $e"; false; }
    done
    # the same for the mTLS patch, and a flag the help lacks does fail this check
    for f in $(yaml "$SRV/gatekeeper-mtls-patch.yaml" |
        jq -r '.[0].spec.template.spec.containers[0].args[] | select(startswith("--"))'); do
        grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$help" || { echo "serve --help has no $f"; false; }
    done
    ! grep -qE -- "(^|[^a-z-])--tls-certificate([^a-z-]|$)" <<<"$help"
}

@test "k8s-server: the mTLS patch keeps the Deployment's args, adds --client-ca and mounts the Gatekeeper CA" {
    need_yaml
    want=$(container | jq -c '.args + ["--client-ca", "/etc/atcr-verify/gatekeeper-ca/ca.crt"]')
    yaml "$SRV/gatekeeper-mtls-patch.yaml" | jq -e --argjson want "$want" '.[0].spec.template.spec
        | (.containers | length == 1) and .containers[0].name == "atcr-verify"
        and .containers[0].args == $want
        and .containers[0].volumeMounts == [{name: "gatekeeper-ca", mountPath: "/etc/atcr-verify/gatekeeper-ca", readOnly: true}]
        and .volumes == [{name: "gatekeeper-ca", secret: {secretName: "gatekeeper-ca"}}]' >/dev/null
    grep -q 'kubectl -n atcr-verify create secret generic gatekeeper-ca' "$SRV/README.md"
}

@test "k8s-server: make-certs.sh makes a certificate openssl verifies for the Service's names, and fills every caBundle" {
    need_yaml
    command -v openssl >/dev/null || skip "no openssl"
    out="$T/certs"
    make_certs "$out"
    for n in atcr-verify.atcr-verify atcr-verify.atcr-verify.svc atcr-verify.atcr-verify.svc.cluster.local; do
        openssl verify -CAfile "$out/ca.crt" -purpose sslserver -verify_hostname "$n" "$out/tls.crt"
    done
    # and not for another name, nor against another CA
    ! openssl verify -CAfile "$out/ca.crt" -verify_hostname atcr-verify.default.svc "$out/tls.crt" 2>/dev/null
    ! openssl verify -CAfile "$out/tls.crt" "$out/tls.crt" 2>/dev/null
    # the key matches the certificate; keys are private
    [ "$(openssl pkey -in "$out/tls.key" -pubout)" = "$(openssl x509 -in "$out/tls.crt" -noout -pubkey)" ]
    [ "$(stat -c %a "$out/tls.key")" = 600 ] && [ "$(stat -c %a "$out/ca.key")" = 600 ]
    # the Secret holds exactly these files
    s=$(doc "$out/secret-tls.yaml" Secret atcr-verify-tls)
    jq -e '.type == "kubernetes.io/tls" and .metadata.namespace == "atcr-verify"
        and (.data | keys == ["ca.crt", "tls.crt", "tls.key"])' <<<"$s" >/dev/null
    for k in ca.crt tls.crt tls.key; do
        cmp <(jq -r --arg k "$k" '.data[$k]' <<<"$s" | base64 -d) "$out/$k"
    done
    # every manifest is there; no placeholder is left; each caBundle is this CA
    for f in "$SRV"/*.yaml; do [ -f "$out/manifests/${f##*/}" ]; done
    ! grep -rq -e 'CA/BUNDLE/FROM/MAKE/CERTS/SH' -e 'CA/PEM/FROM/MAKE/CERTS/SH' "$out/manifests"
    n=0
    for f in gatekeeper-provider webhook-validating webhook-mutating; do
        for b in $(yaml "$out/manifests/$f.yaml" | jq -r '.[] | .spec.caBundle // .webhooks[].clientConfig.caBundle'); do
            cmp <(base64 -d <<<"$b") "$out/ca.crt"
            n=$((n + 1))
        done
    done
    [ "$n" -eq 4 ]
    cmp <(doc "$out/manifests/kyverno-policy.yaml" ClusterPolicy |
        jq -r '.spec.rules[0].validate.foreach[0].context[0].apiCall.service.caBundle') "$out/ca.crt"
    # nothing else changed
    for f in "$SRV"/*.yaml; do
        diff <(grep -v -e 'CA/BUNDLE/FROM/MAKE/CERTS/SH' -e 'CA/PEM/FROM/MAKE/CERTS/SH' "$f") \
            <(grep -v -e "$(openssl base64 -A <"$out/ca.crt")" -e '^ *-----' -e '^ *[A-Za-z0-9+/=]\{1,64\}$' \
                "$out/manifests/${f##*/}")
    done
}

@test "k8s-server: make-certs.sh -c fills from an existing CA, and refuses what is not a certificate" {
    command -v openssl >/dev/null || skip "no openssl"
    make_certs "$T/a"
    # refuses to overwrite
    ! sh "$SRV/make-certs.sh" "$T/a" 2>/dev/null
    sh "$SRV/make-certs.sh" -c "$T/a/ca.crt" "$T/b" >/dev/null
    [ ! -e "$T/b/tls.key" ] && [ ! -e "$T/b/secret-tls.yaml" ]
    diff -r "$T/a/manifests" "$T/b/manifests"
    ! sh "$SRV/make-certs.sh" -c "$T/a/tls.key" "$T/c" 2>/dev/null
    ! sh "$SRV/make-certs.sh" -c "$T/nothing" "$T/c" 2>/dev/null
    ! sh "$SRV/make-certs.sh" 2>/dev/null
}

@test "k8s-server: make-certs.sh's Secret and filled manifests validate against the published schemas" {
    need_npm_validator
    make_certs "$T/certs"
    for schemas in "" ${SCHEMAS:+"$SCHEMAS"}; do
        validate ${schemas:+--schemas "$schemas"} "$T/certs"
        [ "$status" -eq 0 ] || { echo "$output"; false; }
        grep -q '^ok .*secret-tls.yaml#1 v1 Secret atcr-verify-tls$' <<<"$output"
        grep -q '^ok .*webhook-validating.yaml#1 ' <<<"$output"
        # a webhook caBundle that is not base64 is refused (format byte; the Provider's caBundle
        # is a plain string in its CRD, Gatekeeper checks it when it loads the Provider)
        sed 's|^      caBundle: .*|      caBundle: not*base64|' "$T/certs/manifests/webhook-validating.yaml" >"$T/w.yaml"
        validate ${schemas:+--schemas "$schemas"} "$T/w.yaml"
        [ "$status" -eq 1 ]
        grep -q '^FAIL .*w.yaml#1 .*caBundle must match format "byte"' <<<"$output"
    done
}

@test "k8s-server: the server starts with the Deployment's arguments, policy and make-certs' certificate" {
    need_yaml
    [ -x "$CLI" ] || skip "no $CLI: run make BUILD=$BUILD all"
    command -v openssl >/dev/null && command -v curl >/dev/null || skip "no openssl or curl"
    make_certs "$T/certs"
    mkdir -p "$T/policy" "$T/cache"
    doc "$SRV/policy-configmap.yaml" ConfigMap | jq -r '.data["policy.yaml"]' >"$T/policy/policy.yaml"
    # the Deployment's args, with the in-cluster paths and addresses moved to this machine
    mapfile -t args < <(container | jq -r --arg t "$T" '.args[]
        | sub("^0\\.0\\.0\\.0:[0-9]+$"; "127.0.0.1:0")
        | sub("^/etc/atcr-verify/tls/"; "\($t)/certs/")')
    mapfile -t envs < <(container | jq -r --arg t "$T" '.env[] | "\(.name)=\(.value
        | sub("^/etc/atcr-verify/policy/"; "\($t)/policy/"))"')
    [ "${#args[@]}" -ge 16 ]
    env "${envs[@]}" TMPDIR="$T/cache" timeout 60 "$CLI" serve "${args[@]}" --lame-duck 0 \
        --cache-dir "$T/cache/c" 2>"$T/serve.log" &
    SRV_PID=$!
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$T/serve.log" 2>/dev/null && break
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$T/serve.log")
    HPORT=$(sed -n 's/.*health on http:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$T/serve.log")
    [ -n "$PORT" ] && [ -n "$HPORT" ] || { cat "$T/serve.log"; false; }
    # the probes' paths answer 200 on the health port
    [ "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/healthz")" = 200 ]
    [ "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/readyz")" = 200 ]
    # TLS as a caller in the cluster sees it: the Service name, verified against ca.crt only
    # (a malformed reference: refused with 400 before any network)
    for n in atcr-verify.atcr-verify atcr-verify.atcr-verify.svc; do
        code=$(curl -sS --max-time 5 --cacert "$T/certs/ca.crt" --resolve "$n:$PORT:127.0.0.1" \
            -o /dev/null -w '%{http_code}' "https://$n:$PORT/verify?image=NOT..VALID")
        [ "$code" = 400 ] || { echo "$n: $code"; cat "$T/serve.log"; false; }
    done
    # negative control: the same server refuses a policy that does not parse (exit 2)
    printf 'version: "1.0"\nextra: 1\n' >"$T/policy/bad.yaml"
    run env ATCR_POLICY_FILE="$T/policy/bad.yaml" timeout 20 "$CLI" serve "${args[@]}" --cache-dir "$T/cache/c"
    [ "$status" -eq 2 ] || { echo "$status $output"; false; }
}

@test "k8s-server: the README walks through the four paths with files that exist" {
    r="$SRV/README.md"
    for h in "Gatekeeper only" "Gatekeeper + Ratify v1 plugin" "Plain webhooks" "Kyverno"; do
        grep -q "^## .*$h" "$r" || { echo "no section: $h"; false; }
    done
    # every integration/k8s file it names exists
    for f in $(grep -o 'integration/k8s/[A-Za-z0-9_./-]*[A-Za-z0-9]' "$r" | sort -u); do
        [ -e "$REPO/$f" ] || [ -e "$REPO/${f%/}" ] || { echo "README names $f, which does not exist"; false; }
    done
    grep -q 'integration/k8s/README.md' "$r"
    # says what was not run, and the caches a revocation waits for
    grep -q 'not executed here' "$r"
    grep -qi 'no OPA in Debian or npm' "$r"
    grep -q '3 min' "$r" && grep -q -- '--verdict-ttl' "$r" && grep -q 'systemError' "$r"
    # the label of the seed document
    grep -q 'kubectl label namespace .* atcr-verify=enabled' "$r"
}
