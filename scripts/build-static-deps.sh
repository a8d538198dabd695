#!/bin/sh
# Build the static archives Debian 12 does not ship, for the fully static
# plugin (`make static`, Dockerfile.ratify):
#   - libcbor.a: no Debian libcbor-dev ships one (bookworm 0.8.0, trixie 0.10.2);
#   - a minimal libcurl.a (HTTP and HTTPS over OpenSSL only): Debian's libcurl.a
#     needs gssapi_krb5 and ldap, which have no static archive in Debian.
# Both come from Debian's own source packages, fetched with `apt-get source`
# (apt checks every file against the hashes of the signed Sources index).
#
# Installs into a cache OUTSIDE the clone:
#   ${ATV_STATIC_CACHE:-$HOME/.cache/atv-static-<versions>-<recipe hash>}
# and prints that directory on stdout (the only stdout line; make reads it).
# Idempotent: when the cache holds a build of this exact recipe, it returns in
# well under a second. Build logs go to files; on failure the tail of the log is
# shown and the script exits non-zero.
set -eu

# --- pinned inputs -----------------------------------------------------------
# curl: the bookworm source that libcurl4-openssl-dev 7.88.1-10+deb12u15 is
# built from, so the static plugin carries the same Debian security patches as
# the dynamic one.
CURL_SRC_VERSION="7.88.1-10+deb12u15"
CURL_UPSTREAM="7.88.1"
CURL_DSC_SHA256="2744f12e3aef161c0361743fa1b318296b122e566e47f381e4a63320fbcc23f4"
CURL_ORIG_SHA256="cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7"
CURL_DEBIAN_SHA256="961b78bc48492c5693e4decb352ddd176f343260a8956f48b2887874048ef23b"
# libcbor: bookworm's 0.8.0-2 cannot be fetched from the archive reachable here
# (its orig and debian tarballs answer 404), and of trixie's 0.10.2-2 only the
# orig tarball (the unmodified upstream release) is downloadable (.dsc and
# debian.tar.xz answer 404). So: upstream 0.10.2 as Debian ships it, fetched
# with --tar-only and checked against the signed trixie Sources index by apt and
# against the hash pinned here. Debian's 0.10.2-2 packaging only adds the
# shared-library build, which a static archive does not need.
CBOR_SRC_VERSION="0.10.2-2"
CBOR_UPSTREAM="0.10.2"
CBOR_ORIG_SHA256="e75f712215d7b7e5c89ef322a09b701f7159f028b8b48978865725f00f79875b"

# Changing anything in this file (flags, versions) changes the cache key.
SELF="$0"
RECIPE=$(sha256sum "$SELF" | cut -c1-12)
KEY="curl_${CURL_SRC_VERSION}-libcbor_${CBOR_UPSTREAM}-${RECIPE}"
PREFIX="${ATV_STATIC_CACHE:-${HOME:?HOME is unset; set ATV_STATIC_CACHE}/.cache/atv-static-$KEY}"
STAMP="$PREFIX/.atv-static-stamp"
JOBS=$(nproc 2>/dev/null || echo 2)

say() { echo "build-static-deps: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

is_built() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] &&
        [ -f "$PREFIX/lib/libcurl.a" ] && [ -f "$PREFIX/lib/libcbor.a" ] &&
        [ -f "$PREFIX/include/curl/curl.h" ] && [ -f "$PREFIX/include/cbor.h" ]
}

# Fast path: nothing to do.
if is_built; then
    echo "$PREFIX"
    exit 0
fi

# --- build tools, installed like scripts/install-deps.sh ----------------------
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
TOOLS="build-essential pkg-config dpkg-dev xz-utils cmake autoconf automake libtool make
libssl-dev libjansson-dev libsecp256k1-dev libyaml-dev ca-certificates"
missing=""
for p in $TOOLS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
missing=$(echo "$missing" | sed 's/^ //')
updated=0
apt_update_once() {
    if [ "$updated" = 0 ]; then
        if ! out=$($SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q 2>&1); then
            printf '%s\n' "$out" | tail -n 40 >&2
            die "apt-get update failed"
        fi
        updated=1
    fi
}

