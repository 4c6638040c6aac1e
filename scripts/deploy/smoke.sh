#!/usr/bin/env bash
# Smoke test of a deployed TaskFlow: scripts/deploy/smoke.sh BASE_URL
# Health and the page answer, the API refuses a request without credentials, and one write goes
# all the way: a new account creates a task (API -> create-task), its audit history appears
# (outbox -> broker -> write-audit), then the task is deleted again.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_tool curl "Install curl."
require_tool python3 "Install Python 3 (reads the JSON answers)."

base=${1:?usage: $0 BASE_URL}
base=${base%/}
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-90}
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

# call METHOD PATH WANT_STATUS [JSON_BODY]: the body lands in $answer.
call() {
    local method=$1 path=$2 want=$3 body=${4:-} got
    local args=(--silent --show-error --max-time 20 --output "$answer" --write-out '%{http_code}'
        --request "$method" --header 'Content-Type: application/json')
    [ -n "${token:-}" ] && args+=(--header "Authorization: Bearer $token")
    [ -n "$body" ] && args+=(--data "$body")
    got=$(curl "${args[@]}" "$base$path") || got=000
    [ "$got" = "$want" ] || die "$method $path answered $got, expected $want: $(head -c 300 "$answer")"
    echo "ok: $method $path -> $got"
}

# field NAME: a top-level field of the last JSON answer.
field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$answer" "$1"
}

# The first request may wake a service from zero or wait for a rollout: retry health a while.
deadline=$((SECONDS + SMOKE_TIMEOUT))
until curl --silent --fail --max-time 10 --output /dev/null "$base/healthz"; do
    [ $SECONDS -lt $deadline ] || die "$base/healthz did not answer 200 within ${SMOKE_TIMEOUT}s"
    sleep 3
done
call GET /healthz 200
call GET / 200
call GET /api/me 401

email="smoke-$(date +%s)-$RANDOM@taskflow.invalid"
call POST /api/auth/signup 201 "{\"email\": \"$email\", \"password\": \"smoke-$RANDOM-$RANDOM-password\"}"
token=$(field token)
user=$(field user_id)
call POST "/api/$user/tasks" 201 '{"title": "smoke test task"}'
task=$(field id)

deadline=$((SECONDS + SMOKE_TIMEOUT))
until call GET "/api/$user/tasks/$task/history" 200 >/dev/null \
    && python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["items"] else 1)' "$answer"; do
    [ $SECONDS -lt $deadline ] || die "no audit history for task $task within ${SMOKE_TIMEOUT}s: the event did not reach write-audit"
    sleep 2
done
echo "ok: the task's audit history arrived through the broker"
call DELETE "/api/$user/tasks/$task" 204
echo "smoke test passed against $base"
