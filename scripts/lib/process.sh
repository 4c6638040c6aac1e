# shellcheck shell=bash
# Start/wait/stop plumbing of the long-running background processes the scripts keep (the Kafka
# broker, the Dapr scheduler): each has a pid file and a log. Sourced by scripts/kafka.sh and
# scripts/dapr.sh; messages name the script that sourced it.

fail() {
    echo "${0##*/}: $*" >&2
    exit 1
}

say() {
    echo "${0##*/}: $*" >&2
}

# pid_from_file PIDFILE PATTERN: print the pid in PIDFILE when that process's command line (its
# arguments joined by spaces) still matches the grep PATTERN, so a recycled pid is never taken
# for ours; fail otherwise.
pid_from_file() {
    local pidfile=$1 pattern=$2 pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
    echo "$pid"
}

port_is_taken() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# fail_if_ports_taken HINT PORT...: stop before starting anything when a port is in use; HINT says
# how to choose others.
fail_if_ports_taken() {
    local hint=$1 port
    shift
    for port in "$@"; do
        if port_is_taken "$port"; then
            fail "port $port is taken by another process; $hint"
        fi
    done
}

# start_detached PIDFILE LOG COMMAND...: run COMMAND in the background, its output in LOG and its
# pid in PIDFILE. setsid: it outlives this script and the terminal or test session that ran it.
start_detached() {
    local pidfile=$1 log=$2
    shift 2
    setsid "$@" >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

# wait_until_ready NAME PIDFILE LOG TIMEOUT_SECONDS CHECK...: poll CHECK (a command) twice a second
# until it succeeds; fail, showing the end of LOG, when the process exits first or time runs out.
wait_until_ready() {
    local name=$1 pid log=$3 timeout_seconds=$4 waited=0
    pid=$(cat "$2")
    shift 4
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2 || true
            fail "$name exited during start-up, see $log"
        fi
        if [ "$waited" -ge "$((timeout_seconds * 2))" ]; then
            fail "$name was not ready within ${timeout_seconds}s, see $log"
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
}

# stop_process NAME PID PIDFILE GRACE_SECONDS: SIGTERM, then SIGKILL when the process is still
# there after GRACE_SECONDS; the pid file goes either way.
stop_process() {
    local name=$1 pid=$2 pidfile=$3 grace_seconds=$4 waited=0
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge "$((grace_seconds * 2))" ]; then
            say "$name ignored SIGTERM for ${grace_seconds}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    rm -f "$pidfile"
}
