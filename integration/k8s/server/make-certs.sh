#!/bin/sh
# make-certs.sh -- TLS for atcr-verify serve without cert-manager, and the caBundle of every
# manifest that must trust it. Needs only openssl (and awk, sed); runs offline.
#
#   sh integration/k8s/server/make-certs.sh OUTDIR          make a CA and a serving certificate
#   sh integration/k8s/server/make-certs.sh -c CA.crt OUTDIR  only fill the manifests, trusting
#                                                        an existing CA (cert-manager's ca.crt)
#
# Without -c it writes, into OUTDIR (created; existing files are not overwritten):
#   ca.crt, ca.key        a CA (EC P-256, 10 years); keep ca.key offline, or delete it
#   tls.crt, tls.key      the serving certificate (EC P-256, 1 year) for atcr-verify.atcr-verify,
#                         atcr-verify.atcr-verify.svc and atcr-verify.atcr-verify.svc.cluster.local
#                         (the Service's names: Gatekeeper's and Kyverno's URL host, the API server's)
#   secret-tls.yaml       the Secret atcr-verify-tls (kubernetes.io/tls: tls.crt, tls.key, ca.crt)
# and always:
#   manifests/*.yaml      every manifest of this directory, with each placeholder replaced:
#                         CA/BUNDLE/FROM/MAKE/CERTS/SH by the base64 of the CA's PEM (Provider and
#                         webhook caBundle), and a line CA/PEM/FROM/MAKE/CERTS/SH by the PEM itself at
#                         that line's indentation (Kyverno's apiCall caBundle is PEM)
# It fails if a placeholder is left in any output file.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
NS=atcr-verify
SVC=atcr-verify
B64_MARK=CA/BUNDLE/FROM/MAKE/CERTS/SH
PEM_MARK=CA/PEM/FROM/MAKE/CERTS/SH

usage() {
    echo "usage: make-certs.sh [-c CA.crt] OUTDIR" >&2
    exit 2
}

ca_in=""
while getopts c: opt; do
    case $opt in
        c) ca_in=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
out=$1
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl not found" >&2; exit 3; }
mkdir -p "$out"
out=$(CDPATH='' cd -- "$out" && pwd -P)

if [ -z "$ca_in" ]; then
    for f in ca.crt ca.key tls.crt tls.key secret-tls.yaml; do
        if [ -e "$out/$f" ]; then
            echo "make-certs.sh: $out/$f exists; use another OUTDIR, or -c $out/ca.crt to refill manifests" >&2
            exit 1
        fi
    done
    old_umask=$(umask)
    umask 077
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
        -subj "/O=atcr-verify/CN=atcr-verify CA" -days 3650 \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$out/ca.key" -out "$out/ca.crt" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
        -subj "/O=atcr-verify/CN=$SVC.$NS.svc" \
        -keyout "$out/tls.key" -out "$tmp/tls.csr" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=serverAuth"
        echo "subjectAltName=DNS:$SVC.$NS,DNS:$SVC.$NS.svc,DNS:$SVC.$NS.svc.cluster.local"
    } >"$tmp/ext"
    openssl x509 -req -sha256 -in "$tmp/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$tmp/ext" \
        -out "$out/tls.crt" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    umask "$old_umask"
    chmod 0644 "$out/ca.crt" "$out/tls.crt"
    b64() { openssl base64 -A <"$1"; }
    {
        echo "# Made by make-certs.sh: the serving certificate of atcr-verify serve (deployment.yaml"
        echo "# mounts it at /etc/atcr-verify/tls). Holds a private key: apply it, do not commit it."
        echo "apiVersion: v1"
        echo "kind: Secret"
        echo "metadata:"
        echo "  name: $SVC-tls"
        echo "  namespace: $NS"
        echo "type: kubernetes.io/tls"
        echo "data:"
        echo "  tls.crt: $(b64 "$out/tls.crt")"
        echo "  tls.key: $(b64 "$out/tls.key")"
        echo "  ca.crt: $(b64 "$out/ca.crt")"
    } >"$out/secret-tls.yaml"
    chmod 0600 "$out/secret-tls.yaml"
    ca_in="$out/ca.crt"
fi

[ -f "$ca_in" ] || { echo "make-certs.sh: $ca_in: no such file" >&2; exit 1; }
# one PEM certificate (or a bundle of them), nothing else
openssl x509 -in "$ca_in" -noout 2>/dev/null || { echo "make-certs.sh: $ca_in: not a PEM certificate" >&2; exit 1; }
grep -q 'PRIVATE KEY' "$ca_in" && { echo "make-certs.sh: $ca_in holds a private key" >&2; exit 1; }
ca_b64=$(openssl base64 -A <"$ca_in")

mkdir -p "$out/manifests"
for f in "$here"/*.yaml; do
    awk -v b64="$ca_b64" -v pem="$ca_in" -v bmark="$B64_MARK" -v pmark="$PEM_MARK" '
        index($0, pmark) {
            ind = substr($0, 1, index($0, pmark) - 1)
            while ((getline line < pem) > 0) { if (line != "") print ind line }
            close(pem)
            next
        }
        {
            while ((i = index($0, bmark)) > 0) {
                $0 = substr($0, 1, i - 1) b64 substr($0, i + length(bmark))
            }
            print
        }' "$f" >"$out/manifests/${f##*/}"
done
if grep -l -e "$B64_MARK" -e "$PEM_MARK" "$out"/manifests/*.yaml >&2; then
    echo "make-certs.sh: placeholders left in the files above" >&2
    exit 1
fi
echo "make-certs.sh: manifests with the CA filled in: $out/manifests"
[ ! -f "$out/secret-tls.yaml" ] || echo "make-certs.sh: TLS secret: $out/secret-tls.yaml"
