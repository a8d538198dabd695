#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify coverage over the loopback fixture stack (integration/fixture/up.sh).
# A recorded `kubectl get pods -A -o json` (testdata/kube/coverage/pods.json, the
# registry address and the fixture's digests substituted here) holds a signed
# image (by tag, by the digest the kubelet reports, and as an ephemeral
# container's digest), an image signed by an untrusted DID (an init container in
# two pods), an unsigned one, an image its policy does not require a signature
# for, an image no policy scope covers and one more signed image: 2 of 5
# distinct images meet the policy (40.0%), one more not required. Then text and
# JSON, --fail-under at, above and below that figure, a file and standard
# input, a plain list, the environment's trust, offline, a document over kube's
# 3 MiB cap, and the operational errors (exit 2).

load fixture/stack
load fixture/serve

setup_file() { fixture_up; }
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    BOB=$(jq -r .accounts.bob.did "$FX")
    GOOD_DIGEST=$(jq -r .images.good.digest "$FX")
    BOB_DIGEST=$(jq -r .images.bob.digest "$FX")
    IMG="$REGISTRY/atv/app"
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle
         --cache-dir "$T/cache")
    sed -e "s|@@REGISTRY@@|$REGISTRY|g" -e "s|@@GOOD_DIGEST@@|$GOOD_DIGEST|g" \
        -e "s|@@BOB_DIGEST@@|$BOB_DIGEST|g" \
        "$BATS_TEST_DIRNAME/../testdata/kube/coverage/pods.json" > "$T/pods.json"
    cat > "$T/policy.yaml" <<EOF
policies:
  - name: ours
    scope: "$REGISTRY/atv/**"
    require: {trustedDIDs: [$ALICE]}
  - name: upstream
    scope: "registry.k8s.io/**"
    require: {signature: false}
EOF
    push_unsigned unsigned
}


cov() { # ARGS...: atcr-verify coverage with the fixture's network options and policy
    "$CLI" coverage "$@" --policy "$T/policy.yaml" "${NET[@]}"
}

@test "coverage of a recorded kubectl get pods -A -o json: the table and the summary" {
    run --separate-stderr cov "$T/pods.json"
    echo "$output"; echo "$stderr"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 14 ] # header, 9 rows, summary, 3 namespaces (bats drops blank lines)
    [[ "${lines[0]}" =~ ^NAMESPACE\ +POD\ +CONTAINER\ +IMAGE\ +VERDICT\ +SIGNERS\ OR\ REASON$ ]]
    # every row in input order: containers, then init, then ephemeral containers
    [[ "${lines[1]}" =~ ^batch\ +report-28401-x2k9p\ +report\ +$IMG:multi\ +met\ +$ALICE$ ]]
    [[ "${lines[2]}" =~ ^batch\ +report-28401-x2k9p\ +tools\ +busybox:1.36\ +refused\ +POLICY_DENIED:\  ]]
    [[ "${lines[3]}" =~ ^kube-system\ +coredns-5d78c9869d-q7wzt\ +coredns\ +registry.k8s.io/coredns/coredns:v1.10.1\ +not\ required\ +policy\ upstream\ requires\ no\ signature$ ]]
    [[ "${lines[4]}" =~ ^shop\ +web-7d9f8c6b5-abcde\ +app\ +$IMG:good\ +met\ +$ALICE$ ]]
    [[ "${lines[5]}" =~ ^shop\ +web-7d9f8c6b5-abcde\ +migrate\ \(init\)\ +$IMG:bob\ +refused\ +UNTRUSTED_SIGNER:\  ]]
    [[ "${lines[6]}" =~ ^shop\ +web-7d9f8c6b5-abcde\ +debugger-8xk2q\ \(ephemeral\)\ +$IMG@$GOOD_DIGEST\ +met\  ]]
    [[ "${lines[8]}" =~ ^shop\ +web-7d9f8c6b5-fghij\ +log-shipper\ +$IMG:unsigned\ +refused\ +NO_SIGNATURE:\  ]]
    [[ "${lines[9]}" =~ ^shop\ +web-7d9f8c6b5-fghij\ +migrate\ \(init\)\ +.*refused ]]
    # the columns line up
    off=$(awk 'NR == 1 { print index($0, "VERDICT") - 1 }' <<< "$output")
    for n in $(seq 1 9); do
        [[ "${lines[n]:off}" =~ ^(met|refused|not\ required)\ \  ]]
    done
    [ "${lines[10]}" = "coverage: 2 of 5 distinct images meet the policy (40.0%); 1 more not required" ]
    [[ "${lines[11]}" =~ ^\ \ batch\ +1\ of\ 2\ \(50.0%\)$ ]]
    [[ "${lines[12]}" =~ ^\ \ kube-system\ +0\ of\ 0\ \(100.0%\)\;\ 1\ more\ not\ required$ ]]
    [[ "${lines[13]}" =~ ^\ \ shop\ +1\ of\ 3\ \(33.3%\)$ ]]
}

