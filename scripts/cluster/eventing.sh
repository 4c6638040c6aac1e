#!/usr/bin/env bash
# Knative Eventing with the Kafka broker on the `just cluster-up` cluster (called by
# scripts/cluster/up.sh after Kafka and Knative Serving): the releases' own manifests from the
# module cache, as their release scripts assemble them, with every image reference replaced by the
# image built here:
#   - Eventing core (infra/knative-eventing-build): config/core's CRDs (resources/), then the rest
#     of config/core, the PingSource adapter's Deployment (pingsource-mt-adapter, mtping: the
#     chart's PingSources outbox-relay and reminder-sweep) included, but the Deployments of
#     commands not built (job-sink, request-reply: JobSink and RequestReply are not used) and the
#     webhook's HorizontalPodAutoscaler (no metrics server here); plus the two ConfigMaps of image
#     names the controller's environment reads (eventing-integrations-images,
#     eventing-transformations-images), which the release copies from
#     third_party/eventing-integrations-latest (hack/release.sh); their images serve
#     IntegrationSource/Sink and EventTransform, not used here;
#   - the Kafka broker's control plane (infra/knative-kafka-build): control-plane/config/
#     eventing-kafka-broker (the release's eventing-kafka-controller.yaml), and the repository's
#     own eventing/kafka/broker-config-strimzi.yaml in place of its kafka-broker-config (bootstrap
#     servers: the Service scripts/cluster/kafka.sh runs Kafka behind);
#   - the broker's data plane: data-plane/config/broker (the release's eventing-kafka-broker.yaml)
#     with the receiver and dispatcher images of scripts/cluster/data-plane.sh.
# See specs/deployment.md ("Knative Eventing and the Kafka broker").
set -euo pipefail
source "$(dirname "$0")/common.sh"

