#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft mode) for development and tests.
#
#   scripts/kafka.sh start    fetch the jars (first time), format the storage (first time), start
#                             the broker and create the catalogue's topics
#   scripts/kafka.sh stop     stop it (the data stays in .cache/kafka/data for a fast restart)
#   scripts/kafka.sh status   say whether it runs (exit 3 when stopped)
#   scripts/kafka.sh topics   create any missing topic, then describe them
#   scripts/kafka.sh env      print `export KAFKA_BOOTSTRAP=...` (use with eval)
#   scripts/kafka.sh jars     only fetch the jars into .cache/kafka/lib (the Kafka image of
#                             `just images` is built from them)
#
# The broker is org.apache.kafka:kafka_2.13 from Maven (infra/kafka/pom.xml) run with Java 17+ on
# 127.0.0.1:TASKFLOW_KAFKA_PORT (default 29092); its controller listens on
# TASKFLOW_KAFKA_CONTROLLER_PORT (default 29093). Everything lives under .cache/kafka.
# TASKFLOW_KAFKA_INSTANCE names another broker beside it (its own data, log and pid under
# .cache/<instance>; the jars stay shared): the benchmarks use "bench-kafka", so the fault tests
# that stop the test broker never stop theirs.
set -euo pipefail
# shellcheck source=lib/process.sh
source "$(dirname "$0")/lib/process.sh"
cd "$(dirname "$0")/.."

BROKER_PORT=${TASKFLOW_KAFKA_PORT:-29092}
CONTROLLER_PORT=${TASKFLOW_KAFKA_CONTROLLER_PORT:-29093}
PARTITIONS=3
POM=infra/kafka/pom.xml
TEMPLATE=infra/kafka/server.properties.template
JARS_ROOT="$PWD/.cache/kafka"
LIB="$JARS_ROOT/lib"
ROOT="$PWD/.cache/${TASKFLOW_KAFKA_INSTANCE:-kafka}"
DATA="$ROOT/data"
CONFIG="$ROOT/server.properties"
PIDFILE="$ROOT/kafka.pid"
LOG="$ROOT/kafka.log"
START_TIMEOUT_SECONDS=${TASKFLOW_KAFKA_START_TIMEOUT:-120}

apt_install() {
    [ "$(id -u)" -eq 0 ] || fail "$1 is missing; run: sudo apt-get install $1"
    say "installing $1 (apt-get)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$1" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq "$1" >/dev/null; } ||
        fail "apt-get could not install $1"
}

java_major_version() {
    "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'
}

# Kafka 4 needs Java 17 or newer: prefer JAVA_HOME, then Debian's Java 17, then `java`.
find_java() {
    local candidate
    for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/java-17-openjdk-*/bin/java \
        "$(command -v java || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] &&
            [ "$(java_major_version "$candidate")" -ge 17 ] 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
}

ensure_java() {
    JAVA=$(find_java)
    if [ -z "$JAVA" ]; then
        apt_install openjdk-17-jre-headless
        JAVA=$(find_java)
        [ -n "$JAVA" ] || fail "no Java 17+ found after installing openjdk-17-jre-headless"
    fi
}

# The jars are fetched once per version of the pom: its checksum is the stamp.
fetch_jars() {
    local stamp
    stamp="$LIB/.pom-$(sha256sum "$POM" | cut -c1-16)"
    if [ -f "$stamp" ]; then
        return
    fi
    command -v mvn >/dev/null || apt_install maven
    say "fetching the Kafka jars with Maven into $LIB..."
    rm -rf "$LIB"
    mkdir -p "$LIB"
    # Maven's own repository lives in the cache too, so the whole download stays in one place.
    mvn -q -B -f "$POM" -Dmaven.repo.local="$JARS_ROOT/m2" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIB" >"$JARS_ROOT/maven.log" 2>&1 ||
        fail "Maven could not fetch the Kafka jars, see $JARS_ROOT/maven.log"
    touch "$stamp"
}

# Short-lived admin tools: a small heap and the quick JIT tier start them in a fraction of the time;
# warnings only, or every call prints its whole client configuration.
run_tool() {
    "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$LIB/*" "$@"
}

render_config() {
    sed -e "s|@BROKER_PORT@|$BROKER_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$DATA|g" "$TEMPLATE" >"$CONFIG"
}

format_storage() {
    if [ -f "$DATA/meta.properties" ]; then
        return
    fi
    local cluster_id
    cluster_id=$(run_tool kafka.tools.StorageTool random-uuid 2>/dev/null) ||
        fail "could not generate a cluster id with kafka.tools.StorageTool"
    run_tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONFIG" \
        >"$ROOT/format.log" 2>&1 || fail "formatting the storage failed, see $ROOT/format.log"
}

pid_of_broker() {
    pid_from_file "$PIDFILE" "kafka.Kafka $CONFIG"
}

is_running() {
    pid_of_broker >/dev/null
}

# The broker logs this line once both listeners are up and it has joined its own quorum.
broker_has_started() {
    grep -q "Kafka Server started" "$LOG" 2>/dev/null
}

# The topic names come from the catalogue, their one home.
catalogue_topics() {
    [ -x .venv/bin/python ] || fail "no .venv: run scripts/bootstrap.sh first"
    .venv/bin/python -c 'from taskflow.catalogue import TOPICS; print(*TOPICS)'
}

topic_command() {
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$BROKER_PORT" "$@"
}

create_topics() {
    local existing topic
    existing=$(topic_command --list) || fail "could not list the topics on 127.0.0.1:$BROKER_PORT"
    for topic in $(catalogue_topics); do
        if ! grep -qx "$topic" <<<"$existing"; then
            topic_command --create --if-not-exists --topic "$topic" --partitions "$PARTITIONS" \
                --replication-factor 1 >/dev/null || fail "could not create the topic $topic"
        fi
    done
}

start() {
    ensure_java
    mkdir -p "$ROOT"
    fetch_jars
    if is_running; then
        create_topics
        return
    fi
    fail_if_ports_taken "set TASKFLOW_KAFKA_PORT and TASKFLOW_KAFKA_CONTROLLER_PORT to free ports" \
        "$BROKER_PORT" "$CONTROLLER_PORT"
    render_config
    format_storage
    start_detached "$PIDFILE" "$LOG" "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC \
        -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true -cp "$LIB/*" kafka.Kafka "$CONFIG"
    wait_until_ready "the broker" "$PIDFILE" "$LOG" "$START_TIMEOUT_SECONDS" broker_has_started
    create_topics
    say "Kafka running on 127.0.0.1:$BROKER_PORT"
}

stop() {
    local pid
    pid=$(pid_of_broker) || return 0
    # A controlled shutdown flushes the logs; it takes a few seconds.
    stop_process "the broker" "$pid" "$PIDFILE" 30
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    if is_running; then echo "running on 127.0.0.1:$BROKER_PORT"; else
        echo "stopped"
        exit 3
    fi
    ;;
topics)
    is_running || fail "Kafka is not running: scripts/kafka.sh start"
    ensure_java
    create_topics
    topic_command --describe --exclude-internal
    ;;
env) echo "export KAFKA_BOOTSTRAP=127.0.0.1:$BROKER_PORT" ;;
jars)
    ensure_java
    fetch_jars
    ;;
*) fail "usage: $0 start|stop|status|topics|env|jars" ;;
esac