@test "coverage -o json: rows with the digest verified, signers and reasons; the summary" {
    run --separate-stderr cov "$T/pods.json" -o json
    echo "$output"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg a "$ALICE" --arg i "$IMG" --arg g "$GOOD_DIGEST" \
        --arg b "$BOB_DIGEST" '
        (.rows | length) == 9 and
        (.rows | map(keys) | unique) == [["container","digest","field","image","message",
            "namespace","pod","reason","signers","verdict"]] and
        # the digest the kubelet reports is what was verified, whatever the tag
        ([.rows[] | select(.image == ($i+":good") or .container == "debugger-8xk2q")] |
            length == 3 and all(.digest == $g and .verdict == "met" and
            .signers == [{"did": $a}] and .reason == null)) and
        (.rows[4] | .container == "migrate" and .field == "initContainers" and
            .digest == $b and .verdict == "refused" and .reason == "UNTRUSTED_SIGNER" and
            .signers == []) and
        (.rows[5] | .field == "ephemeralContainers" and .image == ($i+"@"+$g)) and
        (.rows[7] | .namespace == "shop" and .pod == "web-7d9f8c6b5-fghij") and
        (.rows[1] | .image == "busybox:1.36" and .verdict == "refused" and
            .reason == "POLICY_DENIED" and .digest == null) and
        (.rows[2] | .verdict == "not required" and .reason == null and
            (.digest | startswith("sha256:a0ead0"))) and
        (.rows[7] | .verdict == "refused" and .reason == "NO_SIGNATURE") and
        (.rows[8] | .pod == "web-7d9f8c6b5-fghij" and .digest == $b) and
        (.rows[0] | .verdict == "met" and (.digest | startswith("sha256:"))) and
        .summary == {"distinct": 6, "required": 5, "met": 2, "notRequired": 1, "coverage": 40.0,
            "byNamespace": {
                "batch": {"distinct": 2, "required": 2, "met": 1, "notRequired": 0, "coverage": 50.0},
                "kube-system": {"distinct": 1, "required": 0, "met": 0, "notRequired": 1,
                    "coverage": 100.0},
                "shop": {"distinct": 3, "required": 3, "met": 1, "notRequired": 0,
                    "coverage": 33.3}}}'
}

@test "--fail-under: exit 0 at and below the figure, 1 above it, in text and json" {
    for p in 40 40.0 39.9 0 20.123456; do
        run --separate-stderr cov "$T/pods.json" --fail-under "$p"
        echo "$p: $status $stderr"
        [ "$status" -eq 0 ]
        [[ "$stderr" != *"below"* ]]
    done
    for p in 40.1 40.000001 100; do
        run --separate-stderr cov "$T/pods.json" --fail-under "$p"
        echo "$p: $status $stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"atcr-verify coverage: 40.0% (2 of 5) is below --fail-under $p"* ]]
        # the report is printed all the same
        [[ "$output" == *"coverage: 2 of 5 distinct images meet the policy (40.0%)"* ]]
    done
    run --separate-stderr cov "$T/pods.json" -o json --fail-under 40.1
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.summary.failUnder == 40.1 and .summary.pass == false'
    run --separate-stderr cov "$T/pods.json" -o json --fail-under 40
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.summary.failUnder == 40 and .summary.pass == true'
}

@test "standard input (-) reads the same as the file, text and json; --jobs 1 as well" {
    run --separate-stderr cov "$T/pods.json" -o json
    [ "$status" -eq 0 ]
    from_file=$output
    run --separate-stderr cov - -o json < "$T/pods.json"
    [ "$status" -eq 0 ]
    [ "$output" = "$from_file" ]
    run --separate-stderr cov - -o json --jobs 1 < "$T/pods.json"
    [ "$status" -eq 0 ]
    [ "$output" = "$from_file" ]
    run --separate-stderr cov - --fail-under 50 < "$T/pods.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"(40.0%)"* ]]
}

