#!/usr/bin/env bash
# Smoke test of a deployed TaskFlow: scripts/deploy/smoke.sh BASE_URL
# The page and health answer, and the API refuses a request without credentials.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_tool curl "Install curl."

base=${1:?usage: $0 BASE_URL}
expect() {
    local path=$1 want=$2 got
    got=$(curl --silent --output /dev/null --write-out '%{http_code}' --retry 10 --retry-delay 6 \
        --retry-all-errors --max-time 20 "$base$path")
    [ "$got" = "$want" ] || die "GET $base$path answered $got, expected $want"
    echo "ok: GET $path -> $got"
}
expect /healthz 200
expect / 200
expect /api/me 401
