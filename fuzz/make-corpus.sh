#!/bin/sh
# fuzz/make-corpus.sh: rebuilds the seed corpora fuzz/corpus/TARGET/ from
# testdata/ and the atproto interop vectors (CC0) in SHARED/vectors.
#   sh fuzz/make-corpus.sh [SHARED]     (SHARED defaults to ../shared; `make fuzz-corpus`)
# Needs jq and perl (both in scripts/install-deps.sh). Output is deterministic:
# rerunning it on the same inputs writes the same files. Run from the repository root.
set -eu
shared=${1:-../shared}
vec=$shared/vectors/atproto-interop
out=fuzz/corpus
td=testdata
[ -d "$td/proofs" ] || { echo "make-corpus: run from the repository root" >&2; exit 1; }
[ -d "$vec/syntax" ] || { echo "make-corpus: no interop vectors under $vec" >&2; exit 1; }

targets="car cbor cid multibase_keys syntax diddoc artifact manifest policy params plugin_request proof plc kube"
for t in $targets; do
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t"
done

# hex STRING > FILE, base64 (padded or not) STRING > FILE
hex2bin() { perl -e 'binmode STDOUT; print pack("H*", $ARGV[0])' "$1"; }
b642bin() { perl -MMIME::Base64 -e 'binmode STDOUT; print decode_base64($ARGV[0])' "$1"; }
# one line per file: lines FILE PREFIX DIR (comments and blank lines skipped)
lines() {
    perl -e 'my ($f, $p, $d) = @ARGV; open(my $in, "<", $f) or die "$f: $!"; my $i = 0;
        while (my $l = <$in>) { chomp $l; next if $l =~ /^\s*(#|$)/;
            open(my $o, ">", sprintf("%s/%s-%03d", $d, $p, $i++)) or die; binmode $o;
            print $o $l; close $o; }' "$1" "$2" "$3"
}
# every section of a CAR: its CID (binary) and its block, deduplicated by CID
car_split() {
    perl -e 'my ($f, $d, $p) = @ARGV; open(my $in, "<:raw", $f) or die "$f: $!";
        local $/; my $b = <$in>; my $pos = 0;
        sub uv { my ($v, $s) = (0, 0); while (1) { my $c = ord(substr($b, $pos++, 1));
            $v |= ($c & 0x7f) << $s; return $v unless $c & 0x80; $s += 7; } }
        my $h = uv(); my $hdr = substr($b, $pos, $h); $pos += $h;
        open(my $o, ">:raw", "$d/cbor/$p-header") or die; print $o $hdr; close $o;
        my %seen; while ($pos < length $b) { my $l = uv(); my $sec = substr($b, $pos, $l);
            $pos += $l; my $cid = substr($sec, 0, 36); my $hex = unpack("H*", substr($cid, 4, 4));
            next if $seen{$cid}++;
            open($o, ">:raw", "$d/cbor/$p-$hex") or die; print $o substr($sec, 36); close $o;
            open($o, ">:raw", "$d/cid/bin-$p-$hex") or die; print $o $cid; close $o; }' \
        "$1" "$out" "$2"
}

# ---- car, proof: the proof fixtures and the Ratify fixture's PDS answers ----
for f in "$td"/proofs/*/*.car; do
    curve=$(basename "$(dirname "$f")")
    cp "$f" "$out/car/$curve-$(basename "$f")"
    cp "$f" "$out/proof/$curve-$(basename "$f")"
done
for f in "$td"/ratify/fixture/pds/*/*/*.car; do
    acct=$(basename "$(dirname "$(dirname "$f")")" | sed 's/^did:plc://' | cut -c1-8)
    cp "$f" "$out/car/pds-$acct-$(basename "$f" | cut -c1-12).car"
done

# ---- cbor: commit, unsigned commit and record blocks; every block of two CARs;
# the interop data-model fixtures ----
for c in k256 p256; do
    fx=$td/proofs/$c/fixture.json
    hex2bin "$(jq -r .commit.blockHex "$fx")" > "$out/cbor/$c-commit"
    hex2bin "$(jq -r .commit.unsignedHex "$fx")" > "$out/cbor/$c-commit-unsigned"
    hex2bin "$(jq -r .record.blockHex "$fx")" > "$out/cbor/$c-record"
done
car_split "$td/proofs/k256/record-proof.car" k256-proof
car_split "$td/proofs/p256/absent-proof.car" p256-absent
i=0
for b in $(jq -r '.[].cbor_base64' "$vec/data-model/data-model-fixtures.json"); do
    b642bin "$b" > "$out/cbor/data-model-$i"
    i=$((i + 1))
done

# ---- cid: string forms (interop syntax lines, fixture CIDs); binary forms came
# from car_split ----
lines "$vec/syntax/cid_syntax_valid.txt" valid "$out/cid"
lines "$vec/syntax/cid_syntax_invalid.txt" invalid "$out/cid"
for c in k256 p256; do
    jq -r '.commit.cid, .record.cid' "$td/proofs/$c/fixture.json" |
        while read -r s; do printf '%s' "$s" > "$out/cid/str-$s"; done
done

# ---- multibase_keys: keys in every form, and signed messages (sig || msg) ----
k=$out/multibase_keys
for c in k256 p256; do
    fx=$td/proofs/$c/fixture.json
    for field in publicKeyMultibase publicKeyLegacyMultibase didKey otherDidKey; do
        jq -j ".$field" "$fx" > "$k/$c-$field"
    done
    hex2bin "$(jq -r .publicKeyCompressedHex "$fx")" > "$k/$c-point33"
    hex2bin "$(jq -r .publicKeyUncompressedHex "$fx")" > "$k/$c-point65"
    hex2bin "$(jq -r '.commit.sigHex + .commit.unsignedHex' "$fx")" > "$k/$c-signed-commit"
done
i=0
jq -r '.[] | .publicKeyMultibase, .publicKeyDid' "$vec/crypto/signature-fixtures.json" |
    while read -r s; do printf '%s' "$s" > "$k/interop-key-$i"; i=$((i + 1)); done
n=$(jq length "$vec/crypto/signature-fixtures.json")
i=0
while [ "$i" -lt "$n" ]; do
    { b642bin "$(jq -r ".[$i].signatureBase64" "$vec/crypto/signature-fixtures.json")"
      b642bin "$(jq -r ".[$i].messageBase64" "$vec/crypto/signature-fixtures.json")"; } \
        > "$k/interop-sig-$i"
    i=$((i + 1))
done
for c in K256 P256; do
    i=0
    jq -r '.[].publicDidKey' "$vec/crypto/w3c_didkey_$c.json" |
        while read -r s; do printf '%s' "$s" > "$k/w3c-$c-$i"; i=$((i + 1)); done
done

# ---- syntax: every interop syntax line, plus the fixtures' record URIs ----
for f in did handle nsid recordkey tid aturi datetime atidentifier; do
    for v in valid invalid; do
        lines "$vec/syntax/${f}_syntax_$v.txt" "$f-$v" "$out/syntax"
    done
done
for f in "$td"/ratify/fixture/registry/*.blob.json "$td"/artifacts/signature.json; do
    jq -j '.atproto.recordUri // empty' "$f" > "$out/syntax/uri-$(basename "$f" .json)"
done

# ---- diddoc: fixture documents and the PLC directory's answers ----
for c in k256 p256; do
    cp "$td/proofs/$c/did-doc.json" "$out/diddoc/$c-did-doc.json"
    cp "$td/proofs/$c/did-doc-legacy.json" "$out/diddoc/$c-did-doc-legacy.json"
done
for f in "$td"/ratify/fixture/plc/*.json; do
    case "$f" in *.log.json) continue ;; esac # operation logs: the plc corpus
    cp "$f" "$out/diddoc/plc-$(basename "$f" .json | sed 's/^did:plc://' | cut -c1-8).json"
done

# ---- plc: the PLC interop operation logs (read in place), and single operations ----
plcvec=$shared/vectors/plc-audit
for kind in valid invalid; do
    for f in "$plcvec/$kind"/*.json; do
        cp "$f" "$out/plc/$kind-$(basename "$f")"
    done
done
# the Ratify fixture's logs (without the PDS operation its servers append), and the logs
# generated with @did-plc/lib (testdata/plc)
for f in "$td"/ratify/fixture/plc/*.log.json; do
    cp "$f" "$out/plc/fixture-$(basename "$f" .log.json | sed 's/^did:plc://' | cut -c1-8).json"
done
for f in "$td"/plc/*.json; do
    case "$f" in */expect.json | */keys.json) continue ;; esac
    cp "$f" "$out/plc/gen-$(basename "$f")"
