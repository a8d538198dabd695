#!/bin/sh
# fuzz/replay-tap.sh: replays fuzz/corpus/T and fuzz/regress/T through the
# replay build of every target T, as TAP (run it under prove; see fuzz.mk).
#   ATV_FUZZ_REPLAY  directory of the replay binaries (one per target)
#   ATV_FUZZ_TARGETS the target names, space separated
#   ATV_FUZZ_WRAP    optional command to run each binary under (valgrind ...)
set -u
dir=${ATV_FUZZ_REPLAY:?set ATV_FUZZ_REPLAY}
targets=${ATV_FUZZ_TARGETS:?set ATV_FUZZ_TARGETS}
here=$(dirname "$0")
n=0
for t in $targets; do n=$((n + 1)); done
echo "1..$n"
i=0
for t in $targets; do
    i=$((i + 1))
    log=$(${ATV_FUZZ_WRAP:-} "$dir/$t" "$here/corpus/$t" "$here/regress/$t" 2>&1)
    rc=$?
    count=$(printf '%s\n' "$log" | sed -n 's/^\([0-9][0-9]*\) inputs$/\1/p' | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -n "$count" ] && [ "$count" -gt 0 ]; then
        echo "ok $i - $t: $count inputs"
    else
        echo "not ok $i - $t: exit $rc, ${count:-no} inputs"
        printf '%s\n' "$log" | tail -n 40 | sed 's/^/# /'
    fi
done
