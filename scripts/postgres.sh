#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite.
#
#   scripts/postgres.sh start    init (first time) and start the cluster, create the test database
#   scripts/postgres.sh stop     stop it (the data stays in .cache/postgres for a fast restart)
#   scripts/postgres.sh status   say whether it runs
#   scripts/postgres.sh env      print `export TASKFLOW_TEST_POSTGRES_URL=...` (use with eval)
#
# Uses the Debian server package (installed with apt-get when missing). The server refuses to run
# as root, so when run as root the cluster belongs to the `postgres` OS user. It listens on
# 127.0.0.1 only, on TASKFLOW_TEST_POSTGRES_PORT (default 25432). TASKFLOW_POSTGRES_CLUSTER names
# another cluster (its own data folder), TASKFLOW_POSTGRES_DURABLE=1 keeps fsync on.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${TASKFLOW_TEST_POSTGRES_PORT:-25432}
# Another cluster beside the test one (the benchmarks use "bench-postgres", so the fault tests
# that stop the test cluster never stop theirs).
CLUSTER=${TASKFLOW_POSTGRES_CLUSTER:-postgres}
ROOT="$PWD/.cache/$CLUSTER"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
    # The server runs as `postgres`, which cannot enter this checkout (say, one under /root):
    # keep the cluster where it can, one per checkout.
    ROOT="/var/tmp/taskflow-$CLUSTER-$(printf %s "$PWD" | cksum | cut -d' ' -f1)"
fi
DATA="$ROOT/data"
SOCKETS="$ROOT/run"
LOG="$ROOT/server.log"
ROLE=taskflow
# A local, loopback-only test cluster: the password guards nothing of value.
PASSWORD=taskflow
DATABASE=taskflow_test

fail() {
    echo "postgres.sh: $*" >&2
    exit 1
}

find_bin_dir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
        fi
    done | sort -V | tail -n 1
}

ensure_server_installed() {
    BIN=$(find_bin_dir)
    if [ -n "$BIN" ]; then
        return
    fi
    [ "$(id -u)" -eq 0 ] || fail "PostgreSQL is not installed; run: sudo apt-get install postgresql"
    echo "postgres.sh: installing the PostgreSQL server (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null; } ||
        fail "apt-get could not install postgresql"
    BIN=$(find_bin_dir)
    [ -n "$BIN" ] || fail "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
}

# Run a server command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

is_running() {
    [ -n "${BIN:-}" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# shellcheck disable=SC2120  # callers may pass extra psql options; most pass none
psql_admin() {
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -d postgres "$@"
}

init_cluster() {
    mkdir -p "$ROOT"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || fail "no 'postgres' OS user (the Debian package creates it)"
        chown postgres: "$ROOT"
    fi
    as_owner mkdir -p "$SOCKETS"
    if [ ! -f "$DATA/PG_VERSION" ]; then
        as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$ROOT/initdb.log" 2>&1 ||
            fail "initdb failed, see $ROOT/initdb.log"
    fi
}

start() {
    ensure_server_installed
    if is_running; then
        return
    fi
    init_cluster
    # fsync off: a test cluster trades durability for speed; never copy these settings elsewhere.
    # TASKFLOW_POSTGRES_DURABLE=1 keeps PostgreSQL's defaults (the benchmarks measure those).
    local speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [ "${TASKFLOW_POSTGRES_DURABLE:-0}" = 1 ]; then
        speed=""
    fi
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k '$SOCKETS' $speed -c max_connections=200" \
        start >/dev/null || fail "the server did not start, see $LOG"
    # shellcheck disable=SC2119  # no options: the SQL comes on standard input
    psql_admin <<SQL
SET client_min_messages = warning;
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD ''$PASSWORD'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
-- Tests drop their databases WITH (FORCE), which must also end autovacuum workers.
GRANT pg_signal_backend TO $ROLE;
SQL
    echo "postgres.sh: PostgreSQL running on 127.0.0.1:$PORT (database $DATABASE)" >&2
}

stop() {
    BIN=$(find_bin_dir)
    if is_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    BIN=$(find_bin_dir)
    if is_running; then echo "running on 127.0.0.1:$PORT"; else
        echo "stopped"
        exit 3
    fi
    ;;
env) echo "export TASKFLOW_TEST_POSTGRES_URL=postgresql+pg8000://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE" ;;
*) fail "usage: $0 start|stop|status|env" ;;
esac