done
for n in bskyapp legacy_dholms tombstone; do
    jq -c '.[-1].operation' "$plcvec/valid/log_$n.json" > "$out/plc/op-log_$n.json"
    jq -c '.[0].operation' "$plcvec/valid/log_$n.json" > "$out/plc/op0-log_$n.json"
done

# ---- artifact: signature blobs ----
cp "$td/artifacts/signature.json" "$out/artifact/signature.json"
for f in "$td"/ratify/fixture/registry/*.blob.json; do
    cp "$f" "$out/artifact/$(basename "$f")"
done

# ---- manifest: every registry document; references, challenges, Docker configs ----
for f in "$td"/ratify/fixture/registry/*.json; do
    cp "$f" "$out/manifest/$(basename "$f")"
done
m=$out/manifest
printf 'alpine' > "$m/ref-alpine"
printf 'localhost:5000/atv/app:good' > "$m/ref-tag"
printf 'ghcr.io/o/r:v1@sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28' \
    > "$m/ref-tag-digest"
printf '[::1]:5000/a/b__c-d.e' > "$m/ref-ipv6"
printf 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"' \
    > "$m/challenge-bearer"
printf 'Basic realm="Registry Realm"' > "$m/challenge-basic"
printf 'bearer realm=tok, service = "a\\"b"' > "$m/challenge-escape"
printf '{"auths":{"docker.io":{"auth":"dXNlcjpwYXNz"},"localhost:5000":{"username":"u","password":"p"},"ghcr.io":{"identitytoken":"t"}}}' \
    > "$m/docker-config.json"
printf 'sha256:289ba34eef4887600d6437289e94bb9ff4824882d24c89e025ec2b9cffe3fa28' > "$m/digest"

# ---- policy: the policy test files, the Ratify fixture's policies, globs ----
for f in "$td"/policy/*.yaml "$td"/policy/*.json "$td"/policy/invalid/*; do
    case $f in *.md) continue ;; esac
    cp "$f" "$out/policy/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in "$td"/ratify/policies/*.yaml; do
    cp "$f" "$out/policy/ratify-$(basename "$f")"
done
printf 'atcr.io/acme/app*\000atcr.io/acme/app:v1' > "$out/policy/glob-star"
printf 'atcr.io/**/app?\000atcr.io/a/b/app1' > "$out/policy/glob-dstar"

