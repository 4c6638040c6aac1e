#!/usr/bin/env bash
# Runs lint and the whole pytest suite. Starts the services the tests need (PostgreSQL, Kafka) and
# stops them on exit (a cluster that was already running stays up). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .

# The browser tests drive Debian's chromium; install it once when missing.
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

# tests/containers builds the images and runs them with podman and runc; its bases are made with
# debootstrap (scripts/podman.sh explains the settings). Install them once when missing.
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq && apt-get install -y -qq podman runc debootstrap >/dev/null
fi

# PostgreSQL, and Kafka for tests/kafka and tests/infra; each is stopped on exit only if started
# here (one already running stays up).
started=()
stop_started() {
    local script
    for script in "${started[@]}"; do
        "scripts/$script" stop
    done
}
trap stop_started EXIT
for script in postgres.sh kafka.sh; do
    if ! "scripts/$script" status >/dev/null; then
        "scripts/$script" start
        started+=("$script")
    fi
done
eval "$(scripts/postgres.sh env)"
eval "$(scripts/kafka.sh env)"

# daprd and the Dapr scheduler for tests/infra and tests/dapr, built from the pinned release
# (cached under .cache/dapr: a rerun skips it; a first build takes many minutes). A CI machine is
# ours alone: build with both cores there.
if [ "${CI:-}" = "true" ]; then
    export TASKFLOW_GO_BUILD_JOBS="${TASKFLOW_GO_BUILD_JOBS:-2}" GOMAXPROCS="${GOMAXPROCS:-2}"
fi
scripts/dapr.sh build

# The marker selection lives here, not in pyproject's addopts: every test by default (infra,
# kafka and dapr included); TASKFLOW_TEST_MARKERS narrows it, e.g. 'not dapr'. An -m among the
# arguments wins (the last -m counts).
.venv/bin/python -m pytest -m "${TASKFLOW_TEST_MARKERS:-}" "$@"
