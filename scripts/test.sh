#!/usr/bin/env bash
# Runs lint and the whole pytest suite. Prepares the machine first (scripts/prepare.sh), starts the
# services the tests need (PostgreSQL, Kafka) and stops them on exit (a cluster that was already
# running stays up). Extra arguments go to pytest; `--prepare-only` runs lint and the preparation.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .

# Debian's packages and every one-off build the tests use (daprd, the upstream validators, the
# deploy tools and schemas, Kafka's jars, the images), the independent builds at the same time;
# cached under .cache/, so a rerun takes seconds. `--prepare-only` (first argument) stops here:
# an operator can prepare a machine, or time a cold preparation, without running the tests.
scripts/prepare.sh
if [ "${1:-}" = "--prepare-only" ]; then
    exit 0
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

# The marker selection lives here, not in pyproject's addopts: every test by default (infra,
# kafka and dapr included); TASKFLOW_TEST_MARKERS narrows it, e.g. 'not dapr'. An -m among the
# arguments wins (the last -m counts).
.venv/bin/python -m pytest -m "${TASKFLOW_TEST_MARKERS:-}" "$@"