# Debian source entries (deb-src). trixie is listed only for libcbor's orig
# tarball; every `apt-get source` below names an exact version, so the suite
# order never picks a different one.
SRC_LIST=/etc/apt/sources.list.d/atv-debian-src.sources
SRC_BODY='# Added by atcr-verify scripts/build-static-deps.sh (source packages only).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
if [ ! -f "$SRC_LIST" ] || [ "$(cat "$SRC_LIST")" != "$SRC_BODY" ]; then
    say "adding $SRC_LIST"
    printf '%s\n' "$SRC_BODY" | $SUDO tee "$SRC_LIST" >/dev/null
    updated=0
    apt_update_once
fi
if [ -n "$missing" ]; then
    say "installing: $missing"
    apt_update_once
    # shellcheck disable=SC2086
    if ! out=$($SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $missing 2>&1); then
        printf '%s\n' "$out" | tail -n 40 >&2
        die "apt-get install $missing failed"
    fi
fi
# A source index that an older run fetched may lack the versions pinned here.
if ! apt-cache showsrc curl 2>/dev/null | grep -qx "Version: $CURL_SRC_VERSION" ||
   ! apt-cache showsrc libcbor 2>/dev/null | grep -qx "Version: $CBOR_SRC_VERSION"; then
    apt_update_once
fi

