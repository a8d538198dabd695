#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# atcr-verify serve as Kubernetes validating and mutating admission webhooks (/k8s/validate,
# /validate, /k8s/mutate), called by the API server's side emulated from its source
# (integration/admission/apiserver.js: AdmissionReview v1, caBundle-only TLS, the response
# checks, JSONPatch applied to the object, then validation of the mutated object), over the
# loopback fixture stack, for every kind whose images we read. Every wait is bounded.

load fixture/stack
load fixture/serve

setup_file() {
    fixture_up
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=atcr-verify.atcr-verify.svc \
        -addext subjectAltName=IP:127.0.0.1,DNS:atcr-verify.atcr-verify.svc -days 1 \
        -keyout "$BATS_FILE_TMPDIR/key.pem" -out "$BATS_FILE_TMPDIR/cert.pem" 2>/dev/null
}
teardown_file() { fixture_down; }

setup() {
    fixture_env
    ALICE=$(jq -r .accounts.alice.did "$FX")
    IMG="$REGISTRY/atv/app"
    CERT="$BATS_FILE_TMPDIR/cert.pem"
    KEY="$BATS_FILE_TMPDIR/key.pem"
    GOOD_DIGEST=$(jq -r .images.good.digest "$FX")
    NET=(--plc "$PLC" --allow-loopback-http --insecure-http --no-verify-handle
         --cache-dir "$T/cache")
    SRV_PID=""
}

teardown() { srv_stop; }

start() { SRV_CERT=$CERT SRV_KEY=$KEY srv_start "$@"; }

# apiserver [options] OBJECT-FILE: the emulated API server's mutating then validating call
apiserver() {
    timeout 60 node "$BATS_TEST_DIRNAME/admission/apiserver.js" --base "https://127.0.0.1:$PORT" \
        --ca "$CERT" "$@"
}

# podspec MAIN INIT VOLUME: a pod spec with one container, one init container and one image volume
podspec() {
    jq -nc --arg m "$1" --arg i "$2" --arg v "$3" '{
        containers: [{name: "main", image: $m, ports: [{containerPort: 8080}]}],
        initContainers: [{name: "init", image: $i}],
        volumes: [{name: "cfg", emptyDir: {}}, {name: "tools", image: {reference: $v, pullPolicy: "IfNotPresent"}}]
    }'
}
# object KIND SPEC: the object of that kind holding the pod spec where the API puts it
object() {
    local kind=$1 spec=$2 tpl
    tpl=$(jq -nc --argjson s "$spec" '{metadata: {labels: {app: "x"}}, spec: $s}')
    case "$kind" in
    Pod) jq -nc --argjson s "$spec" '{apiVersion: "v1", kind: "Pod", metadata: {name: "p", namespace: "team"}, spec: $s}' ;;
    PodTemplate) jq -nc --argjson t "$tpl" '{apiVersion: "v1", kind: "PodTemplate", metadata: {name: "pt", namespace: "team"}, template: $t}' ;;
    ReplicationController) jq -nc --argjson t "$tpl" '{apiVersion: "v1", kind: "ReplicationController", metadata: {name: "rc", namespace: "team"}, spec: {replicas: 1, selector: {app: "x"}, template: $t}}' ;;
    Deployment | ReplicaSet | StatefulSet | DaemonSet)
        jq -nc --arg k "$kind" --argjson t "$tpl" '{apiVersion: "apps/v1", kind: $k, metadata: {name: "w", namespace: "team"}, spec: {selector: {matchLabels: {app: "x"}}, template: $t}}' ;;
    Job) jq -nc --argjson t "$tpl" '{apiVersion: "batch/v1", kind: "Job", metadata: {name: "j", namespace: "team"}, spec: {template: ($t | .spec.restartPolicy = "Never")}}' ;;
    CronJob) jq -nc --argjson t "$tpl" '{apiVersion: "batch/v1", kind: "CronJob", metadata: {name: "c", namespace: "team"}, spec: {schedule: "*/5 * * * *", jobTemplate: {spec: {template: ($t | .spec.restartPolicy = "Never")}}}}' ;;
    esac
}

