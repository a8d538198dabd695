#!/bin/sh
# ensure-modules.sh -- installs this directory's pinned npm packages (ajv, ajv-formats,
# ajv-i18n, yaml, and the schema packages kubernetes-models, @kubernetes-models/cert-manager,
# @kubernetes-models/kyverno: npm ci from the committed lockfile) when node_modules is missing
# or older than package-lock.json. Needs the npm registry once. The schema packages declare
# node >= 22; npm warns on older node (hidden by --loglevel=error) and they run on node 20. The pattern of testdata/tsgen/ensure-modules.sh:
# flock serialises concurrent callers (bats runs, a second shell), so one install runs at a time.
#
#     sh integration/k8s/validate/ensure-modules.sh
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
stamp="$here/node_modules/.package-lock.json" # npm ci writes it last
fresh() { [ -f "$stamp" ] && [ ! "$here/package-lock.json" -nt "$stamp" ]; }
fresh && exit 0
command -v npm >/dev/null 2>&1 || { echo "ensure-modules.sh: npm not found in PATH" >&2; exit 3; }
exec 9>"${TMPDIR:-/tmp}/atv-k8s-validate-npm-ci.lock"
flock -w 900 9 || { echo "ensure-modules.sh: another npm ci held the lock for 900 s" >&2; exit 1; }
fresh && exit 0
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >&2
