#!/usr/bin/env bash
# From a clone to TaskFlow on Minikube: start Minikube, install Knative Serving (Kourier) and
# Eventing with the Kafka broker, Strimzi, Dapr, build the images inside Minikube, deploy the
# chart with the Minikube values and print the URL.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

require_tool minikube "Install it: https://minikube.sigs.k8s.io/docs/start/"
require_tool kubectl "Install it: https://kubernetes.io/docs/tasks/tools/"
require_tool curl "Install it with your package manager"
require_tool helm "Install it: https://helm.sh/docs/intro/install/ (or run 'just test' once: .cache/tools/bin/helm)"

PROFILE=${MINIKUBE_PROFILE:-taskflow}
export KUBE_CONTEXT=$PROFILE
KNATIVE_RELEASES=https://github.com/knative
SERVING=$KNATIVE_RELEASES/serving/releases/download/knative-v$KNATIVE_SERVING_VERSION
KOURIER=$KNATIVE_RELEASES/net-kourier/releases/download/knative-v$KNATIVE_SERVING_VERSION
EVENTING=$KNATIVE_RELEASES/eventing/releases/download/knative-v$KNATIVE_EVENTING_VERSION
KAFKA_BROKER=https://github.com/knative-extensions/eventing-kafka-broker/releases/download/knative-v$KNATIVE_KAFKA_VERSION
STRIMZI=https://github.com/strimzi/strimzi-kafka-operator/releases/download/$STRIMZI_VERSION

echo "== Minikube (profile $PROFILE)"
minikube start --profile "$PROFILE" --cpus "${MINIKUBE_CPUS:-4}" --memory "${MINIKUBE_MEMORY:-8g}"

echo "== Knative Serving $KNATIVE_SERVING_VERSION with Kourier"
kube apply -f "$SERVING/serving-crds.yaml"
kube apply -f "$SERVING/serving-core.yaml"
kube apply -f "$KOURIER/kourier.yaml"
kube patch configmap/config-network -n knative-serving --type merge \
    -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
kube patch service/kourier -n kourier-system --type merge -p '{"spec":{"type":"NodePort"}}'
kube patch configmap/config-domain -n knative-serving --type merge \
    -p "{\"data\":{\"$(minikube ip --profile "$PROFILE").sslip.io\":\"\"}}"
# PodSpec fields the Services use (securityContext capabilities, seccomp).
kube patch configmap/config-features -n knative-serving --type merge \
    -p '{"data":{"kubernetes.podspec-securitycontext":"enabled"}}'

echo "== Knative Eventing $KNATIVE_EVENTING_VERSION and the Kafka broker"
kube apply -f "$EVENTING/eventing-crds.yaml"
kube apply -f "$EVENTING/eventing-core.yaml"
kube apply -f "$KAFKA_BROKER/eventing-kafka-controller.yaml"
kube apply -f "$KAFKA_BROKER/eventing-kafka-broker.yaml"

echo "== Strimzi $STRIMZI_VERSION (watching namespace kafka)"
kube create namespace kafka --dry-run=client -o yaml | kube apply -f -
# The release YAML binds the operator's roles to the namespace `myproject` (its RoleBindings'
# subjects); `apply -n` does not rewrite that, so, as Strimzi's install guide does, it is
# rewritten to `kafka` first, or the operator has no rights there.
curl -fsSL "$STRIMZI/strimzi-cluster-operator-$STRIMZI_VERSION.yaml" \
    | sed -E 's/^([[:space:]]*)namespace: myproject$/\1namespace: kafka/' \
    | kube apply -n kafka -f -

echo "== Dapr $DAPR_VERSION"
helm_kube upgrade --install dapr dapr --repo https://dapr.github.io/helm-charts \
    --version "$DAPR_VERSION" --namespace dapr-system --create-namespace --wait

for deployment in controller webhook; do
    kube wait deployment/$deployment -n knative-serving --for=condition=Available --timeout=300s
done
kube wait deployment --all -n knative-eventing --for=condition=Available --timeout=300s
kube wait deployment/strimzi-cluster-operator -n kafka --for=condition=Available --timeout=300s

echo "== Images, built inside Minikube"
for service in "${SERVICES[@]}"; do
    minikube image build --profile "$PROFILE" -t "dev.local/taskflow/$service:dev" \
        -f deploy/Dockerfile --build-opt="target=$service" "$REPO_ROOT"
done

echo "== TaskFlow"
ip=$(minikube ip --profile "$PROFILE")
port=$(kube get service kourier -n kourier-system -o jsonpath='{.spec.ports[?(@.name=="http2")].nodePort}')
set_args=(--set "config.TASKFLOW_PUBLIC_SOCKET_URL=http://broadcast-update.$NAMESPACE.$ip.sslip.io:$port")
# The services refuse to start without a signing secret of 32 bytes or more, and create-task
# without its command key; none is published anywhere: each is made once here and kept
# (owner-only) so tokens survive a redeploy.
for key in JWT_SECRET TASKFLOW_COMMAND_KEY APP_API_TOKEN; do
    key_file="$REPO_ROOT/data/minikube-$key"
    if [ ! -s "$key_file" ]; then
        mkdir -p "$REPO_ROOT/data"
        (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$key_file")
    fi
    set_args+=(--set "secrets.values.$key=$(cat "$key_file")")
done
if [ -n "${OPENAI_API_KEY:-}" ]; then
    set_args+=(--set "secrets.values.OPENAI_API_KEY=$OPENAI_API_KEY")
fi
"$REPO_ROOT/scripts/deploy/deploy.sh" "$CHART/values-minikube.yaml" -- "${set_args[@]}"
echo "Open http://api.$NAMESPACE.$ip.sslip.io:$port"
