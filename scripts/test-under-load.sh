#!/usr/bin/env bash
# The whole suite (scripts/test.sh, same arguments) while stress-ng keeps every core busy, to find
# waits that assume a quiet machine. stress-ng runs at the suite's own priority and is stopped on
# exit; its summary (bogo ops) is printed at the end so a run shows the load was really there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v stress-ng >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { echo "stress-ng is missing; run: sudo apt-get install stress-ng" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq stress-ng >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq stress-ng >/dev/null; }
fi

workers=${TASKFLOW_LOAD_WORKERS:-$(nproc)}
stress-ng --cpu "$workers" --cpu-method matrixprod --metrics-brief --timeout 3h &
stress=$!
# The suite's status is the script's: stopping the load must not change it.
finish() {
    local status=$?
    set +e
    kill -INT "$stress" 2>/dev/null && wait "$stress"
    exit "$status"
}
trap finish EXIT
echo "test-under-load: stress-ng keeps $workers CPU workers busy (pid $stress)" >&2
scripts/test.sh "$@"