@test "every kind: mutation pins each image where it sits, validation admits the result" {
    start --trusted-did "$ALICE"
    spec=$(podspec "$IMG:good" "$IMG:good" "$IMG:good")
    for kind in Pod PodTemplate ReplicationController Deployment ReplicaSet StatefulSet DaemonSet Job CronJob; do
        object "$kind" "$spec" > "$T/$kind.json"
        run apiserver "$T/$kind.json"
        [ "$status" -eq 0 ]
        echo "$kind: $output" | head -c 600; echo
        echo "$output" | jq -e --arg r "$IMG:good@$GOOD_DIGEST" '.error == null and .admitted and
            (.mutate.patch | length) == 3 and (.mutate.patch | all(.op == "replace" and .value == $r)) and
            ([.object | .. | objects | (.image? // .reference?) | strings | select(startswith("'"$REGISTRY"'"))]
                | length == 3 and all(. == $r))'
    done
    # where: the pointers the API server applied
    run apiserver "$T/CronJob.json"
    echo "$output" | jq -e '[.mutate.patch[].path] | sort ==
        ["/spec/jobTemplate/spec/template/spec/containers/0/image",
         "/spec/jobTemplate/spec/template/spec/initContainers/0/image",
         "/spec/jobTemplate/spec/template/spec/volumes/1/image/reference"]'
    # the pinned object is stable: mutating it again changes nothing
    echo "$output" | jq -c .object > "$T/pinned.json"
    run apiserver "$T/pinned.json"
    echo "$output" | jq -e '.admitted and .mutate.patch == []'
}

@test "a refused image: mutation leaves it, validation refuses with 403 naming it and its reason" {
    push_unsigned unsigned
    start --trusted-did "$ALICE"
    object Deployment "$(podspec "$IMG:unsigned" "$IMG:good" "$IMG:bob")" > "$T/d.json"
    run apiserver "$T/d.json"
    echo "$output"
    echo "$output" | jq -e --arg i "$IMG" '.admitted == false and .error == null and
        (.mutate.patch | length) == 1 and .mutate.patch[0].path == "/spec/template/spec/initContainers/0/image" and
        .validate.status.code == 403 and
        (.validate.status.message | contains($i+":unsigned: NO_SIGNATURE") and
            contains($i+":bob: UNTRUSTED_SIGNER") and contains("2 images refused"))'
}

@test "the seed's /validate path, the ephemeralcontainers subresource, DELETE and other kinds" {
    start --trusted-did "$ALICE"
    # /validate is /k8s/validate
    object Pod "$(podspec "$IMG:bob" "$IMG:good" "$IMG:good")" > "$T/p.json"
    jq -c '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {uid: "u-1",
        kind: {group: "", version: "v1", kind: "Pod"}, resource: {group: "", version: "v1", resource: "pods"},
        operation: "CREATE", namespace: "team", object: .}}' "$T/p.json" > "$T/review.json"
    r=$(curl -sS --max-time 10 --cacert "$CERT" -H 'Content-Type: application/json' \
        --data-binary "@$T/review.json" "https://127.0.0.1:$PORT/validate")
    echo "$r" | jq -e '.response.uid == "u-1" and .response.allowed == false and
        .response.status.code == 403 and (.response | has("patch") | not)'
    # kubectl debug: an UPDATE of pods/ephemeralcontainers carries the whole Pod
    jq -c '.spec.ephemeralContainers = [{name: "debugger", image: "'"$IMG:bob"'"}] |
        .spec.containers[0].image = "'"$IMG:good"'"' "$T/p.json" > "$T/eph.json"
    run apiserver --no-mutate --operation UPDATE --subresource ephemeralcontainers "$T/eph.json"
    echo "$output" | jq -e '.admitted == false and (.validate.status.message | contains("debugger") or contains(":bob"))'
    jq -c '.spec.ephemeralContainers[0].image = "'"$IMG:good"'"' "$T/eph.json" > "$T/eph2.json"
    run apiserver --no-mutate --operation UPDATE --subresource ephemeralcontainers "$T/eph2.json"
    echo "$output" | jq -e '.admitted == true'
    # DELETE and a kind without images: allowed without any verification
    before=$(metric atcr_verify_verification_seconds_count)
    run apiserver --operation DELETE "$T/p.json"
    echo "$output" | jq -e '.admitted == true and .mutate.patch == []'
    jq -nc '{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "c", namespace: "team"}, data: {image: "'"$IMG:bob"'"}}' > "$T/cm.json"
    run apiserver "$T/cm.json"
    echo "$output" | jq -e '.admitted == true'
    [ "$(metric atcr_verify_verification_seconds_count)" = "$before" ]
}