# ---- params, plugin_request: the sample Ratify requests, their @PLACEHOLDERS@
# filled in the way integration/ fills them, so that the seeds parse ----
fill() {
    sed 's#@PLC@#http://127.0.0.1:2582#g; s#@PDS@#http://127.0.0.1:2583#g;
         s#@CACHE@#/tmp/atv-fuzz-cache#g; s#@FIXTURE@#/tmp/atv-fuzz-fixture#g;
         s#@[A-Z0-9_]*@#127.0.0.1:5000#g'
}
for f in "$td"/ratify/*.json; do
    b=$(basename "$f" .json)
    if [ "$(jq -r '.stdin | type' "$f")" = object ]; then
        jq -c .stdin "$f" | fill > "$out/plugin_request/$b.json"
        jq -c .stdin.config "$f" | fill > "$out/params/$b.json"
    else
        jq -j '.stdinRaw // ""' "$f" > "$out/plugin_request/$b.raw"
    fi
done

# ---- kube: the Kubernetes documents of testdata/kube, each review's object
# alone (the object parser's view of it), a pointer token RFC 6901 escapes ----
for f in "$td"/kube/*.json; do
    cp "$f" "$out/kube/$(basename "$f")"
done
for f in "$td"/kube/review-*.json; do
    jq -c '.request.object // .request.oldObject' "$f" > "$out/kube/object-$(basename "$f")"
done
printf 'atcr.io~1verified/x~' > "$out/kube/token"

total=$(du -sk "$out" | cut -f1)
echo "make-corpus: $(find "$out" -type f | wc -l) files, ${total} KiB in $out"
