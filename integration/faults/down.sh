#!/bin/sh
# Stops the fault-server.js that up.sh STATE started (by its recorded PID). Idempotent.
#
#   down.sh STATE
set -u
[ $# -eq 1 ] || { echo "usage: down.sh STATE" >&2; exit 2; }
f="$1/fault-server.pid"
[ -f "$f" ] || exit 0
pid=$(cat "$f")
case "$pid" in ''|*[!0-9]*) rm -f "$f"; exit 0 ;; esac
kill "$pid" 2>/dev/null || true
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$pid" 2>/dev/null || true
rm -f "$f" "$1/env"
exit 0
