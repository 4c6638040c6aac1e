#!/usr/bin/env bash
# Runs lint and the whole pytest suite. Starts the services the tests need (PostgreSQL) and
# stops them on exit (a cluster that was already running stays up). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .

# The browser tests drive Debian's chromium; install it once when missing.
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

if ! scripts/postgres.sh status >/dev/null; then
    scripts/postgres.sh start
    trap 'scripts/postgres.sh stop' EXIT
fi
eval "$(scripts/postgres.sh env)"

# daprd and the Dapr scheduler for tests/infra and tests/dapr, built from the pinned release
# (cached under .cache/dapr: a rerun skips it; a first build takes many minutes). A CI machine is
# ours alone: build with both cores there.
if [ "${CI:-}" = "true" ]; then
    export TASKFLOW_GO_BUILD_JOBS="${TASKFLOW_GO_BUILD_JOBS:-2}" GOMAXPROCS="${GOMAXPROCS:-2}"
fi
scripts/dapr.sh build

.venv/bin/python -m pytest "$@"
