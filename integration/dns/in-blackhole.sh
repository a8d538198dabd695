#!/bin/sh
# Runs a command with /etc/resolv.conf replaced, for that command only:
#
#   in-blackhole.sh RESOLV_CONF COMMAND [ARG...]
#
# A private mount namespace (unshare -m, so it needs root or CAP_SYS_ADMIN)
# gets RESOLV_CONF bind-mounted over /etc/resolv.conf; the host's own file is
# never touched and the mount disappears with the namespace when COMMAND
# exits. The mount is made private first, so nothing propagates back to the
# host when / is a shared mount (systemd's default).
set -eu
[ $# -ge 2 ] || { echo "usage: in-blackhole.sh RESOLV_CONF COMMAND [ARG...]" >&2; exit 2; }
[ -f "$1" ] || { echo "in-blackhole.sh: no file $1" >&2; exit 2; }
exec unshare -m --propagation private sh -c '
    conf=$1
    shift
    mount --bind "$conf" /etc/resolv.conf || exit 125
    exec "$@"' in-blackhole "$@"