@test "a transient failure is 503 'retry' and never pinned; audit passes are warnings" {
    DEADPDS=$(jq -r .accounts.deadpds.did "$FX")
    start --trusted-did "$ALICE" --trusted-did "$DEADPDS"
    object Pod "$(podspec "$IMG:deadpds" "$IMG:good" "$IMG:good")" > "$T/p.json"
    run apiserver "$T/p.json"
    echo "$output"
    echo "$output" | jq -e '.admitted == false and .validate.status.code == 503 and
        (.validate.status.message | contains("retry") and contains("deadpds")) and
        (.mutate.patch | length) == 2'
    kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
    REQUIRE_SIGNATURE=false start --trusted-did "$ALICE"
    object Pod "$(podspec "$IMG:bob" "$IMG:good" "$IMG:good")" > "$T/p.json"
    run apiserver "$T/p.json"
    echo "$output"
    echo "$output" | jq -e '.admitted == true and
        (.validate.warnings | length == 1) and (.validate.warnings[0] | contains("audit") and contains("UNTRUSTED_SIGNER"))'
}

@test "reviews that are not AdmissionReview v1 are a 400 (failurePolicy Fail refuses them)" {
    start --trusted-did "$ALICE"
    post() {
        curl -sS --max-time 10 --cacert "$CERT" -o /dev/null -w '%{http_code}' \
            -H 'Content-Type: application/json' --data-binary "$1" "https://127.0.0.1:$PORT/k8s/validate"
    }
    [ "$(post 'not json')" = 400 ]
    [ "$(post '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}')" = 400 ]
    [ "$(post '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}')" = 400 ]
    [ "$(post '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}')" = 400 ]
    [ "$(curl -sS --max-time 10 --cacert "$CERT" -o /dev/null -w '%{http_code}' \
        "https://127.0.0.1:$PORT/k8s/mutate")" = 405 ]
    # and the server goes on
    object Pod "$(podspec "$IMG:good" "$IMG:good" "$IMG:good")" > "$T/p.json"
    run apiserver "$T/p.json"
    echo "$output" | jq -e '.admitted == true'
}

@test "Kyverno: the shipped ClusterPolicy's apiCall to /verify, as Kyverno makes it, denies on allowed != true" {
    sh integration/k8s/validate/ensure-modules.sh
    push_unsigned unsigned
    start --trusted-did "$ALICE"
    kyverno() {
        timeout 60 node "$BATS_TEST_DIRNAME/kyverno/apicall.js" \
            --policy "$BATS_TEST_DIRNAME/k8s/server/kyverno-policy.yaml" \
            --base "https://127.0.0.1:$PORT" --ca "$CERT" "$1"
    }
    object Pod "$(podspec "$IMG:good" "$IMG:good" "$IMG:good")" > "$T/ok.json"
    run kyverno "$T/ok.json"
    echo "$output"
    echo "$output" | jq -e '.denied == false and (.results | length) == 2 and
        all(.results[]; .status == 200 and .value.allowed == true)'
    # a refused image: /verify answers 403, Kyverno drops the body and the default denies
    object Pod "$(podspec "$IMG:unsigned" "$IMG:good" "$IMG:good")" > "$T/bad.json"
    run kyverno "$T/bad.json"
    echo "$output"
    echo "$output" | jq -e '.denied == true and .results[0].status == 403 and
        .results[0].usedDefault == true and .results[0].denied == true and
        (.results[0].error | startswith("HTTP 403")) and .results[1].denied == false'
    # a bad reference (400) and a server that is gone are denied the same way
    object Pod "$(podspec "NOT:a:REF" "$IMG:good" "$IMG:good")" > "$T/ref.json"
    run kyverno "$T/ref.json"
    echo "$output" | jq -e '.denied == true and .results[0].status == 400'
    kill -TERM "$SRV_PID"; wait "$SRV_PID" || true
    SRV_PID=""
    run kyverno "$T/ok.json"
    echo "$output" | jq -e '.denied == true and all(.results[]; .usedDefault)'
}
