#!/bin/sh
# Start PostgreSQL in the container, making the cluster and the TaskFlow database the first time.
# POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB name them (set by the runner).
set -eu
bin=$(echo /usr/lib/postgresql/*/bin)
if [ ! -f "$PGDATA/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
    "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
    rm -f "$password_file"
    # Other containers reach it over the podman network only (nothing publishes its port).
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
    "$bin/postgres" -D "$PGDATA" -c listen_addresses='' -k /tmp &
    until "$bin/pg_isready" -q -h /tmp; do sleep 0.2; done
    "$bin/createdb" -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"
    "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -k /tmp
