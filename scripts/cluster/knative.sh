#!/usr/bin/env bash
# Knative Serving on the `just cluster-up` cluster (called by scripts/cluster/up.sh): the release's
# own manifests from the modules of infra/knative-build (knative.dev/serving's config/core, and
# the CRDs and config-network it takes from knative.dev/networking and knative.dev/caching at the
# versions serving requires), each `ko://knative.dev/serving/cmd/<name>` image reference replaced
# by the image scripts/cluster/images.sh built here.
# The networking layer (KIngress) is scripts/cluster/ingress.sh's Traefik: Envoy has no binary
# here (Kourier, Istio, Contour are out).
set -euo pipefail
source "$(dirname "$0")/common.sh"

module_dir() { (cd infra/knative-build && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$1"); }
serving=$(module_dir knative.dev/serving)/config/core
networking=$(module_dir knative.dev/networking)/config
caching=$(module_dir knative.dev/caching)/config

# render FILE...: the files as one multi-document stream, with our images.
render() {
    local file
    for file in "$@"; do
        cat "$file"
        printf '\n---\n'
    done | sed -E "s#ko://knative.dev/serving/cmd/([a-z-]+)#$KNATIVE_REGISTRY/knative-\\1:$KNATIVE_TAG#g"
}
render "$serving"/300-resources/*.yaml "$networking"/certificate.yaml \
    "$networking"/domain-claim.yaml "$networking"/ingress.yaml "$networking"/serverlessservice.yaml \
    "$caching"/image.yaml >"$RUN_DIR/knative-crds.yaml"
# shellcheck disable=SC2046  # one file name per line, none with spaces (a module's own files)
render $(find "$serving" -name '*.yaml' ! -path '*/300-resources/*' | sort) \
    "$networking"/config-network.yaml >"$RUN_DIR/knative-serving.yaml"

kube apply --server-side --force-conflicts -f "$RUN_DIR/knative-crds.yaml" >/dev/null
kube wait --for condition=established --timeout=60s -f "$RUN_DIR/knative-crds.yaml" >/dev/null
kube apply --server-side --force-conflicts -f "$RUN_DIR/knative-serving.yaml" >/dev/null
# No registry answers here, so the controller must not try to resolve tags to digests (it would
# ask index.docker.io for a `localhost/...` image; CoreDNS has no upstream, so the ask fails
# inside the node). Every image of this cluster is imported, none pulled.
kube -n "$KNATIVE_NAMESPACE" patch configmap config-deployment --type merge \
    -p '{"data":{"registries-skipping-tag-resolving":"index.docker.io,localhost,kind.local,ko.local,dev.local"}}' \
    >/dev/null
for workload in webhook controller activator autoscaler; do
    kube -n "$KNATIVE_NAMESPACE" rollout status "deployment/$workload" --timeout=300s >/dev/null ||
        fail "Knative's $workload did not become ready; see scripts/cluster/kubectl.sh -n $KNATIVE_NAMESPACE describe pods"
done
say "Knative Serving $KNATIVE_TAG ready in namespace $KNATIVE_NAMESPACE"