# --- one build at a time per cache ----------------------------------------------
PARENT=$(dirname "$PREFIX")
mkdir -p "$PARENT"
exec 9>"$PREFIX.lock"
flock 9 || die "cannot lock $PREFIX.lock"
if is_built; then # another run finished while we waited
    echo "$PREFIX"
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/atv-static.XXXXXX")
LOG="$WORK/build.log"
keep_log=""
cleanup() {
    if [ -n "$keep_log" ]; then
        cp "$LOG" "$PARENT/atv-static-failed.log" 2>/dev/null || true
        say "full log: $PARENT/atv-static-failed.log"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# run STEP DIR CMD...: runs CMD in DIR with its output in the log; on failure
# shows the tail of the log and stops.
run() {
    step=$1
    dir=$2
    shift 2
    echo "=== $step (in $dir): $*" >>"$LOG"
    if ! (cd "$dir" && "$@") >>"$LOG" 2>&1; then
        keep_log=1
        tail -n 40 "$LOG" >&2
        die "$step failed"
    fi
}

check_sha256() { # FILE HASH
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [ "$got" = "$2" ] || { keep_log=1; die "$1: sha256 $got, pinned $2"; }
}

# --- fetch -----------------------------------------------------------------------
DL="$WORK/dl"
mkdir -p "$DL"
chmod 0755 "$WORK" "$DL"
# Let apt's sandbox user write the downloads (no "unsandboxed" warning as root).
if [ "$(id -u)" = "0" ] && id _apt >/dev/null 2>&1; then
    chown _apt "$DL"
fi
say "fetching curl $CURL_SRC_VERSION and libcbor $CBOR_UPSTREAM sources"
run "apt-get source curl" "$DL" apt-get source -q --download-only "curl=$CURL_SRC_VERSION"
run "apt-get source libcbor" "$DL" apt-get source -q --download-only --tar-only \
    "libcbor=$CBOR_SRC_VERSION"
check_sha256 "$DL/curl_$CURL_SRC_VERSION.dsc" "$CURL_DSC_SHA256"
check_sha256 "$DL/curl_$CURL_UPSTREAM.orig.tar.gz" "$CURL_ORIG_SHA256"
check_sha256 "$DL/curl_$CURL_SRC_VERSION.debian.tar.xz" "$CURL_DEBIAN_SHA256"
check_sha256 "$DL/libcbor_$CBOR_UPSTREAM.orig.tar.gz" "$CBOR_ORIG_SHA256"

STAGE=$(mktemp -d "$PARENT/.atv-static-stage.XXXXXX")
trap 'rm -rf "$STAGE"; cleanup' EXIT
DEST="$STAGE/root"

# --- libcbor (cmake) ----------------------------------------------------------------
say "building libcbor $CBOR_UPSTREAM"
mkdir -p "$WORK/cbor"
run "unpack libcbor" "$WORK" tar -xzf "$DL/libcbor_$CBOR_UPSTREAM.orig.tar.gz" -C "$WORK/cbor" --strip-components=1
# PIC objects so that the archive links into a static-pie executable.
run "cmake libcbor" "$WORK" cmake -S "$WORK/cbor" -B "$WORK/cbor/_build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DWITH_TESTS=OFF -DWITH_EXAMPLES=OFF -DSANITIZE=OFF
run "build libcbor" "$WORK" cmake --build "$WORK/cbor/_build" -j "$JOBS"
run "install libcbor" "$WORK" env DESTDIR="$DEST" cmake --install "$WORK/cbor/_build"

# --- libcurl (Debian's patches, autoconf) ----------------------------------------------
say "building libcurl $CURL_SRC_VERSION (http/https over OpenSSL only)"
# dpkg-source checks the .dsc's checksums. Patches are applied as Debian's
# OpenSSL flavour is built (debian/rules): every patch in the series except
# the last two, which turn the tree into the GnuTLS and NSS flavours.
run "dpkg-source" "$WORK" dpkg-source -x --skip-patches "$DL/curl_$CURL_SRC_VERSION.dsc" "$WORK/curl"
series="$WORK/curl/debian/patches/series"
[ -f "$series" ] || die "curl: no debian/patches/series"
patches=$(grep -v -e '^#' -e '^[[:space:]]*$' "$series" | grep -v -x -e 90_gnutls.patch -e 99_nss.patch)
for p in $patches; do
    run "patch $p" "$WORK/curl" patch -p1 --forward --batch -i "$WORK/curl/debian/patches/$p"
done
# Debian's patches touch configure.ac and Makefile.am: regenerate, like debian/rules.
run "buildconf" "$WORK/curl" ./buildconf
mkdir -p "$WORK/curl/_build"
# The minimal feature set: HTTP(S) with OpenSSL and the threaded resolver.
# Everything that would need a library without a Debian static archive
# (gssapi, ldap), or that the plugin never uses, is off; so is .netrc, which
# would read passwd through NSS (getpwuid_r) in a static glibc binary. The CA
# bundle is the path distroless images (and Debian) use.
run "configure curl" "$WORK/curl/_build" ../configure \
    --prefix="$PREFIX" --libdir="$PREFIX/lib" \
    --disable-shared --enable-static --with-pic \
    --disable-dependency-tracking --disable-silent-rules \
    --with-openssl --enable-threaded-resolver \
    --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path \
    --enable-http --enable-proxy --enable-ipv6 \
    --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp \
    --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
    --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-manual --disable-netrc --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
    --disable-negotiate-auth --disable-unix-sockets --disable-alt-svc \
    --without-zlib --without-brotli --without-zstd --without-nghttp2 --without-nghttp3 \
    --without-ngtcp2 --without-quiche --without-libidn2 --without-libpsl \
    --without-librtmp --without-libssh2 --without-libssh --without-gssapi \
    --without-libgsasl --without-hyper
run "build libcurl" "$WORK/curl/_build/lib" make -j "$JOBS"
run "install libcurl" "$WORK/curl/_build/lib" make install DESTDIR="$DEST"
run "install curl headers" "$WORK/curl/_build/include" make install DESTDIR="$DEST"
run "install libcurl.pc" "$WORK/curl/_build" make install-pkgconfigDATA DESTDIR="$DEST"

# --- publish atomically ---------------------------------------------------------------
[ -f "$DEST$PREFIX/lib/libcurl.a" ] || die "libcurl.a was not installed"
[ -f "$DEST$PREFIX/lib/libcbor.a" ] || die "libcbor.a was not installed"
rm -f "$DEST$PREFIX/lib/libcurl.la"
printf '%s\n' "$KEY" >"$DEST$PREFIX/.atv-static-stamp"
# Replace only a directory this script made (or an empty one): ATV_STATIC_CACHE
# may point anywhere.
if [ -d "$PREFIX" ]; then
    if [ -f "$STAMP" ] || [ -z "$(ls -A "$PREFIX")" ]; then
        rm -rf "$PREFIX"
    else
        die "$PREFIX exists and was not made by this script; remove it or set ATV_STATIC_CACHE"
    fi
fi
mv -T "$DEST$PREFIX" "$PREFIX"
say "installed into $PREFIX"
echo "$PREFIX"
