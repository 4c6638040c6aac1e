#!/usr/bin/env bash
# The Dapr sidecar (daprd) and the Dapr scheduler, built from the pinned release in
# infra/dapr-build (its go.mod is the one home of the Dapr version).
#
#   scripts/dapr.sh build              build both binaries into .cache/dapr/bin (skipped when the
#                                      binaries match infra/dapr-build already)
#   scripts/dapr.sh start-scheduler    build if needed, start the scheduler (the Jobs API needs it)
#   scripts/dapr.sh stop               stop the scheduler (its etcd data stays for a fast restart)
#   scripts/dapr.sh status             say whether the scheduler runs (exit 3 when stopped)
#   scripts/dapr.sh env                print the exports below (use with eval)
#   scripts/dapr.sh daprd ARGS...      run daprd in the foreground (exec) with the local resources,
#                                      configuration, scheduler address and metrics off; ARGS
#                                      are daprd flags, at least --app-id, --app-port,
#                                      --dapr-http-port, --dapr-grpc-port and
#                                      --dapr-internal-grpc-port (each daprd needs its own ports)
#
# Example, with Kafka, PostgreSQL and the scheduler started:
#   eval "$(scripts/kafka.sh env)"; eval "$(scripts/dapr.sh env)"
#   export TASKFLOW_SECRETS_FILE=$PWD/.cache/secrets.json   # see dapr/components/local/
#   scripts/dapr.sh daprd --app-id create-task --app-port 8101 --dapr-http-port 3501 \
#       --dapr-grpc-port 50011 --dapr-internal-grpc-port 50021
#
# Ports (override with the variables): scheduler gRPC TASKFLOW_DAPR_SCHEDULER_PORT (31006),
# its healthz 31007, metrics 31008, embedded etcd client 31009 and peer 31010. All on 127.0.0.1.
# Below Linux's ephemeral range (32768-60999): a port in it can be held for a moment by any
# outgoing connection, and then the scheduler fails to bind it at start-up.
set -euo pipefail
# shellcheck source=lib/process.sh
source "$(dirname "$0")/lib/process.sh"
cd "$(dirname "$0")/.."

BUILD_DIR=infra/dapr-build
ROOT="$PWD/.cache/dapr"
BIN="$ROOT/bin"
SCHEDULER_DIR="$ROOT/scheduler"
PIDFILE="$SCHEDULER_DIR/scheduler.pid"
LOG="$SCHEDULER_DIR/scheduler.log"
RESOURCES=dapr/components/local
SCHEDULER_PORT=${TASKFLOW_DAPR_SCHEDULER_PORT:-31006}
SCHEDULER_HEALTHZ_PORT=${TASKFLOW_DAPR_SCHEDULER_HEALTHZ_PORT:-31007}
SCHEDULER_METRICS_PORT=${TASKFLOW_DAPR_SCHEDULER_METRICS_PORT:-31008}
ETCD_CLIENT_PORT=${TASKFLOW_DAPR_ETCD_CLIENT_PORT:-31009}
ETCD_PEER_PORT=${TASKFLOW_DAPR_ETCD_PEER_PORT:-31010}
START_TIMEOUT_SECONDS=${TASKFLOW_DAPR_START_TIMEOUT:-120}

dapr_version() {
    sed -n 's/^[[:space:]]*github.com\/dapr\/dapr \(v[0-9.]*\).*/\1/p' "$BUILD_DIR/go.mod" | head -n 1
}

# The version stamped into the binaries, as upstream's Makefile does (`daprd --version`, logs).
link_flags() {
    echo "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${1#v}" \
        "-X github.com/dapr/kit/logger.DaprVersion=${1#v}"
}