@test "a plain list: one reference a line, comments and blank lines skipped, duplicates once" {
    cat > "$T/list.txt" <<EOF
# what the seed's loop read: kubectl get pods -A -o jsonpath='{..image}' | tr ' ' '\n'
$IMG:good

   $IMG:bob	
$IMG:revoked
$IMG:unsigned
$IMG@$GOOD_DIGEST
$IMG:multi
registry.k8s.io/pause:3.9
$IMG:good
EOF
    run --separate-stderr cov "$T/list.txt"
    echo "$output"; echo "$stderr"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 10 ] # header, 8 rows, summary: no namespace lines
    [[ "${lines[1]}" =~ ^-\ +-\ +-\ +$IMG:good\ +met\ +$ALICE$ ]]
    [[ "${lines[2]}" =~ ^-\ +-\ +-\ +$IMG:bob\ +refused\ +UNTRUSTED_SIGNER ]]
    [[ "${lines[3]}" == *" refused "*"RECORD_NOT_FOUND"* ]]
    [[ "${lines[4]}" == *" refused "*"NO_SIGNATURE"* ]]
    [[ "${lines[7]}" == *" not required "* ]]
    [[ "${lines[8]}" =~ ^-\ +-\ +-\ +$IMG:good\ +met ]]
    [[ "${lines[5]}" =~ ^-\ +-\ +-\ +$IMG@$GOOD_DIGEST\ +met ]]
    # good by tag and good by digest are two spellings, each verified once; the
    # tag resolved to that digest, so they are one image in the summary
    [ "${lines[9]}" = "coverage: 2 of 5 distinct images meet the policy (40.0%); 1 more not required" ]
    run --separate-stderr cov - -o json --fail-under 40 < "$T/list.txt"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg g "$GOOD_DIGEST" '(.rows | length) == 8 and
        all(.rows[]; .namespace == null and .pod == null and .container == null and
            .field == null) and
        .rows[0] == .rows[7] and .rows[0].digest == $g and .rows[4].digest == $g and
        .summary.byNamespace == {"-": {"distinct": 6, "required": 5, "met": 2, "notRequired": 1,
            "coverage": 40.0}} and .summary.pass'
}

@test "audit passes and transient failures are listed, not covered, and not operational errors" {
    cat > "$T/audit.yaml" <<EOF
policies:
  - name: watch
    scope: "$REGISTRY/atv/**"
    require: {trustedDIDs: [$BOB]}
    action: audit
  - name: gone
    scope: "127.0.0.1:1/**"
    require: {trustedDIDs: [$ALICE]}
EOF
    printf '%s\n' "$IMG:good" "$IMG:bob" "127.0.0.1:1/atv/app:v1" > "$T/l.txt"
    run --separate-stderr "$CLI" coverage "$T/l.txt" --policy "$T/audit.yaml" "${NET[@]}" \
        --timeout 3000 -o json --fail-under 0
    echo "$output"; echo "$stderr"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e --arg b "$BOB" '
        (.rows[0] | .verdict == "audit" and .reason == "UNTRUSTED_SIGNER") and
        (.rows[1] | .verdict == "met" and .signers == [{"did": $b}]) and
        (.rows[2] | .verdict == "error" and .reason == "REGISTRY_ERROR") and
        .summary.required == 3 and .summary.met == 1 and .summary.coverage == 33.3'
    run --separate-stderr "$CLI" coverage "$T/l.txt" --policy "$T/audit.yaml" "${NET[@]}" \
        --timeout 3000 --fail-under 33.4
    [ "$status" -eq 1 ]
    [[ "$output" == *" error "*"REGISTRY_ERROR (transient): "* ]]
    [[ "$output" == *" audit "*"UNTRUSTED_SIGNER: "* ]]
}

@test "trust from the environment: TRUSTED_DIDS, ATCR_POLICY_FILE; flags win" {
    printf '%s\n' "$IMG:good" "$IMG:bob" > "$T/l.txt"
    TRUSTED_DIDS="$BOB, $ALICE" run --separate-stderr "$CLI" coverage "$T/l.txt" "${NET[@]}" \
        --fail-under 100
    [ "$status" -eq 0 ]
    [[ "$output" == *"coverage: 2 of 2 distinct images meet the policy (100.0%)"* ]]
    ATCR_POLICY_FILE="$T/policy.yaml" run --separate-stderr "$CLI" coverage "$T/l.txt" \
        "${NET[@]}" --fail-under 50
    [ "$status" -eq 0 ]
    [[ "$output" == *"(50.0%)"* ]]
    TRUSTED_DIDS="$BOB" run --separate-stderr "$CLI" coverage "$T/l.txt" "${NET[@]}" \
        --trusted-did "$ALICE" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.rows[0].verdict == "met" and .rows[1].verdict == "refused"'
    # no trust at all: nothing could ever be covered, so it is a usage error
    run --separate-stderr "$CLI" coverage "$T/l.txt" "${NET[@]}"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"no trust configured"* ]]
    TRUSTED_DIDS="$ALICE" ATCR_POLICY_FILE="$T/policy.yaml" \
        run --separate-stderr "$CLI" coverage "$T/l.txt" "${NET[@]}"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"set one, not both"* ]]
}

