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

.venv/bin/python -m pytest "$@"