# The binaries are rebuilt whenever the wrapper module or the link flags change.
build_stamp() {
    { cat "$BUILD_DIR/go.mod" "$BUILD_DIR/go.sum" "$BUILD_DIR"/*/*.go; link_flags "$1"; } |
        sha256sum | cut -c1-16
}

build() {
    local version stamp
    version=$(dapr_version)
    [ -n "$version" ] || fail "no github.com/dapr/dapr requirement in $BUILD_DIR/go.mod"
    stamp="$BIN/.build-$version-$(build_stamp "$version")"
    if [ -f "$stamp" ] && [ -x "$BIN/daprd" ] && [ -x "$BIN/scheduler" ]; then
        return
    fi
    command -v go >/dev/null || fail "Go is not installed (needs the version in $BUILD_DIR/go.mod)"
    mkdir -p "$BIN"
    rm -f "$BIN"/.build-*
    say "building daprd and scheduler $version (first time: many minutes, see $ROOT/build.log)..."
    # stablecomponents: a components tag is mandatory (upstream panics without one) and the stable
    # set holds everything TaskFlow uses; sqlite name resolution is added by the wrapper.
    # One package and one thread at a time: the machine is shared; the Go build cache makes
    # later builds fast either way.
    local binary
    for binary in daprd scheduler; do
        (cd "$BUILD_DIR" && CGO_ENABLED=0 GOMAXPROCS=${GOMAXPROCS:-1} nice -n 19 \
            go build -p "${TASKFLOW_GO_BUILD_JOBS:-1}" -tags stablecomponents -trimpath \
            -buildvcs=false \
            -ldflags "$(link_flags "$version")" \
            -o "$BIN/$binary" "./$binary") >>"$ROOT/build.log" 2>&1 ||
            fail "building $binary failed, see $ROOT/build.log"
    done
    touch "$stamp"
}

pid_of_scheduler() {
    pid_from_file "$PIDFILE" "^$BIN/scheduler "
}

is_running() {
    pid_of_scheduler >/dev/null
}

scheduler_is_healthy() {
    curl -fsS -o /dev/null "http://127.0.0.1:$SCHEDULER_HEALTHZ_PORT/healthz" 2>/dev/null
}

start_scheduler() {
    build
    if is_running; then
        return
    fi
    fail_if_ports_taken "see the TASKFLOW_DAPR_* port variables at the top of $0" \
        "$SCHEDULER_PORT" "$SCHEDULER_HEALTHZ_PORT" "$SCHEDULER_METRICS_PORT" \
        "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT"
    mkdir -p "$SCHEDULER_DIR"
    start_detached "$PIDFILE" "$LOG" "$BIN/scheduler" \
        --listen-address 127.0.0.1 --port "$SCHEDULER_PORT" \
        --healthz-listen-address 127.0.0.1 --healthz-port "$SCHEDULER_HEALTHZ_PORT" \
        --metrics-listen-address 127.0.0.1 --metrics-port "$SCHEDULER_METRICS_PORT" \
        --etcd-data-dir "$SCHEDULER_DIR/etcd" --etcd-client-listen-address 127.0.0.1 \
        --etcd-client-port "$ETCD_CLIENT_PORT" \
        --etcd-initial-cluster "dapr-scheduler-server-0=http://127.0.0.1:$ETCD_PEER_PORT" \
        --identity-directory-write "$SCHEDULER_DIR/identity"
    wait_until_ready "the scheduler" "$PIDFILE" "$LOG" "$START_TIMEOUT_SECONDS" scheduler_is_healthy
    say "scheduler running on 127.0.0.1:$SCHEDULER_PORT"
}

stop() {
    local pid
    pid=$(pid_of_scheduler) || return 0
    stop_process "the scheduler" "$pid" "$PIDFILE" 20
}

run_daprd() {
    build
    mkdir -p "$ROOT"
    # Metrics off: each daprd would otherwise claim port 9090. Working directory: the repository
    # root, which the sqlite name-resolution path in config.yaml is relative to.
    exec "$BIN/daprd" --resources-path "$RESOURCES" --config "$RESOURCES/config.yaml" \
        --scheduler-host-address "127.0.0.1:$SCHEDULER_PORT" --enable-metrics=false \
        --dapr-listen-addresses 127.0.0.1 --app-channel-address 127.0.0.1 "$@"
}

case "${1:-}" in
build) build ;;
start-scheduler) start_scheduler ;;
stop) stop ;;
status)
    if is_running; then echo "scheduler running on 127.0.0.1:$SCHEDULER_PORT"; else
        echo "stopped"
        exit 3
    fi
    ;;
env)
    echo "export TASKFLOW_DAPR_VERSION=$(dapr_version)"
    echo "export TASKFLOW_DAPRD=$BIN/daprd"
    echo "export TASKFLOW_DAPR_SCHEDULER_ADDRESS=127.0.0.1:$SCHEDULER_PORT"
    ;;
daprd)
    shift
    run_daprd "$@"
    ;;
*) fail "usage: $0 build|start-scheduler|stop|status|env|daprd ARGS..." ;;
esac
