#!/usr/bin/env bash
# What runs: Knative Services and their URLs, Brokers, Triggers, timers, Kafka, pods.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_tool kubectl "Install it: https://kubernetes.io/docs/tasks/tools/"

kube get ksvc,broker,trigger,pingsource -n "$NAMESPACE"
kube get kafka,kafkanodepool,kafkatopic -n kafka 2>/dev/null || echo "(no Strimzi resources)"
kube get pods -n "$NAMESPACE" -o wide