@test "single objects: a Deployment's template, a Pod; other kinds skipped" {
    jq '.items[2]' "$T/pods.json" > "$T/pod.json"
    run --separate-stderr cov "$T/pod.json" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '(.rows | length) == 3 and .rows[0].pod == "web-7d9f8c6b5-abcde"'
    jq -n --arg i "$IMG" '{apiVersion: "apps/v1", kind: "Deployment",
        metadata: {name: "web", namespace: "shop"},
        spec: {template: {spec: {containers: [{name: "app", image: ($i+":good")}],
            initContainers: [{name: "migrate", image: ($i+":bob")}]}}}}' > "$T/deploy.json"
    run --separate-stderr cov - < "$T/deploy.json"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "${lines[1]}" =~ ^shop\ +Deployment/web\ +app\ +$IMG:good\ +met ]]
    [[ "${lines[2]}" =~ ^shop\ +Deployment/web\ +migrate\ \(init\)\ +.*refused ]]
    jq -n '{apiVersion: "v1", kind: "List", items: [{apiVersion: "v1", kind: "Service",
        metadata: {name: "web"}}]}' > "$T/svc.json"
    run --separate-stderr cov "$T/svc.json" -o json --fail-under 100
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"1 object of other kinds (no pod templates) skipped"* ]]
    [[ "$stderr" == *"warn: no images in the input"* ]]
    echo "$output" | jq -e '.rows == [] and .summary.coverage == 100.0'
}

@test "offline: every image verified from one bundle, no network" {
    run --separate-stderr "$CLI" bundle export "$IMG:good" -o "$T/b.json" --insecure-http \
        --plc "$PLC" --allow-loopback-http --no-verify-handle --cache-dir "$T/cache"
    [ "$status" -eq 0 ]
    printf '%s\n' "$IMG:good" "registry.k8s.io/pause:3.9" > "$T/l.txt"
    run --separate-stderr timeout 60 unshare -n "$CLI" coverage "$T/l.txt" --offline \
        --bundle "$T/b.json" --policy "$T/policy.yaml" --insecure-http --no-verify-handle \
        --cache-dir "$T/cache2" --fail-under 100
    echo "$output"; echo "$stderr"
    [ "$status" -eq 0 ]
    [ "${lines[3]}" = "coverage: 1 of 1 distinct image meets the policy (100.0%); 1 more not required" ]
}

@test "a document over kube's 3 MiB cap is read item by item, errors named by item" {
    # 400 pods of 10 KiB of annotations each, images with no network to reach
    jq -n '{apiVersion: "v1", kind: "PodList", metadata: {resourceVersion: "1"},
        items: [range(400) as $n | {metadata: {name: "p\($n)", namespace: "ns\($n % 3)",
            annotations: {pad: ("x" * 10240)}},
            spec: {containers: [{name: "c", image: "registry.k8s.io/pause:3.\($n % 4)"},
                {name: "d", image: "docker.io/library/busybox:1.\($n % 2)"}]}}]}' > "$T/big.json"
    [ "$(stat -c %s "$T/big.json")" -gt $((3 * 1024 * 1024)) ]
    run --separate-stderr cov "$T/big.json" -o json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '(.rows | length) == 800 and .rows[799].pod == "p399" and
        .rows[799].namespace == "ns0" and .summary.distinct == 6 and .summary.required == 2 and
        .summary.met == 0 and (.summary.byNamespace | keys) == ["ns0", "ns1", "ns2"]'
    # a wrong type deep in item 321: the same pointer the whole document has
    jq '.items[321].spec.containers[1].image = 7' "$T/big.json" > "$T/bad.json"
    run --separate-stderr cov "$T/bad.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"/items/321/spec/containers/1/image"* ]]
    # one object over the cap is not a list
    jq '{apiVersion: "v1", kind: "Pod", metadata: .items[0].metadata,
        spec: {containers: [.items[] | .spec.containers[0]]},
        x: [.items[].metadata.annotations]}' "$T/big.json" > "$T/bigpod.json"
    run --separate-stderr cov "$T/bigpod.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"not a List, cap 3145728"* ]]
}

