#!/bin/sh
# Format the storage the first time (as scripts/kafka.sh does), then run the broker. Topics are
# created by the runner from the catalogue once the broker answers (KAFKA_TOPICS).
# KAFKA_ADVERTISED_LISTENERS, when set, replaces the advertised listeners of the image's
# configuration (PLAINTEXT://kafka:9092, the podman network's name): the single-node cluster
# (scripts/cluster/kafka.sh) advertises its Service's name.
set -eu
config=/opt/kafka/server.properties
if [ -n "${KAFKA_ADVERTISED_LISTENERS:-}" ]; then
    sed "s|^advertised.listeners=.*|advertised.listeners=$KAFKA_ADVERTISED_LISTENERS|" \
        /opt/kafka/server.properties >/tmp/server.properties
    config=/tmp/server.properties
fi
tool() {
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '/opt/kafka/lib/*' "$@"
}
if [ ! -f /var/lib/kafka/meta.properties ]; then
    tool kafka.tools.StorageTool format --standalone -t "$(tool kafka.tools.StorageTool random-uuid)" \
        -c "$config" >/dev/null
fi
exec java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -cp '/opt/kafka/lib/*' kafka.Kafka "$config"