module_dir() { (cd "$1" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$2"); }
eventing_module=$(module_dir infra/knative-eventing-build knative.dev/eventing)
eventing=$eventing_module/config/core
kafka_broker=$(module_dir infra/knative-kafka-build knative.dev/eventing-kafka-broker)
control_plane=$kafka_broker/control-plane/config/eventing-kafka-broker
data_plane=$kafka_broker/data-plane/config/broker

# render FILE...: the files as one multi-document stream, with our images.
render() {
    local file
    for file in "$@"; do
        cat "$file"
        printf '\n---\n'
    done | sed -E \
        -e "s#ko://knative.dev/eventing/cmd/([a-z_-]+)#$EVENTING_REGISTRY/knative-eventing-\\1:$EVENTING_TAG#g" \
        -e "s#ko://knative.dev/eventing-kafka-broker/control-plane/cmd/([a-z-]+)#$KAFKA_BROKER_REGISTRY/knative-\\1:$KAFKA_BROKER_TAG#g" \
        -e "s#\\$\\{KNATIVE_KAFKA_RECEIVER_IMAGE\\}#$KAFKA_RECEIVER_IMAGE#g" \
        -e "s#\\$\\{KNATIVE_KAFKA_DISPATCHER_IMAGE\\}#$KAFKA_DISPATCHER_IMAGE#g"
}
# Three changes to the release's workloads (specs/deployment.md says why):
# - the dispatcher asks for a whole core (1000m) and 700 MiB: more than this 2-core node has left
#   beside Serving, Dapr and Kafka. Its request is lowered; its limits (and so the JVM's heap, a
#   share of the memory limit) stay the release's;
# - the PingSource adapter (pingsource-mt-adapter) asks for 125m CPU on the same node, whose CPU
#   the requests above already nearly fill: lowered to 25m (it is a cron loop sending a few
#   requests a minute); its memory and limits stay the release's;
# - kafka-webhook-eventing runs its two defaulting webhooks (Kafka resources, dispatcher pods) as
#   two controllers of the same name, so their leader-election leases are the same lease
#   (kafka-webhook-eventing.defaultingwebhook.00-of-01) and only one of them ever runs: here the
#   pods' webhook never got its CA bundle and every dispatcher pod was refused (x509: certificate
#   signed by unknown authority). One replica needs no election: --disable-ha (knative.dev/pkg
#   sharedmain's flag) runs all of its controllers.
adjust_workloads() {
    .venv/bin/python -c '
import sys, yaml
documents = [d for d in yaml.safe_load_all(sys.stdin) if d]
for document in documents:
    name = (document.get("kind"), document.get("metadata", {}).get("name"))
    if name == ("StatefulSet", "kafka-broker-dispatcher"):
        for container in document["spec"]["template"]["spec"]["containers"]:
            container["resources"]["requests"] = {"cpu": "100m", "memory": "256Mi"}
    if name == ("Deployment", "kafka-webhook-eventing"):
        for container in document["spec"]["template"]["spec"]["containers"]:
            container["args"] = ["--disable-ha"]
    if name == ("Deployment", "pingsource-mt-adapter"):
        for container in document["spec"]["template"]["spec"]["containers"]:
            container["resources"]["requests"]["cpu"] = "25m"
yaml.safe_dump_all(documents, sys.stdout, sort_keys=False)'
}
wait_ready() { # wait_ready NAMESPACE WORKLOAD...
    local namespace=$1 workload
    shift
    for workload in "$@"; do
        kube -n "$namespace" rollout status "$workload" --timeout=300s >/dev/null ||
            fail "$workload did not become ready; see scripts/cluster/kubectl.sh -n $namespace describe pods"
    done
}

render "$eventing"/resources/*.yaml >"$RUN_DIR/eventing-crds.yaml"
# shellcheck disable=SC2046  # one file name per line, none with spaces (a module's own files)
render $(find "$eventing" -name '*.yaml' ! -path '*/resources/*' \
    ! -name job-sink.yaml ! -name request-reply.yaml ! -name webhook-hpa.yaml | sort) \
    "$eventing_module"/third_party/eventing-integrations-latest/*.yaml | adjust_workloads \
    >"$RUN_DIR/eventing-core.yaml"
# shellcheck disable=SC2046
render $(find "$control_plane" -name '*.yaml' | sort) | adjust_workloads \
    >"$RUN_DIR/kafka-broker-control-plane.yaml"
render "$data_plane"/*.yaml | adjust_workloads >"$RUN_DIR/kafka-broker-data-plane.yaml"
# shellcheck disable=SC2016  # a literal ${ in the manifests
if grep -n 'ko://\|\${KNATIVE' "$RUN_DIR"/eventing-core.yaml "$RUN_DIR"/kafka-broker-*.yaml |
    grep -v 'apiserver_receive_adapter\|auth_proxy'; then
    fail "an image reference above was not replaced by an image built here"
fi

kube apply --server-side --force-conflicts -f "$RUN_DIR/eventing-crds.yaml" >/dev/null
kube wait --for condition=established --timeout=60s -f "$RUN_DIR/eventing-crds.yaml" >/dev/null
kube apply --server-side --force-conflicts -f "$RUN_DIR/eventing-core.yaml" >/dev/null
# Sender identity as scripts/deploy/deploy.sh sets it for the chart: the Kafka broker's receiver
# verifies an OIDC token for the Broker's audience, its dispatcher puts one on each delivery for
# the Trigger's subscriber audience (specs/deployment.md, "Closed doors in a cluster").
kube -n "$EVENTING_NAMESPACE" patch configmap config-features --type merge \
    -p '{"data":{"authentication-oidc":"enabled"}}' >/dev/null
wait_ready "$EVENTING_NAMESPACE" deployment/eventing-webhook deployment/eventing-controller
# pingsource-mt-adapter is applied with 0 replicas: the controller scales it to 1 when the first
# PingSource appears (the chart's, scripts/cluster/taskflow.sh waits for it there).

kube apply --server-side --force-conflicts -f "$RUN_DIR/kafka-broker-control-plane.yaml" >/dev/null
kube apply --server-side --force-conflicts -f eventing/kafka/broker-config-strimzi.yaml >/dev/null
wait_ready "$EVENTING_NAMESPACE" deployment/kafka-webhook-eventing deployment/kafka-controller
# The data plane after the broker's webhook: its pod-defaulting webhook fills in the
# dispatcher's contract volume.
kube apply --server-side --force-conflicts -f "$RUN_DIR/kafka-broker-data-plane.yaml" >/dev/null
wait_ready "$EVENTING_NAMESPACE" deployment/kafka-broker-receiver
say "Knative Eventing $EVENTING_TAG and the Kafka broker $KAFKA_BROKER_TAG ready in namespace $EVENTING_NAMESPACE"
