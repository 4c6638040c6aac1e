#!/usr/bin/env bash
# Deploy TaskFlow to a kube context that already runs Knative Serving and Eventing (Kafka broker),
# Dapr and, for kafka.mode strimzi, the Strimzi operator.
#   scripts/deploy/deploy.sh VALUES_FILE... [-- EXTRA_HELM_ARGS...]
# Environment: KUBE_CONTEXT (default: current), KAFKA_MODE (strimzi|external), and for external
# Kafka KAFKA_BOOTSTRAP_SERVERS, KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

require_tool kubectl "Install it: https://kubernetes.io/docs/tasks/tools/"
require_tool helm "Install it: https://helm.sh/docs/intro/install/"

values_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    [ -f "$1" ] || die "no values file $1"
    values_args+=(--values "$1")
    shift
done
[ ${#values_args[@]} -gt 0 ] || die "usage: $0 VALUES_FILE... [-- EXTRA_HELM_ARGS...]"
[ "${1:-}" = "--" ] && shift

kube get crd services.serving.knative.dev brokers.eventing.knative.dev >/dev/null \
    || die "Knative Serving and Eventing are not installed on this cluster (see README)"
kube create namespace "$NAMESPACE" --dry-run=client -o yaml | kube apply -f -

echo "== Kafka broker configuration (${KAFKA_MODE:-strimzi})"
if [ "${KAFKA_MODE:-strimzi}" = external ]; then
    : "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS for external Kafka}"
    : "${KAFKA_USERNAME:?set KAFKA_USERNAME}" "${KAFKA_PASSWORD:?set KAFKA_PASSWORD}"
    mechanism=${KAFKA_SASL_MECHANISM:-SCRAM-SHA-256}
    for namespace in knative-eventing "$NAMESPACE"; do
        kube create secret generic kafka-credentials -n "$namespace" \
            --from-literal=protocol=SASL_SSL --from-literal=sasl.mechanism="$mechanism" \
            --from-literal=user="$KAFKA_USERNAME" --from-literal=password="$KAFKA_PASSWORD" \
            --dry-run=client -o yaml | kube apply -f -
    done
    sed "s|BOOTSTRAP_SERVERS|$KAFKA_BOOTSTRAP_SERVERS|" \
        "$REPO_ROOT/eventing/kafka/broker-config-managed.yaml" | kube apply -f -
    set -- --values "$CHART/values-managed-kafka.yaml" \
        --set "kafka.external.bootstrapServers=$KAFKA_BOOTSTRAP_SERVERS" \
        --set "kafka.external.saslMechanism=$mechanism" "$@"
else
    kube apply -f "$REPO_ROOT/eventing/kafka/broker-config-strimzi.yaml"
fi

echo "== Sender identity: Knative Eventing's OIDC tokens on deliveries, EventPolicy at Brokers"
# The Kafka broker then verifies who publishes (the chart's EventPolicies) and signs each delivery
# for the Trigger's subscriber.audience, which the functions verify (specs/eventing.md).
kube patch configmap/config-features -n knative-eventing --type merge \
    -p '{"data":{"authentication-oidc":"enabled"}}'

echo "== Queue-proxy request metrics for Prometheus (monitoring/prometheus/scrape-config.yaml)"
# Knative 1.23's queue-proxy exports request metrics only when asked: the default
# request-metrics-protocol is `none` (serving config/core/configmaps/observability.yaml).
kube patch configmap/config-observability -n knative-serving --type merge \
    -p '{"data":{"request-metrics-protocol":"prometheus"}}'

echo "== Helm release taskflow"
helm_kube upgrade --install taskflow "$CHART" --namespace "$NAMESPACE" "${values_args[@]}" "$@"

echo "== Brokers and Triggers"
for manifest in "$REPO_ROOT"/eventing/*.yaml; do
    # pingsource.yaml is a snapshot of the chart's PingSources, installed by Helm above.
    [ "$(basename "$manifest")" = pingsource.yaml ] && continue
    kube apply -f "$manifest"
done

echo "== Waiting for the Services"
kube wait ksvc --all -n "$NAMESPACE" --for=condition=Ready --timeout=600s
kube wait broker --all -n "$NAMESPACE" --for=condition=Ready --timeout=300s
# Triggers too: an event published before its Trigger is Ready may never reach the subscriber.
# The Kafka broker's dispatcher can consume for a Trigger before it holds the Trigger's OIDC
# service account, and then fails each delivery and its dead letter at once, without retry
# ("can't request an OIDC token, as target has an audience set, but no OIDC service account set
# in client yet"; eventing-kafka-broker v0.50.1): the event is lost. Ready narrows that window;
# scripts/cluster/taskflow.sh also waits for the dispatcher's own contract (specs/deployment.md).
kube wait trigger --all -n "$NAMESPACE" --for=condition=Ready --timeout=300s
echo "TaskFlow: $(kube get ksvc api -n "$NAMESPACE" -o jsonpath='{.status.url}')"