@test "operational errors exit 2: malformed, empty or unreadable input, a FIFO, limits" {
    # a pipe is read from standard input (-), never opened by name
    run --separate-stderr cov <(cat "$T/pods.json")
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"not a regular file"*"give - and pipe it"* ]]
    printf '{ "kind": "List", items: [] }' > "$T/bad.json"
    run --separate-stderr cov "$T/bad.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"invalid JSON at line 1"* ]]
    printf '{"apiVersion":"v1","kind":"Pod","kind":"Pod"}' > "$T/dup.json"
    run --separate-stderr cov "$T/dup.json"
    [ "$status" -eq 2 ]
    jq '.items[2].spec.containers[0].image = null' "$T/pods.json" > "$T/null.json"
    run --separate-stderr cov - < "$T/null.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"/items/2/spec/containers/0/image"* ]]
    printf '["%s"]\n' "$IMG:good" > "$T/arr.json"
    run --separate-stderr cov "$T/arr.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"a JSON array"* ]]
    printf ' \n\t\n' > "$T/blank.txt"
    run --separate-stderr cov - < "$T/blank.txt"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"standard input: empty input"* ]]
    run --separate-stderr cov - < /dev/null
    [ "$status" -eq 2 ]
    run --separate-stderr cov "$T/missing.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"missing.json"* ]]
    # a FIFO with no writer: refused at once, never waited on
    mkfifo "$T/fifo"
    run --separate-stderr timeout 10 "$CLI" coverage "$T/fifo" --trusted-did "$ALICE"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"FIFO"* ]]
    # 64 MiB of input at most, file or standard input
    truncate -s $((64 * 1024 * 1024 + 1)) "$T/huge"
    run --separate-stderr cov "$T/huge"
    [ "$status" -eq 2 ]
    run --separate-stderr cov - < "$T/huge"
    [ "$status" -eq 2 ]
    # a reference over 1024 bytes; a NUL byte
    { printf 'a/'; head -c 1100 /dev/zero | tr '\0' b; echo; } > "$T/long.txt"
    run --separate-stderr cov "$T/long.txt"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"line 1: 1102 bytes, a reference is at most 1024"* ]]
    printf 'x\na\0b\n' > "$T/nul.txt"
    run --separate-stderr cov "$T/nul.txt"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"line 2: a NUL byte"* ]]
}

@test "limits: 65536 images listed and 4096 distinct images, exit 2 past them" {
    # at the caps: no network (no policy scope covers docker.io), all refused
    yes docker.io/x/y:1 | head -n 65536 > "$T/rows.txt"
    cov "$T/rows.txt" > "$T/out.txt"
    [ "$(wc -l < "$T/out.txt")" -eq 65539 ]
    [ "$(tail -n 1 "$T/out.txt")" = "coverage: 0 of 1 distinct image meet the policy (0.0%)" ]
    echo docker.io/x/y:1 >> "$T/rows.txt"
    run --separate-stderr cov "$T/rows.txt"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"over 65536 images listed"* ]]
    seq 1 4096 | sed 's|^|docker.io/x/y:|' > "$T/distinct.txt"
    run --separate-stderr cov "$T/distinct.txt" --fail-under 0
    [ "$status" -eq 0 ]
    [[ "$output" == *"coverage: 0 of 4096 distinct images meet the policy (0.0%)"* ]]
    echo docker.io/x/y:4097 >> "$T/distinct.txt"
    run --separate-stderr cov "$T/distinct.txt"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"over 4096 distinct images"* ]]
}

@test "usage errors exit 2: --fail-under, --jobs, FILE, a bad policy; --help" {
    for p in -1 101 100.1 abc "" 50. .5 1e2 +5 " 5" 50.1234567 1000000; do
        run --separate-stderr cov "$T/pods.json" --fail-under "$p"
        echo "'$p': $status $stderr"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"--fail-under: a percentage, 0..100"* ]]
    done
    for j in 0 33 x ""; do
        run --separate-stderr cov "$T/pods.json" --jobs "$j"
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"--jobs: 1..32"* ]]
    done
    run --separate-stderr cov
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"FILE is required (- for standard input)"* ]]
    run --separate-stderr cov "$T/pods.json" "$T/pods.json"
    [ "$status" -eq 2 ]
    run --separate-stderr cov "$T/pods.json" -o yaml
    [ "$status" -eq 2 ]
    run --separate-stderr cov - --username u --password-stdin < "$T/pods.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"both want standard input"* ]]
    printf 'policies: [{name: x}]\n' > "$T/badpolicy.yaml"
    run --separate-stderr "$CLI" coverage "$T/pods.json" --policy "$T/badpolicy.yaml"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"trust policy"* ]]
    run "$CLI" coverage --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--fail-under PERCENT"* ]] && [[ "$output" == *"not required"* ]]
    run "$CLI" --help
    [[ "$output" == *"  coverage "* ]]
}
