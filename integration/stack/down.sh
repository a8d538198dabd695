#!/bin/sh
# Stops what up.sh STATE started. Idempotent: a missing or stale pid file is
# not an error.
#
#   down.sh STATE                    all servers (pds, plc, registry)
#   down.sh STATE registry|plc|pds   one server (up.sh STATE NAME restarts it
#                                    on the same port, with its data)
#   down.sh STATE NAME freeze        SIGSTOP the server instead: its port still
#                                    accepts connections (the kernel's backlog)
#                                    but nothing answers, as with a hung host;
#                                    up.sh STATE NAME resumes it (SIGCONT)
#
# Each pid file holds the pid of the `timeout` wrapping a server; SIGTERM to
# it is forwarded to the server, which exits within a few seconds. Whatever
# is still there after STOP_WAIT tenths of a second is SIGKILLed, the server
# (a child of that timeout, found by parent pid) first. Only those pids are
# ever signalled.
set -u
usage() { echo "usage: down.sh STATE [registry|plc|pds [freeze]]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 3 ] || usage
STATE=$1
STOP_WAIT=80 # x 0.1 s
case "${2:-}" in
    '') names="pds plc registry" ;;
    registry|plc|pds) names=$2 ;;
    *) echo "down.sh: unknown server $2" >&2; exit 2 ;;
esac
case "${3:-}" in '') ;; freeze) ;; *) usage ;; esac
[ -d "$STATE" ] || exit 0

# the server processes under the timeout of pid file $1 (after a pid-reuse check)
servers() {
    [ -f "$1" ] || return 0
    p=$(cat "$1")
    case "$p" in ''|*[!0-9]*) return 0 ;; esac
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = timeout ] || return 0
    ps -o pid= --ppid "$p" 2>/dev/null | tr -d ' '
}

if [ "${3:-}" = freeze ]; then
    kids=$(servers "$STATE/$2.pid")
    [ -n "$kids" ] || { echo "down.sh: $2 is not running" >&2; exit 1; }
    for k in $kids; do kill -STOP "$k"; done
    exit 0
fi

# running PID: it exists and is not a zombie (here init may reap late, and
# kill -0 succeeds on a zombie)
running() {
    case "$(ps -o stat= -p "$1" 2>/dev/null)" in ''|Z*) return 1 ;; *) return 0 ;; esac
}

rc=0
for name in $names; do
    f=$STATE/$name.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    case "$pid" in ''|*[!0-9]*) rm -f "$f"; continue ;; esac
    # a stale file whose pid now belongs to something else is left alone
    if running "$pid" && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = timeout ]; then
        kids=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ')
        kill -TERM "$pid" 2>/dev/null || true
        # a frozen server must run to see the forwarded SIGTERM
        for k in $kids; do kill -CONT "$k" 2>/dev/null || true; done
        i=0
        while running "$pid" && [ $i -lt $STOP_WAIT ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if running "$pid"; then
            echo "down.sh: $name (pid $pid) ignored SIGTERM; killing it" >&2
            for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        # the server itself must be gone too (timeout exits after its child)
        for k in $kids; do
            i=0
            while running "$k" && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
            if running "$k"; then
                kill -KILL "$k" 2>/dev/null || true
                sleep 0.1
                running "$k" && { echo "down.sh: $name server pid $k survives SIGKILL" >&2; rc=1; }
            fi
        done
    fi
    rm -f "$f"
done
exit $rc
