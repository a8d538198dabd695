#!/bin/sh
# Stops the registry up.sh started in STATE (by its own PID) and removes STATE.
set -u
STATE=$1
if [ -f "$STATE/pid" ]; then
    pid=$(cat "$STATE/pid")
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
fi
if [ -f "$STATE/tokpid" ]; then
    kill "$(cat "$STATE/tokpid")" 2>/dev/null || true
fi
case "$STATE" in
    /tmp/*) rm -rf "$STATE" ;;
esac
