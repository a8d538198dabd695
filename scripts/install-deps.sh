#!/bin/sh
# Install every Debian 12 package the build and the tests need.
# Idempotent: asks dpkg what is missing, runs `apt-get update` at most once,
# and installs only the missing packages. Safe to run on every `make`.
#
#   install-deps.sh          everything: build, tests, fixtures, the loopback stacks
#   install-deps.sh build    only what `make` needs to build the two binaries
#   install-deps.sh bench    everything, and perf for the server benchmark's profile
set -eu

BUILD_PKGS="build-essential pkg-config ca-certificates
libjansson-dev libcurl4-openssl-dev libsecp256k1-dev libssl-dev libcbor-dev libyaml-dev libevent-dev"
TEST_PKGS="perl bats jq python3-yaml clang llvm libclang-rt-14-dev valgrind nodejs npm docker-registry apache2-utils curl openssl"
BENCH_PKGS="linux-perf"
if [ "${1:-}" = build ]; then
    PKGS=$BUILD_PKGS
elif [ "${1:-}" = bench ]; then
    PKGS="$BUILD_PKGS $TEST_PKGS $BENCH_PKGS"
else
    PKGS="$BUILD_PKGS $TEST_PKGS"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# node and npm may come from elsewhere than Debian (nodesource): accept any node >= 18
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | tr -s ' ' | sed 's/^ //; s/ $//')

if [ -z "$missing" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
echo "install-deps: installing: $missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
