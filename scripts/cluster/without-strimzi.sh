#!/usr/bin/env bash
# Helm post-renderer for the chart on the cluster-up cluster (scripts/cluster/taskflow.sh): drops
# the Strimzi objects (kafka.strimzi.io: the Kafka, its node pool and topics) from the rendered
# manifests on stdin. No Strimzi operator or CRDs run there: Kafka is the image built from
# Kafka's jars (scripts/cluster/kafka.sh), already at the address the chart's strimzi mode names
# (taskflow-kafka-bootstrap.kafka:9092), its topics made by Kafka's own tools.
set -euo pipefail
exec "$(dirname "$0")/../../.venv/bin/python" -c '
import sys, yaml
documents = [d for d in yaml.safe_load_all(sys.stdin) if d]
kept = [d for d in documents if not d["apiVersion"].startswith("kafka.strimzi.io/")]
yaml.safe_dump_all(kept, sys.stdout)
'
