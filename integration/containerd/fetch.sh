#!/bin/sh
# Fetches containerd >= 2.1 (its image-verifier hook; CRI pulls through it
# since 2.1) from Debian's unstable suite, for integration/containerd.bats.
# Debian 12 ships 1.6 and 13 ships 1.7, neither of which has the hook, and
# Debian 12's Go is too old to build it (reference/containerd-verifier.md
# section 6).
#
#   fetch.sh                 fetch (or reuse the cache); last line DIR=<dir>, holding
#                            usr/bin/containerd and usr/bin/ctr
#   fetch.sh --print-cache   print the cache directory only (no network)
#
# Nothing in /etc changes: apt runs with a throw-away configuration
# (APT_CONFIG) under a temporary directory, its own sources list (the sid
# suite, signatures checked against Debian's archive keyring), lists and
# cache. The mirror may serve a sid Release file whose Valid-Until has
# passed, so that one check is off (the signature check is not).
#
# Cache: ${ATV_CONTAINERD_CACHE:-<the stack's cache root>/atv-containerd}, the
# root being the directory that holds ATV_STACK_CACHE (default ~/.cache, where
# integration/stack/install.sh puts atv-realstack-<hash>). One entry per
# package version and .deb hash: containerd_<version>_<sha256 prefix>/ with the
# .deb and its unpacked tree; the newest complete entry is reused with no
# network at all (ATV_CONTAINERD_REFRESH=1 asks the suite again). Concurrent
# runs serialise on a lock. Never skips: when the suite cannot be fetched, or
# offers nothing >= 2.1, it says so and exits 1.
set -eu

MIN_VERSION=2.1      # the first release whose CRI pulls consult the verifiers
MAX_VERSION=3        # a major version we have not read the contract of
MIRROR=${ATV_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
NET_TIMEOUT=300      # seconds for apt-get update + download (sid's Packages is ~10 MB)
LOCK_WAIT=600

if [ -n "${ATV_CONTAINERD_CACHE:-}" ]; then
    CACHE=$ATV_CONTAINERD_CACHE
elif [ -n "${ATV_STACK_CACHE:-}" ]; then
    CACHE=$(dirname -- "$ATV_STACK_CACHE")/atv-containerd
else
    CACHE=$HOME/.cache/atv-containerd
fi
if [ "${1:-}" = --print-cache ]; then
    echo "$CACHE"
    exit 0
fi
[ $# -eq 0 ] || { echo "usage: fetch.sh [--print-cache]" >&2; exit 2; }
die() { echo "fetch.sh: FATAL: $*" >&2; exit 1; }

mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
flock -w $LOCK_WAIT 9 || die "another fetch holds $CACHE/.lock for over ${LOCK_WAIT}s"

# version_ok VERSION: MIN_VERSION <= VERSION < MAX_VERSION (Debian ordering)
version_ok() {
    dpkg --compare-versions "$1" ge "$MIN_VERSION" && dpkg --compare-versions "$1" lt "$MAX_VERSION"
}

# the newest complete entry, unless asked to refresh
if [ "${ATV_CONTAINERD_REFRESH:-0}" != 1 ]; then
    best=""
    best_v=""
    for d in "$CACHE"/containerd_*; do
        [ -f "$d/.ok" ] || continue
        v=$(cat "$d/.ok")
        version_ok "$v" || continue
        if [ -z "$best_v" ] || dpkg --compare-versions "$v" gt "$best_v"; then
            best=$d
            best_v=$v
        fi
    done
    if [ -n "$best" ]; then
        echo "fetch.sh: containerd $best_v from the cache" >&2
        echo "DIR=$best/root"
        exit 0
    fi
fi

[ -r "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/atv-containerd-apt.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/parts" "$TMP/prefs" "$TMP/lists/partial" "$TMP/cache/archives/partial" "$TMP/dl"
echo "deb [signed-by=$KEYRING] $MIRROR sid main" > "$TMP/sources.list"
cat > "$TMP/apt.conf" <<CONF
Dir::Etc::SourceList "$TMP/sources.list";
Dir::Etc::SourceParts "$TMP/parts";
Dir::Etc::Preferences "$TMP/prefs/none";
Dir::Etc::PreferencesParts "$TMP/prefs";
Dir::State::Lists "$TMP/lists";
Dir::Cache "$TMP/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
Acquire::Retries "1";
Acquire::http::Timeout "30";
APT::Get::List-Cleanup "false";
CONF
export APT_CONFIG="$TMP/apt.conf"

echo "fetch.sh: apt-get update of $MIRROR sid (throw-away configuration in $TMP)" >&2
if ! timeout $NET_TIMEOUT apt-get update -q -o Debug::NoLocking=1 > "$TMP/update.log" 2>&1; then
    cat "$TMP/update.log" >&2
    die "apt-get update of Debian's unstable suite failed: cannot fetch containerd >= $MIN_VERSION"
fi
# an update that could not fetch sid's lists still exits 0: check the candidate
ver=$(apt-cache show --no-all-versions containerd 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
[ -n "$ver" ] || { cat "$TMP/update.log" >&2; die "Debian's unstable suite lists no containerd"; }
version_ok "$ver" || die "the unstable suite offers containerd $ver, not >= $MIN_VERSION and < $MAX_VERSION"
want_sha=$(apt-cache show --no-all-versions "containerd=$ver" | sed -n 's/^SHA256: //p' | head -n 1)

echo "fetch.sh: apt-get download containerd=$ver" >&2
if ! (cd "$TMP/dl" && timeout $NET_TIMEOUT apt-get download -q "containerd=$ver") > "$TMP/dl.log" 2>&1; then
    cat "$TMP/dl.log" >&2
    die "apt-get download containerd=$ver failed"
fi
deb=$(ls "$TMP"/dl/containerd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || die "apt-get download left no .deb"
sha=$(sha256sum "$deb" | cut -d' ' -f1)
[ -z "$want_sha" ] || [ "$sha" = "$want_sha" ] || die "the .deb's SHA-256 $sha is not the index's $want_sha"

safe_ver=$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+~-' '_')
entry=$CACHE/containerd_${safe_ver}_$(printf '%s' "$sha" | cut -c1-12)
rm -rf "$entry"
mkdir -p "$entry/root"
cp "$deb" "$entry/"
dpkg-deb -x "$deb" "$entry/root"
[ -x "$entry/root/usr/bin/containerd" ] && [ -x "$entry/root/usr/bin/ctr" ] ||
    die "the .deb has no usr/bin/containerd and usr/bin/ctr"
# the binary's own word, not only the package's
bv=$("$entry/root/usr/bin/containerd" --version | sed -n 's/.* v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
[ -n "$bv" ] && version_ok "$bv" || die "containerd --version says '$("$entry/root/usr/bin/containerd" --version)'"
echo "$ver" > "$entry/.ok"
echo "fetch.sh: containerd $ver ($sha) cached in $entry" >&2
echo "DIR=$entry/root"
