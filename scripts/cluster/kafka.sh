#!/usr/bin/env bash
# Kafka on the `just cluster-up` cluster (called by scripts/cluster/up.sh): the StatefulSet of
# scripts/cluster/manifests/kafka.yaml, then the chart's topics (kafka.topics and
# kafka.partitions of deploy/helm/taskflow/values.yaml, the one home of them), made with Kafka's
# own tool inside the broker's pod, as `just up --containers` makes them.
set -euo pipefail
source "$(dirname "$0")/common.sh"

kube create namespace "$KAFKA_NAMESPACE" --dry-run=client -o yaml | kube apply -f - >/dev/null
sed -e "s#KAFKA_IMAGE#$KAFKA_IMAGE#" -e "s#KAFKA_BOOTSTRAP#$KAFKA_BOOTSTRAP#" \
    scripts/cluster/manifests/kafka.yaml | kube apply -f - >/dev/null
kube -n "$KAFKA_NAMESPACE" rollout status statefulset/taskflow-kafka --timeout=300s >/dev/null ||
    fail "Kafka did not become ready; see scripts/cluster/kubectl.sh -n $KAFKA_NAMESPACE logs taskflow-kafka-0"

read -r partitions topics < <(.venv/bin/python -c '
import yaml
kafka = yaml.safe_load(open("deploy/helm/taskflow/values.yaml"))["kafka"]
print(kafka["partitions"], " ".join(kafka["topics"]))')
for topic in $topics; do
    # Warnings only, as scripts/kafka.sh runs its tools: the client logs its whole configuration.
    kube -n "$KAFKA_NAMESPACE" exec taskflow-kafka-0 -- java -Xmx256m -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp '/opt/kafka/lib/*' \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
        --create --if-not-exists --topic "$topic" --partitions "$partitions" \
        --replication-factor 1 >/dev/null
done
say "Kafka ready at $KAFKA_BOOTSTRAP, topics: $topics"
