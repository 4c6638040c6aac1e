#!/bin/sh
# Format the storage the first time (as scripts/kafka.sh does), then run the broker. Topics are
# created by the runner from the catalogue once the broker answers (KAFKA_TOPICS).
set -eu
config=/opt/kafka/server.properties
tool() {
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '/opt/kafka/lib/*' "$@"
}
if [ ! -f /var/lib/kafka/meta.properties ]; then
    tool kafka.tools.StorageTool format --standalone -t "$(tool kafka.tools.StorageTool random-uuid)" \
        -c "$config" >/dev/null
fi
exec java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -cp '/opt/kafka/lib/*' kafka.Kafka "$config"
